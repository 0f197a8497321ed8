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
import json
import os
import time
from typing import Any, Dict, List, Optional, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs
import tensorflow_transform as tft
from tfx import v1 as tfx

from trainer_module import features

RAW_SERVING_FEATURE_KEYS = features.VOCABULARY_FEATURE_KEYS
# Raw string features, one value per example: what a client sends.
RAW_SIGNATURE = [{key: tf.TensorSpec([None], tf.string, name=key)
                  for key in RAW_SERVING_FEATURE_KEYS}]


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """Training settings; the defaults are the tutorial's."""
  model: str = 'tutorial'  # 'tutorial' or 'tuned' (see TunedRankingModel)
  epochs: int = 3
  batch_size: int = 8192
  learning_rate: float = 0.1
  embedding_dim: int = 32
  optimizer: str = 'adagrad'  # or 'adam'
  l2: float = 0.0  # L2 penalty on the tuned model's embeddings
  early_stopping_patience: int = 0  # epochs without a better eval RMSE; 0=off
  seed: Optional[int] = 42

  @classmethod
  def from_custom_config(cls, custom_config: Optional[Dict[str, Any]]):
    """Reads the fields present in the Trainer's custom_config."""
    names = {f.name for f in dataclasses.fields(cls)}
    hparams = cls(**{k: v for k, v in (custom_config or {}).items()
                     if k in names})
    if hparams.model not in MODELS:
      raise ValueError(f'unknown model {hparams.model!r}; one of {MODELS}')
    if hparams.optimizer not in OPTIMIZERS:
      raise ValueError(
          f'unknown optimizer {hparams.optimizer!r}; one of {OPTIMIZERS}')
    return hparams


MODELS = ('tutorial', 'tuned')
OPTIMIZERS = ('adagrad', 'adam')
USER_KEY = features.transformed_name(features.USER_ID_KEY)
MOVIE_KEY = features.transformed_name(features.MOVIE_TITLE_KEY)


class RankingModel(tf.keras.Model):
  """The tutorial's model: embeddings -> MLP -> rating."""

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
    user = self.user_embeddings(inputs[USER_KEY])
    movie = self.movie_embeddings(inputs[MOVIE_KEY])
    return self.ratings(tf.concat([user, movie], axis=1))


def _embedding(rows: int, dim: int, l2: float, name: str):
  """A small-initialised, L2-regularised embedding table."""
  return tf.keras.layers.Embedding(
      rows, dim, name=name,
      embeddings_initializer=tf.keras.initializers.RandomNormal(stddev=0.01),
      embeddings_regularizer=tf.keras.regularizers.l2(l2) if l2 else None)


class TunedRankingModel(tf.keras.Model):
  """Biased matrix factorisation with side features and implicit feedback.

  rating = mean + user bias + movie bias + <user vector, movie vector>, where
  the user vector sums the user's embedding, the embeddings of their side
  features (occupation, zip region, gender, age group) and, as in SVD++, the
  normalised sum of implicit embeddings of the movies they rated in the train
  split; the movie vector sums the movie's embedding, its genres' (mean) and
  its release-year bucket's.

  It reads only user and movie ids: their side features and rated movies are
  tables taken from the train split and kept in the model, so serving needs
  nothing but the tutorial's two strings. Unseen users and movies (the OOV
  id) get the reserved id 0 for every side feature.
  """

  def __init__(self, side_tables: Dict[str, tf.Tensor],
               side_sizes: Dict[str, int], num_users: int, num_movies: int,
               embedding_dim: int, l2: float, mean_rating: float,
               rated_movies: tf.RaggedTensor):
    super().__init__()
    self.user_embedding = _embedding(num_users, embedding_dim, l2,
                                     'user_embedding')
    self.movie_embedding = _embedding(num_movies, embedding_dim, l2,
                                      'movie_embedding')
    self.user_bias = _embedding(num_users, 1, l2, 'user_bias')
    self.movie_bias = _embedding(num_movies, 1, l2, 'movie_bias')
    self.implicit = _embedding(num_movies, embedding_dim, l2,
                               'implicit_movie_embedding')
    self.side_embeddings = {
        key: _embedding(side_sizes[key], embedding_dim, l2,
                        f'{key}_embedding') for key in side_tables}
    self.side_tables = {
        key: tf.Variable(table, trainable=False, name=f'{key}_table')
        for key, table in side_tables.items()}
    self.mean_rating = tf.Variable(mean_rating, name='mean_rating')
    # The train split's movies per user (SVD++'s N(u)).
    self.rated_values = tf.Variable(rated_movies.values, trainable=False,
                                    name='rated_movies')
    self.rated_row_splits = tf.Variable(rated_movies.row_splits,
                                        trainable=False,
                                        name='rated_movies_row_splits')

  def _side(self, key: str, ids: tf.Tensor) -> tf.Tensor:
    """Embedding of the side feature `key` of users or movies `ids`;
    genre lists are averaged (0 = padding)."""
    side_ids = tf.gather(self.side_tables[key], ids)
    vectors = self.side_embeddings[key](side_ids)
    if key != features.MOVIE_GENRE_IDS_KEY:
      return vectors
    mask = tf.cast(side_ids > 0, vectors.dtype)[..., tf.newaxis]
    return tf.math.divide_no_nan(tf.reduce_sum(vectors * mask, axis=1),
                                 tf.reduce_sum(mask, axis=1))

  def _implicit_user_vector(self, users: tf.Tensor) -> tf.Tensor:
    """|N(u)|^-1/2 * sum of implicit embeddings of the movies u rated."""
    rated = tf.RaggedTensor.from_row_splits(
        self.rated_values, self.rated_row_splits, validate=False)
    rows = tf.gather(rated, users)
    vectors = tf.ragged.map_flat_values(self.implicit, rows)
    count = tf.cast(rows.row_lengths(), vectors.dtype)[:, tf.newaxis]
    return tf.math.divide_no_nan(tf.reduce_sum(vectors, axis=1),
                                 tf.sqrt(count))

  def call(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    """`inputs`: transformed user and movie ids. Returns ratings [b, 1]."""
    users, movies = inputs[USER_KEY], inputs[MOVIE_KEY]
    user = self.user_embedding(users) + self._implicit_user_vector(users)
    movie = self.movie_embedding(movies)
    for key in self.side_tables:
      if key in features.USER_SIDE_FEATURE_KEYS:
        user += self._side(key, users)
      else:
        movie += self._side(key, movies)
    return (self.mean_rating + self.user_bias(users) +
            self.movie_bias(movies) +
            tf.reduce_sum(user * movie, axis=1, keepdims=True))


# TF 2.16's autograph converts every tf_keras function a traced step calls
# (tf_keras is not on its do-not-convert list, Keras 3 is): tracing the first
# training step transpiled ~1,000 functions, 13 s of a 14 s first epoch on
# MovieLens 100k. The model and the steps have no tensor-dependent Python
# control flow, so they are traced as plain Python.
_no_autograph = tf.autograph.experimental.do_not_convert


class MovieLensModel(tfrs.models.Model):
  """A ranking model trained with MSE loss and an RMSE metric."""

  train_step = _no_autograph(tfrs.models.Model.train_step)
  test_step = _no_autograph(tfrs.models.Model.test_step)

  def __init__(self, ranking_model: tf.keras.Model):
    super().__init__()
    self.ranking_model = ranking_model
    self.task = tfrs.tasks.Ranking(
        loss=tf.keras.losses.MeanSquaredError(),
        metrics=[tf.keras.metrics.RootMeanSquaredError(name='rmse')])

  def call(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    return self.ranking_model(inputs)

  @_no_autograph
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


def side_feature_sizes(
    tf_transform_output: tft.TFTransformOutput) -> Dict[str, int]:
  """{side feature Transform wrote: how many ids it takes, 0 included}."""
  written = tf_transform_output.transformed_feature_spec()
  sizes = {}
  for key, size in features.SIDE_FEATURE_SIZES.items():
    if key not in written:
      continue
    if size is None:  # a vocabulary id
      size = vocabulary_size(tf_transform_output, key)
    sizes[key] = size + 1  # ids are stored + 1: 0 is "unknown" / padding
  return sizes


def model_feature_keys(tf_transform_output: tft.TFTransformOutput,
                       hparams: Hyperparameters) -> List[str]:
  """The transformed features training reads."""
  keys = [USER_KEY, MOVIE_KEY]
  if hparams.model == 'tuned':
    keys += list(side_feature_sizes(tf_transform_output))
  return keys


def side_tables(train: Dict[str, tf.Tensor], keys: List[str],
                num_users: int, num_movies: int) -> Dict[str, tf.Tensor]:
  """{side feature: its id + 1 per user (or per movie)} from the train split;
  0 where a user or movie has none (the OOV id). Genre ids already are + 1."""
  tables = {}
  for key in keys:
    is_user = key in features.USER_SIDE_FEATURE_KEYS
    owners = train[USER_KEY if is_user else MOVIE_KEY]
    values = train[key] + (0 if key == features.MOVIE_GENRE_IDS_KEY else 1)
    shape = tf.concat([[num_users if is_user else num_movies],
                       tf.shape(values, out_type=tf.int64)[1:]], axis=0)
    tables[key] = tf.tensor_scatter_nd_update(
        tf.zeros(shape, tf.int64), owners[:, tf.newaxis], values)
  return tables


def rated_movies_per_user(train: Dict[str, tf.Tensor],
                          num_users: int) -> tf.RaggedTensor:
  """Row u: the movie ids user u rated in `train` (SVD++'s N(u))."""
  order = tf.argsort(train[USER_KEY], stable=True)
  return tf.RaggedTensor.from_value_rowids(
      tf.gather(train[MOVIE_KEY], order),
      tf.gather(train[USER_KEY], order), nrows=num_users)


def build_model(tf_transform_output: tft.TFTransformOutput,
                hparams: Hyperparameters,
                train: Optional[Dict[str, tf.Tensor]] = None
                ) -> MovieLensModel:
  """The compiled model, sized by the vocabularies Transform built. The tuned
  model also needs the `train` split (its mean rating and who rated what)."""
  num_users = vocabulary_size(tf_transform_output, features.USER_ID_KEY)
  num_movies = vocabulary_size(tf_transform_output, features.MOVIE_TITLE_KEY)
  if hparams.model == 'tuned':
    if train is None:
      raise ValueError('the tuned model is built from the train split')
    sizes = side_feature_sizes(tf_transform_output)
    ranking_model = TunedRankingModel(
        side_tables(train, list(sizes), num_users, num_movies), sizes,
        num_users, num_movies, hparams.embedding_dim, hparams.l2,
        float(tf.reduce_mean(train[features.LABEL_KEY])),
        rated_movies_per_user(train, num_users))
  else:
    ranking_model = RankingModel(num_users, num_movies, hparams.embedding_dim)
  model = MovieLensModel(ranking_model)
  if hparams.optimizer == 'adam':
    optimizer = tf.keras.optimizers.Adam(learning_rate=hparams.learning_rate)
  else:
    optimizer = tf.keras.optimizers.Adagrad(
        learning_rate=hparams.learning_rate)
  model.compile(optimizer=optimizer, steps_per_execution=STEPS_PER_EXECUTION)
  return model


# Training steps per call into TensorFlow: fewer Python round trips per epoch.
STEPS_PER_EXECUTION = 32
# Serialized examples in the training shuffle buffer (~200 MB): a split up
# to this size is shuffled completely every epoch, as the tutorial does; a
# larger one streams through the buffer, from shards in a new order each
# epoch, so memory does not grow with the data.
SHUFFLE_BUFFER = 1_000_000
READ_BUFFER_BYTES = 1 << 20  # per TFRecord file being read
LOAD_BATCH_SIZE = 65_536  # examples parsed at a time to load a split


def split_files(file_patterns: List[str]) -> List[str]:
  """The TFRecord files of a split (FnArgs gives glob patterns)."""
  files = sorted(f for pattern in file_patterns
                 for f in tf.io.gfile.glob(pattern))
  if not files:
    raise ValueError(f'no files match {file_patterns}')
  return files


def parsing_spec(tf_transform_output: tft.TFTransformOutput,
                 keys: List[str]) -> Dict[str, Any]:
  """tf.io parsing spec of the transformed features `keys` and the label."""
  spec = tf_transform_output.transformed_feature_spec()
  return {key: spec[key] for key in [*keys, features.LABEL_KEY]}


def read_split(files: List[str], spec: Dict[str, Any], batch_size: int,
               shuffle: bool = False, seed: Optional[int] = None,
               examples: Optional[int] = None) -> tf.data.Dataset:
  """(features, label) batches of transformed TFRecords, parsed a batch at
  a time by tf.io.parse_example (only the features in `spec`). Given the
  number of `examples`, the dataset knows its length (Keras then starts
  each epoch afresh).

  TFX's `data_accessor.tf_dataset_factory` decodes whole examples through
  Arrow: 41k examples/s on 2 cores against 800k/s here (1M synthetic
  ratings' transformed train split), so it is not used.
  """
  compression = 'GZIP' if all(f.endswith('.gz') for f in files) else ''
  dataset = tf.data.Dataset.from_tensor_slices(files)
  if shuffle:
    dataset = dataset.shuffle(len(files), seed=seed,
                              reshuffle_each_iteration=True)
  dataset = dataset.flat_map(lambda path: tf.data.TFRecordDataset(
      path, compression_type=compression, buffer_size=READ_BUFFER_BYTES))
  if shuffle:
    dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=seed,
                              reshuffle_each_iteration=True)

  def parse(records):
    parsed = tf.io.parse_example(records, spec)
    label = parsed.pop(features.LABEL_KEY)
    return parsed, label

  dataset = dataset.batch(batch_size).map(
      parse, num_parallel_calls=tf.data.AUTOTUNE)
  if examples is not None:
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(
        -(-examples // batch_size)))
  return dataset.prefetch(tf.data.AUTOTUNE)


def load_split(files: List[str], spec: Dict[str, Any]
               ) -> Dict[str, tf.Tensor]:
  """A whole split in memory, features and label (the tuned model builds
  its per-user and per-movie tables from the train split)."""
  batches = [{**x, features.LABEL_KEY: y}
             for x, y in read_split(files, spec, LOAD_BATCH_SIZE)]
  if not batches:
    raise ValueError(f'no examples in {files}')
  return {key: tf.concat([b[key] for b in batches], axis=0)
          for key in batches[0]}


class EvalSplitError(ValueError):
  """The eval split cannot measure the model."""


def count_users(dataset: tf.data.Dataset, num_users: int) -> Tuple[int, int]:
  """(examples, examples by users the vocabulary lacks: the out-of-
  vocabulary id `num_users`), in one pass over a split."""
  def add(counts, batch):
    users = batch[0][USER_KEY]
    return (counts[0] + tf.size(users, out_type=tf.int64),
            counts[1] + tf.reduce_sum(tf.cast(users >= num_users, tf.int64)))
  examples, unseen = dataset.reduce(
      (tf.constant(0, tf.int64), tf.constant(0, tf.int64)), add)
  return int(examples), int(unseen)


def check_eval_users(examples: int, unseen: int,
                     max_unseen_share: float) -> float:
  """Share of eval ratings by users the train split lacks; raises
  EvalSplitError above `max_unseen_share`: such an eval split measures
  only the OOV bucket."""
  if not examples:
    raise EvalSplitError('the eval split has no examples')
  share = unseen / examples
  if share > max_unseen_share:
    raise EvalSplitError(
        f'{share:.0%} of the eval ratings are by users the train split does '
        f'not have (at most {max_unseen_share:.0%} allowed): the model can '
        'only score them as unknown users. Split by rating or by time, so '
        'eval users also have ratings in train.')
  return share


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
    # Serving looks the two ids up directly in Transform's vocabulary files
    # (same ids as Transform: line number, or the vocabulary size for the
    # one OOV bucket) instead of running the whole Transform graph, which
    # also computes the slices and side features: ~1.3x the throughput.
    self._id_tables = {
        key: tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                tf_transform_output.vocabulary_file_by_name(
                    features.vocabulary_name(key)),
                tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER),
            default_value=len(self._vocabularies[key]))
        for key in RAW_SERVING_FEATURE_KEYS}

  def model_ids(self, raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Raw user ids and titles ([batch] or [batch, 1]) -> the model's ids.
    Any bytes are a valid key: unknown, overlong or non-UTF-8 ones get the
    out-of-vocabulary id."""
    ids = {features.transformed_name(key): table.lookup(
        tf.reshape(raw[key], [-1])) for key, table in self._id_tables.items()}
    sizes = [tf.size(i) for i in ids.values()]
    with tf.control_dependencies([tf.debugging.assert_equal(
        sizes[0], sizes[1], message='user_id and movie_title must hold the '
        'same number of values (one pair per prediction)')]):
      return {key: tf.identity(value) for key, value in ids.items()}

  def _predict_raw(self, raw: Dict[str, tf.Tensor]) -> tf.Tensor:
    """Raw string features, each [batch] or [batch, 1] -> ratings [batch, 1]."""
    return self.model(self.model_ids(raw))

  def known(self, ids: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """{'user_id_known', 'movie_title_known'} from `model_ids`' output:
    [batch, 1] bools, False for the out-of-vocabulary id."""
    return {f'{key}_known': tf.reshape(
        ids[features.transformed_name(key)] < len(self._vocabularies[key]),
        [-1, 1]) for key in self._id_tables}

  @tf.function(input_signature=RAW_SIGNATURE, autograph=False)
  def __call__(self, raw: Dict[str, tf.Tensor]) -> tf.Tensor:
    """The tutorial's call: {'user_id': [b], 'movie_title': [b]} -> [b, 1]."""
    return self._predict_raw(raw)

  @tf.function(input_signature=RAW_SIGNATURE, autograph=False)
  def serve_raw(self, raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """`serving_default`: raw strings -> {'predicted_rating': [b, 1],
    'user_id_known': [b, 1], 'movie_title_known': [b, 1]}."""
    ids = self.model_ids(raw)  # looked up once for both outputs
    return {features.PREDICTION_KEY: self.model(ids), **self.known(ids)}

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name='examples')], autograph=False)
  def serve_tf_examples(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Serialized tf.Examples -> {'predicted_rating': [b, 1]}."""
    raw = tf.io.parse_example(examples, self._serving_feature_spec)
    return {features.PREDICTION_KEY: self._predict_raw(raw)}

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name='examples')], autograph=False)
  def transform_features(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Serialized tf.Examples -> transformed features (for the Evaluator)."""
    raw = tf.io.parse_example(examples, self._raw_feature_spec)
    return self.tft_layer(raw)

  @tf.function(input_signature=[], autograph=False)
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


class TrainingClock(tf.keras.callbacks.Callback):
  """Seconds spent training (each epoch up to its validation pass)."""

  def __init__(self):
    super().__init__()
    self.train_seconds = 0.0
    self.epochs = 0
    self._epoch_start = None

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch_start = time.monotonic()

  def _stop(self):
    if self._epoch_start is not None:
      self.train_seconds += time.monotonic() - self._epoch_start
      self.epochs += 1
      self._epoch_start = None

  def on_test_begin(self, logs=None):
    self._stop()

  def on_epoch_end(self, epoch, logs=None):
    self._stop()


TRAINING_STATS_FILE = 'training_stats.json'


def write_training_stats(model_run_dir: str, stats: Dict[str, Any]) -> None:
  """Writes TRAINING_STATS_FILE next to the TensorBoard logs."""
  tf.io.gfile.makedirs(model_run_dir)
  with tf.io.gfile.GFile(
      os.path.join(model_run_dir, TRAINING_STATS_FILE), 'w') as f:
    json.dump(stats, f, indent=2)


def run_fn(fn_args: tfx.components.FnArgs) -> None:
  """Trains the ranking model and exports it (the Trainer's entry point)."""
  hparams = Hyperparameters.from_custom_config(fn_args.custom_config)
  logging.info('Training with %s', hparams)
  if hparams.seed is not None:
    tf.keras.utils.set_random_seed(hparams.seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)

  start = time.monotonic()
  keys = model_feature_keys(tf_transform_output, hparams)
  spec = parsing_spec(tf_transform_output, keys)
  train_files = split_files(fn_args.train_files)
  eval_files = split_files(fn_args.eval_files)
  num_users = tf_transform_output.vocabulary_size_by_name(
      features.vocabulary_name(features.USER_ID_KEY))
  eval_examples, unseen = count_users(
      read_split(eval_files, spec, LOAD_BATCH_SIZE), num_users)
  unseen_eval_users = check_eval_users(
      eval_examples, unseen,
      (fn_args.custom_config or {}).get('max_unseen_eval_user_share', 1.0))
  train_examples, _ = count_users(
      read_split(train_files, {USER_KEY: spec[USER_KEY],
                               features.LABEL_KEY: spec[features.LABEL_KEY]},
                 LOAD_BATCH_SIZE), num_users)
  # Only the tuned model needs the train split in memory (its tables).
  train = load_split(train_files, spec) if hparams.model == 'tuned' else None
  load_seconds = time.monotonic() - start

  model = build_model(tf_transform_output, hparams, train)
  del train
  clock = TrainingClock()
  callbacks = [
      tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir,
                                     update_freq='epoch'),
      tf.keras.callbacks.LambdaCallback(
          on_epoch_end=lambda epoch, logs: logging.info(
              'epoch %d/%d: %s', epoch + 1, hparams.epochs,
              ', '.join(f'{k} {v:.4f}' for k, v in logs.items()))),
      clock,
  ]
  if hparams.early_stopping_patience:
    callbacks.append(tf.keras.callbacks.EarlyStopping(
        monitor='val_rmse', mode='min',
        patience=hparams.early_stopping_patience, restore_best_weights=True))
  history = model.fit(
      read_split(train_files, spec, hparams.batch_size, shuffle=True,
                 seed=hparams.seed, examples=train_examples),
      epochs=hparams.epochs, steps_per_epoch=fn_args.train_steps,
      validation_data=read_split(eval_files, spec, hparams.batch_size,
                                 examples=eval_examples),
      validation_steps=fn_args.eval_steps, callbacks=callbacks, verbose=0)

  start = time.monotonic()
  export_serving_model(model, tf_transform_output, fn_args.serving_model_dir)
  val_rmse = history.history.get('val_rmse', [])
  stats = {
      'model': hparams.model,
      'train_examples': train_examples,
      'eval_examples': eval_examples,
      'unseen_eval_user_share': round(unseen_eval_users, 4),
      'epochs_run': clock.epochs,
      'best_epoch': int(np.argmin(val_rmse)) + 1 if val_rmse else None,
      'best_val_rmse': float(min(val_rmse)) if val_rmse else None,
      'load_seconds': round(load_seconds, 3),
      'train_seconds': round(clock.train_seconds, 3),
      'train_examples_per_second': round(
          clock.epochs * train_examples / clock.train_seconds, 1)
                                   if clock.train_seconds else None,
      'export_seconds': round(time.monotonic() - start, 3),
  }
  logging.info('training stats: %s', stats)
  write_training_stats(fn_args.model_run_dir, stats)
