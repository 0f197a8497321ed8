"""SIGKILL during ExampleGen, Transform, Trainer and Pusher; then re-runs.

One output directory goes through the sequence a crashing machine would
give it: the first run is killed during ExampleGen, its re-run during
Transform, the next during the Trainer; the fourth completes and pushes a
model. A better model's run is then killed while Pusher copies it, and
re-run. After every kill, the killed component's execution is unfinished in
ML Metadata, nothing new is served, and every numbered version under
serving_model/ is a complete model; each re-run reuses what completed.
The `crashes` fixture plays the whole sequence once and keeps what each step
left; each test checks one step, so any of them runs alone or in any order.
"""

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from typing import List

import pytest

from pipeline import configs
from pipeline import local_runner
from pipeline import run_summary
from tests import e2e
from tests import faults

pytestmark = pytest.mark.e2e

FIRST = [*e2e.SMALL_DATA_RETRIEVAL, '--batch-size', '64', '--epochs', '3',
         '--rmse-threshold', '2']
BETTER = [*e2e.SMALL_DATA_RETRIEVAL, '--batch-size', '64', '--epochs', '10',
          '--rmse-threshold', '2']
PUSHING = 'PUSH IN PROGRESS'

# Runs the local runner with Pusher's last copy into its staging folder made
# slow, so a kill lands while the model is half copied.
SLOW_PUSH_RUNNER = textwrap.dedent(f'''
    import os, sys, time
    from components import serving_pusher
    real_copy = serving_pusher.io_utils.copy_file
    def slow_copy(src, dst, *args, **kwargs):
      if serving_pusher.STAGING_PREFIX in dst:
        print({PUSHING!r}, flush=True)
        time.sleep(600)
      return real_copy(src, dst, *args, **kwargs)
    serving_pusher.io_utils.copy_file = slow_copy
    from pipeline import local_runner
    sys.exit(local_runner.main(sys.argv[1:]))
''')


def start(command: List[str]) -> 'tuple[subprocess.Popen, queue.Queue]':
  """Starts a runner in its own process group; its stdout lines arrive on
  the returned queue."""
  process = subprocess.Popen(
      command, cwd=e2e.PROJECT_ROOT, env=e2e.project_env(),
      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
      start_new_session=True)
  lines: queue.Queue = queue.Queue()

  def pump():
    for line in process.stdout:
      lines.put(line)
    lines.put(None)
  threading.Thread(target=pump, daemon=True).start()
  return process, lines


def wait_for(lines: queue.Queue, marker: str,
             timeout: float = 600) -> List[str]:
  """Reads a runner's stdout lines until one contains `marker`; returns the
  lines seen. Fails if the runner ends first."""
  seen, deadline = [], time.monotonic() + timeout
  while not seen or marker not in seen[-1]:
    line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
    if line is None:
      raise AssertionError(f'runner ended before {marker!r}:\n'
                           + ''.join(seen[-40:]))
    seen.append(line)
  return seen


def kill_when(process: subprocess.Popen, lines: queue.Queue,
              marker: str) -> None:
  """SIGKILLs the runner's whole process group once a stdout line contains
  `marker`."""
  wait_for(lines, marker)
  os.killpg(process.pid, signal.SIGKILL)
  process.wait()


def runner_command(output_dir: str, ratings_csv: str,
                   training: List[str]) -> List[str]:
  return ['--output-dir', output_dir, '--ratings-csv', ratings_csv,
          '--no-report', *training]


def latest_states(output_dir: str) -> dict:
  store = run_summary.open_store(
      configs.output_paths(output_dir)['metadata_path'])
  return {node: run.state for node, run in run_summary.component_runs(
      store, run_summary.latest_run_id(store)).items()}


def assert_every_version_complete(output_dir: str) -> None:
  """What a reader listing serving_model/ sees is only whole models."""
  base = e2e.serving_dir(output_dir)
  for name in (os.listdir(base) if os.path.isdir(base) else []):
    if name.isdigit():
      assert os.path.isfile(os.path.join(base, name, 'saved_model.pb'))
      e2e.tutorial_call(os.path.join(base, name), '42', 'Movie 3 (1953)')


def kill_during(output_dir: str, ratings_csv: str, node: str,
                training: List[str] = FIRST) -> dict:
  """Runs until `node` starts and SIGKILLs the runner; returns what it
  left: the fault ledger's entry and the killed run's component states."""
  before = faults.snapshot(e2e.serving_dir(output_dir))
  process, lines = start([sys.executable, '-m', 'pipeline.local_runner',
                          *runner_command(output_dir, ratings_csv, training)])
  kill_when(process, lines, f'] {node} started')
  entry = faults.record(f'SIGKILL during {node}', before,
                        faults.snapshot(e2e.serving_dir(output_dir)))
  assert_every_version_complete(output_dir)
  return {'entry': entry, 'states': latest_states(output_dir)}


def rerun(output_dir: str, ratings_csv: str,
          training: List[str] = FIRST) -> dict:
  summary = e2e.run_pipeline(output_dir, runner_command(
      output_dir, ratings_csv, training)[2:])
  assert_every_version_complete(output_dir)
  return summary


def kill_mid_push(output_dir: str, ratings_csv: str) -> dict:
  """A better model's run killed while Pusher copies it, then re-run."""
  serving = e2e.serving_dir(output_dir)
  before = faults.snapshot(serving)
  process, lines = start([
      sys.executable, '-c', SLOW_PUSH_RUNNER,
      *runner_command(output_dir, ratings_csv, BETTER)])
  kill_when(process, lines, PUSHING)
  killed = {
      'before': before,
      'entry': faults.record('SIGKILL during Pusher', before,
                             faults.snapshot(serving)),
      'states': latest_states(output_dir),
      'staged': [n for n in os.listdir(serving) if not n.isdigit()],
  }
  assert_every_version_complete(output_dir)
  return {**killed, 'rerun': rerun(output_dir, ratings_csv, BETTER),
          'after': faults.snapshot(serving), 'listing': os.listdir(serving)}


@pytest.fixture(scope='module')
def crashes(ratings_csv, tmp_path_factory) -> dict:
  """The whole sequence in one output dir: {step: what it left}."""
  output_dir = str(tmp_path_factory.mktemp('interrupted') / 'out')
  steps = {node: kill_during(output_dir, ratings_csv, node) for node in (
      'MovieLensExampleGen', 'Transform', 'Trainer')}
  steps['completed'] = rerun(output_dir, ratings_csv)
  steps['versions'] = faults.snapshot(e2e.serving_dir(output_dir))
  steps['push'] = kill_mid_push(output_dir, ratings_csv)
  return steps


def assert_killed_unserved(kill: dict, node: str) -> None:
  """Nothing pushed or changed, and `node` left unfinished."""
  assert kill['entry']['pushed'] == [] and kill['entry']['changed'] == [], (
      kill['entry'])
  assert kill['states'][node] == 'RUNNING'  # killed mid-way


def test_killed_during_example_gen(crashes):
  assert_killed_unserved(crashes['MovieLensExampleGen'],
                         'MovieLensExampleGen')


def test_rerun_killed_during_transform_reuses_example_gen(crashes):
  kill = crashes['Transform']
  assert_killed_unserved(kill, 'Transform')
  assert kill['states']['MovieLensExampleGen'] == kill['states'][
      'StatisticsGen'] == 'COMPLETE'


def test_rerun_killed_during_trainer_reuses_transform(crashes):
  kill = crashes['Trainer']
  assert_killed_unserved(kill, 'Trainer')
  assert kill['states']['MovieLensExampleGen'] == 'CACHED'
  assert kill['states']['Transform'] == 'COMPLETE'


def test_rerun_after_the_kills_completes_and_pushes(crashes):
  summary = crashes['completed']
  states = summary['component_states']
  assert states['Transform'] == 'CACHED'
  assert states['Trainer'] == 'COMPLETE'
  assert summary['pushed_model'], summary
  assert len(crashes['versions']) == 1


def test_killed_mid_push_serves_no_partial_version(crashes):
  push = crashes['push']
  assert len(push['before']) == 1
  assert_killed_unserved(push, 'Pusher')
  assert push['staged'], 'the kill should leave a half-copied staging folder'
  summary = push['rerun']
  assert summary['component_states']['Evaluator'] == 'CACHED'
  assert summary['component_states']['Pusher'] == 'COMPLETE'
  assert len(push['after']) == 2 and set(push['before']) < set(push['after'])
  assert sorted(push['listing']) == sorted(push['after'])


def test_second_run_on_the_same_output_dir_is_refused(tmp_path, ratings_csv):
  output_dir = str(tmp_path / 'out')
  first, lines = start([sys.executable, '-m', 'pipeline.local_runner',
                        *runner_command(output_dir, ratings_csv, FIRST),
                        '--no-cache'])
  try:
    wait_for(lines, '] MovieLensExampleGen started')
    before = faults.snapshot(e2e.serving_dir(output_dir))
    second = e2e.run_module('pipeline.local_runner', runner_command(
        output_dir, ratings_csv, FIRST))
    faults.record('second run at once', before,
                  faults.snapshot(e2e.serving_dir(output_dir)))
    assert second.returncode == local_runner.EXIT_BUSY, second.stderr
    assert 'another run is using' in second.stderr
    assert f'pid {first.pid}' in second.stderr
  finally:
    assert first.wait(timeout=900) == 0, ''.join(
        l for l in iter(lines.get, None))[-3000:]
