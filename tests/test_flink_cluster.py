"""flink/cluster.py's process handling, without starting Flink."""

import subprocess
import sys
import time

import pytest

from flink import cluster


@pytest.fixture
def state_dir(tmp_path):
  (tmp_path / 'logs').mkdir()
  return tmp_path


def test_down_stops_exactly_the_process_groups_up_started(state_dir):
  """Each started process and its children go; a process it did not start
  stays."""
  started = cluster.start(state_dir, 'pool', [
      sys.executable, '-c',
      'import subprocess, sys, time; subprocess.Popen([sys.executable, "-c", '
      '"import time; time.sleep(60)"]); time.sleep(60)'])
  other = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
  try:
    time.sleep(1)
    assert cluster.group_alive(started)
    assert cluster.stop_processes(state_dir) == {'pool': started}
    assert not cluster.group_alive(started)
    assert cluster.read_pids(state_dir) == {}
    assert other.poll() is None
  finally:
    other.kill()


def test_a_supervised_command_is_started_again_when_it_exits(state_dir):
  """As Kubernetes restarts a TaskManager's pod."""
  runs = state_dir / 'runs'
  pid = cluster.start(state_dir, 'taskmanager-1', cluster.supervised(
      ['sh', '-c', f'echo run >> {runs}; exit 3']))
  try:
    deadline = time.time() + 20
    while time.time() < deadline and (
        not runs.exists() or len(runs.read_text().split()) < 2):
      time.sleep(0.2)
    assert len(runs.read_text().split()) >= 2
    assert 'exited with 3; restarting' in (
        state_dir / 'logs' / 'taskmanager-1.log').read_text()
  finally:
    cluster.signal_group(pid, 9)


def test_the_configuration_spreads_jobs_and_survives_a_lost_task_manager(
    tmp_path):
  config = cluster.flink_config(tmp_path)
  assert config['parallelism.default'] == str(cluster.TASK_MANAGERS)
  assert config['taskmanager.numberOfTaskSlots'] == '1'
  assert config['restart-strategy.type'] == 'exponential-delay'
  assert config['jobmanager.rpc.address'] == cluster.HOST_ADDRESS
  hosts = cluster.task_manager_hosts()
  assert len({h.namespace for h in hosts}) == len(
      {h.address for h in hosts}) == cluster.TASK_MANAGERS


def test_a_failing_command_names_itself_and_what_it_said():
  with pytest.raises(SystemExit, match=r'`ls /no/such/dir` failed: .*No such'):
    cluster.run(['ls', '/no/such/dir'])
