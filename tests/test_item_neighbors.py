"""The item-kNN table against a brute-force cosine over a small matrix."""

import numpy as np

from trainer_module import item_neighbors


def reference_sims(source, target, shrink):
  """sim(i, j) of every pair from dense binary rows x movies matrices:
  rows with i in `source` and j in `target` over sqrt of each count, plus
  shrink (0 where neither was seen); a movie's own pair -1."""
  both = source.T @ target
  norms = np.sqrt(np.outer(source.sum(axis=0), target.sum(axis=0))) + shrink
  sims = np.divide(both, norms, out=np.zeros_like(both), where=norms > 0)
  np.fill_diagonal(sims, -1.0)
  return sims


def brute_force(users, movies, num_users, num_movies, shrink):
  """sim(i, j) of every pair, from a dense binary matrix."""
  matrix = np.zeros((num_users, num_movies))
  matrix[users, movies] = 1.0
  return reference_sims(matrix, matrix, shrink)


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


def brute_force_next(users, movies, timestamps, ratings, num_movies,
                     prefixes, liked):
  """sim(i, j) of every pair from the protocol's rows spelled out: each
  user's first h movies by time against their next NEXT_RATINGS liked."""
  given_rows, next_rows = [], []
  for user in sorted(set(users.tolist())):
    mine = sorted(zip(timestamps[users == user], movies[users == user],
                      ratings[users == user]))
    for h in prefixes:
      if len(mine) <= h:
        continue
      given_rows.append({m for _, m, _ in mine[:h]})
      next_rows.append({m for _, m, r in
                        mine[h:h + item_neighbors.NEXT_RATINGS] if r >= liked})
  given = np.array([[m in row for m in range(num_movies)]
                    for row in given_rows], float)
  later = np.array([[m in row for m in range(num_movies)]
                    for row in next_rows], float)
  return reference_sims(given, later, 0.0)


def test_next_table_follows_each_users_time_order(monkeypatch):
  rng = np.random.default_rng(1)
  users = rng.integers(0, 30, 700)
  movies = rng.integers(0, 25, 700)
  timestamps = rng.integers(0, 10_000, 700)
  ratings = rng.integers(1, 6, 700).astype(np.float32)
  monkeypatch.setattr(item_neighbors, 'NEXT_RATINGS', 6)
  monkeypatch.setattr(item_neighbors, 'BLOCK', 4)
  ids, sims = item_neighbors.next_table(users, movies, timestamps, ratings,
                                        25, 6, (1, 3, 10), 4.0)
  reference = brute_force_next(users, movies, timestamps, ratings, 25,
                               (1, 3, 10), 4.0)
  assert ids.shape == sims.shape == (26, 6)
  for movie in range(25):
    expected = np.sort(reference[movie])[::-1][:6]
    expected[expected < 0] = 0
    np.testing.assert_allclose(sims[movie], expected, rtol=1e-6, atol=1e-7)
    kept = sims[movie] > 0
    np.testing.assert_allclose(reference[movie, ids[movie][kept]],
                               sims[movie][kept], rtol=1e-6)
  assert not sims[25].any()


def test_next_table_is_directed():
  """Everyone rates movie 0 first and likes movie 1 next: 0 leads to 1,
  never 1 to 0; a rating below `liked` leads nowhere."""
  users = np.repeat(np.arange(4), 3)
  movies = np.tile([0, 1, 2], 4)
  timestamps = np.tile([10, 20, 30], 4)
  ratings = np.tile([5.0, 5.0, 2.0], 4)
  ids, sims = item_neighbors.next_table(users, movies, timestamps, ratings,
                                        3, 2, (1,), 4.0)
  assert ids[0, 0] == 1 and sims[0, 0] > 0
  assert not sims[1].any() and not sims[2].any()
  empty = item_neighbors.next_table(*(np.zeros(0, int),) * 3,
                                    np.zeros(0), 3, 2, (1,), 4.0)
  assert not empty[1].any()


def test_time_order_is_lexsorts():
  rng = np.random.default_rng(3)
  users = rng.integers(0, 50, 5000)
  timestamps = rng.integers(-5, 40, 5000)  # many ties
  movies = rng.integers(0, 20, 5000)
  np.testing.assert_array_equal(
      item_neighbors.time_order(users, timestamps, movies),
      np.lexsort((movies, timestamps, users)))
  assert len(item_neighbors.time_order(*(np.array([], np.int64),) * 3)) == 0


def test_the_threaded_table_is_the_one_thread_table(monkeypatch):
  rng = np.random.default_rng(4)
  users, movies = rng.integers(0, 60, 900), rng.integers(0, 45, 900)
  monkeypatch.setattr(item_neighbors, 'BLOCK', 4)  # many blocks at once
  threaded = item_neighbors.neighbor_table(users, movies, 60, 45, 6, 1.0)
  monkeypatch.setattr(item_neighbors, 'THREADS', 1)
  for ours, one in zip(threaded, item_neighbors.neighbor_table(
      users, movies, 60, 45, 6, 1.0)):
    np.testing.assert_array_equal(ours, one)
