"""How much the runners say (pipeline/logs.py)."""

import warnings

from pipeline import logs


def _shown(module: str) -> bool:
  """Whether a warning raised from `module` shows after quiet set-up."""
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    logs.before_tensorflow(verbose=False)
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
