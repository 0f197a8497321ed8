"""One local run per output directory: a second one is refused."""

import subprocess
import sys
import textwrap

import pytest

from pipeline import run_lock
from tests import e2e


def hold_in_another_process(output_dir: str) -> subprocess.Popen:
  """A process that holds the run lock until its stdin closes."""
  holder = subprocess.Popen(
      [sys.executable, '-c', textwrap.dedent(f'''
          import sys
          from pipeline import run_lock
          with run_lock.hold({output_dir!r}):
            print('held', flush=True)
            sys.stdin.read()
      ''')], cwd=e2e.PROJECT_ROOT, stdin=subprocess.PIPE,
      stdout=subprocess.PIPE, text=True)
  assert holder.stdout.readline().strip() == 'held'
  return holder


def test_second_holder_is_refused_and_named(tmp_path):
  holder = hold_in_another_process(str(tmp_path))
  try:
    with pytest.raises(run_lock.RunInProgressError) as error:
      with run_lock.hold(str(tmp_path)):
        pass
    assert f'pid {holder.pid}' in str(error.value)
  finally:
    holder.communicate('')
  with run_lock.hold(str(tmp_path)):  # free again once the holder exits
    pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
  holder = hold_in_another_process(str(tmp_path))
  holder.kill()
  holder.wait()
  with run_lock.hold(str(tmp_path)):
    pass
