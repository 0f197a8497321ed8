"""bench/new_users.py's tables against the ones the Trainer serves."""

import numpy as np
import tensorflow as tf

from bench import new_users as bench_new_users
from components import new_users
from trainer_module import features
from trainer_module import hyperparameters
from trainer_module import item_neighbors
from trainer_module import splits
from trainer_module import trainer


def random_ratings(seed: int, num_users: int, num_movies: int, count: int):
  """(user ids, movie ids, timestamps, ratings) drawn at random."""
  rng = np.random.default_rng(seed)
  return (rng.integers(0, num_users, count), rng.integers(0, num_movies, count),
          rng.integers(0, 5_000, count),
          rng.integers(1, 6, count).astype(np.float32))


def assert_same_table(actual, expected):
  """The same similarities row by row, and the same movies wherever a
  similarity is above the row's last kept one (at the edge, which of
  equally similar movies is kept is the sort's choice)."""
  (ids, sims), (expected_ids, expected_sims) = actual, expected
  np.testing.assert_allclose(sims, expected_sims, rtol=1e-6)
  for row in range(len(sims)):
    above = sims[row] > sims[row, -1]
    assert set(ids[row][above]) == set(expected_ids[row][above])


def test_the_bench_next_table_is_the_trainers():
  users, movies, timestamps, ratings = random_ratings(0, 30, 20, 800)
  hparams = hyperparameters.Hyperparameters(new_user_knn_neighbors=6)
  both = {splits.USER_KEY: tf.constant(users, tf.int64),
          splits.MOVIE_KEY: tf.constant(movies, tf.int64),
          features.TIMESTAMP_KEY: tf.constant(timestamps, tf.int64),
          features.LABEL_KEY: tf.constant(ratings)}
  served_ids, served_sims, _ = trainer.next_table(both, 30, 20, hparams)
  catalog = bench_new_users.Catalog([b'movie %02d' % m for m in range(20)])
  # The bench reads the same ratings by name: users numbered anew.
  training = new_users.TimedRatings(
      np.array([b'person %d' % (29 - u) for u in users]),
      np.array([catalog.titles[m] for m in movies]), ratings, timestamps)
  assert_same_table(bench_new_users.next_of(training, catalog, 6),
                    (served_ids, served_sims))


def test_a_narrower_table_is_the_first_columns_of_a_wider_one():
  """What the bench's choice of widths rests on."""
  users, movies, timestamps, ratings = random_ratings(1, 40, 30, 900)
  wide = item_neighbors.neighbor_table(users, movies, 40, 30, 12, 5.0)
  narrow = item_neighbors.neighbor_table(users, movies, 40, 30, 4, 5.0)
  assert_same_table((wide[0][:, :4], wide[1][:, :4]), narrow)
  wide = item_neighbors.next_table(users, movies, timestamps, ratings, 30,
                                   12, (1, 3), 4.0)
  narrow = item_neighbors.next_table(users, movies, timestamps, ratings, 30,
                                     4, (1, 3), 4.0)
  assert_same_table((wide[0][:, :4], wide[1][:, :4]), narrow)
