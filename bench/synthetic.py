"""MovieLens-shaped ratings at any size, streamed to disk.

  python -m bench.synthetic --ratings 5000000 --out DIR [--format parquet]

Writes DIR/ratings.csv (or DIR/ratings.parquet) with every column of
MovieLens 100k, so the repo's reviewed schema applies, and DIR/synthetic.json
(what was generated). The pipeline reads either:

  python -m pipeline.local_runner --ratings-csv DIR/ratings.csv
  python -m pipeline.local_runner --ratings-parquet DIR/ratings.parquet

Structure: each user and movie has latent factors and a bias; a rating is
round(mean + biases + <user, movie> + noise), clipped to 1-5. Who rates and
what is rated are long-tailed (Zipf-like), as in MovieLens. Users, movies and
their side features are tables (sizes grow with N: about N/150 users and
1.7 N^0.6 movies); ratings are generated and written CHUNK_SIZE rows at a
time, so memory does not grow with N. The same seed gives the same bytes.

The tests' small data (`write_small_ratings_csv`) comes from here too: a few
thousand ratings whose choice of movies has a planted structure (taste
groups), so a retrieval model can learn to beat the most popular list, and
in which every user and movie occurs.
"""

import argparse
import csv
import dataclasses
import json
import os
import sys
import time
from typing import Dict, Iterator, List, Optional

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from components import csv_source
from components import grouplens_files

CHUNK_SIZE = 262_144  # ratings generated and written at a time
FORMATS = ('csv', 'parquet')
FILE_NAMES = {'csv': 'ratings.csv', 'parquet': 'ratings.parquet'}
MANIFEST = 'synthetic.json'

# Every column of MovieLens 100k, in TFDS's names (the repo schema's).
COLUMNS = ['user_id', 'movie_title', 'user_rating', 'timestamp', 'movie_id',
           'movie_genres', 'user_gender', 'bucketized_user_age',
           'raw_user_age', 'user_occupation_text', 'user_occupation_label',
           'user_zip_code']
# MovieLens 100k's genres (less "unknown") and occupations, each with the
# label TFDS gives it: the GroupLens reader's own tables.
GENRES = grouplens_files.GENRES_100K[1:]
OCCUPATIONS = grouplens_files.OCCUPATION_LABELS_100K
AGE_GROUPS = np.array([1, 18, 25, 35, 45, 50, 56])  # MovieLens's lower bounds
FACTORS = 8
MEAN_RATING = 3.45  # MovieLens 100k: 3.53 (popular movies add a little)
NOISE = 0.75
FIRST_TIMESTAMP, LAST_TIMESTAMP = 874_724_710, 1_574_327_703  # 1997 - 2019


@dataclasses.dataclass(frozen=True)
class Sizes:
  """How many ratings, users and movies."""
  ratings: int
  users: int
  movies: int

  @classmethod
  def for_ratings(cls, ratings: int) -> 'Sizes':
    """MovieLens-like proportions: ~N/150 users, ~1.7 N^0.6 movies."""
    if ratings < 1:
      raise ValueError(f'--ratings must be >= 1, got {ratings}')
    return cls(ratings, max(10, ratings // 150),
               max(10, int(round(1.7 * ratings ** 0.6))))


def _long_tail(rng: np.random.Generator, n: int, exponent: float,
               offset: float) -> np.ndarray:
  """Cumulative sampling weights of n items in random order, Zipf-like:
  the item of popularity rank r has weight (r + offset) ** -exponent."""
  weights = (np.arange(n) + offset) ** -exponent
  weights = weights[rng.permutation(n)]
  cumulative = np.cumsum(weights)
  return cumulative / cumulative[-1]


def _title(index: int, year: int) -> str:
  """A MovieLens-style title; some have the trailing ', The' and a comma."""
  if index % 9 == 0:
    return f'Film {index}, The ({year})'
  return f'Film {index} ({year})'


class World:
  """Users and movies: factors, biases, popularity and side features."""

  def __init__(self, sizes: Sizes, seed: int):
    rng = np.random.default_rng([seed, 0])
    self.sizes = sizes
    users, movies = sizes.users, sizes.movies
    self.user_factors = rng.normal(0, 0.45, (users, FACTORS)).astype(
        np.float32)
    self.movie_factors = rng.normal(0, 0.45, (movies, FACTORS)).astype(
        np.float32)
    self.user_bias = rng.normal(0, 0.35, users).astype(np.float32)
    self.movie_bias = rng.normal(0, 0.55, movies).astype(np.float32)
    self.user_cdf = _long_tail(rng, users, 0.8, 20.0)
    self.movie_cdf = _long_tail(rng, movies, 1.0, 30.0)
    # Popular movies are rated a little higher, as in MovieLens.
    self.movie_bias += 0.3 * (np.diff(self.movie_cdf, prepend=0) *
                              movies > 1).astype(np.float32)
    occupations = list(OCCUPATIONS)
    occupation = rng.integers(0, len(occupations), users)
    age = rng.integers(7, 74, users)
    years = rng.integers(1930, 2020, movies)
    genre_count = rng.integers(1, 4, movies)
    genre_ids = rng.integers(0, len(GENRES), (movies, 3))
    self.users = pa.table({
        'user_id': pa.array([str(u + 1) for u in range(users)]),
        'user_gender': pa.array(rng.integers(0, 2, users)),
        'bucketized_user_age': pa.array(
            AGE_GROUPS[np.searchsorted(AGE_GROUPS, age, 'right') - 1]
            .astype(np.float64)),
        'raw_user_age': pa.array(age.astype(np.float64)),
        'user_occupation_text': pa.array(
            [occupations[o] for o in occupation]),
        'user_occupation_label': pa.array(
            [OCCUPATIONS[occupations[o]] for o in occupation]),
        'user_zip_code': pa.array(
            [f'{z:05d}' for z in rng.integers(1000, 99999, users)]),
    })
    self.movies = pa.table({
        'movie_title': pa.array([_title(m + 1, years[m])
                                 for m in range(movies)]),
        'movie_id': pa.array([str(m + 1) for m in range(movies)]),
        'movie_genres': pa.array([
            sorted({GENRES[g] for g in genre_ids[m, :genre_count[m]]})
            for m in range(movies)], pa.list_(pa.string())),
    })

  def ratings(self, start: int, count: int, seed: int) -> pa.Table:
    """Ratings start .. start+count-1; each chunk has its own random
    stream, so the output depends only on the seed."""
    rng = np.random.default_rng([seed, 1, start])
    users = np.searchsorted(self.user_cdf, rng.random(count), 'right')
    movies = np.searchsorted(self.movie_cdf, rng.random(count), 'right')
    users = np.minimum(users, self.sizes.users - 1)
    movies = np.minimum(movies, self.sizes.movies - 1)
    score = (MEAN_RATING + self.user_bias[users] + self.movie_bias[movies] +
             np.einsum('ij,ij->i', self.user_factors[users],
                       self.movie_factors[movies]) +
             rng.normal(0, NOISE, count))
    rating = np.clip(np.rint(score), 1, 5)
    timestamp = rng.integers(FIRST_TIMESTAMP, LAST_TIMESTAMP, count)
    user_rows = self.users.take(pa.array(users))
    movie_rows = self.movies.take(pa.array(movies))
    columns = {
        'user_id': user_rows['user_id'],
        'movie_title': movie_rows['movie_title'],
        'user_rating': pa.array(rating),
        'timestamp': pa.array(timestamp),
        'movie_id': movie_rows['movie_id'],
        'movie_genres': movie_rows['movie_genres'],
        **{name: user_rows[name] for name in COLUMNS[6:]},
    }
    return pa.table({name: columns[name] for name in COLUMNS})


def chunks(sizes: Sizes, seed: int) -> Iterator[pa.Table]:
  """Every rating, CHUNK_SIZE at a time."""
  world = World(sizes, seed)
  for start in range(0, sizes.ratings, CHUNK_SIZE):
    yield world.ratings(start, min(CHUNK_SIZE, sizes.ratings - start), seed)


def _csv_ready(table: pa.Table) -> pa.Table:
  """Genres joined by '|', as MovieLens CSVs (and our CSV reader) have them."""
  joined = pc.binary_join(table['movie_genres'], csv_source.MULTI_VALUE_SEPARATOR)
  return table.set_column(COLUMNS.index('movie_genres'), 'movie_genres',
                          joined)


def write(sizes: Sizes, out_dir: str, seed: int = 0,
          file_format: str = 'csv') -> Dict[str, object]:
  """Writes the ratings and the manifest; returns the manifest."""
  if file_format not in FORMATS:
    raise ValueError(f'format must be one of {FORMATS}, got {file_format!r}')
  os.makedirs(out_dir, exist_ok=True)
  path = os.path.join(out_dir, FILE_NAMES[file_format])
  partial = path + '.partial'  # renamed when complete
  start = time.monotonic()
  writer = None
  try:
    for table in chunks(sizes, seed):
      if file_format == 'csv':
        table = _csv_ready(table)
        if writer is None:
          writer = pa_csv.CSVWriter(partial, table.schema)
      elif writer is None:
        writer = pq.ParquetWriter(partial, table.schema, compression='snappy')
      writer.write_table(table)
  finally:
    if writer is not None:
      writer.close()
  os.replace(partial, path)
  manifest = {
      'path': path, 'format': file_format, 'seed': seed,
      **dataclasses.asdict(sizes),
      'bytes': os.path.getsize(path),
      'seconds': round(time.monotonic() - start, 1),
  }
  with open(os.path.join(out_dir, MANIFEST), 'w') as f:
    json.dump(manifest, f, indent=2)
  return manifest


# ------------------------------------------------- the tests' small data

TASTE_GROUPS = 6  # user u and movie m are in group u % 6 and m % 6
TASTE_AFFINITY = 20.0  # a user picks a movie of their group this much more
SMALL_GENRES = ['Action', 'Comedy', 'Drama', 'Romance', 'Thriller']
SMALL_OCCUPATIONS = ['engineer', 'student', 'writer', 'doctor']


def movie_titles(num_movies: int) -> List[str]:
  """The small data's titles, shaped like MovieLens's, a comma in some."""
  return [f'Movie {i}, The ({1950 + i % 50})' if i % 7 == 0 else
          f'Movie {i} ({1950 + i % 50})' for i in range(num_movies)]


def write_small_ratings_csv(path: str, num_ratings: int = 3000,
                            num_users: int = 120, num_movies: int = 150,
                            seed: int = 0) -> str:
  """Writes the tests' small ratings CSV (every column ExampleGen knows);
  returns `path`.

  Ratings come from latent user and movie factors plus noise, so a model
  can learn them. Who rates what has a planted structure, as in real data:
  a user picks a movie of their own taste group TASTE_AFFINITY times as
  often as another, and low-numbered movies more often than high-numbered
  ones (a long tail), so the most popular list is a fair reference. Every
  user and movie occurs at least once. User ids are numeric-looking strings
  ("1", "2", ...) as in MovieLens, which catches any step that would infer
  them as integers.
  """
  if num_ratings < max(num_users, num_movies):
    raise ValueError(f'{num_ratings} ratings cannot cover {num_users} users '
                     f'and {num_movies} movies')
  rng = np.random.default_rng(seed)
  user_factors = rng.normal(0, 0.5, size=(num_users, 4))
  movie_factors = rng.normal(0, 0.5, size=(num_movies, 4))
  user_bias = rng.normal(0, 0.6, size=num_users)
  movie_bias = rng.normal(0, 0.6, size=num_movies)
  titles = movie_titles(num_movies)
  users = np.concatenate([np.arange(num_users), rng.integers(
      0, num_users, size=num_ratings - num_users)])
  rng.shuffle(users)
  affinity = np.where(
      np.arange(num_users)[:, None] % TASTE_GROUPS ==
      np.arange(num_movies)[None, :] % TASTE_GROUPS, TASTE_AFFINITY, 1.0
  ) / (1.0 + np.arange(num_movies) / 15.0)
  choice = affinity / affinity.sum(axis=1, keepdims=True)
  movies = np.array([rng.choice(num_movies, p=choice[u]) for u in users])
  movies[rng.choice(num_ratings, size=num_movies, replace=False)] = (
      np.arange(num_movies))
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(COLUMNS)
    for user, movie in zip(users, movies):
      score = (3.4 + user_bias[user] + movie_bias[movie] +
               user_factors[user] @ movie_factors[movie] + rng.normal(0, 0.3))
      age = 18 + user % 50
      occupation = SMALL_OCCUPATIONS[user % len(SMALL_OCCUPATIONS)]
      writer.writerow([
          str(user + 1), titles[movie], float(np.clip(np.rint(score), 1, 5)),
          874_000_000 + int(rng.integers(0, 10_000_000)), str(movie + 1),
          csv_source.MULTI_VALUE_SEPARATOR.join(
              SMALL_GENRES[g] for g in sorted({movie % 5, (movie // 5) % 5})),
          int(user % 2),
          float(max(g for g in AGE_GROUPS if g <= age)), float(age),
          occupation, OCCUPATIONS[occupation], f'{10000 + user * 37:05d}',
      ])
  return path


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog='python -m bench.synthetic', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--ratings', type=int, required=True,
                      help='how many ratings')
  parser.add_argument('--out', required=True, help='output folder')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--format', choices=FORMATS, default='csv',
                      help='csv (any tool reads it) or parquet (typed, '
                      'columnar, ~5x faster to ingest; default %(default)s)')
  parser.add_argument('--users', type=int, default=None,
                      help='default: ratings / 150')
  parser.add_argument('--movies', type=int, default=None,
                      help='default: 1.7 * ratings ** 0.6')
  args = parser.parse_args(argv)
  if args.ratings < 1:
    parser.error('--ratings must be >= 1')
  for name in ('users', 'movies'):
    if getattr(args, name) is not None and getattr(args, name) < 1:
      parser.error(f'--{name} must be >= 1')
  return args


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  sizes = Sizes.for_ratings(args.ratings)
  sizes = dataclasses.replace(sizes, users=args.users or sizes.users,
                              movies=args.movies or sizes.movies)
  manifest = write(sizes, args.out, args.seed, args.format)
  print(json.dumps(manifest))
  return 0


if __name__ == '__main__':
  sys.exit(main())
