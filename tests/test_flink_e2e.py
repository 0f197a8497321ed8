"""The whole pipeline on a real Flink cluster (flink/cluster.py): the same
outputs as the DirectRunner, the Beam jobs on the cluster, the Python work
in the worker pools, and a TaskManager lost mid-run.

Uses the cluster `make flink-up` started; starts one (and stops it) when
none is up. The native stack only: Beam's Flink runner jars on Maven Central
stop at 2.62 / 2.70, the TFX 1.21 stack's SDK is Beam 2.77 (README, "Flink").
"""

import glob
import hashlib
import json
import os
import signal
import time
from collections import Counter

import apache_beam
import pytest

from components import beam_runner
from flink import cluster
from tests import e2e
from tests.example_gen_run import read_split

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not apache_beam.__version__.startswith('2.61.'), reason=(
        f'Beam {apache_beam.__version__}: the cluster runs Beam 2.62\'s Flink '
        'runner, for the TFX 1.16 stack\'s Beam 2.61 (README, "Flink")')),
]

# The local runner e2e's small-data training (tests/test_local_runner_e2e.py).
ARGS = ['--rmse-threshold', '0.9', *e2e.SMALL_DATA_RETRIEVAL,
        '--batch-size', '64', '--epochs', '10']
FLINK = ['--beam-engine', 'flink']
STATE_DIR = cluster.DEFAULT_STATE_DIR


def jobs() -> dict:
  """{job id: (name, state)} of every job the cluster knows."""
  return {j['jid']: (j['name'], j['state'])
          for j in cluster.rest('/jobs/overview')['jobs']}


@pytest.fixture(scope='module')
def flink():
  """The running cluster: `make flink-up`'s, or one started here."""
  pids = cluster.read_pids(STATE_DIR)
  started = not (pids and all(cluster.alive(p) for p in pids.values()))
  if started:
    cluster.down(STATE_DIR)
    cluster.up(STATE_DIR)
  yield STATE_DIR
  if started:
    cluster.down(STATE_DIR)


def pool_worker_starts() -> Counter:
  """{worker pool: SDK workers it has started so far} (the pools' logs)."""
  return Counter({log.stem: log.read_text(errors='replace').count(
      'Starting worker with command')
                  for log in (STATE_DIR / 'logs').glob('worker-pool-*.log')})


@pytest.fixture(scope='module')
def runs(flink, ratings_csv, tmp_path_factory):
  """(DirectRunner output dir, its summary, Flink's, its summary, the Flink
  jobs the run added, the SDK workers each pool started for it)."""
  del flink
  direct = str(tmp_path_factory.mktemp('direct') / 'out')
  on_flink = str(tmp_path_factory.mktemp('flink') / 'out')
  direct_summary = e2e.run_pipeline(direct, ['--ratings-csv', ratings_csv,
                                             *ARGS])
  before, starts = jobs(), pool_worker_starts()
  flink_summary = e2e.run_pipeline(on_flink, ['--ratings-csv', ratings_csv,
                                              *ARGS, *FLINK])
  added = {j: v for j, v in jobs().items() if j not in before}
  return (direct, direct_summary, on_flink, flink_summary, added,
          pool_worker_starts() - starts)


def artifact_dir(output_dir: str, component: str, key: str) -> str:
  (path,) = glob.glob(os.path.join(output_dir, 'pipeline_root', component,
                                   key, '*'))
  return path


def record_hashes(examples_dir: str, split: str) -> Counter:
  """The split's serialized records, as hashes."""
  return Counter(hashlib.sha256(r).hexdigest()
                 for r in read_split(examples_dir, split, raw=True))


def test_the_beam_jobs_ran_on_the_cluster(runs):
  """ExampleGen, Transform and the Evaluator each submitted a job that
  finished on Flink (StatisticsGen describes small splits in memory)."""
  added = runs[4]
  assert len(added) >= 3
  assert {state for _, state in added.values()} == {'FINISHED'}


def test_the_python_work_ran_in_both_worker_pools(runs):
  """Each TaskManager had its pool start an SDK worker for each job (an
  EXTERNAL environment), so the Python work was spread over both and not
  done in the submitting process, as LOOPBACK would; one per job, not one
  per stage: the job's stages share it (the cluster loads Beam
  parent-first, and the args keep the environment between stages)."""
  started = runs[5]
  assert sorted(started) == [f'worker-pool-{i}' for i in
                             range(1, cluster.TASK_MANAGERS + 1)]
  assert set(started.values()) == {len(runs[4])}


def test_examples_vocabularies_and_metrics_equal_the_direct_runners(runs):
  direct, direct_summary, on_flink, flink_summary = runs[:4]
  assert flink_summary['examples'] == direct_summary['examples']
  for split in direct_summary['examples']:
    assert record_hashes(
        artifact_dir(on_flink, 'MovieLensExampleGen', 'examples'), split
    ) == record_hashes(
        artifact_dir(direct, 'MovieLensExampleGen', 'examples'), split)
  assets = [artifact_dir(d, 'Transform', 'transform_graph') for d in
            (direct, on_flink)]
  assert (e2e.tree_bytes(os.path.join(assets[1], 'transform_fn', 'assets'))
          == e2e.tree_bytes(os.path.join(assets[0], 'transform_fn',
                                         'assets')))
  assert flink_summary['rmse'] == pytest.approx(direct_summary['rmse'],
                                                abs=1e-5)
  for anchor in ('bundle', 'most_popular'):
    assert flink_summary['top_n'][anchor]['recall@10'] == pytest.approx(
        direct_summary['top_n'][anchor]['recall@10'], abs=1e-4)
  assert flink_summary['blessed'] is True
  assert os.path.exists(os.path.join(flink_summary['pushed_model'],
                                     'saved_model.pb'))


def test_a_lost_task_manager_comes_back_and_the_run_completes(
    runs, ratings_csv):
  """A TaskManager's JVM killed while the Evaluator's job runs: it is
  started again (as Kubernetes restarts a pod), Flink's restart strategy
  reruns the job and the run completes."""
  on_flink = runs[2]
  process = e2e.start_module('pipeline.local_runner', [
      '--output-dir', on_flink, '--ratings-csv', ratings_csv, *ARGS, *FLINK,
      '--epochs', '9'])
  try:
    job = kill_a_task_manager_once_a_job_runs(process)
  finally:
    stdout, stderr = process.communicate(timeout=900)
  assert job, f'no job ran:\n{stdout[-2000:]}\n{stderr[-2000:]}'
  assert process.returncode == 0, stderr[-3000:]
  assert jobs()[job][1] == 'FINISHED'
  assert cluster.rest(f'/jobs/{job}/exceptions')['exceptionHistory']['entries']
  with open(os.path.join(on_flink, 'run_summary.json')) as f:
    states = json.load(f)['component_states']
  assert (states['MovieLensExampleGen'], states['Trainer'],
          states['Evaluator']) == ('CACHED', 'COMPLETE', 'COMPLETE')


def kill_a_task_manager_once_a_job_runs(process) -> str:
  """SIGKILLs TaskManager 2's JVM once a new Flink job is RUNNING; that
  job's id, or '' when the run ends first."""
  known = set(jobs())
  while process.poll() is None:
    running = [jid for jid, (_, state) in jobs().items()
               if jid not in known and state == 'RUNNING']
    if running:
      time.sleep(3)  # the job's tasks deployed and working
      os.kill(cluster.task_manager_jvm(STATE_DIR, 2), signal.SIGKILL)
      return running[0]
    time.sleep(0.5)
  return ''


def test_no_job_server_is_one_line_and_runs_nothing(ratings_csv, tmp_path):
  output_dir = str(tmp_path / 'out')
  result = e2e.run_module('pipeline.local_runner', [
      '--output-dir', output_dir, '--ratings-csv', ratings_csv, *FLINK,
      '--job-endpoint', 'localhost:9'])
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1].startswith(
      'error: the run failed in pipeline construction: '
      'JobServerUnreachableError: no Beam job server answers at localhost:9')
  assert not os.path.exists(os.path.join(output_dir, 'pipeline_root'))


def error_line_without(process: str, flink, ratings_csv: str,
                       output_dir: str) -> str:
  """The last line of a run whose cluster lost `process` (SIGKILLed, not
  started again), after checking it failed and pushed nothing."""
  cluster.signal_group(cluster.read_pids(flink)[process], signal.SIGKILL)
  result = e2e.run_module('pipeline.local_runner', [
      '--output-dir', output_dir, '--ratings-csv', ratings_csv, *ARGS,
      *FLINK])
  assert result.returncode == 1
  assert not os.path.exists(os.path.join(output_dir, 'serving_model'))
  return result.stderr.strip().splitlines()[-1]


def test_a_worker_pool_down_is_one_line_and_pushes_nothing(
    flink, ratings_csv, tmp_path):
  """TaskManager 2's worker pool (its sidecar) gone: Flink's restarts fail
  the same way, and the run stops in one line naming the component, the
  TaskManager and the pool's address. The last test starts the cluster
  again."""
  assert error_line_without('worker-pool-2', flink, ratings_csv,
                            str(tmp_path / 'out')) == (
      'error: the run failed in MovieLensExampleGen: the TaskManager at '
      f'{cluster.task_manager_hosts()[1].address} could not start SDK '
      'workers in its Beam worker pool at localhost:50000 (--worker-pool): '
      'Connection refused')


def test_a_job_manager_down_is_one_line_and_pushes_nothing(
    flink, ratings_csv, tmp_path):
  """The JobManager gone (the job server still up): one line naming the
  component and the cluster's address."""
  assert error_line_without('jobmanager', flink, ratings_csv,
                            str(tmp_path / 'out')).startswith(
      'error: the run failed in MovieLensExampleGen: the Flink cluster at '
      f'{beam_runner.FLINK_MASTER} (--flink-master) does not answer '
      '(Connection refused); the job server reported: ')


def test_flink_down_leaves_nothing_running(flink):
  """Last: stops the cluster, checks every process group it started is
  gone and no namespace is left, then starts it again for whoever started
  it to stop."""
  pids = cluster.read_pids(flink)
  cluster.down(flink)
  assert not [name for name, pid in pids.items() if cluster.group_alive(pid)]
  assert cluster.run(['ip', 'netns', 'list']).stdout.count('mlflink') == 0
  cluster.up(flink)
