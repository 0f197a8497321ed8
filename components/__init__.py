"""Custom TFX components of the MovieLens ranking pipeline."""

import trainer_module  # noqa: F401  (Keras 2 before TensorFlow)
