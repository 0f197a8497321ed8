"""The local runner over a folder of small generated spans, span by span:
each span ingested once, the window before the newest span trained on, the
newest span as the eval data, and a bad span stopping the run."""

import csv
import os
import shutil

import pytest

from bench import replay
from bench import spans as span_cutter
from bench import synthetic
from components import analyzer_cache
from components import names
from pipeline import configs
from pipeline import run_summary
from tests import e2e
from trainer_module import features
from tests.test_local_runner_e2e import TRAINING

pytestmark = pytest.mark.e2e

# The future is harder to predict than a hash split of the same period.
# A warm run's retrieval model fits on the newer ratings and half the older.
SPAN_TRAINING = [*TRAINING, '--rmse-threshold', '1.5',
                 '--warm-retrieval-older-share', '0.5']


def span_of(artifact) -> int:
  return artifact.custom_properties['span'].int_value


def latest_runs(output_dir: str) -> dict:
  """The latest pipeline run's component runs, by node id."""
  store = run_summary.open_store(
      configs.output_paths(output_dir)['metadata_path'])
  return run_summary.component_runs(store, run_summary.latest_run_id(store))


def ingests(output_dir: str) -> dict:
  return run_summary.span_ingests(
      configs.output_paths(output_dir)['metadata_path'])


@pytest.fixture(scope='module')
def spans_run(tmp_path_factory):
  """Spans 1-2 present for a first run, span 3 added for a second; returns
  (spans folder, output dir, after each run: (summary, its component runs,
  span reads so far))."""
  root = tmp_path_factory.mktemp('spans_e2e')
  # A third of the people arrive over time; the others rate throughout.
  ratings = synthetic.write_small_ratings_csv(str(root / 'ratings.csv'),
                                              arrivals=0.3)
  span_cutter.cut(ratings, str(root / 'all'), days=42)
  spans, output_dir = str(root / 'spans'), str(root / 'out')
  os.makedirs(spans)
  after = []
  for span in (1, 2, 3):
    shutil.copytree(str(root / 'all' / f'span-{span}'),
                    os.path.join(spans, f'span-{span}'))
    if span == 1:
      continue
    summary = e2e.run_pipeline(output_dir,
                               ['--ratings-dir', spans, *SPAN_TRAINING])
    after.append((summary, latest_runs(output_dir), ingests(output_dir)))
  return spans, output_dir, after


def test_each_span_is_ingested_once(spans_run):
  _, _, after = spans_run
  assert after[0][2] == {1: 1, 2: 1}
  assert after[1][2] == {1: 1, 2: 1, 3: 1}
  # The second run ingested span 3 itself: ExampleGen executed, not cached.
  assert after[1][0]['component_states'][names.EXAMPLE_GEN] == 'COMPLETE'


def test_the_newest_span_is_evaluated_the_ones_before_trained_on(spans_run):
  _, _, after = spans_run
  for newest, (summary, runs, _) in zip((2, 3), after):
    (evaluated,) = runs[names.EVALUATOR].inputs['examples']
    assert span_of(evaluated) == newest
    assert [span_of(a) for a in runs[names.TRAINER].inputs['examples']] == (
        list(range(1, newest)))
    assert [span_of(a) for a in runs[names.TRANSFORM].inputs['examples']] == (
        list(range(1, newest)))
    (window_current,) = runs[names.SPAN_WINDOW_RESOLVER].outputs.get(
        'current', [evaluated])
    assert span_of(window_current) == newest
    # Measured on the future: pushed exactly when the gates passed.
    assert summary['top_n']['bundle']['users'] > 0
    assert bool(summary['pushed_model']) == summary['blessed'] == (
        not summary['not_blessed_because'])


def test_the_second_run_starts_from_the_first_runs_blessed_model(spans_run):
  _, output_dir, after = spans_run
  (first, first_runs, _), (second, second_runs, _) = after
  assert first['blessed']
  (model,) = first_runs[names.TRAINER].outputs['model']
  (base,) = second_runs[names.TRAINER].inputs['base_model']
  assert base.id == model.id
  stats = second['training']
  assert stats['base_model'].startswith(model.uri)
  assert 1 <= stats['epochs_run'] <= 3  # warm_epochs
  assert stats['warm_start']['rows_kept'] > 0
  assert stats['warm_start']['rows_new'] > 0  # span 2's people and movies
  # The epochs are chosen on validation ratings the base never trained on:
  # span 2's (the base trained on span 1's train and validation).
  assert 0 < stats['warm_validation_examples'] < stats['validation_examples']
  assert 0 <= stats['best_epoch'] <= stats['epochs_run']
  recalls = stats['retrieval_val_recall_at_10']
  assert recalls[stats['retrieval_best_epoch']] == max(recalls)
  # Span 2's train ratings and about half of span 1's (trained on).
  assert 0 < stats['retrieval_train_examples'] < stats['train_examples']
  # A re-run of the same span resolves the same base: all from the cache.
  summary = e2e.run_pipeline(output_dir, ['--ratings-dir', spans_run[0],
                                          *SPAN_TRAINING])
  assert {state for node, state in summary['component_states'].items()
          if node not in names.RESOLVERS} == {'CACHED'}


def test_each_transform_analyzes_its_window_in_one_pass(spans_run):
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  (_, first_runs, _), (_, second_runs, _) = spans_run[2]
  for runs in (first_runs, second_runs):  # no analysis cache by default
    assert not runs[names.TRANSFORM].inputs.get(
        analyzer_cache.TRANSFORM_INPUT_KEY)
    assert not runs[names.TRANSFORM].outputs.get(
        analyzer_cache.TRANSFORM_OUTPUT_KEY)

  def users(runs):
    (graph,) = runs[names.TRANSFORM].outputs[names.TRANSFORM_GRAPH]
    return set(tft.TFTransformOutput(graph.uri).vocabulary_by_name(
        features.vocabulary_name(features.USER_ID_KEY)))
  # Span 1's people and span 2's.
  assert users(first_runs) < users(second_runs)


def test_the_window_bench_analyzes_the_latest_window_each_way(spans_run):
  from bench import transform_window  # pylint: disable=g-import-not-at-top
  result = transform_window.measure(spans_run[1])
  assert result['spans'] == [1, 2]  # the second run's window
  assert result['same_vocabularies']
  assert set(result['seconds']) == {
      'one_dataset', 'one_dataset_a_span_tfx',
      'cache_written_without_newest', 'cache_read'}


def test_new_people_of_the_newest_span_are_served_from_their_ratings(
    spans_run):
  """Users arrive over time: span 3 has people spans 1-2 never saw."""
  summary = spans_run[2][1][0]
  new = summary['top_n']['new_users']
  assert new['users'] > 0 and 'skipped' not in new
  gated = new['by_history'][str(new['history'])]
  assert gated['bundle']['users'] > 0
  assert summary['top_n']['unseen_eval_user_share'] > 0


def test_a_shorter_window_trains_on_fewer_spans(spans_run):
  spans, output_dir, _ = spans_run
  e2e.run_pipeline(output_dir, ['--ratings-dir', spans, '--window-spans', '1',
                                *SPAN_TRAINING])
  runs = latest_runs(output_dir)
  assert [span_of(a) for a in runs[names.TRAINER].inputs['examples']] == [2]
  assert ingests(output_dir) == {1: 1, 2: 1, 3: 1}


def test_a_bad_span_stops_the_run_and_changes_nothing(spans_run):
  spans, output_dir, _ = spans_run
  pushed = sorted(os.listdir(e2e.serving_dir(output_dir)))
  bad = os.path.join(spans, 'span-4')
  os.makedirs(bad)
  with open(os.path.join(bad, 'ratings.csv'), 'w', newline='') as f:
    csv.writer(f).writerows([['user_id', 'movie_title', 'user_rating'],
                             ['1', 'Movie 1 (1951)', '4']])
  try:
    result = e2e.run_module('pipeline.local_runner', [
        '--output-dir', output_dir, '--ratings-dir', spans, *SPAN_TRAINING])
  finally:
    shutil.rmtree(bad)
  assert result.returncode != 0
  assert 'span-4: columns' in result.stderr
  assert sorted(os.listdir(e2e.serving_dir(output_dir))) == pushed
  assert ingests(output_dir) == {1: 1, 2: 1, 3: 1}


def test_the_replay_compares_warm_and_cold_runs_from_a_later_span(tmp_path):
  """bench.replay on a ratings CSV: the warm chain starts with one run on
  the spans before --from-span, then each span gets a warm run (from that
  run's blessed model) and a cold retrain."""
  ratings = synthetic.write_small_ratings_csv(str(tmp_path / 'ratings.csv'),
                                              arrivals=0.3)
  result = replay.replay(replay.parse_args([
      '--ratings-csv', ratings, '--span-days', '42', '--first-weeks', '1',
      '--from-span', '3', '--work-dir', str(tmp_path / 'work'), '--',
      *SPAN_TRAINING]))
  assert result['start']['blessed'] and not result['start']['base_model']
  (step,) = result['steps']
  assert step['span'] == 3
  assert step['warm']['base_model'] and not step['cold']['base_model']
  assert step['warm']['recall'] is not None
  assert step['cold']['recall'] is not None
  assert result['span_reads'] == {'1': 1, '2': 1, '3': 1}
  with pytest.raises(ValueError, match='--from-span 4: .* 3 spans'):
    replay.replay(replay.parse_args([
        '--ratings-csv', ratings, '--span-days', '42', '--first-weeks', '1',
        '--from-span', '4', '--work-dir', str(tmp_path / 'work')]))
