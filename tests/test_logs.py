"""How much the runners say (pipeline/logs.py)."""

import subprocess
import sys
import warnings

from pipeline import logs
from tests import e2e


def _shown(module: str) -> bool:
  """Whether a warning raised from `module` shows after quiet set-up."""
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    logs.before_tensorflow(verbose=False)
    del caught[:]  # what loading TensorFlow raised
    warnings.warn_explicit('careful', UserWarning, 'x.py', 1, module=module)
  return bool(caught)


def test_quiet_runs_hide_library_warnings_only():
  """Issue 18, defect 8: every warning used to be hidden, ours included."""
  for library in ('tensorflow.python.framework', 'apache_beam', 'tfx.v1',
                  'google.api_core._python_version_support', 'tf_keras'):
    assert not _shown(library), library
  for ours in ('pipeline.cli', 'components.movielens_example_gen',
               'trainer_module.trainer', '__main__', 'tensorflowish'):
    assert _shown(ours), ours


def test_verbose_runs_hide_nothing():
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    logs.before_tensorflow(verbose=True)
    warnings.warn_explicit('careful', UserWarning, 'x.py', 1,
                           module='tensorflow.python')
  assert caught


def test_a_quiet_run_loads_tensorflow_without_a_line_on_stderr():
  """TensorFlow 2.21 (the TFX 1.21 stack) logs through absl while it loads,
  whatever TF_CPP_MIN_LOG_LEVEL says; a quiet run shows none of it."""
  code = ('from pipeline import logs; logs.before_tensorflow(False); '
          'import tensorflow as tf; tf.constant(1); print("loaded")')
  result = subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, cwd=e2e.PROJECT_ROOT, check=False)
  assert (result.returncode, result.stdout, result.stderr) == (
      0, 'loaded\n', '')
