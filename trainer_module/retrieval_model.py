"""The retrieval stage: a TFRS two-tower model over the movie vocabulary.

Implicit feedback: every rating of the training data (the train and
validation splits) is a positive (the user chose to watch that movie),
whatever its value; a rating below the "liked" rating weighs less in the
loss (watched, but not liked). The user tower and the movie tower are
embeddings of Transform's ids; `tfrs.tasks.Retrieval` scores each user
against the other movies of the batch (in-batch softmax).

In-batch negatives are drawn as often as movies are rated, so without a
correction the model learns to push popular movies down (it learns
log p(movie | user) - log p(movie)). The task is given each movie's
sampling probability (its share of the training ratings: TFRS's logQ
correction), so the scores estimate log p(movie | user), popularity
included.

Users the train split does not have share the vocabulary's out-of-vocabulary
id. A small share of each batch's users is replaced by that id in training,
so the OOV embedding learns the average user: an unknown user is
recommended what most users watch.
"""

from typing import Callable, Dict, NamedTuple, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs

from trainer_module import features
from trainer_module import tracing
from trainer_module.hyperparameters import Hyperparameters
from trainer_module.splits import MOVIE_KEY
from trainer_module.splits import USER_KEY

# TFRS's Retrieval.call uses len() on tensors, which needs AutoGraph; the
# rest of the training step is traced without it (see ranking_models.py),
# so only this call is converted.
_retrieval_call = tf.autograph.to_graph(tfrs.tasks.Retrieval.call)
# Movie ids per batch when the FactorizedTopK metric scores the catalog.
CANDIDATE_BATCH = 4096
# Training steps per call of Keras's train function: the same steps on the
# same batches, with Keras's per-step Python work (callbacks, step counting)
# once per 32 steps. 1.2x the examples/s with 25M's vocabularies at batch
# 1024 (93k -> 113k); ~30 s of that work over 5M ratings' 24k steps.
STEPS_PER_EXECUTION = 32
# The least share a movie gets in movie_probability: ratings years older than
# a short half-life weigh less than float32 holds.
MIN_SHARE = 1e-12


class RetrievalModel(tfrs.models.Model):
  """User tower and movie tower trained with TFRS's Retrieval task.

  Ids are Transform's: users 0..num_users-1 (the last one is the OOV id),
  movies likewise. `movie_probability` [num_movies] is each movie's share of
  the train ratings (the logQ correction's); `served_probability` the share
  `popularity_prior` serves (recent ratings weighing more where
  retrieval_popularity_half_life_days says so), by default the same.
  """

  train_step = tracing.no_autograph(tfrs.models.Model.train_step)

  def __init__(self, num_users: int, num_movies: int, embedding_dim: int,
               movie_probability: np.ndarray, oov_user_rate: float,
               liked_rating: float = 4.0, disliked_weight: float = 1.0,
               served_probability: Optional[np.ndarray] = None):
    super().__init__()
    self.num_users = num_users
    self.user_tower = tf.keras.layers.Embedding(
        num_users, embedding_dim, name='retrieval_user_embedding')
    self.movie_tower = tf.keras.layers.Embedding(
        num_movies, embedding_dim, name='retrieval_movie_embedding')
    self.movie_probability = tf.constant(movie_probability, tf.float32)
    self.served_probability = tf.constant(
        movie_probability if served_probability is None
        else served_probability, tf.float32)
    self.oov_user_rate = oov_user_rate
    self.liked_rating = liked_rating
    self.disliked_weight = disliked_weight
    candidates = tf.data.Dataset.range(num_movies).batch(
        CANDIDATE_BATCH).map(lambda ids: (ids, self.movie_tower(ids)))
    self.task = tfrs.tasks.Retrieval(
        metrics=tfrs.metrics.FactorizedTopK(candidates=candidates,
                                            ks=(10, 100)),
        remove_accidental_hits=True)

  def build_towers(self) -> None:
    """Makes both towers' variables (Keras makes a layer's on its first
    call), so weights can be set or carried before training."""
    ids = tf.zeros([1], tf.int64)
    self.user_tower(ids)
    self.movie_tower(ids)

  def popularity_prior(self, weight: float, num_movies: int,
                       recent: bool = True) -> tf.Tensor:
    """[num_movies]: `weight` * log of each of the first movies' share of
    the train ratings, what serving adds to the towers' score (the logQ
    correction took popularity out in training): the served share, or with
    `recent` False every rating alike."""
    share = self.served_probability if recent else self.movie_probability
    return weight * tf.math.log(share[:num_movies])

  def call(self, inputs: Dict[str, tf.Tensor]) -> tf.Tensor:
    """User embeddings [batch, dim] for transformed user ids [batch]."""
    return self.user_tower(inputs[USER_KEY])

  @tracing.no_autograph
  def compute_loss(self, inputs: Tuple[Dict[str, tf.Tensor], tf.Tensor],
                   training: bool = False) -> tf.Tensor:
    """`inputs`: (transformed features, rating): each rating a positive,
    weighted by whether the user liked the movie."""
    features_dict, ratings = inputs
    users, movies = features_dict[USER_KEY], features_dict[MOVIE_KEY]
    if training and self.oov_user_rate:
      as_oov = tf.random.uniform(tf.shape(users)) < self.oov_user_rate
      users = tf.where(as_oov, tf.cast(self.num_users - 1, users.dtype),
                       users)
    return _retrieval_call(
        self.task, self.user_tower(users), self.movie_tower(movies),
        candidate_sampling_probability=tf.gather(self.movie_probability,
                                                 movies),
        candidate_ids=movies, compute_metrics=not training,
        # Metrics (evaluation) count every rating alike.
        sample_weight=tf.where(ratings >= self.liked_rating, 1.0,
                               self.disliked_weight) if training else None)


def movie_probability(movies: np.ndarray, num_movies: int,
                      weights: Optional[np.ndarray] = None) -> np.ndarray:
  """Each movie id's share of `movies` (the train split's rated movies),
  each rating counting its weight (default 1); movies never rated get half
  the least rating's weight, and no share is below MIN_SHARE, so its log
  is finite in float32."""
  weights = (np.ones(len(movies)) if weights is None
             else np.asarray(weights, np.float64))
  counts = np.bincount(movies, weights=weights, minlength=num_movies)
  positive = weights[weights > 0]
  floor = 0.5 * (positive.min() if len(positive) else 1.0)
  return np.maximum(np.maximum(counts, floor) / max(weights.sum(), floor),
                    MIN_SHARE)


def recency_weights(timestamps: np.ndarray, half_life_days: float
                    ) -> np.ndarray:
  """Each rating's weight in the served popularity: 1 for the newest
  rating, halving every `half_life_days` before it; ratings without a time
  (negative) weigh 0."""
  timed = timestamps >= 0
  newest = timestamps[timed].max() if timed.any() else 0
  age_days = (newest - timestamps) / 86400.0
  return np.where(timed, 0.5 ** (age_days / half_life_days), 0.0)


def served_probability(movies: np.ndarray, timestamps: Optional[np.ndarray],
                       num_movies: int, hparams: Hyperparameters
                       ) -> Optional[np.ndarray]:
  """The share `popularity_prior` serves: recent ratings weighing more by
  retrieval_popularity_half_life_days, where it is set and the ratings have
  times; None (the train share) otherwise."""
  if not hparams.retrieval_popularity_half_life_days or timestamps is None:
    return None
  return movie_probability(movies, num_movies, recency_weights(
      timestamps, hparams.retrieval_popularity_half_life_days))


def build_retrieval_model(num_users: int, num_movies: int,
                          train_movies: np.ndarray,
                          hparams: Hyperparameters,
                          served: Optional[np.ndarray] = None
                          ) -> RetrievalModel:
  """The compiled retrieval model; `num_users` / `num_movies` count the OOV
  id, `train_movies` are the movie ids of every train rating; `served`:
  the share the popularity prior serves (served_probability), by default
  the train share."""
  model = RetrievalModel(
      num_users, num_movies, hparams.retrieval_embedding_dim,
      movie_probability(train_movies, num_movies),
      hparams.retrieval_oov_user_rate, hparams.retrieval_liked_rating,
      hparams.retrieval_disliked_weight, served)
  model.compile(optimizer=tf.keras.optimizers.Adagrad(
      learning_rate=hparams.retrieval_learning_rate),
                steps_per_execution=STEPS_PER_EXECUTION)
  return model


class HeldOut(NamedTuple):
  """Who a held-out Recall@k scores, computed once for every epoch scored:
  the users (sorted), each one's movies in the seen data (row into
  `people`, movie) and the movies they liked in the held-out data."""
  people: np.ndarray
  seen_rows: np.ndarray
  seen_movies: np.ndarray
  relevant: np.ndarray  # [people, movies] bool


def held_out_users(seen: Dict[str, tf.Tensor],
                   held_out: Dict[str, tf.Tensor], liked_rating: float,
                   num_users: int, num_movies: int, max_users: int = 1000,
                   seed: int = 0) -> Optional[HeldOut]:
  """The users with a movie they liked in `held_out` (rating >=
  `liked_rating`; ids below the OOV ones), at most `max_users` of them (a
  seeded sample); None when there are none. `num_users` / `num_movies`
  count the OOV ids."""
  users = held_out[USER_KEY].numpy()
  movies = held_out[MOVIE_KEY].numpy()
  num_movies -= features.NUM_OOV_BUCKETS
  liked = (held_out[features.LABEL_KEY].numpy() >= liked_rating) & (
      users < num_users - features.NUM_OOV_BUCKETS) & (movies < num_movies)
  people = np.unique(users[liked])
  if not len(people):
    return None
  if len(people) > max_users:
    people = np.sort(np.random.default_rng(seed).choice(
        people, max_users, replace=False))
  seen_users, seen_movies = (seen[key].numpy() for key in (USER_KEY,
                                                           MOVIE_KEY))
  keep = np.isin(seen_users, people) & (seen_movies < num_movies)
  liked &= np.isin(users, people)
  relevant = np.zeros((len(people), num_movies), bool)
  relevant[np.searchsorted(people, users[liked]), movies[liked]] = True
  return HeldOut(people, np.searchsorted(people, seen_users[keep]),
                 seen_movies[keep], relevant)


def recall_of_scores(score: Callable[[np.ndarray], np.ndarray],
                     held: HeldOut, k: int = 10) -> float:
  """Recall@k of the top movies by `score(people)` [people, movies], each
  user's seen movies left out, against the movies they liked, averaged
  over `held.people`."""
  recalls = []
  for start in range(0, len(held.people), 256):
    rows = slice(start, start + 256)
    scores = np.array(score(held.people[rows]), np.float32)
    in_chunk = (held.seen_rows >= start) & (held.seen_rows < start + 256)
    scores[held.seen_rows[in_chunk] - start,
           held.seen_movies[in_chunk]] = -np.inf
    top = tf.math.top_k(scores, k).indices.numpy()
    relevant = held.relevant[rows]
    hits = np.take_along_axis(relevant, top, axis=1).sum(axis=1)
    recalls.append(hits / relevant.sum(axis=1))
  return float(np.concatenate(recalls).mean())


def recall_at_k(model: RetrievalModel, held: HeldOut, k: int = 10
                ) -> float:
  """recall_of_scores of the towers' scores: what training changes (the
  served popularity prior left out)."""
  num_movies = held.relevant.shape[1]
  movie_vectors = model.movie_tower(tf.range(num_movies, dtype=tf.int64))
  return recall_of_scores(lambda people: tf.matmul(
      model.user_tower(tf.constant(people)), movie_vectors,
      transpose_b=True), held, k)


def held_out_recall(model: RetrievalModel, seen: Dict[str, tf.Tensor],
                    held_out: Dict[str, tf.Tensor], liked_rating: float,
                    max_users: int = 1000, k: int = 10, seed: int = 0
                    ) -> float:
  """Recall@k of the model's top movies, those each user has in `seen`
  left out, against the movies they liked in `held_out` (held_out_users;
  NaN when there are none): how validation chooses a warm run's retrieval
  epochs."""
  held = held_out_users(seen, held_out, liked_rating, model.num_users,
                        model.movie_tower.input_dim, max_users, seed)
  return recall_at_k(model, held, k) if held else float('nan')
