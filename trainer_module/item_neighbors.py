"""Item-item neighbours for people the model knows only by their ratings.

Cosine similarity of two movies over the users who rated them, shrunk
towards 0 when few users rated both (Koren, 2008; the item-kNN anchor of
the new-user protocol):

  sim(i, j) = |U(i) & U(j)| / (sqrt(|U(i)| * |U(j)|) + shrink)

The second table is directed and in time order: from the movies a known
user rated first to those they went on to like (`next_table`), which is
where a new user stands.

Each movie keeps its `neighbors` most similar movies (a fixed-width table
the served bundle gathers from, in the graph). NumPy, SciPy and Arrow: the
Trainer builds both once from the training data; bench/ reuses them.
"""

from concurrent import futures
from typing import Sequence, Tuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

# Movies whose co-rated pairs are counted at a time (one sparse product).
BLOCK = 1024
# Blocks in flight at once (the Trainer's Beam workers are idle then).
THREADS = 2
# At most this many ratings of one user enter the co-occurrence counts (a
# seeded random subset): a user with n ratings adds n^2 pairs.
MAX_USER_RATINGS = 500
# next_table: a known user's ratings after their first h that count as
# what they went on to like (the near future; chosen on the new-user
# protocol one step earlier: README "New users").
NEXT_RATINGS = 50
# next_table: the prefix lengths h it looks at each known user through
# (as many given ratings as a new user may bring).
PREFIXES = (1, 3, 5, 10, 20)


def binary_matrix(rows: np.ndarray, movies: np.ndarray, num_rows: int,
                  num_movies: int) -> sparse.csr_matrix:
  """Binary rows x movies matrix with a 1 at each (row, movie) pair (a pair
  given twice counts once)."""
  matrix = sparse.csr_matrix(
      (np.ones(len(rows), np.float32), (rows, movies)),
      shape=(num_rows, num_movies))
  matrix.sum_duplicates()
  matrix.data[:] = 1.0
  return matrix


def user_movie_matrix(users: np.ndarray, movies: np.ndarray, num_users: int,
                      num_movies: int, seed: int = 0) -> sparse.csr_matrix:
  """Binary users x movies matrix of who rated what (a pair rated twice
  counts once; each user's ratings capped at MAX_USER_RATINGS)."""
  matrix = binary_matrix(users, movies, num_users, num_movies)
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


def top_similar(source: sparse.csr_matrix, target: sparse.csr_matrix,
                neighbors: int, shrink: float
                ) -> Tuple[np.ndarray, np.ndarray]:
  """(ids, sims), each [num_movies + 1, width]: row i holds the movies j
  most similar to movie i, best first, where

    sim(i, j) = |rows with i in `source` and j in `target`|
                / (sqrt(|rows with i in source| * |rows with j in target|)
                   + shrink)

  over binary rows x movies matrices of the same shape (width = min(
  neighbors, num_movies - 1), at least 1). A movie is never its own
  neighbour; a movie with fewer similar ones is padded with similarity 0,
  as is the extra last row (the out-of-vocabulary id)."""
  num_movies = source.shape[1]
  by_movie = source.T.tocsr()
  source_norms = np.sqrt(np.asarray(source.sum(axis=0), np.float32)
                         ).reshape(-1)
  target_norms = np.sqrt(np.asarray(target.sum(axis=0), np.float32)
                         ).reshape(-1)
  width = max(1, min(neighbors, num_movies - 1))
  ids = np.zeros((num_movies + 1, width), np.int32)
  sims = np.zeros((num_movies + 1, width), np.float32)

  def block(start: int) -> None:
    """Rows start.. of ids and sims (each block its own rows)."""
    rows = np.arange(start, min(start + BLOCK, num_movies))
    both = by_movie[rows] @ target  # sparse: only pairs seen together
    for offset, movie in enumerate(rows):
      begin, end = both.indptr[offset], both.indptr[offset + 1]
      others = both.indices[begin:end]
      values = both.data[begin:end] / (
          source_norms[movie] * target_norms[others] + np.float32(shrink))
      values[others == movie] = -1.0  # never a movie's own neighbour
      if len(values) > width:
        best = np.argpartition(-values, width - 1)[:width]
        others, values = others[best], values[best]
      order = np.argsort(-values, kind='stable')
      keep = order[values[order] > 0][:width]
      ids[movie, :len(keep)] = others[keep]
      sims[movie, :len(keep)] = values[keep]

  # SciPy's sparse product lets go of the GIL: one block's product runs
  # while another block's rows are ranked.
  with futures.ThreadPoolExecutor(THREADS) as pool:
    list(pool.map(block, range(0, num_movies, BLOCK)))
  return ids, sims


def neighbor_table(users: np.ndarray, movies: np.ndarray, num_users: int,
                   num_movies: int, neighbors: int, shrink: float,
                   seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
  """Item-kNN: top_similar over who rated what (cosine over co-raters).
  `users` / `movies` are the training ratings' ids, each < num_users /
  num_movies."""
  matrix = user_movie_matrix(users, movies, num_users, num_movies, seed)
  return top_similar(matrix, matrix, neighbors, shrink)


def time_order(users: np.ndarray, timestamps: np.ndarray,
               movies: np.ndarray) -> np.ndarray:
  """np.lexsort((movies, timestamps, users)): the ratings by user, then
  time, then movie, ties in their order; by Arrow's multi-key sort, which
  is faster (bench/results/HISTORY.md)."""
  return pc.sort_indices(
      pa.table({'user': users, 'time': timestamps, 'movie': movies}),
      sort_keys=[('user', 'ascending'), ('time', 'ascending'),
                 ('movie', 'ascending')]).to_numpy()


def prefix_matrices(users: np.ndarray, movies: np.ndarray,
                    timestamps: np.ndarray, ratings: np.ndarray,
                    num_movies: int, prefixes: Sequence[int],
                    liked_rating: float
                    ) -> Tuple[sparse.csr_matrix, sparse.csr_matrix]:
  """(given, liked_next): binary rows x movies matrices, one row per user
  and prefix length h in `prefixes` shorter than the user's ratings: the
  user's first h movies by time (ties by movie id) in `given`; the movies
  among their next NEXT_RATINGS rated >= liked_rating in `liked_next`.
  The new-user protocol's view of every known user."""
  if not len(users):
    empty = sparse.csr_matrix((0, num_movies), dtype=np.float32)
    return empty, empty
  order = time_order(users, timestamps, movies)
  users, movies, ratings = users[order], movies[order], ratings[order]
  starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
  lengths = np.diff(np.r_[starts, len(users)])
  position = np.arange(len(users)) - np.repeat(starts, lengths)
  length = np.repeat(lengths, lengths)
  user_row = np.repeat(np.arange(len(starts)), lengths)
  given_rows, given_cols, next_rows, next_cols = [], [], [], []
  rows = 0
  for h in prefixes:
    eligible = length > h
    row = rows + np.cumsum(np.r_[0, eligible[starts][:-1]])[user_row]
    given = eligible & (position < h)
    liked = (eligible & (position >= h) & (position < h + NEXT_RATINGS) &
             (ratings >= liked_rating))
    given_rows.append(row[given])
    given_cols.append(movies[given])
    next_rows.append(row[liked])
    next_cols.append(movies[liked])
    rows += int(eligible[starts].sum())
  return (binary_matrix(np.concatenate(given_rows),
                        np.concatenate(given_cols), rows, num_movies),
          binary_matrix(np.concatenate(next_rows), np.concatenate(next_cols),
                        rows, num_movies))


def next_table(users: np.ndarray, movies: np.ndarray, timestamps: np.ndarray,
               ratings: np.ndarray, num_movies: int, neighbors: int,
               prefixes: Sequence[int], liked_rating: float
               ) -> Tuple[np.ndarray, np.ndarray]:
  """What people like next: top_similar from the movies a known user gave
  first (each prefix length of the new-user protocol) to the movies they
  rated >= liked_rating after them (prefix_matrices). Unlike item-kNN's
  co-raters it is directed and in time order: it learns the order in which
  people rate, which a new user is at the start of."""
  given, liked_next = prefix_matrices(users, movies, timestamps, ratings,
                                      num_movies, prefixes, liked_rating)
  return top_similar(given, liked_next, neighbors, 0.0)
