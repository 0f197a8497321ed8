"""How much TensorFlow, absl, Beam and TFX say: little unless --verbose."""

import logging
import os
import sys
import warnings

_NOISY_LOGGERS = ('tensorflow', 'apache_beam', 'absl', 'tfx', 'ml_metadata',
                  'tensorflow_transform', 'tensorflow_model_analysis',
                  'tensorflow_data_validation', 'tfx_bsl')
# Packages whose import-time and deprecation warnings are hidden unless
# --verbose; warnings raised from any other module (ours included) show.
_NOISY_WARNING_MODULES = (*_NOISY_LOGGERS, 'keras', 'tf_keras',
                          'tensorflow_datasets', 'tensorflow_recommenders',
                          'google', 'pyarrow', 'numpy', 'pandas', 'h5py',
                          'jax', 'flatbuffers', 'proto', 'sqlalchemy',
                          'pkg_resources', 'setuptools', 'attr', 'etils')
_NOISY_WARNING_PATTERN = (r'(%s)(\.|$)' % '|'.join(_NOISY_WARNING_MODULES))


def before_tensorflow(verbose: bool) -> None:
  """Call before TensorFlow and TFX are imported: TensorFlow's C++ logging
  reads this once, and the imports themselves warn."""
  os.environ['TF_CPP_MIN_LOG_LEVEL'] = '0' if verbose else '3'
  if not verbose:
    warnings.filterwarnings('ignore', module=_NOISY_WARNING_PATTERN)
    _import_tensorflow_without_stderr()


def _import_tensorflow_without_stderr() -> None:
  """Loads TensorFlow with file descriptor 2 on /dev/null: TensorFlow 2.21
  (the TFX 1.21 stack) logs from C++ through absl while its libraries load,
  before it reads TF_CPP_MIN_LOG_LEVEL ("All log messages before
  absl::InitializeLog() is called are written to STDERR", CUDA and oneDNN
  notices). TensorFlow 2.16 prints nothing there. Python errors raised by
  the import still show: they are printed after stderr is back."""
  sys.stderr.flush()
  saved = os.dup(2)
  devnull = os.open(os.devnull, os.O_WRONLY)
  try:
    os.dup2(devnull, 2)
    import tensorflow  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  finally:
    os.dup2(saved, 2)
    os.close(saved)
    os.close(devnull)


def configure(verbose: bool) -> None:
  """Python-side logging: warnings and errors only, unless verbose."""
  from absl import logging as absl_logging  # pylint: disable=g-import-not-at-top
  level = logging.INFO if verbose else logging.ERROR
  absl_logging.set_verbosity(absl_logging.INFO if verbose
                             else absl_logging.ERROR)
  for name in _NOISY_LOGGERS:
    logging.getLogger(name).setLevel(level)
  if not verbose:
    import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    tfds.disable_progress_bar()
