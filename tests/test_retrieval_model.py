"""The retrieval model learns who watches what: on data with planted taste
groups its top 10 beats the most popular list."""

import numpy as np
import tensorflow as tf

from components import top_n_metrics
from trainer_module import hyperparameters
from trainer_module import retrieval_model
from trainer_module.splits import MOVIE_KEY
from trainer_module.splits import USER_KEY

USERS, MOVIES, GROUPS, PER_USER = 200, 300, 5, 30


def planted_ratings(seed: int = 0):
  """(train, eval) id pairs: each user watches mostly movies of its own
  taste group (popular ones more often), some at random; a fifth of each
  user's movies are held out."""
  rng = np.random.default_rng(seed)
  group_of_movie = np.arange(MOVIES) % GROUPS
  weights = 1.0 / (1 + np.arange(MOVIES) // GROUPS)  # popular first
  train, held_out = [], []
  for user in range(USERS):
    own = np.where(group_of_movie == user % GROUPS, weights, 0.05 * weights)
    movies = rng.choice(MOVIES, size=PER_USER, replace=False,
                        p=own / own.sum())
    cut = PER_USER * 4 // 5
    train += [(user, m) for m in movies[:cut]]
    held_out += [(user, m) for m in movies[cut:]]
  return np.array(train), np.array(held_out)


def as_ratings(pairs: np.ndarray) -> top_n_metrics.Ratings:
  return top_n_metrics.Ratings(pairs[:, 0].astype(str),
                               pairs[:, 1].astype(str),
                               np.full(len(pairs), 5.0))


def test_retrieval_beats_most_popular_on_planted_tastes():
  tf.keras.utils.set_random_seed(1)
  train, held_out = planted_ratings()
  hparams = hyperparameters.Hyperparameters(
      retrieval_embedding_dim=16, retrieval_learning_rate=0.1)
  # + 1: the vocabularies' out-of-vocabulary ids.
  model = retrieval_model.build_retrieval_model(USERS + 1, MOVIES + 1,
                                                train[:, 1], hparams)
  dataset = tf.data.Dataset.from_tensor_slices((
      {USER_KEY: train[:, 0], MOVIE_KEY: train[:, 1]},
      np.zeros(len(train), np.float32))).shuffle(len(train), seed=1)
  history = model.fit(dataset.batch(256), epochs=30, verbose=0)
  assert history.history['loss'][-1] < history.history['loss'][0]

  evaluated = top_n_metrics.protocol(as_ratings(train), as_ratings(held_out),
                                     min_rating=4)
  users = np.array(evaluated.users, dtype=int)
  scores = (model({USER_KEY: tf.constant(users)}).numpy() @
            model.movie_tower(tf.range(MOVIES)).numpy().T)
  for row, user in enumerate(evaluated.users):
    scores[row, [int(m) for m in evaluated.rated[user]]] = -np.inf
  lists = [[str(m) for m in np.argsort(-row)[:10]] for row in scores]
  learned = top_n_metrics.summarize(lists, evaluated, 10)['recall@10']
  popular = top_n_metrics.summarize(
      top_n_metrics.most_popular(evaluated, 10),
      evaluated, 10)['recall@10']
  assert learned > 1.5 * popular, (learned, popular)


def test_sampling_probability_is_each_movies_share_and_never_zero():
  probability = retrieval_model.movie_probability(np.array([0, 0, 1, 0]), 3)
  np.testing.assert_allclose(probability, [0.75, 0.25, 0.125])


def test_each_rating_counts_its_weight_in_the_share():
  probability = retrieval_model.movie_probability(
      np.array([0, 0, 1, 0]), 3, weights=np.array([1.0, 0.5, 1.0, 0.5]))
  # Movie 2, never rated, gets half the least weight.
  np.testing.assert_allclose(probability, [2 / 3, 1 / 3, 0.25 / 3])


def test_recency_weights_halve_every_half_life_before_the_newest():
  day = 86400
  weights = retrieval_model.recency_weights(
      np.array([10 * day, 7 * day, 3 * day, -1]), half_life_days=3.0)
  np.testing.assert_allclose(weights, [1.0, 0.5, 0.5 ** (7 / 3), 0.0])


def test_shares_of_ratings_long_before_the_newest_stay_finite():
  """Weights of ratings many half-lives old fall below float32's range
  (or to zero in float64): the served log share stays finite."""
  day = 86400
  for age_days, half_life in ((20 * 365, 3.0), (997, 1.0)):
    served = retrieval_model.served_probability(
        np.array([0, 1]), np.array([0, age_days * day]), 3,
        hyperparameters.Hyperparameters(
            retrieval_popularity_half_life_days=half_life))
    logs = np.log(served.astype(np.float32))
    assert np.isfinite(logs).all(), (age_days, logs)
    # The old movie counts no more than one never rated.
    assert served[0] == served[2] < served[1]


def test_the_served_share_is_the_train_share_without_times_or_half_life():
  movies = np.array([0, 0, 1])
  times = np.array([0, 86400, 2 * 86400])
  for hparams, timestamps in (
      (hyperparameters.Hyperparameters(), times),
      (hyperparameters.Hyperparameters(
          retrieval_popularity_half_life_days=1.0), None)):
    assert retrieval_model.served_probability(
        movies, timestamps, 3, hparams) is None
  served = retrieval_model.served_probability(
      movies, times, 3, hyperparameters.Hyperparameters(
          retrieval_popularity_half_life_days=1.0))
  # Weights 0.25, 0.5 (movie 0) and 1 (movie 1, the newest).
  np.testing.assert_allclose(served, np.array([0.75, 1.0, 0.125]) / 1.75)


def test_steps_per_execution_trains_the_same_steps():
  """Training 32 steps per call (STEPS_PER_EXECUTION) is Keras's batching
  of calls only: the weights equal one step per call's, the epoch's last
  partial run of steps included."""
  train, _ = planted_ratings()
  hparams = hyperparameters.Hyperparameters(retrieval_embedding_dim=8)
  dataset = tf.data.Dataset.from_tensor_slices((
      {USER_KEY: train[:, 0], MOVIE_KEY: train[:, 1]},
      np.full(len(train), 5.0, np.float32))).batch(64)  # 75 steps
  weights = []
  for steps in (retrieval_model.STEPS_PER_EXECUTION, 1):
    tf.keras.utils.set_random_seed(3)
    model = retrieval_model.build_retrieval_model(USERS + 1, MOVIES + 1,
                                                  train[:, 1], hparams)
    model.compile(optimizer=model.optimizer, steps_per_execution=steps)
    model.fit(dataset, epochs=2, verbose=0)
    weights.append(model.movie_tower.get_weights()[0])
  assert retrieval_model.STEPS_PER_EXECUTION > 1
  np.testing.assert_allclose(weights[0], weights[1], rtol=1e-5, atol=1e-6)


def test_served_retrieval_scores_add_the_popularity_prior():
  """The served index scores user . movie + weight * log(movie's share of
  the train ratings), and ranks by that sum."""
  from trainer_module import serving  # pylint: disable=g-import-not-at-top
  train, _ = planted_ratings()
  model = retrieval_model.build_retrieval_model(
      USERS + 1, MOVIES + 1, train[:, 1],
      hyperparameters.Hyperparameters(retrieval_embedding_dim=8))
  model.build_towers()
  nobody_rated = tf.RaggedTensor.from_row_lengths(
      tf.zeros([0], tf.int64), tf.zeros([USERS + 1], tf.int64))
  users = tf.constant([0, 7, USERS], tf.int64)  # USERS: the unknown user
  towers = (model.user_tower(users).numpy() @
            model.movie_tower(tf.range(MOVIES)).numpy().T)
  share = retrieval_model.movie_probability(train[:, 1], MOVIES + 1)[:MOVIES]
  for weight in (0.0, 0.5):
    recommender = serving.Recommender(
        model, tf.Module(), MOVIES, nobody_rated, candidates=MOVIES,
        rerank_weight=0.5, popularity_weight=weight)
    scores, ids = recommender._retrieve(users, exclude_rated=False)  # pylint: disable=protected-access
    expected = towers + weight * np.log(share)
    np.testing.assert_allclose(
        scores.numpy(), np.take_along_axis(expected, ids.numpy(), axis=1),
        rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(scores.numpy(), -np.sort(-expected, axis=1),
                               rtol=1e-5, atol=1e-5)


def test_served_retrieval_excludes_rated_movies_as_tfrs_brute_force():
  """Recommender._retrieve masks each user's rated movies before its top
  candidates: the same ids and scores as TFRS's
  BruteForce.query_with_exclusions on the same vectors, for a user whose
  history is most of the catalog too."""
  import tensorflow_recommenders as tfrs  # pylint: disable=g-import-not-at-top
  from trainer_module import serving  # pylint: disable=g-import-not-at-top
  train, _ = planted_ratings()
  model = retrieval_model.build_retrieval_model(
      USERS + 1, MOVIES + 1, train[:, 1],
      hyperparameters.Hyperparameters(retrieval_embedding_dim=8))
  model.build_towers()
  heavy = np.arange(MOVIES - 40)  # user 3 rated all but 40 movies
  pairs = np.concatenate([train[train[:, 0] != 3],
                          np.stack([np.full_like(heavy, 3), heavy], 1)])
  pairs = pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))]
  rated = tf.RaggedTensor.from_value_rowids(
      tf.constant(pairs[:, 1], tf.int64), tf.constant(pairs[:, 0], tf.int64),
      nrows=USERS + 1)
  recommender = serving.Recommender(
      model, tf.Module(), MOVIES, rated, candidates=30, rerank_weight=0.5,
      popularity_weight=0.5)
  users = tf.constant([0, 3, 7, USERS], tf.int64)  # USERS: nothing rated
  scores, ids = recommender._retrieve(users, exclude_rated=True)  # pylint: disable=protected-access
  index = tfrs.layers.factorized_top_k.BruteForce(k=30)
  index.index(recommender.movie_vectors, tf.range(MOVIES, dtype=tf.int64))
  queries = model.user_tower(users)
  theirs_scores, theirs_ids = index.query_with_exclusions(
      tf.concat([queries, tf.ones_like(queries[:, :1])], axis=1),
      tf.gather(rated, users).to_tensor(default_value=-1), k=30)
  np.testing.assert_array_equal(ids.numpy(), theirs_ids.numpy())
  np.testing.assert_allclose(scores.numpy(), theirs_scores.numpy(),
                             rtol=1e-5, atol=1e-5)
  assert not set(ids.numpy()[1]) & set(heavy)


def test_the_served_index_adds_the_served_share_not_the_train_share():
  """With recency (served_probability) the index's prior is the recent
  share, while training's logQ correction keeps the train share."""
  from trainer_module import serving  # pylint: disable=g-import-not-at-top
  train, _ = planted_ratings()
  recent = np.full(MOVIES + 1, 0.5 / MOVIES)
  recent[:10] = 0.05  # ten movies everyone watches this week
  recent /= recent.sum()
  model = retrieval_model.build_retrieval_model(
      USERS + 1, MOVIES + 1, train[:, 1],
      hyperparameters.Hyperparameters(retrieval_embedding_dim=8),
      served=recent)
  model.build_towers()
  np.testing.assert_allclose(
      model.movie_probability.numpy(),
      retrieval_model.movie_probability(train[:, 1], MOVIES + 1), rtol=1e-6)
  nobody_rated = tf.RaggedTensor.from_row_lengths(
      tf.zeros([0], tf.int64), tf.zeros([USERS + 1], tf.int64))
  users = tf.constant([0, 7], tf.int64)
  towers = (model.user_tower(users).numpy() @
            model.movie_tower(tf.range(MOVIES)).numpy().T)
  recommender = serving.Recommender(
      model, tf.Module(), MOVIES, nobody_rated, candidates=MOVIES,
      rerank_weight=0.5, popularity_weight=2.0)
  scores, _ = recommender._retrieve(users, exclude_rated=False)  # pylint: disable=protected-access
  np.testing.assert_allclose(
      scores.numpy(), -np.sort(-(towers + 2.0 * np.log(recent[:MOVIES])),
                               axis=1), rtol=1e-5, atol=1e-5)


def test_the_new_user_base_list_keeps_the_all_time_share():
  """recommend_from_ratings' base (trainer.from_ratings) adds
  new_user_popularity_weight x log of the train share, whatever share
  `recommend` serves."""
  from trainer_module import trainer  # pylint: disable=g-import-not-at-top
  train, _ = planted_ratings()
  recent = np.full(MOVIES + 1, 1.0 / (MOVIES + 1))
  hparams = hyperparameters.Hyperparameters(
      retrieval_embedding_dim=8, new_user_popularity_weight=0.5,
      new_user_next_weight=0.0)
  model = retrieval_model.build_retrieval_model(
      USERS + 1, MOVIES + 1, train[:, 1], hparams, served=recent)
  model.build_towers()
  rated = tf.RaggedTensor.from_value_rowids(
      tf.constant(train[:, 1], tf.int64), tf.constant(train[:, 0], tf.int64),
      nrows=USERS + 1)
  stage = trainer.from_ratings(model, rated, {}, hparams)
  towers = (model.movie_tower(tf.range(MOVIES)).numpy() @
            model.user_tower(tf.constant([USERS], tf.int64)).numpy()[0])
  share = retrieval_model.movie_probability(train[:, 1], MOVIES + 1)[:MOVIES]
  np.testing.assert_allclose(stage.generic.numpy(),
                             towers + 0.5 * np.log(share), rtol=1e-5,
                             atol=1e-5)
