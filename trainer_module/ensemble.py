"""The tuned model's ensemble: which rating models are trained (the
preset's and its blend partner), the settings each trains with, and the
blend of them whose weights are fitted on the validation split."""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import features
from trainer_module import ranking_models
from trainer_module import splits
from trainer_module.hyperparameters import Hyperparameters
from trainer_module.splits import MOVIE_KEY
from trainer_module.splits import USER_KEY


def rating_members(hparams: Hyperparameters) -> List[str]:
  """The rating models trained: the preset's, and its blend partner (the
  tuned model's I-AutoRec) when autorec_units > 0."""
  partner = ranking_models.RATING_MODELS[hparams.model].blend_partner
  if partner and hparams.autorec_units:
    return [hparams.model, partner]
  return [hparams.model]


def reads_side_features(hparams: Hyperparameters) -> bool:
  """Whether a rating model trained with `hparams` reads side features:
  Transform writes them only then (preprocessing.SIDE_FEATURES_KEY)."""
  return any(ranking_models.RATING_MODELS[member].side_features
             for member in rating_members(hparams))


def member_hparams(hparams: Hyperparameters, member: str) -> Hyperparameters:
  """The settings rating model `member` trains with (the I-AutoRec has its
  own learning rate and batch size, and Adam)."""
  return ranking_models.RATING_MODELS[member].settings(hparams)


def blend_features(ratings: tf.Tensor, user_ratings: tf.Tensor,
                   movie_ratings: tf.Tensor) -> tf.Tensor:
  """What a blend weighs [batch, 3 + 3 * members]: 1, log(1 + n_u),
  log(1 + n_i), the members' ratings p_k, then every p_k * log(1 + n_u)
  and every p_k * log(1 + n_i), where n_u and n_i count the user's and the
  movie's ratings in the training data: a member's weight moves with how
  much is known of the user and the movie (ratings [batch, members],
  counts [batch])."""
  user, movie = (tf.math.log1p(tf.cast(tf.reshape(counts, [-1, 1]),
                                       ratings.dtype))
                 for counts in (user_ratings, movie_ratings))
  return tf.concat([tf.ones_like(user), user, movie, ratings,
                    ratings * user, ratings * movie], axis=1)


def rating_counts(pairs: Dict[str, tf.Tensor], num_users: int,
                  num_movies: int) -> Tuple[tf.Tensor, tf.Tensor]:
  """Ratings per user id and per movie id in `pairs` (a split's ids)."""
  return tuple(tf.math.bincount(tf.cast(pairs[key], tf.int32),
                                minlength=size, maxlength=size,
                                dtype=tf.int64)
               for key, size in ((USER_KEY, num_users),
                                 (MOVIE_KEY, num_movies)))


class BlendedRankingModel(tf.keras.Model):
  """rating = clip(blend_features . weights, rating range): trained rating
  models blended by weights fitted on the validation split (`fit_blend`),
  with the rating counts of the data the members learned from."""

  def __init__(self, members: Sequence[tf.keras.Model],
               weights: Sequence[float], rating_range: Tuple[float, float],
               user_ratings: tf.Tensor, movie_ratings: tf.Tensor):
    super().__init__()
    self.members = list(members)
    self.blend_weights = tf.Variable(np.asarray(weights, np.float32),
                                     trainable=False, name='blend_weights')
    self.rating_range = tf.Variable(np.asarray(rating_range, np.float32),
                                    trainable=False, name='rating_range')
    self.user_ratings = tf.Variable(user_ratings, trainable=False,
                                    name='user_rating_counts')
    self.movie_ratings = tf.Variable(movie_ratings, trainable=False,
                                     name='movie_rating_counts')

  def call(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    """`inputs`: transformed ids. Returns ratings [batch, 1]."""
    ratings = tf.concat([member(inputs) for member in self.members], axis=1)
    blended = tf.linalg.matvec(blend_features(
        ratings, tf.gather(self.user_ratings, inputs[USER_KEY]),
        tf.gather(self.movie_ratings, inputs[MOVIE_KEY])),
                               self.blend_weights)[:, tf.newaxis]
    return tf.clip_by_value(blended, self.rating_range[0],
                            self.rating_range[1])


def fit_blend(blend_inputs: np.ndarray, labels: np.ndarray) -> np.ndarray:
  """Least-squares weights of `blend_inputs` ([n, features], from
  blend_features) that best fit `labels` [n] (the validation split's)."""
  solution, *_ = np.linalg.lstsq(blend_inputs.astype(np.float64),
                                 labels.astype(np.float64), rcond=None)
  return solution


def validation_predictions(model: ranking_models.MovieLensModel,
                           keys: List[str],
                           validation: Dict[str, tf.Tensor]) -> np.ndarray:
  """`model`'s ratings of `validation`'s rows (its features `keys`), in
  load order [n]."""
  batches = splits.batches(validation, keys, splits.LOAD_BATCH_SIZE)
  return np.concatenate([model(x).numpy().reshape(-1) for x, _ in batches])


def fit_blend_on_validation(tf_transform_output: tft.TFTransformOutput,
                            data: splits.TrainingData,
                            models: List[ranking_models.MovieLensModel],
                            validation: Optional[Dict[str, tf.Tensor]] = None
                            ) -> Tuple[np.ndarray, float]:
  """Blend weights of `models` (fitted on train) by least squares on
  `validation` (by default the validation split; a warm run's, the ratings
  its base never trained on: trainer.unseen_validation), and the blend's
  RMSE there."""
  validation = data.validation if validation is None else validation
  counts = rating_counts(
      data.train, *ranking_models.embedding_rows(tf_transform_output))
  labels = validation[features.LABEL_KEY].numpy().reshape(-1)
  blend_inputs = blend_features(
      np.stack([validation_predictions(model, data.keys, validation)
                for model in models], axis=1),
      *(tf.gather(table, validation[key]) for table, key in
        zip(counts, (splits.USER_KEY, splits.MOVIE_KEY)))).numpy()
  weights = fit_blend(blend_inputs, labels)
  blended = np.clip(blend_inputs @ weights, *rating_range(data))
  return weights, float(np.sqrt(np.mean((blended - labels) ** 2)))


def rating_range(data: splits.TrainingData) -> Tuple[float, float]:
  """The lowest and highest rating of the train split."""
  labels = data.train[features.LABEL_KEY]
  return float(tf.reduce_min(labels)), float(tf.reduce_max(labels))
