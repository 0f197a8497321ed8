"""The rating models: the tutorial's (RankingModel) and the tuned one
(TunedRankingModel, blended with an ItemAutoRec by BlendedRankingModel),
each trained through MovieLensModel (TFRS Ranking task)."""

import dataclasses
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs
import tensorflow_transform as tft

from trainer_module import features
from trainer_module import tracing
from trainer_module.hyperparameters import Hyperparameters
from trainer_module.splits import MOVIE_KEY
from trainer_module.splits import USER_KEY

# Training steps per call into TensorFlow: fewer Python round trips per epoch.
STEPS_PER_EXECUTION = 32
# MovieLensModel adds the rating being learned to a training batch's
# features under this key: ItemAutoRec leaves it out of the movie's code.
LEFT_OUT_RATING_KEY = 'left_out_rating'


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


def _embedding(rows: int, dim: int, l2: float, name: str,
               stddev: float = 0.01):
  """A small-initialised, L2-regularised embedding table."""
  return tf.keras.layers.Embedding(
      rows, dim, name=name,
      embeddings_initializer=tf.keras.initializers.RandomNormal(
          stddev=stddev),
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


class ItemAutoRec(tf.keras.Model):
  """I-AutoRec (Sedhain et al., 2015) as a rating model of (user, movie).

  Movie i's code is h_i = sigmoid(sum over its raters u of r_ui V_u + b),
  the ratings it got in the training data; rating = mean + c_u + <W_u, h_i>,
  i.e. the autoencoder's output for user u. The raters and their ratings
  are tables kept in the model (rows as long as a movie's ratings), so
  serving needs only the two ids. In training the rating being learned is
  left out of the code (LEFT_OUT_RATING_KEY): else the net learns to copy
  its input, while a pair it is asked about later is never in the table.
  """

  def __init__(self, raters: tf.RaggedTensor, ratings: tf.RaggedTensor,
               num_users: int, units: int, l2: float, mean_rating: float):
    super().__init__()
    self.encoder = _embedding(num_users, units, l2, 'autorec_encoder', 0.03)
    self.decoder = _embedding(num_users, units, l2, 'autorec_decoder', 0.03)
    self.user_bias = tf.keras.layers.Embedding(
        num_users, 1, embeddings_initializer='zeros', name='autorec_bias')
    self.code_bias = tf.Variable(tf.zeros([units]), name='code_bias')
    self.mean_rating = tf.Variable(mean_rating, name='mean_rating')
    self.rater_values = tf.Variable(raters.values, trainable=False,
                                    name='raters')
    self.rating_values = tf.Variable(ratings.values, trainable=False,
                                     name='rater_ratings')
    self.row_splits = tf.Variable(raters.row_splits, trainable=False,
                                  name='raters_row_splits')
    self.frozen_codes = None  # every movie's code, once trained (freeze)

  def _codes(self, movies: tf.Tensor) -> tf.Tensor:
    """sum over raters u of r_ui V_u, for each of `movies` (before b)."""
    unique, index = tf.unique(movies)
    raters = tf.gather(tf.RaggedTensor.from_row_splits(
        self.rater_values, self.row_splits, validate=False), unique)
    ratings = tf.gather(tf.RaggedTensor.from_row_splits(
        self.rating_values, self.row_splits, validate=False), unique)
    vectors = tf.ragged.map_flat_values(self.encoder, raters)
    sums = tf.reduce_sum(vectors * ratings[..., tf.newaxis], axis=1)
    return tf.gather(sums, index)

  def freeze(self) -> None:
    """Computes every movie's code once, from the trained weights: the
    model then gathers codes instead of summing each movie's raters per
    call (what serving and the Evaluator run). Call it when training is
    over."""
    ragged = tf.RaggedTensor.from_row_splits(
        self.rater_values, self.row_splits, validate=False)
    ratings = tf.sparse.reorder(tf.sparse.SparseTensor(
        tf.stack([ragged.value_rowids(), self.rater_values], axis=1),
        self.rating_values,
        [ragged.nrows(), self.encoder.input_dim]))
    self.frozen_codes = tf.Variable(tf.sigmoid(
        tf.sparse.sparse_dense_matmul(ratings, self.encoder.embeddings) +
        self.code_bias), trainable=False, name='movie_codes')

  def call(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    """`inputs`: transformed user and movie ids (and, in training, the
    ratings left out). Returns ratings [batch, 1]."""
    users, movies = inputs[USER_KEY], inputs[MOVIE_KEY]
    if self.frozen_codes is not None:
      codes = tf.gather(self.frozen_codes, movies)
    else:
      sums = self._codes(movies)
      if LEFT_OUT_RATING_KEY in inputs:
        sums -= (inputs[LEFT_OUT_RATING_KEY][:, tf.newaxis] *
                 self.encoder(users))
      codes = tf.sigmoid(sums + self.code_bias)
    return (self.mean_rating + self.user_bias(users) +
            tf.reduce_sum(codes * self.decoder(users), axis=1, keepdims=True))


# TFRS's train and test steps and our loss have no tensor-dependent Python
# control flow, so they are traced as plain Python (tracing.py: tf_keras's
# own code is left unconverted too).
class MovieLensModel(tfrs.models.Model):
  """A ranking model trained with MSE loss and an RMSE metric."""

  train_step = tracing.no_autograph(tfrs.models.Model.train_step)
  test_step = tracing.no_autograph(tfrs.models.Model.test_step)

  def __init__(self, ranking_model: tf.keras.Model):
    super().__init__()
    self.ranking_model = ranking_model
    self.task = tfrs.tasks.Ranking(
        loss=tf.keras.losses.MeanSquaredError(),
        metrics=[tf.keras.metrics.RootMeanSquaredError(name='rmse')])

  def call(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    return self.ranking_model(inputs)

  @tracing.no_autograph
  def compute_loss(self, inputs: Tuple[Dict[str, tf.Tensor], tf.Tensor],
                   training: bool = False) -> tf.Tensor:
    """`inputs`: (transformed features, ratings [batch])."""
    features_dict, labels = inputs
    if training:
      features_dict = {**features_dict,
                       LEFT_OUT_RATING_KEY: tf.reshape(labels, [-1])}
    predictions = self.ranking_model(features_dict)
    return self.task(labels=tf.reshape(labels, [-1, 1]),
                     predictions=predictions)


def embedding_rows_of(tf_transform_output: tft.TFTransformOutput,
                      key: str) -> int:
  """Embedding rows needed for raw feature `key`: its vocabulary's size
  (pipeline/artifacts.vocabulary_sizes) plus the OOV bucket."""
  return (tf_transform_output.vocabulary_size_by_name(
      features.vocabulary_name(key)) + features.NUM_OOV_BUCKETS)


def embedding_rows(tf_transform_output: tft.TFTransformOutput
                   ) -> Tuple[int, int]:
  """Embedding rows of users and of movies (vocabulary + OOV)."""
  return (embedding_rows_of(tf_transform_output, features.USER_ID_KEY),
          embedding_rows_of(tf_transform_output, features.MOVIE_TITLE_KEY))


def side_feature_sizes(
    tf_transform_output: tft.TFTransformOutput) -> Dict[str, int]:
  """{side feature Transform wrote: how many ids it takes, 0 included}."""
  written = tf_transform_output.transformed_feature_spec()
  sizes = {}
  for key, size in features.SIDE_FEATURE_SIZES.items():
    if key not in written:
      continue
    if size is None:  # a vocabulary id
      size = embedding_rows_of(tf_transform_output, key)
    sizes[key] = size + 1  # ids are stored + 1: 0 is "unknown" / padding
  return sizes


def model_feature_keys(tf_transform_output: tft.TFTransformOutput,
                       hparams: Hyperparameters) -> List[str]:
  """The transformed features training reads."""
  keys = [USER_KEY, MOVIE_KEY]
  if RATING_MODELS[hparams.model].side_features:
    written = list(side_feature_sizes(tf_transform_output))
    if not written:  # the release year is written whenever any is
      raise ValueError(
          f'the {hparams.model!r} rating model reads side features, but '
          'Transform wrote none (its custom_config had side_features '
          'false): build Transform and the Trainer from the same '
          'hyperparameters (create_pipeline does)')
    keys += written
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


def raters_per_movie(train: Dict[str, tf.Tensor], num_movies: int
                     ) -> Tuple[tf.RaggedTensor, tf.RaggedTensor]:
  """Row i: the user ids who rated movie i in `train`, and their ratings
  (ItemAutoRec's input)."""
  order = tf.argsort(train[MOVIE_KEY], stable=True)
  movies = tf.gather(train[MOVIE_KEY], order)
  return tuple(tf.RaggedTensor.from_value_rowids(
      tf.gather(values, order), movies, nrows=num_movies)
               for values in (train[USER_KEY],
                              tf.reshape(train[features.LABEL_KEY], [-1])))


def build_model(tf_transform_output: tft.TFTransformOutput,
                hparams: Hyperparameters,
                train: Optional[Dict[str, tf.Tensor]] = None
                ) -> MovieLensModel:
  """The compiled model, sized by the vocabularies Transform built. A model
  built from its data (RATING_MODELS) also needs the `train` split: its
  mean rating and who rated what."""
  kind = RATING_MODELS[hparams.model]
  if kind.built_from_data and train is None:
    raise ValueError(f'the {hparams.model} model is built from the train '
                     'split')
  ranking_model = kind.build(tf_transform_output, hparams, train,
                             *embedding_rows(tf_transform_output))
  model = MovieLensModel(ranking_model)
  if hparams.optimizer == 'adam':
    optimizer = tf.keras.optimizers.Adam(learning_rate=hparams.learning_rate)
  else:
    optimizer = tf.keras.optimizers.Adagrad(
        learning_rate=hparams.learning_rate)
  model.compile(optimizer=optimizer, steps_per_execution=STEPS_PER_EXECUTION)
  return model


def _tutorial_model(tf_transform_output: tft.TFTransformOutput,
                    hparams: Hyperparameters,
                    train: Optional[Dict[str, tf.Tensor]], num_users: int,
                    num_movies: int) -> tf.keras.Model:
  """The tutorial's RankingModel."""
  del tf_transform_output, train
  return RankingModel(num_users, num_movies, hparams.embedding_dim)


def _tuned_model(tf_transform_output: tft.TFTransformOutput,
                 hparams: Hyperparameters,
                 train: Optional[Dict[str, tf.Tensor]], num_users: int,
                 num_movies: int) -> tf.keras.Model:
  """TunedRankingModel, with the side features Transform wrote."""
  sizes = side_feature_sizes(tf_transform_output)
  return TunedRankingModel(
      side_tables(train, list(sizes), num_users, num_movies), sizes,
      num_users, num_movies, hparams.embedding_dim, hparams.l2,
      float(tf.reduce_mean(train[features.LABEL_KEY])),
      rated_movies_per_user(train, num_users))


def _autorec_model(tf_transform_output: tft.TFTransformOutput,
                   hparams: Hyperparameters,
                   train: Optional[Dict[str, tf.Tensor]], num_users: int,
                   num_movies: int) -> tf.keras.Model:
  """The I-AutoRec."""
  del tf_transform_output
  return ItemAutoRec(
      *raters_per_movie(train, num_movies), num_users,
      hparams.autorec_units, hparams.autorec_l2,
      float(tf.reduce_mean(train[features.LABEL_KEY])))


def _autorec_settings(hparams: Hyperparameters) -> Hyperparameters:
  """The I-AutoRec's own learning rate and batch size, and Adam."""
  return dataclasses.replace(
      hparams, model='autorec', batch_size=hparams.autorec_batch_size,
      learning_rate=hparams.autorec_learning_rate, optimizer='adam')


@dataclasses.dataclass(frozen=True)
class RatingModelKind:
  """What a rating model's name (Hyperparameters.model) decides."""
  # (Transform's output, hparams, the train split or None, user rows,
  # movie rows) -> the Keras model.
  build: Callable[..., tf.keras.Model]
  built_from_data: bool = False  # needs train: mean rating, who rated what
  side_features: bool = False  # reads the side features Transform wrote
  # Trained beside it and blended (ensemble.py) when autorec_units > 0.
  blend_partner: Optional[str] = None
  # Its settings from the preset's (as a blend partner, or alone).
  settings: Callable[[Hyperparameters], Hyperparameters] = lambda h: h
  # What the Tuner searches (trainer_module/tuner.py); no L2 when empty.
  learning_rates: Tuple[float, ...] = (0.05, 0.1, 0.2)
  l2s: Tuple[float, ...] = ()


# The one place a rating model's name is looked up (hyperparameters.MODELS
# lists the names; tests/test_model.py checks they match).
RATING_MODELS: Dict[str, RatingModelKind] = {
    'tutorial': RatingModelKind(_tutorial_model),
    'tuned': RatingModelKind(
        _tuned_model, built_from_data=True, side_features=True,
        blend_partner='autorec', learning_rates=(5e-4, 1e-3, 2e-3, 4e-3),
        l2s=(1e-5, 3e-5, 1e-4, 3e-4)),
    'autorec': RatingModelKind(_autorec_model, built_from_data=True,
                               settings=_autorec_settings),
}
