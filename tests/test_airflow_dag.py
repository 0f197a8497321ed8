"""pipeline/airflow_dag.py with a real Apache Airflow 2 (SQLite, sequential).

Airflow reads its configuration when first imported, so everything runs in
subprocesses with their own AIRFLOW_HOME.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from ml_metadata.proto import metadata_store_pb2

from pipeline import configs
from tests import e2e
from tests.test_pipeline import EXPECTED_EDGES

pytestmark = pytest.mark.e2e

DAG_FILE = os.path.join(e2e.PROJECT_ROOT, 'pipeline', 'airflow_dag.py')
DAG_ID = configs.PIPELINE_NAME

LOAD_DAG = """
import json, sys
from airflow.models import DagBag
bag = DagBag(dag_folder=sys.argv[1], include_examples=False)
dag = bag.get_dag(sys.argv[2])
print(json.dumps({
    'import_errors': {k: str(v) for k, v in bag.import_errors.items()},
    'schedule': str(dag.schedule_interval) if dag else None,
    'upstream': {t.task_id: sorted(t.upstream_task_ids)
                 for t in dag.tasks} if dag else {},
}))
"""


def airflow_env(home, output_dir, ratings_csv: str,
                extra_args: str = '') -> dict:
  return e2e.project_env(
      AIRFLOW_HOME=str(home),
      AIRFLOW__CORE__DAGS_FOLDER=DAG_FILE,
      AIRFLOW__CORE__LOAD_EXAMPLES='False',
      AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT='300',
      AIRFLOW__CORE__EXECUTOR='SequentialExecutor',
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f'sqlite:///{home}/airflow.db',
      MOVIELENS_OUTPUT_DIR=str(output_dir),
      MOVIELENS_PIPELINE_ARGS=(f'--ratings-csv {ratings_csv} --batch-size 64 '
                               f'--epochs 10 --rmse-threshold 0.9 '
                               f'{" ".join(e2e.SMALL_DATA_RETRIEVAL)} '
                               f'{extra_args}'),
  )


def airflow(*args, env) -> subprocess.CompletedProcess:
  return e2e.run_command([os.path.join(os.path.dirname(sys.executable),
                                       'airflow'), *args], env)


@pytest.fixture(scope='module')
def airflow_home(ratings_csv, tmp_path_factory):
  """An Airflow home with a migrated SQLite database."""
  home = tmp_path_factory.mktemp('airflow_home')
  migrate = airflow('db', 'migrate',
                    env=airflow_env(home, home / 'out', ratings_csv))
  assert migrate.returncode == 0, migrate.stderr[-3000:]
  return home


@pytest.fixture(scope='module')
def loaded(airflow_home, ratings_csv, tmp_path_factory):
  env = airflow_env(airflow_home, tmp_path_factory.mktemp('dagbag'),
                    ratings_csv, '--beam-pipeline-args=--direct_num_workers=1')
  env['MOVIELENS_SCHEDULE'] = '@daily'
  result = e2e.run_command([sys.executable, '-c', LOAD_DAG, DAG_FILE, DAG_ID],
                           env)
  assert result.returncode == 0, result.stderr[-3000:]
  return json.loads(result.stdout.strip().splitlines()[-1])


def test_dag_file_loads_without_import_errors(loaded):
  assert loaded['import_errors'] == {}
  assert loaded['schedule'] == '@daily'


def test_task_ids_are_the_components(loaded):
  assert set(loaded['upstream']) == {n for e in EXPECTED_EDGES for n in e}


def test_dependencies_match_the_graph(loaded):
  edges = {(up, task) for task, ups in loaded['upstream'].items()
           for up in ups}
  assert edges == EXPECTED_EDGES


def test_airflow_dags_test_runs_the_pipeline_and_pushes(airflow_home,
                                                        ratings_csv, tmp_path):
  env = airflow_env(airflow_home, tmp_path / 'out', ratings_csv)
  result = airflow('dags', 'test', DAG_ID, '2024-06-01', env=env)
  assert result.returncode == 0, (result.stdout[-3000:], result.stderr[-3000:])

  paths = configs.output_paths(env['MOVIELENS_OUTPUT_DIR'])
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  store = run_summary.open_store(paths['metadata_path'])
  states = {run_summary.node_id(store, e): e.last_known_state
            for e in store.get_executions()}
  assert set(states) == {n for e in EXPECTED_EDGES for n in e}
  # Airflow's legacy launcher records resolvers as CACHED executions.
  assert {n for n, s in states.items()
          if s != metadata_store_pb2.Execution.COMPLETE} == {
              'latest_blessed_model_resolver',
              'drift_baseline_statistics_resolver'}
  versions = os.listdir(paths['serving_model_dir'])
  assert len(versions) == 1
  rating = e2e.tutorial_call(
      os.path.join(paths['serving_model_dir'], versions[0]), '42',
      'Movie 3 (1953)')
  assert rating.shape == (1, 1)


def test_a_scheduled_run_takes_the_newest_span(airflow_home, tmp_path):
  """A folder of spans on Airflow: spans 1-2 are backfilled by DAG runs of
  ExampleGen alone (--ingest-only --span N); span 3 arrives and a DAG run
  ingests it, trains on spans 1-2 (the earlier runs' artifacts) and
  evaluates on span 3."""
  from bench import spans as span_cutter  # pylint: disable=g-import-not-at-top
  from bench import synthetic  # pylint: disable=g-import-not-at-top
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  all_spans, spans = tmp_path / 'all', tmp_path / 'spans'
  span_cutter.cut(synthetic.write_small_ratings_csv(
      str(tmp_path / 'r.csv'), arrivals=0.3), str(all_spans), days=42)
  spans.mkdir()
  for span in ('span-1', 'span-2'):
    shutil.copytree(all_spans / span, spans / span)
  output_dir = tmp_path / 'out'
  flags = ['--ratings-dir', str(spans), '--batch-size', '64', '--epochs',
           '10', '--rmse-threshold', '1.5', *e2e.SMALL_DATA_RETRIEVAL]
  env = airflow_env(airflow_home, output_dir, '')
  for day, extra in ((2, '--ingest-only --span 1'),
                     (3, '--ingest-only --span 2'), (4, '')):
    if not extra:
      shutil.copytree(all_spans / 'span-3', spans / 'span-3')
    env['MOVIELENS_PIPELINE_ARGS'] = ' '.join(flags) + ' ' + extra
    result = airflow('dags', 'test', DAG_ID, f'2024-06-0{day}', env=env)
    assert result.returncode == 0, '\n'.join(
        line for line in (result.stdout + result.stderr).splitlines()
        if 'ERROR' in line or 'Error' in line)[-5000:]
  metadata_path = configs.output_paths(str(output_dir))['metadata_path']
  assert run_summary.span_ingests(metadata_path) == {1: 1, 2: 1, 3: 1}
  store = run_summary.open_store(metadata_path)
  trainers = [e for e in store.get_executions()
              if run_summary.node_id(store, e) == 'Trainer']
  inputs, _ = run_summary._inputs_and_outputs(store, trainers[-1].id)  # pylint: disable=protected-access
  assert sorted(a.custom_properties['span'].int_value
                for a in inputs['examples']) == [1, 2]
