"""The rating models: the tutorial's (RankingModel) and the tuned one
(TunedRankingModel), trained through MovieLensModel (TFRS Ranking task)."""

from typing import Dict, List, Optional, Tuple

import tensorflow as tf
import tensorflow_recommenders as tfrs
import tensorflow_transform as tft

from trainer_module import features
from trainer_module.hyperparameters import Hyperparameters
from trainer_module.splits import MOVIE_KEY
from trainer_module.splits import USER_KEY

# Training steps per call into TensorFlow: fewer Python round trips per epoch.
STEPS_PER_EXECUTION = 32


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

