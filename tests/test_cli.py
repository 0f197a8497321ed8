"""The runners' shared flags: Beam options and create_pipeline arguments."""

import argparse
import csv
import os

import pytest

from bench import synthetic
from components import beam_runner
from components import ratings_source
from components.ratings_source import RatingsSource
from pipeline import cli
from pipeline import configs


def parse(argv):
  parser = argparse.ArgumentParser()
  cli.add_pipeline_flags(parser)
  args = parser.parse_args(argv)
  cli.check_pipeline_flags(parser, args)
  return args


def test_defaults_are_the_tutorials():
  kwargs = cli.pipeline_kwargs(parse([]))
  hparams = kwargs['config'].hyperparameters
  assert (hparams.model, hparams.epochs, hparams.batch_size,
          hparams.learning_rate, hparams.embedding_dim,
          hparams.optimizer) == ('tutorial', 3, 8192, 0.1, 32, 'adagrad')
  assert kwargs['config'] == configs.PRESETS['tutorial']
  assert kwargs['config'].rmse_threshold == 1.2
  assert (kwargs['source'].format, kwargs['source'].paths) == (
      ratings_source.TFDS, ('movielens/100k-ratings',))
  assert kwargs['beam_pipeline_args'] == configs.LOCAL_BEAM_PIPELINE_ARGS


def test_local_beam_args_spare_tfx_packing_itself(monkeypatch):
  """TFX packs its own installation for Beam workers (2.5 s and 52 MB left
  in a temporary directory, per Beam component) unless the args name their
  dependencies: the local defaults name a worker image."""
  from tfx.utils import dependency_utils  # pylint: disable=g-import-not-at-top

  def packs(*_):
    raise AssertionError('TFX would build tfx_ephemeral')

  monkeypatch.setattr(dependency_utils, 'build_ephemeral_package', packs)
  for given in ([], ['--direct_num_workers=2']):
    args = cli.beam_args(given)
    assert dependency_utils.make_beam_dependency_flags(args) == args
  with pytest.raises(AssertionError, match='tfx_ephemeral'):
    dependency_utils.make_beam_dependency_flags(
        ['--direct_running_mode=in_memory'])


def test_flink_engine_sends_every_beam_component_to_the_job_server(
    monkeypatch):
  """--beam-engine flink: the Flink runner through the job server, SDK
  workers from the pools; the user's Beam args follow, TFX packs nothing."""
  from tfx.utils import dependency_utils  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(dependency_utils, 'build_ephemeral_package',
                      lambda *_: pytest.fail('TFX would build tfx_ephemeral'))
  args = cli.pipeline_kwargs(parse([
      '--beam-engine', 'flink', '--job-endpoint', 'js:8099',
      '--beam-pipeline-args=--parallelism=4']))['beam_pipeline_args']
  assert args == [
      '--runner=FlinkRunner', '--flink_master=localhost:8081',
      '--job_endpoint=js:8099', '--environment_type=EXTERNAL',
      '--environment_config=localhost:50000',
      f'--sdk_container_image={beam_runner.FLINK_WORKER_POOL_IMAGE}',
      '--environment_cache_millis='
      f'{beam_runner.FLINK_ENVIRONMENT_CACHE_MILLIS}',
      '--parallelism=4']
  assert not beam_runner.is_direct_runner(args)
  assert dependency_utils.make_beam_dependency_flags(args) == args


def test_flink_engine_and_another_runner_is_refused(capsys):
  with pytest.raises(SystemExit):
    parse(['--beam-engine', 'flink',
           '--beam-pipeline-args=--runner=DataflowRunner'])
  assert '--beam-engine flink sets the runner' in capsys.readouterr().err


def test_an_unreachable_job_server_is_named_before_anything_runs():
  beam_runner.check_job_server(configs.LOCAL_BEAM_PIPELINE_ARGS)  # no server
  with pytest.raises(beam_runner.JobServerUnreachableError,
                     match='no Beam job server answers at localhost:9 '):
    beam_runner.check_job_server(beam_runner.flink_args(
        'localhost:8081', 'localhost:9', 'localhost:50000'))


def test_a_failed_flink_job_whose_cluster_does_not_answer_says_so():
  """A Flink job's failure is explained only on Flink (the worker-pool
  line, tests/test_flink_e2e.py, reads the cluster's REST API)."""
  error = ('Pipeline BeamApp-root-1204000310-20914a11_933477f6-1820-4a94-9c4b'
           '-f94757849b20 failed in state FAILED: java.net.ConnectException')
  assert beam_runner.flink_failure_cause(
      configs.LOCAL_BEAM_PIPELINE_ARGS, error) is None
  assert beam_runner.flink_failure_cause(beam_runner.flink_args(
      'localhost:9', 'localhost:8099', 'localhost:50000'), error) == (
          'the Flink cluster at localhost:9 (--flink-master) does not answer '
          '(Connection refused); the job server reported: '
          'java.net.ConnectException')
  assert beam_runner.flink_failure_cause(beam_runner.flink_args(
      'localhost:9', 'localhost:8099', 'localhost:50000'), 'other') is None


def test_tuned_preset_has_its_own_gate_and_flags_override_it():
  config = cli.pipeline_kwargs(parse(['--preset', 'tuned']))['config']
  assert config.hyperparameters.model == 'tuned'
  assert config.rmse_threshold == configs.PRESETS[
      'tuned'].rmse_threshold < configs.PRESETS['tutorial'].rmse_threshold
  config = cli.pipeline_kwargs(parse(['--preset', 'tuned', '--epochs', '5',
                                      '--rmse-threshold', '0.99']))['config']
  assert config.hyperparameters.epochs == 5
  assert config.hyperparameters.optimizer == 'adam'
  assert config.rmse_threshold == 0.99


def test_every_hyperparameter_but_the_model_is_a_flag_with_its_help(capsys):
  """Issue 18: the flags are made from the Hyperparameters fields, so a
  new field is a flag without editing the CLI."""
  import dataclasses  # pylint: disable=g-import-not-at-top
  from trainer_module.hyperparameters import Hyperparameters  # pylint: disable=g-import-not-at-top
  parser = argparse.ArgumentParser()
  cli.add_pipeline_flags(parser)
  parser.print_help()
  text = ' '.join(capsys.readouterr().out.split())
  for field in dataclasses.fields(Hyperparameters):
    if field.name != 'model':
      assert cli.flag_name(field.name) in text, field.name
  assert '--model ' not in text
  config = cli.pipeline_config(parse(['--l2', '0.001', '--optimizer', 'adam',
                                      '--seed', '7',
                                      '--retrieval-disliked-weight', '0.5']))
  assert (config.hyperparameters.l2, config.hyperparameters.optimizer,
          config.hyperparameters.seed,
          config.hyperparameters.retrieval_disliked_weight) == (
              0.001, 'adam', 7, 0.5)


def test_beam_args_repeatable_or_one_string_and_override_defaults():
  assert cli.beam_args(['--direct_running_mode=multi_processing',
                        '--direct_num_workers=2 --foo=bar']) == [
                            '--direct_running_mode=multi_processing',
                            '--direct_num_workers=2', '--foo=bar',
                            f'--sdk_container_image={configs.DIRECT_RUNNER_WORKER_IMAGE}']
  assert cli.beam_args(['--direct_num_workers=4']) == [
      '--direct_num_workers=4', '--direct_running_mode=in_memory',
      f'--sdk_container_image={configs.DIRECT_RUNNER_WORKER_IMAGE}']


def test_other_runners_get_no_direct_runner_defaults():
  flags = ['--runner=DataflowRunner --project=p --region=europe-west4']
  assert cli.beam_args(flags) == ['--runner=DataflowRunner', '--project=p',
                                  '--region=europe-west4']
  # Space-separated, as Beam also accepts it: the same answer as the
  # ExampleGen's (issue 18, defect 4).
  flags = ['--runner DataflowRunner --project=p']
  assert cli.beam_args(flags) == ['--runner', 'DataflowRunner', '--project=p']
  from components import movielens_example_gen  # pylint: disable=g-import-not-at-top
  assert not movielens_example_gen.is_direct_runner(cli.beam_args(flags))


# One MovieLens 100k rating with every column ExampleGen knows.
ROW_100K = dict(
    user_id='42', movie_title='Speed (1994)', user_rating='4',
    timestamp='881250949', movie_id='385', movie_genres='Action|Thriller',
    user_gender='1', raw_user_age='24', bucketized_user_age='18',
    user_occupation_text='technician',
    user_occupation_label='technician/engineer', user_zip_code='85711')


def write_csv(path, columns) -> str:
  """A one-rating CSV with `columns` (values from a MovieLens 100k row)."""
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(columns)
    writer.writerow([ROW_100K[c] for c in columns])
  return str(path)


def write_parquet(path, columns) -> str:
  """A one-rating Parquet file with `columns` (strings; a float rating)."""
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  pq.write_table(pa.table({c: [float(ROW_100K[c])] if c == 'user_rating'
                           else [ROW_100K[c]] for c in columns}), str(path))
  return str(path)


def test_ratings_csv_replaces_the_dataset_and_paths_become_absolute(
    tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  write_csv('r.csv', ['user_id', 'movie_title', 'user_rating'])
  kwargs = cli.pipeline_kwargs(parse(['--ratings-csv', 'r.csv',
                                      '--manual-dir', 'gs://b/data']))
  assert kwargs['source'] == RatingsSource(
      ratings_source.CSV, (os.path.abspath('r.csv'),))


def test_ratings_parquet_replaces_the_dataset(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  os.mkdir('r')
  write_parquet('r/part-0.parquet', ['user_id', 'movie_title', 'user_rating'])
  kwargs = cli.pipeline_kwargs(parse(['--ratings-parquet', 'r/*.parquet']))
  assert kwargs['source'] == RatingsSource(
      ratings_source.PARQUET, (os.path.abspath('r/*.parquet'),))


@pytest.mark.parametrize('argv, schema', [
    ([], 'schema.pbtxt'),
    (['--dataset', 'movielens/1m-ratings'], 'movielens_1m.pbtxt'),
    (['--dataset', 'movielens/25m-ratings'], 'movielens_20m.pbtxt'),
    (['--dataset', 'movielens/25m-ratings', '--schema', 'infer'], None),
])
def test_each_source_gets_its_reviewed_schema(argv, schema):
  path = cli.pipeline_kwargs(parse(argv))['schema_path']
  assert (path and os.path.basename(path)) == schema


RATINGS_ONLY = ['user_id', 'movie_title', 'user_rating']
MOVIELENS_20M = [*RATINGS_ONLY, 'timestamp', 'movie_id', 'movie_genres']


@pytest.mark.parametrize('flag, write, columns, schema', [
    ('--ratings-csv', write_csv, RATINGS_ONLY, 'ratings_only.pbtxt'),
    ('--ratings-csv', write_csv, [*RATINGS_ONLY, 'timestamp'],
     'ratings_only.pbtxt'),
    ('--ratings-csv', write_csv, synthetic.COLUMNS, 'schema.pbtxt'),
    ('--ratings-csv', write_csv, MOVIELENS_20M, 'movielens_20m.pbtxt'),
    ('--ratings-parquet', write_parquet, RATINGS_ONLY, 'ratings_only.pbtxt'),
])
def test_your_own_file_gets_the_schema_of_its_columns(tmp_path, flag, write,
                                                      columns, schema):
  """Issue 18, defect 7: a 3-column CSV used to get MovieLens 100k's schema,
  which requires all 12 columns."""
  path = write(tmp_path / 'ratings', columns)
  assert os.path.basename(
      cli.pipeline_kwargs(parse([flag, path]))['schema_path']) == schema


def test_columns_no_schema_has_say_what_to_do(tmp_path):
  path = write_csv(tmp_path / 'r.csv', [*RATINGS_ONLY, 'raw_user_age'])
  with pytest.raises(configs.NoReviewedSchemaError,
                     match='no reviewed schema has exactly the columns .*'
                     '--schema infer'):
    cli.pipeline_kwargs(parse(['--ratings-csv', path]))
  assert cli.pipeline_kwargs(parse(['--ratings-csv', path, '--schema',
                                    'infer']))['schema_path'] is None


@pytest.mark.parametrize('argv', [['--epochs', '0'], ['--batch-size', '-1'],
                                  ['--learning-rate', '0'],
                                  ['--rmse-threshold', '-1'],
                                  ['--preset', 'best'],
                                  ['--dataset', 'x', '--ratings-csv', 'y'],
                                  ['--ratings-csv', 'x', '--ratings-parquet',
                                   'y'],
                                  ['--schema', 'no/such/schema.pbtxt'],
                                  ['--tune-trials', '3'],
                                  ['--tune', '--tune-trials', '0'],
                                  ['--validation-percent', '0'],
                                  ['--validation-percent', '60']])
def test_unusable_values_are_refused(argv):
  with pytest.raises(SystemExit):
    parse(argv)


def test_csv_encoding_reaches_example_gen(tmp_path):
  path = tmp_path / 'r.csv'
  path.write_bytes('user_id,movie_title,user_rating\n1,Café (1990),4\n'
                   .encode('latin-1'))
  kwargs = cli.pipeline_kwargs(parse(['--ratings-csv', str(path),
                                      '--csv-encoding', 'latin-1']))
  assert kwargs['source'].encoding == 'latin-1'
  from pipeline import pipeline  # pylint: disable=g-import-not-at-top
  built = pipeline.create_pipeline('p', str(tmp_path / 'root'),
                                   str(tmp_path / 'serving'), **kwargs)
  example_gen = next(c for c in built.components
                     if c.id == 'MovieLensExampleGen')
  assert RatingsSource.from_json(example_gen.exec_properties[
      'ratings_source']) == kwargs['source']


def test_movielens_split_needs_movielens_dir(capsys):
  with pytest.raises(SystemExit):
    parse(['--movielens-split', 'u1'])
  assert '--movielens-split needs --movielens-dir' in capsys.readouterr().err


def test_each_preset_has_its_rerank_weight_and_the_flag_overrides_it():
  from trainer_module import hyperparameters  # pylint: disable=g-import-not-at-top
  assert cli.pipeline_config(parse([])).hyperparameters.rerank_weight == (
      hyperparameters.Hyperparameters().rerank_weight) == (
          configs.PRESETS['tutorial'].hyperparameters.rerank_weight)
  tuned = cli.pipeline_config(parse(['--preset', 'tuned']))
  assert tuned.hyperparameters.rerank_weight == 0.25
  given = cli.pipeline_config(parse(['--preset', 'tuned', '--rerank-weight',
                                     '2']))
  assert given.hyperparameters.rerank_weight == 2.0


def test_tune_adds_a_tuner_with_its_trials():
  assert cli.pipeline_config(parse([])).tune_trials is None
  assert cli.pipeline_config(parse(['--tune'])).tune_trials == (
      configs.DEFAULT_TUNE_TRIALS)
  assert cli.pipeline_config(parse(['--tune', '--tune-trials',
                                    '3'])).tune_trials == 3


def test_validation_percent_reaches_the_pipeline():
  assert cli.pipeline_config(parse([])).validation_percent == 10
  assert cli.pipeline_config(parse(['--validation-percent',
                                    '20'])).validation_percent == 20
