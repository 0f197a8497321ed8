"""Benchmarks: the pipeline against the TFRS tutorial notebook."""

import trainer_module  # noqa: F401  (Keras 2 before TensorFlow)
