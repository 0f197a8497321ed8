"""A folder of spans: cutting ratings into periods, checking the folder,
ExampleGen's span semantics, the window resolver, the Evaluator's split of
the newest span, and the pipeline they make."""

import csv
import dataclasses
import json
import os
import shutil

from google.protobuf import json_format
import numpy as np
import pytest
from tensorflow_model_analysis.proto import config_pb2 as tfma_config
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.common import resolver
from tfx.types import standard_artifacts

from bench import replay
from bench import spans as span_cutter
from bench import synthetic
from components import analyzer_cache
from components import movielens_example_gen as example_gen
from components import names
from components import new_users
from components import recommender_evaluator
from components import span_source
from components import span_window
from components import warm_start_model
from components.ratings_source import RatingsSource
from components.ratings_source import span_window as window_of
from components.split_names import TRAIN_SPLIT
from components.split_names import VALIDATION_SPLIT
from components.tf_examples import RatingsSourceError
from pipeline import cli
from pipeline import configs
from pipeline import pipeline as pipeline_lib
from tests import example_gen_run
from tests.test_pipeline import edges


@pytest.fixture(scope='module')
def arrivals_csv(tmp_path_factory) -> str:
  """The small data with users arriving over its 116 days."""
  return synthetic.write_small_ratings_csv(
      str(tmp_path_factory.mktemp('arrivals') / 'ratings.csv'),
      arrivals=1.0)


@pytest.fixture
def span_dir(arrivals_csv, tmp_path) -> str:
  """Three spans of six weeks each (a fresh copy per test)."""
  span_cutter.cut(arrivals_csv, str(tmp_path / 'spans'), days=42)
  return str(tmp_path / 'spans')


def rows_of(path: str) -> list:
  with open(path, newline='') as f:
    return list(csv.reader(f))


# ------------------------------------------------------------ cutting spans


def test_cut_keeps_every_rating_once_in_time_order(arrivals_csv, span_dir):
  header, *rows = rows_of(arrivals_csv)
  column = header.index('timestamp')
  spans = sorted(os.listdir(span_dir))
  assert spans == ['span-1', 'span-2', 'span-3', span_cutter.SPANS_FILE]
  parts = [rows_of(os.path.join(span_dir, s, 'ratings.csv')) for s in spans[:3]]
  assert all(part[0] == header for part in parts)
  assert sorted(r for part in parts for r in part[1:]) == sorted(rows)
  # Each span's ratings are later than the previous span's.
  for before, after in zip(parts, parts[1:]):
    assert max(int(r[column]) for r in before[1:]) < min(
        int(r[column]) for r in after[1:])
  with open(os.path.join(span_dir, span_cutter.SPANS_FILE)) as f:
    written = json.load(f)['spans']
  assert [s['ratings'] for s in written] == [len(p) - 1 for p in parts]


def test_cut_gives_a_longer_first_span_and_skips_empty_periods(tmp_path):
  path = str(tmp_path / 'r.csv')
  day = span_cutter.DAY_SECONDS
  with open(path, 'w', newline='') as f:
    csv.writer(f).writerows(
        [['user_id', 'movie_title', 'user_rating', 'timestamp']] +
        [['1', 'A', '4', str(t * day)] for t in (0, 5, 20, 21, 50)])
  written = span_cutter.cut(path, str(tmp_path / 'out'), days=7,
                            first_days=14)
  # Days 0-13 | 14-20 | 21-27 | (28-34, 35-41, 42-48 empty) | 49-55.
  assert [(s['span'], s['ratings']) for s in written] == [
      (1, 2), (2, 1), (3, 1), (4, 1)]


def test_cut_refuses_ratings_without_timestamps(tmp_path):
  path = str(tmp_path / 'r.csv')
  with open(path, 'w') as f:
    f.write('user_id,movie_title,user_rating\n1,A,4\n')
  with pytest.raises(ValueError, match='no timestamp column'):
    span_cutter.cut(path, str(tmp_path / 'out'))


# ------------------------------------------------------ checking the folder


def test_check_spans_reads_every_span(span_dir):
  kind, columns, numbers = span_source.check_spans(
      RatingsSource.spans(span_dir))
  assert (kind, numbers) == ('csv', [1, 2, 3])
  assert columns == synthetic.COLUMNS


@pytest.mark.parametrize('damage, message', [
    (lambda d: shutil.rmtree(os.path.join(d, 'span-2')),
     r'span-2 is missing \(spans 1 and 3'),
    (lambda d: os.remove(os.path.join(d, 'span-3', 'ratings.csv')),
     r'span-3: no ratings'),
    (lambda d: open(os.path.join(d, 'span-2', 'ratings.csv'), 'w').write(
        'user_id,movie_title,user_rating\n1,A,4\n'),
     r'span-2: columns .* differ from span-1'),
    (lambda d: open(os.path.join(d, 'span-3', 'more.parquet'), 'w').close(),
     r'span-3: both .csv and .parquet'),
    (lambda d: [shutil.rmtree(os.path.join(d, s)) for s in os.listdir(d)
                if s.startswith('span-')],
     r'no span folders'),
])
def test_a_bad_span_is_named_before_anything_runs(span_dir, damage, message):
  damage(span_dir)
  with pytest.raises(RatingsSourceError, match=message):
    example_gen.MovieLensExampleGen(RatingsSource.spans(span_dir))


def test_a_span_that_is_not_there_is_refused(span_dir):
  with pytest.raises(RatingsSourceError, match='no span-7'):
    span_source.check_spans(RatingsSource.spans(span_dir, span=7))


def test_the_window_is_the_spans_before_the_evaluated_one(span_dir):
  assert window_of(RatingsSource.spans(span_dir), 0) == (3, [1, 2])
  assert window_of(RatingsSource.spans(span_dir), 1) == (3, [2])
  assert window_of(RatingsSource.spans(span_dir, span=2), 0) == (2, [1])
  with pytest.raises(ValueError, match='span-1 is the first span'):
    window_of(RatingsSource.spans(span_dir, span=1), 0)
  with pytest.raises(ValueError, match=r'--window-spans 3: only 2 span\(s\) '
                     r'before span-3 \(span-1..span-2\)'):
    window_of(RatingsSource.spans(span_dir), 3)


def test_span_flags(span_dir):
  parser = cli.argparse.ArgumentParser()
  cli.add_pipeline_flags(parser)
  args = parser.parse_args(['--ratings-dir', span_dir, '--span', '2'])
  cli.check_pipeline_flags(parser, args)
  assert cli.ratings_source(args) == RatingsSource.spans(span_dir, span=2)
  for bad in (['--ratings-dir', span_dir, '--window-spans', '5'],
              ['--span', '2'], ['--ratings-dir', span_dir, '--span', '1'],
              ['--analyzer-cache']):
    with pytest.raises(SystemExit):
      cli.check_pipeline_flags(parser, parser.parse_args(bad))


# ------------------------------------------------------------- ExampleGen


def ingest(source: RatingsSource, output_dir: str
           ) -> standard_artifacts.Examples:
  """ExampleGen's driver (span resolution) and executor, as a run does."""
  component = example_gen.MovieLensExampleGen(source)
  properties = example_gen.SourceDriver(None).resolve_exec_properties(
      example_gen_run.exec_properties(component), None, None)
  examples = standard_artifacts.Examples()
  examples.uri = output_dir
  example_gen.Executor().Do({}, {'examples': [examples]}, properties)
  examples.set_int_custom_property(
      example_gen_utils.SPAN_PROPERTY_NAME,
      properties[example_gen_utils.SPAN_PROPERTY_NAME])
  return examples


def test_example_gen_reads_the_newest_span_or_the_one_named(span_dir,
                                                            tmp_path):
  component = example_gen.MovieLensExampleGen(RatingsSource.spans(span_dir))
  assert component.exec_properties['input_base'] == span_dir
  for span, source in ((3, RatingsSource.spans(span_dir)),
                       (1, RatingsSource.spans(span_dir, span=1))):
    examples = ingest(source, str(tmp_path / str(span)))
    assert span_window.span_of(examples) == span
    # The whole span is training data: no eval or new_users split.
    assert examples.split_names == json.dumps([TRAIN_SPLIT, VALIDATION_SPLIT])
    written = example_gen_run.read_every_split(examples.uri)
    expected = rows_of(os.path.join(span_dir, f'span-{span}',
                                    'ratings.csv'))[1:]
    assert len(written) == len(expected)
    assert sorted(e.features.feature['timestamp'].int64_list.value[0]
                  for e in written) == sorted(int(r[3]) for r in expected)


def test_a_parquet_span_reads_as_its_csv(span_dir, tmp_path):
  import pyarrow.csv as pa_csv  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  parquet_dir = tmp_path / 'parquet'
  for span in ('span-1', 'span-2'):
    (parquet_dir / span).mkdir(parents=True)
    table = pa_csv.read_csv(
        os.path.join(span_dir, span, 'ratings.csv'),
        convert_options=pa_csv.ConvertOptions(column_types={
            c: 'string' for c in ('user_id', 'movie_id', 'user_zip_code')}))
    pq.write_table(table, str(parquet_dir / span / 'part-0.parquet'))
  assert span_source.check_spans(RatingsSource.spans(str(parquet_dir)))[0] == (
      'parquet')
  written = example_gen_run.read_every_split(
      ingest(RatingsSource.spans(str(parquet_dir)), str(tmp_path / 'o')).uri)
  assert len(written) == len(rows_of(
      os.path.join(span_dir, 'span-2', 'ratings.csv'))) - 1


# ------------------------------------------------------ the window resolver


def span_artifact(span: int, artifact_id: int) -> standard_artifacts.Examples:
  artifact = standard_artifacts.Examples()
  artifact.id = artifact_id
  artifact.set_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME, span)
  return artifact


def test_window_takes_each_spans_latest_ingest_oldest_first():
  every = [span_artifact(s, i) for i, s in enumerate([1, 2, 3, 2, 4, 5], 1)]
  current = every[-1]
  assert [a.id for a in span_window.window(current, every, 0)] == [1, 4, 3, 5]
  assert [a.id for a in span_window.window(current, every, 2)] == [3, 5]
  # A run of an older span trains on the spans before it only.
  assert [a.id for a in span_window.window(every[2], every, 0)] == [1, 4]
  strategy = span_window.SpanWindowStrategy(window_spans=1)
  resolved = strategy.resolve_artifacts(None, {'current': [current],
                                               'examples': every})
  assert [a.id for a in resolved['examples']] == [5]
  assert resolved['current'] == [current]


def test_window_names_a_span_no_run_ingested():
  every = [span_artifact(1, 1), span_artifact(3, 2), span_artifact(4, 3)]
  with pytest.raises(span_window.SpanWindowError, match='span 2 of the window'):
    span_window.window(every[-1], every, 0)
  assert [a.id for a in span_window.window(every[-1], every, 1)] == [2]
  with pytest.raises(span_window.SpanWindowError, match='no earlier span'):
    span_window.window(every[0], every, 0)


# ---------------------------------------------------------- the Evaluator


def test_the_newest_span_splits_into_returning_and_new_people():
  future = new_users.TimedRatings(
      users=np.array([b'1', b'9', b'1', b'9', b'2'], dtype=object),
      titles=np.array([b'A', b'B', b'C', b'D', b'E'], dtype=object),
      ratings=np.array([5.0, 4.0, 3.0, 5.0, 4.0]),
      timestamps=np.array([1, 2, 3, 4, 5]))
  returning, new = recommender_evaluator.returning_and_new(
      future, known={b'1', b'2', b'3'})
  assert returning.users.tolist() == [b'1', b'1', b'2']
  assert returning.titles.tolist() == [b'A', b'C', b'E']
  assert new.users.tolist() == [b'9', b'9']
  assert new.timestamps.tolist() == [2, 4]
  with pytest.raises(recommender_evaluator.EvalSplitError,
                     match='no returning user'):
    recommender_evaluator.returning_and_new(future, known={b'7'})


# ------------------------------------------------------------- the pipeline


def build(span_dir, tmp_path, analyzer_cache_on=True, **kwargs):
  return pipeline_lib.create_pipeline(
      pipeline_name='test', pipeline_root=str(tmp_path / 'root'),
      serving_model_dir=str(tmp_path / 'serving'),
      source=RatingsSource.spans(span_dir),
      schema_path=configs.schema_for_columns(synthetic.COLUMNS,
                                             synthetic.COLUMNS),
      config=dataclasses.replace(configs.PRESETS['tutorial'], window_spans=2,
                                 analyzer_cache=analyzer_cache_on),
      **kwargs)


def test_transform_and_the_trainer_read_the_window(span_dir, tmp_path):
  built = build(span_dir, tmp_path)
  by_id = {c.id: c for c in built.components}
  window = by_id[names.SPAN_WINDOW_RESOLVER]
  assert window.exec_properties[resolver.RESOLVER_CONFIG] == {
      'window_spans': 2}
  graph = edges(built)
  for node in (names.TRANSFORM, names.TRAINER, names.EVALUATOR):
    assert (names.SPAN_WINDOW_RESOLVER, node) in graph
  assert (names.EXAMPLE_GEN, names.TRANSFORM) not in graph
  assert (names.EXAMPLE_GEN, names.TRAINER) not in graph
  # Transform reads the analysis cache of an earlier window.
  assert (names.ANALYZER_CACHE_RESOLVER, names.TRANSFORM) in graph
  assert (names.SPAN_WINDOW_RESOLVER, names.ANALYZER_CACHE_RESOLVER) in graph
  assert analyzer_cache.TRANSFORM_OUTPUT_KEY in by_id[names.TRANSFORM].outputs
  evaluator = by_id[names.EVALUATOR]
  assert json.loads(evaluator.exec_properties['example_splits']) == [
      TRAIN_SPLIT, VALIDATION_SPLIT]
  assert evaluator.inputs['examples'] is by_id[names.EXAMPLE_GEN].outputs[
      'examples']
  # The gates of a week's data (configs.spans_config).
  assert by_id[names.ANOMALIES_GATE].exec_properties[
      'max_one_user_share'] == configs.SPAN_MAX_ONE_USER_SHARE
  eval_config = json_format.Parse(evaluator.exec_properties['eval_config'],
                                  tfma_config.EvalConfig())
  (rmse,) = [m for m in eval_config.metrics_specs[0].metrics
             if m.class_name == 'RootMeanSquaredError']
  assert rmse.per_slice_thresholds[0].threshold.change_threshold.absolute.value == (
      configs.SPAN_RMSE_CHANGE_TOLERANCE)
  # The served retrieval score weighs recent popularity.
  trainer_config = json.loads(by_id[names.TRAINER].exec_properties[
      'custom_config'])
  assert trainer_config['retrieval_popularity_weight'] == (
      configs.SPAN_POPULARITY_WEIGHT)
  assert trainer_config['retrieval_popularity_half_life_days'] == (
      configs.SPAN_POPULARITY_HALF_LIFE_DAYS)
  assert trainer_config['new_user_popularity_weight'] == (
      configs.SPAN_NEW_USER_POPULARITY_WEIGHT)
  drift = json.loads(by_id[names.DRIFT_VALIDATOR].exec_properties[
      'include_split_pairs'])
  assert drift == [[TRAIN_SPLIT, TRAIN_SPLIT]]
  assert 'user_id' not in by_id[names.DRIFT_VALIDATOR].exec_properties[
      'distribution_validator_config']


def test_without_the_analyzer_cache_transform_analyzes_the_window_at_once(
    span_dir, tmp_path):
  built = build(span_dir, tmp_path, analyzer_cache_on=False)
  by_id = {c.id: c for c in built.components}
  assert names.ANALYZER_CACHE_RESOLVER not in by_id
  transform = by_id[names.TRANSFORM]
  assert analyzer_cache.TRANSFORM_INPUT_KEY not in transform.inputs
  assert analyzer_cache.TRANSFORM_OUTPUT_KEY not in transform.outputs


def test_kubeflow_v2_splits_each_span_by_hash(span_dir, tmp_path):
  """Kubeflow V2 compiles only TFX's resolvers: a run there trains and
  evaluates on its span, split as any other input."""
  built = build(span_dir, tmp_path, baseline_excludes_candidate=False)
  by_id = {c.id: c for c in built.components}
  assert names.SPAN_WINDOW_RESOLVER not in by_id
  assert names.ANALYZER_CACHE_RESOLVER not in by_id
  component = by_id[names.EXAMPLE_GEN]
  assert json.loads(component.exec_properties['input_config'])['splits'][0][
      'name'] == 'single_split'
  assert (names.EXAMPLE_GEN, names.TRAINER) in edges(built)


# ------------------------------------------------------ the warm-start base


class TrainerLineage:
  """An in-memory ML Metadata store where Trainer runs read span artifacts
  and write models, and Evaluator runs bless them."""

  def __init__(self):
    from ml_metadata import metadata_store  # pylint: disable=g-import-not-at-top
    from ml_metadata.proto import metadata_store_pb2 as pb  # pylint: disable=g-import-not-at-top
    self.pb = pb
    config = pb.ConnectionConfig()
    config.fake_database.SetInParent()
    self.store = metadata_store.MetadataStore(config)
    self.types = {name: self.store.put_artifact_type(pb.ArtifactType(
        name=name)) for name in ('Examples', 'Model')}
    self.execution_type = self.store.put_execution_type(
        pb.ExecutionType(name='Trainer'))
    self.spans = {}

  def span(self, number: int) -> int:
    artifact = self.pb.Artifact(type_id=self.types['Examples'])
    artifact.custom_properties['span'].int_value = number
    (self.spans[number],) = self.store.put_artifacts([artifact])
    return self.spans[number]

  def train(self, spans, blessed: bool):
    """A Trainer run on `spans`; returns the blessing as resolvers see it."""
    (model_id,) = self.store.put_artifacts([self.pb.Artifact(
        type_id=self.types['Model'], uri=f'/model/{len(self.spans)}')])
    (execution_id,) = self.store.put_executions([self.pb.Execution(
        type_id=self.execution_type)])
    events = []
    for kind, key, ids in ((self.pb.Event.INPUT, 'examples',
                            [self.spans[s] for s in spans]),
                           (self.pb.Event.OUTPUT, 'model', [model_id])):
      for artifact_id in ids:
        event = self.pb.Event(artifact_id=artifact_id,
                              execution_id=execution_id, type=kind)
        event.path.steps.add().key = key
        events.append(event)
    self.store.put_events(events)
    blessing = standard_artifacts.ModelBlessing()
    blessing.set_int_custom_property('blessed', int(blessed))
    blessing.set_int_custom_property('current_model_id', model_id)
    return model_id, blessing


def test_warm_start_takes_the_latest_blessed_model_of_an_earlier_window():
  lineage = TrainerLineage()
  for span in (1, 2, 3, 4):
    lineage.span(span)
  first, blessed_first = lineage.train([1], blessed=True)
  second, blessed_second = lineage.train([1, 2], blessed=True)
  _, refused = lineage.train([1, 2, 3], blessed=False)
  blessings = [blessed_first, blessed_second, refused]

  def base(window):
    return [m.id for m in warm_start_model.base_model(
        lineage.store, [span_artifact(s, lineage.spans[s]) for s in window],
        blessings)['model']]
  # Next week's window (spans 1-3): this week's blessed model.
  assert base([1, 2, 3]) == [second]
  # A re-run of this week's window (1-2) resolves last week's, as it did.
  assert base([1, 2]) == [first]
  assert base([1]) == []  # nothing older: a cold run
  assert base([1, 2, 3, 4]) == [second]  # the refused one is never a base


def test_transform_reads_the_cache_written_on_an_earlier_window():
  lineage = TrainerLineage()  # its Trainer runs stand for Transform runs
  for span in (1, 2, 3):
    lineage.span(span)
  written = [lineage.train(window, blessed=False)[0]
             for window in ([1], [1, 2], [1, 2])]  # [1, 2] ran twice

  def cache(window):
    caches = []
    for cache_id in written:
      artifact = standard_artifacts.TransformCache()
      artifact.id = cache_id
      caches.append(artifact)
    return [c.id for c in analyzer_cache.earlier_cache(
        lineage.store, [span_artifact(s, lineage.spans[s]) for s in window],
        caches)]
  assert cache([1, 2, 3]) == [written[2]]  # the latest of the week before
  assert cache([1, 2]) == [written[0]]  # a re-run reads what it read
  assert cache([1]) == []  # nothing earlier: every span analyzed


# ------------------------------------------------------------- the replay


def test_replay_writes_movielens_ratings_with_every_column(tmp_path):
  folder = tmp_path / 'ml-100k'
  folder.mkdir()
  (folder / 'u.data').write_text('1\t2\t4\t881250949\n2\t1\t3\t881250950\n')
  (folder / 'u.item').write_text(
      '1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|'
      '0|0|0|0|0\n2|GoldenEye (1995)|01-Jan-1995||http://x|0|1|1|0|0|0|0|0|'
      '0|0|0|0|0|0|0|0|1|0|0\n', encoding='latin-1')
  (folder / 'u.user').write_text('1|24|M|technician|85711\n'
                                 '2|53|F|other|94043\n')
  path = str(tmp_path / 'ratings.csv')
  assert replay.write_ratings_csv(str(folder), path) == 2
  header, first, _ = rows_of(path)
  assert header == synthetic.COLUMNS
  row = dict(zip(header, first))
  assert (row['user_id'], row['movie_title'], row['user_rating'],
          row['timestamp']) == ('1', 'GoldenEye (1995)', '4.0', '881250949')
  assert row['movie_genres'] == 'Action|Adventure|Thriller'
  # ExampleGen reads it as any ratings CSV.
  assert span_source.csv_source.check_csv(path) == synthetic.COLUMNS


def test_a_planted_bad_span_is_all_one_star(span_dir):
  replay.plant_bad_span(os.path.join(span_dir, 'span-2'))
  header, *rows = rows_of(os.path.join(span_dir, 'span-2', 'ratings.csv'))
  assert {row[header.index('user_rating')] for row in rows} == {'1.0'}


def test_the_replay_summary_states_the_goals():
  def step(span, warm_s, cold_s, warm_r, cold_r, popular, pushed=True,
           planted=False, served=('1', '2')):
    run = {'failed_in': None, 'most_popular': popular, 'pushed': pushed,
           'new_users': None}
    return {'span': span, 'planted_bad': planted,
            'served_before': served[0], 'served_after': served[1],
            'warm': {**run, 'seconds': warm_s, 'recall': warm_r,
                     'component_seconds': {names.TRAINER: warm_s / 5}},
            'cold': {**run, 'seconds': cold_s, 'recall': cold_r}}
  steps = [step(2, 10, 40, 0.20, 0.20, 0.1), step(3, 20, 40, 0.18, 0.20, 0.1),
           step(4, 30, 40, 0.21, 0.20, 0.25),
           step(5, 10, 40, 0.2, 0.2, 0.1, pushed=False, planted=True,
                served=('2', '2'))]
  summary = replay.summarize(steps, {1: 1, 2: 1, 3: 2})
  assert summary['median_warm_over_cold_seconds'] == 0.375
  # Without the Trainer's seconds (a fifth of each warm run): 0.8 x 0.375.
  assert summary['median_warm_over_cold_seconds_without_trainer'] == 0.3
  assert summary['median_warm_recall_gap'] == 0.0
  assert summary['worst_warm_recall_gap'] == -0.1
  assert summary['weeks_warm_above_most_popular'] == 3
  assert summary['every_span_read_once'] is False
  assert summary['planted_bad_kept_served_model'] is True
  for step_ in steps:
    step_['ratings'] = 1000
  steps[-1]['warm']['failed_in'] = 'AnomaliesGate'
  rows = replay.table({'steps': steps}).splitlines()
  assert len(rows) == 2 + len(steps)
  assert rows[2] == ('| 2 | 1,000 | 10.0 / 40.0 | 0.2000 / 0.2000 / 0.1000 '
                     '| n/a | yes |')
  assert rows[-1].startswith('| 5 (planted bad) |')
  assert rows[-1].endswith('| no (AnomaliesGate stopped it) |')


def test_span_runs_weigh_recent_popularity_unless_told_otherwise():
  spanned = configs.spans_config(configs.preset('tutorial'))
  assert (spanned.hyperparameters.retrieval_popularity_weight,
          spanned.hyperparameters.retrieval_popularity_half_life_days) == (
              configs.SPAN_POPULARITY_WEIGHT,
              configs.SPAN_POPULARITY_HALF_LIFE_DAYS)
  # A hash split keeps the defaults: every rating alike.
  assert configs.preset('tutorial').hyperparameters.\
      retrieval_popularity_half_life_days == 0
  assert spanned.hyperparameters.new_user_popularity_weight == (
      configs.SPAN_NEW_USER_POPULARITY_WEIGHT)
  given = configs.spans_config(configs.preset(
      'tutorial', retrieval_popularity_weight=0.5,
      retrieval_popularity_half_life_days=30.0,
      new_user_popularity_weight=1.0))
  assert (given.hyperparameters.retrieval_popularity_weight,
          given.hyperparameters.retrieval_popularity_half_life_days,
          given.hyperparameters.new_user_popularity_weight) == (
              0.5, 30.0, 1.0)
