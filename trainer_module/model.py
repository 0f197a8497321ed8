"""The TFRS ranking model of the "Recommending movies: ranking" tutorial.

`run_fn` is the Trainer's entry point: it trains on Transform's output and
exports a SavedModel that carries the Transform graph, so it scores raw
strings:

  loaded = tf.saved_model.load(path)
  loaded({'user_id': np.array(['42']), 'movie_title': ['Speed (1994)']})
  # -> float tensor [1, 1]

Signatures: `serving_default` (raw `user_id`, `movie_title` strings),
`serving_tf_example` (serialized tf.Examples, used by the Evaluator) and
`transform_features` (serialized tf.Examples -> transformed features).
"""

import dataclasses
import os
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
import tensorflow as tf
import tensorflow_recommenders as tfrs
import tensorflow_transform as tft
from tfx import v1 as tfx
from tfx_bsl.public import tfxio

from trainer_module import features

RAW_SERVING_FEATURE_KEYS = features.VOCABULARY_FEATURE_KEYS
# Raw string features, one value per example: what a client sends.
RAW_SIGNATURE = [{key: tf.TensorSpec([None], tf.string, name=key)
                  for key in RAW_SERVING_FEATURE_KEYS}]


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """Training settings; the defaults are the tutorial's."""
  epochs: int = 3
  batch_size: int = 8192
  learning_rate: float = 0.1
  embedding_dim: int = 32
  seed: Optional[int] = 42

  @classmethod
  def from_custom_config(cls, custom_config: Optional[Dict[str, Any]]):
    """Reads the fields present in the Trainer's custom_config."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in (custom_config or {}).items()
                  if k in names})


class RankingModel(tf.keras.Model):
  """Scores (user, movie) index pairs: embeddings -> MLP -> rating."""

  def __init__(self, user_vocab_size: int, movie_vocab_size: int,
               embedding_dim: int):
    super().__init__()
    self.user_embeddings = tf.keras.layers.Embedding(
        user_vocab_size, embedding_dim, name='user_embedding')
    self.movie_embeddings = tf.keras.layers.Embedding(
        movie_vocab_size, embedding_dim, name='movie_embedding')
    self.ratings = tf.keras.Sequential([
        tf.keras.layers.Dense(256, activation='relu'),
        tf.keras.layers.Dense(64, activation='relu'),
        tf.keras.layers.Dense(1),
    ], name='rating_mlp')

  def call(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    """`inputs`: transformed ids, each [batch]. Returns ratings [batch, 1]."""
    user = self.user_embeddings(
        inputs[features.transformed_name(features.USER_ID_KEY)])
    movie = self.movie_embeddings(
        inputs[features.transformed_name(features.MOVIE_TITLE_KEY)])
    return self.ratings(tf.concat([user, movie], axis=1))


class MovieLensModel(tfrs.models.Model):
  """RankingModel trained with MSE loss and an RMSE metric."""

  def __init__(self, user_vocab_size: int, movie_vocab_size: int,
               embedding_dim: int):
    super().__init__()
    self.ranking_model = RankingModel(user_vocab_size, movie_vocab_size,
                                      embedding_dim)
    self.task = tfrs.tasks.Ranking(
        loss=tf.keras.losses.MeanSquaredError(),
        metrics=[tf.keras.metrics.RootMeanSquaredError(name='rmse')])

  def call(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    return self.ranking_model(inputs)

  def compute_loss(self, inputs: Tuple[Dict[str, tf.Tensor], tf.Tensor],
                   training: bool = False) -> tf.Tensor:
    """`inputs`: (transformed features, ratings [batch])."""
    features_dict, labels = inputs
    predictions = self.ranking_model(features_dict)
    return self.task(labels=tf.reshape(labels, [-1, 1]),
                     predictions=predictions)


def vocabulary_size(tf_transform_output: tft.TFTransformOutput,
                    key: str) -> int:
  """Embedding rows needed for raw feature `key`: vocabulary + OOV."""
  return (tf_transform_output.vocabulary_size_by_name(
      features.vocabulary_name(key)) + features.NUM_OOV_BUCKETS)


def build_model(tf_transform_output: tft.TFTransformOutput,
                hparams: Hyperparameters) -> MovieLensModel:
  """The compiled model, sized by the vocabularies Transform built."""
  model = MovieLensModel(
      vocabulary_size(tf_transform_output, features.USER_ID_KEY),
      vocabulary_size(tf_transform_output, features.MOVIE_TITLE_KEY),
      hparams.embedding_dim)
  model.compile(
      optimizer=tf.keras.optimizers.Adagrad(learning_rate=hparams.learning_rate))
  return model


def input_fn(file_pattern: List[str],
             data_accessor: tfx.components.DataAccessor,
             tf_transform_output: tft.TFTransformOutput,
             batch_size: int,
             shuffle: bool,
             seed: Optional[int] = None) -> tf.data.Dataset:
  """One pass over transformed examples as (features, label) batches."""
  return data_accessor.tf_dataset_factory(
      file_pattern,
      tfxio.TensorFlowDatasetOptions(
          batch_size=batch_size,
          label_key=features.LABEL_KEY,
          num_epochs=1,
          shuffle=shuffle,
          shuffle_seed=seed,
          shuffle_buffer_size=100_000),
      tf_transform_output.transformed_metadata.schema).prefetch(
          tf.data.AUTOTUNE)


class ServingModule(tf.Module):
  """What the Trainer exports: Transform layer + ranking model.

  Holding the Transform layer makes its graph and vocabulary files part of
  the SavedModel, so serving needs nothing else.
  """

  def __init__(self, model: MovieLensModel,
               tf_transform_output: tft.TFTransformOutput):
    super().__init__()
    self.model = model
    self.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()
    self._raw_feature_spec = raw_spec
    self._serving_feature_spec = {k: raw_spec[k]
                                  for k in RAW_SERVING_FEATURE_KEYS}
    self._vocabularies = {
        key: tf_transform_output.vocabulary_by_name(
            features.vocabulary_name(key))
        for key in features.VOCABULARY_FEATURE_KEYS}

  def _predict_raw(self, raw: Dict[str, tf.Tensor]) -> tf.Tensor:
    """Raw string features, each [batch] or [batch, 1] -> ratings [batch, 1]."""
    raw = {k: tf.reshape(raw[k], [-1, 1]) for k in RAW_SERVING_FEATURE_KEYS}
    return self.model(self.tft_layer(raw))

  @tf.function(input_signature=RAW_SIGNATURE)
  def __call__(self, raw: Dict[str, tf.Tensor]) -> tf.Tensor:
    """The tutorial's call: {'user_id': [b], 'movie_title': [b]} -> [b, 1]."""
    return self._predict_raw(raw)

  @tf.function(input_signature=RAW_SIGNATURE)
  def serve_raw(self, raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """`serving_default`: raw strings -> {'predicted_rating': [b, 1]}."""
    return {features.PREDICTION_KEY: self._predict_raw(raw)}

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name='examples')])
  def serve_tf_examples(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Serialized tf.Examples -> {'predicted_rating': [b, 1]}."""
    raw = tf.io.parse_example(examples, self._serving_feature_spec)
    return {features.PREDICTION_KEY: self._predict_raw(raw)}

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name='examples')])
  def transform_features(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Serialized tf.Examples -> transformed features (for the Evaluator)."""
    raw = tf.io.parse_example(examples, self._raw_feature_spec)
    return self.tft_layer(raw)

  @tf.function(input_signature=[])
  def vocabularies(self) -> Dict[str, tf.Tensor]:
    """The vocabularies the model was trained with, most frequent first."""
    return {key: tf.constant(values, dtype=tf.string)
            for key, values in self._vocabularies.items()}


def export_serving_model(model: MovieLensModel,
                         tf_transform_output: tft.TFTransformOutput,
                         output_dir: str) -> None:
  """Saves the servable SavedModel with every signature."""
  module = ServingModule(model, tf_transform_output)
  signatures = {
      'serving_default': module.serve_raw.get_concrete_function(),
      'serving_tf_example': module.serve_tf_examples.get_concrete_function(),
      'transform_features': module.transform_features.get_concrete_function(),
  }
  tf.saved_model.save(module, output_dir, signatures=signatures)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
  """Trains the ranking model and exports it (the Trainer's entry point)."""
  hparams = Hyperparameters.from_custom_config(fn_args.custom_config)
  logging.info('Training with %s', hparams)
  if hparams.seed is not None:
    tf.keras.utils.set_random_seed(hparams.seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

  train_dataset = input_fn(fn_args.train_files, fn_args.data_accessor,
                           tf_transform_output, hparams.batch_size,
                           shuffle=True, seed=hparams.seed)
  eval_dataset = input_fn(fn_args.eval_files, fn_args.data_accessor,
                          tf_transform_output, hparams.batch_size,
                          shuffle=False)

  model = build_model(tf_transform_output, hparams)
  tensorboard = tf.keras.callbacks.TensorBoard(
      log_dir=fn_args.model_run_dir, update_freq='epoch')
  epoch_log = tf.keras.callbacks.LambdaCallback(
      on_epoch_end=lambda epoch, logs: logging.info(
          'epoch %d/%d: %s', epoch + 1, hparams.epochs,
          ', '.join(f'{k} {v:.4f}' for k, v in logs.items())))
  model.fit(train_dataset, epochs=hparams.epochs,
            steps_per_epoch=fn_args.train_steps,
            validation_data=eval_dataset, validation_steps=fn_args.eval_steps,
            callbacks=[tensorboard, epoch_log], verbose=0)
  export_serving_model(model, tf_transform_output, fn_args.serving_model_dir)
