"""Tests for trainer_module/tracing.py: what AutoGraph converts."""

import importlib

import numpy as np
import tensorflow as tf
from tensorflow.python.autograph.impl import conversion
from tf_keras.src.engine import base_layer
from tf_keras.src.engine import training

from trainer_module import ranking_models
from trainer_module import tracing


def test_tf_keras_code_is_not_converted():
  assert conversion.is_allowlisted(base_layer.Layer.__call__)
  assert conversion.is_allowlisted(training.Model.train_step)
  # Our own models still are (their call methods have no control flow to
  # convert, but AutoGraph decides that, not the rule).
  assert not conversion.is_allowlisted(ranking_models.RankingModel.call)


def test_the_rule_is_added_once():
  tracing.leave_tf_keras_unconverted()
  importlib.reload(tracing)
  assert len(tracing.tf_keras_rules()) == 1


def test_a_model_trains_and_predicts_with_the_rule():
  """Keras's train function still loops over steps (AutoGraph converts
  it, the entry point), and what it calls runs unconverted."""
  model = tf.keras.Sequential([tf.keras.layers.Dense(4, activation='relu'),
                               tf.keras.layers.Dense(1)])
  model.compile(optimizer='adagrad', loss='mse', steps_per_execution=4)
  x = np.random.default_rng(0).normal(size=(64, 3)).astype('float32')
  history = model.fit(x, x.sum(axis=1), batch_size=8, epochs=2, verbose=0)
  assert np.isfinite(history.history['loss']).all()
  assert model.predict(x, verbose=0).shape == (64, 1)
