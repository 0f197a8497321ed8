"""The whole pipeline under LocalDagRunner on small generated data."""

import csv
import os
import re

import pytest

from bench import synthetic
from components import names
from pipeline import configs
from pipeline import run_lock
from pipeline import run_summary
from tests import e2e

# Small data: more, smaller steps than the tutorial so the model learns.
TRAINING = [*e2e.SMALL_DATA_RETRIEVAL, '--batch-size', '64', '--epochs', '10']
from tests.test_pipeline import COMPONENTS

pytestmark = pytest.mark.e2e


@pytest.fixture(scope='module')
def first_run_process(ratings_csv, tmp_path_factory):
  """The first run: (output dir, summary, finished process, its TMPDIR)."""
  output_dir = str(tmp_path_factory.mktemp('e2e') / 'out')
  tmp_dir = str(tmp_path_factory.mktemp('tmpdir'))
  summary, result = e2e.run_pipeline_with_output(
      output_dir, ['--ratings-csv', ratings_csv, '--rmse-threshold', '0.9',
                   *TRAINING], env=e2e.project_env(TMPDIR=tmp_dir))
  return output_dir, summary, result, tmp_dir


@pytest.fixture(scope='module')
def first_run(first_run_process):
  return first_run_process[:2]


def test_local_run_packs_and_stages_nothing(first_run_process):
  """Neither TFX (tfx_ephemeral) nor Beam (an sdist of this project, tried
  with `python -m build` first on Beam 2.77) packs anything for the
  DirectRunner's workers."""
  _, _, result, tmp_dir = first_run_process
  packed = [os.path.join(d, f) for d, _, files in os.walk(tmp_dir)
            for f in files if f.endswith(('.tar.gz', '.whl'))]
  assert not packed
  output = result.stdout + result.stderr
  assert 'No module named build' not in output
  assert 'tfx_ephemeral' not in output


def test_every_component_executed_once(first_run):
  output_dir, summary = first_run
  store = run_summary.open_store(
      configs.output_paths(output_dir)['metadata_path'])
  executions = store.get_executions()
  nodes = [run_summary.node_id(store, e) for e in executions]
  assert sorted(nodes) == sorted(COMPONENTS)
  assert set(summary['component_states'].values()) == {'COMPLETE'}


def test_summary_reports_the_run(first_run, ratings_csv):
  output_dir, summary = first_run
  with open(ratings_csv) as f:
    rows = sum(1 for _ in f) - 1
  assert sum(summary['examples'].values()) == rows
  assert set(summary['examples']) == {'train', 'validation', 'eval',
                                      'new_users'}
  new = summary['top_n']['new_users']
  assert new['users'] == 24  # the newest fifth of the 120 users
  assert set(new['by_history']) == {'1', '3', '5', '10', '20'}
  # The generated ratings have std ~1.0: a model at 0.9 learned something.
  assert 0.3 < summary['rmse'] <= 0.9
  assert summary['blessed'] is True
  assert summary['pushed_model'].startswith(
      configs.output_paths(output_dir)['serving_model_dir'])
  assert set(summary['component_seconds']) == COMPONENTS
  assert summary['wall_seconds'] > 0


def test_pushed_model_answers_the_tutorial_call(first_run):
  _, summary = first_run
  rating = e2e.tutorial_call(summary['pushed_model'], '42',
                             synthetic.movie_titles(150)[3])
  assert rating.shape == (1, 1)
  assert 1.0 < float(rating[0, 0]) < 5.5


def test_predict_ranks_titles_and_flags_unknown_ones(first_run):
  output_dir, _ = first_run
  titles = synthetic.movie_titles(150)[:3]
  args = ['--model-dir', configs.output_paths(output_dir)['serving_model_dir'],
          '--user-id', known_user(output_dir), '--json']
  for title in [*titles, 'Not A Movie (2099)']:
    args += ['--movie-title', title]
  result = e2e.run_module('pipeline.predict', args)
  assert result.returncode == 0, result.stderr[-2000:]
  import json  # pylint: disable=g-import-not-at-top
  out = json.loads(result.stdout)
  assert out['user_known'] is True
  ratings = [r['predicted_rating'] for r in out['ranking']]
  assert ratings == sorted(ratings, reverse=True)
  known = {r['movie_title']: r['known'] for r in out['ranking']}
  assert known == {**{t: True for t in titles}, 'Not A Movie (2099)': False}


def known_user(output_dir: str) -> str:
  """A user of the run's train split (not one of its new users)."""
  from bench import compare  # pylint: disable=g-import-not-at-top
  from components import recommender_evaluator  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  examples = standard_artifacts.Examples()
  examples.uri = compare.examples_dir(output_dir)
  examples.split_names = '["train"]'
  return sorted(recommender_evaluator.read_ratings(
      examples, 'train').users.tolist())[0].decode()


def test_predict_recommends_from_ratings_for_someone_unknown(first_run):
  output_dir, _ = first_run
  titles = synthetic.movie_titles(150)
  result = e2e.run_module('pipeline.predict', [
      '--model-dir', configs.output_paths(output_dir)['serving_model_dir'],
      '--ratings', f'{titles[0]}=5,{titles[1]}=4,Not A Movie (2099)=2',
      '--top-k', '7', '--json'])
  assert result.returncode == 0, result.stderr[-2000:]
  import json  # pylint: disable=g-import-not-at-top
  out = json.loads(result.stdout)
  assert (out['given_ratings'], out['known_ratings']) == (3, 2)
  assert out['unknown_titles'] == ['Not A Movie (2099)']
  ranked = [r['movie_title'] for r in out['ranking']]
  assert len(ranked) == 7 and not set(ranked) & set(titles[:2])
  scores = [r['score'] for r in out['ranking']]
  assert scores == sorted(scores, reverse=True)


def test_rerun_with_nothing_changed_is_all_cache_and_a_retrain_is_compared(
    first_run, ratings_csv):
  """Run 2 changes nothing: every component is cached (the baseline leaves
  out the candidate, so the Evaluator's inputs are the same as run 1's; the
  drift baseline leaves out this run's own data, so the drift check's too).
  Run 3 retrains: its model is evaluated against run 1's blessed model."""
  output_dir, first = first_run
  serving_dir = configs.output_paths(output_dir)['serving_model_dir']
  before = e2e.tree_bytes(serving_dir)
  args = ['--ratings-csv', ratings_csv, '--rmse-threshold', '0.9', *TRAINING]
  second = e2e.run_pipeline(output_dir, args)
  states = second['component_states']
  assert {n for n, s in states.items() if s != 'CACHED'} == set(
      names.RESOLVERS) & set(states), states
  assert names.BASELINE_MODEL_RESOLVER in states
  assert second['rmse'] == first['rmse']
  assert second['blessed'] is True
  assert second['pushed_model'] == first['pushed_model']
  assert e2e.tree_bytes(serving_dir) == before

  store = run_summary.open_store(
      configs.output_paths(output_dir)['metadata_path'])
  (first_model,) = store.get_artifacts_by_type('Model')
  retrain_args = [*args[:-1], str(int(TRAINING[-1]) + 2)]  # 2 more epochs
  third, process = e2e.run_pipeline_with_output(output_dir, retrain_args)
  assert third['component_states']['Trainer'] == 'COMPLETE'
  assert re.search(r'Evaluator complete .*blessed \(against baseline model '
                   rf'#{first_model.id}\)', process.stdout), process.stdout


def test_a_run_that_would_only_repeat_the_last_is_reported_not_run(
    first_run, ratings_csv):
  """Once a run executed nothing (every component cached), the same run
  again is reported from it without TFX; ML Metadata is not touched."""
  output_dir, _ = first_run
  args = ['--ratings-csv', ratings_csv, '--rmse-threshold', '0.9', *TRAINING]
  for _ in range(3):  # earlier tests may have left a newer blessed model
    last = e2e.run_pipeline(output_dir, args)
    if all(state == 'CACHED' for node, state in
           last['component_states'].items()
           if node not in names.RESOLVERS):
      break
  else:
    pytest.fail(f"no run executed nothing: {last['component_states']}")
  def files():  # but the run lock, which names its latest holder
    tree = e2e.tree_bytes(output_dir)
    tree.pop(run_lock.LOCK_FILE_NAME)
    return tree

  before = files()
  summary, process = e2e.run_pipeline_with_output(output_dir, args)
  assert f"nothing changed since run {last['run_id']}" in process.stdout
  assert f"eval RMSE: {last['rmse']:.4f}" in process.stdout
  assert 'report: ' in process.stdout
  assert summary == last
  assert files() == before  # ML Metadata included


def test_failing_value_gate_blesses_and_pushes_nothing(ratings_csv, tmp_path):
  """On a 3-column CSV, which the ratings-only schema validates (issue 18,
  defect 7: MovieLens 100k's schema stopped it at AnomaliesGate)."""
  three_columns = str(tmp_path / 'ratings.csv')
  with open(ratings_csv, newline='') as f, open(three_columns, 'w',
                                                 newline='') as out:
    writer = csv.writer(out)
    for row in csv.reader(f):
      writer.writerow(row[:3])
  output_dir = str(tmp_path / 'out')
  summary = e2e.run_pipeline(
      output_dir, ['--ratings-csv', three_columns, '--rmse-threshold', '0.05',
                   '--epochs', '1'])
  assert set(summary['component_states'].values()) == {'COMPLETE'}
  assert summary['rmse'] > 0.05
  assert summary['blessed'] is False
  assert summary['pushed_model'] is None
  serving_dir = configs.output_paths(output_dir)['serving_model_dir']
  assert not os.path.exists(serving_dir) or not os.listdir(serving_dir)


def test_failed_component_fails_the_command_and_names_it(tmp_path):
  path = tmp_path / 'bad.csv'
  path.write_text('user_id,movie_title,user_rating\n1,A (1990),4\n'
                  '2,B (1991),four\n')
  result = e2e.run_module('pipeline.local_runner', [
      '--output-dir', str(tmp_path / 'out'), '--ratings-csv', str(path)])
  assert result.returncode != 0
  last_line = result.stderr.strip().splitlines()[-1]
  assert 'MovieLensExampleGen' in last_line
  assert 'bad user_rating' in last_line
  # Issue 18, defect 5: the report of a failed run shows the failure.
  report = e2e.run_module('pipeline.report',
                          ['--output-dir', str(tmp_path / 'out')])
  assert report.returncode == 0, report.stderr[-2000:]
  with open(report.stdout.strip()) as f:
    page = f.read()
  assert '<h1>The run failed</h1>' in page
  assert 'id="failed-in">MovieLensExampleGen<' in page
  assert 'bad user_rating' in page
  # A run that fails before it starts is not blamed on the earlier run's
  # failed component.
  path.write_text('user_id,movie_title,user_rating,raw_user_age\n'
                  '1,A (1990),4,30\n')
  result = e2e.run_module('pipeline.local_runner', [
      '--output-dir', str(tmp_path / 'out'), '--ratings-csv', str(path)])
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      'error: the run failed in pipeline construction: NoReviewedSchemaError')


def test_beam_multi_processing_run_pushes_a_model(ratings_csv, tmp_path):
  output_dir = str(tmp_path / 'out')
  summary = e2e.run_pipeline(output_dir, [
      '--ratings-csv', ratings_csv, '--rmse-threshold', '0.9', *TRAINING,
      '--beam-pipeline-args',
      '--direct_running_mode=multi_processing --direct_num_workers=2'])
  assert set(summary['component_states'].values()) == {'COMPLETE'}
  assert summary['blessed'] is True
  assert os.path.exists(os.path.join(summary['pushed_model'],
                                     'saved_model.pb'))
