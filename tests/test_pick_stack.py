"""requirements/pick_stack.py: which TFX stack `make setup` installs on which
machine (issue 14)."""

import importlib.util
import os
import subprocess
import sys

import pytest

from tests import e2e

PATH = os.path.join(e2e.PROJECT_ROOT, 'requirements', 'pick_stack.py')
_spec = importlib.util.spec_from_file_location('pick_stack', PATH)
pick_stack = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pick_stack)


@pytest.mark.parametrize('python, glibc, stack', [
    ((3, 13), (2, 41), 'tfx-1.21'),  # Debian 13
    ((3, 12), (2, 39), 'tfx-1.21'),  # Ubuntu 24.04
    ((3, 11), (2, 39), 'tfx-1.21'),  # the current release where both fit
    ((3, 10), (2, 41), 'tfx-1.21'),
    ((3, 11), (2, 36), 'tfx-1.16'),  # Debian 12
    ((3, 10), (2, 35), 'tfx-1.16'),  # Ubuntu 22.04
    ((3, 11), None, 'tfx-1.16'),  # no glibc (musl, macOS)
])
def test_the_stack_follows_python_and_glibc(python, glibc, stack):
  assert pick_stack.pick(python, glibc) == stack


@pytest.mark.parametrize('python, glibc', [
    ((3, 12), (2, 36)), ((3, 13), None), ((3, 14), (2, 41))])
def test_no_stack_says_what_to_do(python, glibc):
  with pytest.raises(ValueError, match='(?s)no TFX stack fits.*python3.11'):
    pick_stack.pick(python, glibc)


def test_the_tfx_installed_is_the_stacks():
  """The TFX this suite runs on is the stack's: the one make forced (it
  exports STACK) or the one this interpreter gets."""
  import tfx  # pylint: disable=g-import-not-at-top
  stack = os.environ.get('STACK') or subprocess.run(
      [sys.executable, PATH], capture_output=True, text=True,
      check=True).stdout.strip()
  assert stack == 'tfx-' + '.'.join(tfx.__version__.split('.')[:2])
