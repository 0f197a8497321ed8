"""Item-item neighbours for people the model knows only by their ratings.

Cosine similarity of two movies over the users who rated them, shrunk
towards 0 when few users rated both (Koren, 2008; the item-kNN anchor of
the new-user protocol):

  sim(i, j) = |U(i) & U(j)| / (sqrt(|U(i)| * |U(j)|) + shrink)

Each movie keeps its `neighbors` most similar movies (a fixed-width table
the served bundle gathers from, in the graph). Pure NumPy and SciPy: the
Trainer builds it once from the training data; bench/ reuses it.
"""

from typing import Tuple

import numpy as np
from scipy import sparse

# Movies whose co-rated pairs are counted at a time (one sparse product).
BLOCK = 1024
# At most this many ratings of one user enter the co-occurrence counts (a
# seeded random subset): a user with n ratings adds n^2 pairs.
MAX_USER_RATINGS = 500


def user_movie_matrix(users: np.ndarray, movies: np.ndarray, num_users: int,
                      num_movies: int, seed: int = 0) -> sparse.csr_matrix:
  """Binary users x movies matrix of who rated what (a pair rated twice
  counts once; each user's ratings capped at MAX_USER_RATINGS)."""
  matrix = sparse.csr_matrix(
      (np.ones(len(users), np.float32), (users, movies)),
      shape=(num_users, num_movies))
  matrix.sum_duplicates()
  matrix.data[:] = 1.0
  counts = np.diff(matrix.indptr)
  if counts.max(initial=0) > MAX_USER_RATINGS:
    rng = np.random.default_rng(seed)
    keep = np.ones(matrix.nnz, bool)
    for row in np.flatnonzero(counts > MAX_USER_RATINGS):
      start, end = matrix.indptr[row], matrix.indptr[row + 1]
      drop = rng.permutation(end - start)[MAX_USER_RATINGS:]
      keep[start + drop] = False
    matrix.data = keep.astype(np.float32)
    matrix.eliminate_zeros()
  return matrix


def neighbor_table(users: np.ndarray, movies: np.ndarray, num_users: int,
                   num_movies: int, neighbors: int, shrink: float,
                   seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
  """(ids, sims), each [num_movies + 1, width]: row i holds movie i's most
  similar movies, best first (width = min(neighbors, num_movies - 1), at
  least 1); a movie co-rated with fewer movies is padded with similarity 0,
  as is the extra last row (the out-of-vocabulary id). `users` / `movies`
  are the training ratings' ids, each < num_users / num_movies."""
  matrix = user_movie_matrix(users, movies, num_users, num_movies, seed)
  by_movie = matrix.T.tocsr()
  norms = np.sqrt(np.asarray(by_movie.sum(axis=1), np.float32).reshape(-1))
  width = max(1, min(neighbors, num_movies - 1))
  ids = np.zeros((num_movies + 1, width), np.int32)
  sims = np.zeros((num_movies + 1, width), np.float32)
  for start in range(0, num_movies, BLOCK):
    rows = np.arange(start, min(start + BLOCK, num_movies))
    both = by_movie[rows] @ matrix  # sparse: only co-rated pairs
    for offset, movie in enumerate(rows):
      begin, end = both.indptr[offset], both.indptr[offset + 1]
      others = both.indices[begin:end]
      values = both.data[begin:end] / (norms[movie] * norms[others] +
                                       np.float32(shrink))
      values[others == movie] = -1.0  # never a movie's own neighbour
      if len(values) > width:
        best = np.argpartition(-values, width - 1)[:width]
        others, values = others[best], values[best]
      order = np.argsort(-values, kind='stable')
      keep = order[values[order] > 0][:width]
      ids[movie, :len(keep)] = others[keep]
      sims[movie, :len(keep)] = values[keep]
  return ids, sims
