"""The MovieLens ranking TFX pipeline: graph, configuration and runners."""

import functools
from importlib import metadata

import trainer_module  # noqa: F401  (Keras 2 before TensorFlow)

# Each google.cloud client library TFX and Beam import (four in a run) has
# google-api-core >= 2.27 look up its own distribution name with
# importlib.metadata.packages_distributions(), which reads the metadata of
# every installed distribution anew: 0.8 s a call here (importing TFX's
# local runner: 7.7 -> 6.1 s). What is installed does not change while we
# run: read it once.
if not hasattr(metadata.packages_distributions, 'cache_info'):
  metadata.packages_distributions = functools.lru_cache(maxsize=1)(
      metadata.packages_distributions)
