"""What AutoGraph converts when the models and input pipelines are traced.

Imported by every trainer module that builds or trains a Keras model, so it
applies in each process the Trainer, Tuner or a test trains in.
"""

import tensorflow as tf
from tensorflow.python.autograph.core import config as autograph_config

# For functions TensorFlow traces that have no Python control flow over
# tensors for AutoGraph to rewrite: they are traced as plain Python.
no_autograph = tf.autograph.experimental.do_not_convert

TF_KERAS = 'tf_keras'


def tf_keras_rules() -> list:
  """AutoGraph's rules that leave tf_keras unconverted."""
  return [rule for rule in autograph_config.CONVERSION_RULES
          if isinstance(rule, autograph_config.DoNotConvert) and
          rule.matches(TF_KERAS)]


def leave_tf_keras_unconverted() -> None:
  """Has AutoGraph leave tf_keras's own code as it is, as it does Keras's.

  TensorFlow 2.16's conversion rules skip `keras` but not `tf_keras`
  (TensorFlow 2.21's skip both), so the first trace of each Keras train,
  test and export function converted tf_keras's internals (every function
  they call, Layer.__call__ down), most of a small run's Trainer time (the
  figures: bench/results/HISTORY.md). The rule is added once.
  """
  if not tf_keras_rules():
    autograph_config.CONVERSION_RULES = (
        *autograph_config.CONVERSION_RULES,
        autograph_config.DoNotConvert(TF_KERAS))


leave_tf_keras_unconverted()
