"""The MovieLens ranking TFX pipeline: graph, configuration and runners."""

import functools
from importlib import metadata
import os

# TFRS 0.7.7, TFT and TFMA need Keras 2 (tf_keras); this must be set before
# TensorFlow is first imported, in every process that runs our code.
os.environ['TF_USE_LEGACY_KERAS'] = '1'
# Hide TensorFlow's C++ info and warning lines unless asked for.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

# Each google.cloud client library TFX and Beam import (four in a run) has
# google-api-core >= 2.27 look up its own distribution name with
# importlib.metadata.packages_distributions(), which reads the metadata of
# every installed distribution anew: 0.8 s a call here (importing TFX's
# local runner: 7.7 -> 6.1 s). What is installed does not change while we
# run: read it once.
if not hasattr(metadata.packages_distributions, 'cache_info'):
  metadata.packages_distributions = functools.lru_cache(maxsize=1)(
      metadata.packages_distributions)
