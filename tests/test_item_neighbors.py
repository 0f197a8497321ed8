"""The item-kNN table against a brute-force cosine over a small matrix."""

import numpy as np

from trainer_module import item_neighbors


def brute_force(users, movies, num_users, num_movies, shrink):
  """sim(i, j) of every pair, from a dense binary matrix."""
  matrix = np.zeros((num_users, num_movies))
  matrix[users, movies] = 1.0
  both = matrix.T @ matrix
  raters = matrix.sum(axis=0)
  sims = both / (np.sqrt(np.outer(raters, raters)) + shrink)
  np.fill_diagonal(sims, -1.0)
  return sims


def test_table_holds_each_movies_most_similar_best_first(monkeypatch):
  rng = np.random.default_rng(0)
  users = rng.integers(0, 40, 600)
  movies = rng.integers(0, 30, 600)
  monkeypatch.setattr(item_neighbors, 'BLOCK', 7)  # several blocks
  ids, sims = item_neighbors.neighbor_table(users, movies, 40, 30,
                                            neighbors=5, shrink=3.0)
  reference = brute_force(users, movies, 40, 30, 3.0)
  assert ids.shape == sims.shape == (31, 5)
  for movie in range(30):
    assert movie not in ids[movie]
    np.testing.assert_allclose(sims[movie],
                               np.sort(reference[movie])[::-1][:5],
                               rtol=1e-6)
    np.testing.assert_allclose(reference[movie, ids[movie]], sims[movie],
                               rtol=1e-6)
  # The out-of-vocabulary row counts for nothing.
  assert not sims[30].any()


def test_a_pair_rated_twice_counts_once_and_busy_users_are_capped(
    monkeypatch):
  users = np.array([0, 0, 0, 1, 1])
  movies = np.array([0, 0, 1, 0, 1])
  ids, sims = item_neighbors.neighbor_table(users, movies, 2, 2,
                                            neighbors=1, shrink=0.0)
  assert ids[:2, 0].tolist() == [1, 0]
  np.testing.assert_allclose(sims[:2, 0], [1.0, 1.0], rtol=1e-6)
  monkeypatch.setattr(item_neighbors, 'MAX_USER_RATINGS', 3)
  matrix = item_neighbors.user_movie_matrix(
      np.zeros(10, int), np.arange(10), 1, 10)
  assert matrix.nnz == 3
