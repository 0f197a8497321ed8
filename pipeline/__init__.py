"""The MovieLens ranking TFX pipeline: graph, configuration and runners."""

import os

# TFRS 0.7.7, TFT and TFMA need Keras 2 (tf_keras); this must be set before
# TensorFlow is first imported, in every process that runs our code.
os.environ['TF_USE_LEGACY_KERAS'] = '1'
# Hide TensorFlow's C++ info and warning lines unless asked for.
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
