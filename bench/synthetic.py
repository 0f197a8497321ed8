"""MovieLens-shaped ratings at any size, streamed to disk.

  python -m bench.synthetic --ratings 5000000 --out DIR [--format parquet]

Writes DIR/ratings.csv (or DIR/ratings.parquet) with every column of
MovieLens 100k, so the repo's reviewed schema applies, and DIR/synthetic.json
(what was generated). The pipeline reads either:

  python -m pipeline.local_runner --ratings-csv DIR/ratings.csv
  python -m pipeline.local_runner --ratings-parquet DIR/ratings.parquet

Structure: each user and movie has latent factors and a bias; a rating is
round(mean + biases + <user, movie> + noise), clipped to 1-5. How many
ratings each user gives and how popular each movie is are long-tailed
(Zipf-like), as in MovieLens. Which movies a user rates follows their taste
as well as popularity: every user belongs to one of TASTE_CLUSTERS taste
clusters, whose centre their factors lie around, and picks movies with
probability proportional to popularity x exp(TASTE_STRENGTH x the movie's
standardised affinity to that centre); OFF_TASTE of the picks follow
popularity alone. A user rates a movie at most once. Users arrive over the
years: each has a sign-up time, and rates most movies within a day of it
(SAME_DAY), the rest over the following months, as MovieLens people do.
`python -m bench.synthetic --calibrate` prints the generated 100k beside the
real MovieLens 100k (README "Scale" says how the constants were chosen).

Users, movies and their side features are tables (sizes grow with N: about
N/150 users and 1.7 N^0.6 movies); ratings are generated and written
CHUNK_SIZE rows at a time, so memory does not grow with N. Each user's
ratings come from their own random stream, so the same seed gives the same
bytes whatever the chunk size.

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
# Chosen with --calibrate (README "Scale"): people pick what they like, so
# the ratings given lie above this mean.
MEAN_RATING = 3.05
NOISE = 0.9
FIRST_TIMESTAMP, LAST_TIMESTAMP = 874_724_710, 1_574_327_703  # 1997 - 2019
MOVIE_TAIL = (1.2, 15.0)  # rank r is picked in proportion to (r + 15) ** -1.2
TASTE_CLUSTERS = 12
TASTE_STRENGTH = 2.5
OFF_TASTE = 0.25
SAME_DAY = 0.78  # MovieLens 100k: 78% of ratings within a day of the first
LATER_DAYS = 120.0  # the mean delay of the other ratings
DAY_SECONDS = 86_400


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


def _counts(weights: np.ndarray, total: int, cap: int) -> np.ndarray:
  """`total` split in proportion to `weights` (largest remainders), none
  above `cap` (the excess goes to the others in turn)."""
  if total > cap * len(weights):
    raise ValueError(f'{total:,} ratings cannot come from {len(weights):,} '
                     f'users who rate each of {cap:,} movies at most once')
  share = weights / weights.sum() * total
  counts = np.floor(share).astype(np.int64)
  remainder = total - counts.sum()
  counts[np.argsort(counts - share, kind='stable')[:remainder]] += 1
  counts = np.minimum(counts, cap)
  while counts.sum() < total:  # only when some user hit the cap
    room = np.flatnonzero(counts < cap)
    extra = min(total - counts.sum(), len(room))
    counts[room[:extra]] += 1
  return counts


class World:
  """Users and movies: factors, biases, taste, popularity, side features,
  and how many ratings each user gives."""

  def __init__(self, sizes: Sizes, seed: int):
    rng = np.random.default_rng([seed, 0])
    self.sizes = sizes
    users, movies = sizes.users, sizes.movies
    centres = rng.normal(0, 0.4, (TASTE_CLUSTERS, FACTORS))
    self.cluster = rng.integers(0, TASTE_CLUSTERS, users)
    self.user_factors = (centres[self.cluster] + rng.normal(
        0, 0.2, (users, FACTORS))).astype(np.float32)
    self.movie_factors = rng.normal(0, 0.45, (movies, FACTORS)).astype(
        np.float32)
    self.user_bias = rng.normal(0, 0.35, users).astype(np.float32)
    self.movie_bias = rng.normal(0, 0.55, movies).astype(np.float32)
    popularity = np.diff(_long_tail(rng, movies, MOVIE_TAIL[0], MOVIE_TAIL[1]),
                         prepend=0)
    # Popular movies are rated a little higher, as in MovieLens.
    self.movie_bias += 0.3 * (popularity * movies > 1).astype(np.float32)
    affinity = centres @ self.movie_factors.T
    affinity = (affinity - affinity.mean(1, keepdims=True)) / (
        affinity.std(1, keepdims=True) + 1e-9)
    taste = popularity * np.exp(TASTE_STRENGTH * affinity)
    # Row c: cluster c's picks; the last row: popularity alone.
    picks = np.vstack([taste / taste.sum(1, keepdims=True), popularity])
    self.pick_cdf = np.cumsum(picks, axis=1)
    self.pick_cdf /= self.pick_cdf[:, -1:]
    self.counts = _counts(np.diff(_long_tail(rng, users, 0.8, 20.0),
                                  prepend=0), sizes.ratings, movies)
    self.ends = np.cumsum(self.counts)
    self.signup = rng.integers(FIRST_TIMESTAMP, LAST_TIMESTAMP, users)
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

  def picked_movies(self, user: int, rng: np.random.Generator) -> np.ndarray:
    """The user's distinct movies, in the order they were picked: from
    their cluster's taste, or (OFF_TASTE of the time) by popularity; a user
    who rates nearly every movie gets the last few by weighted shuffle."""
    wanted = int(self.counts[user])
    chosen = np.empty(0, np.int64)
    for _ in range(4):
      draws = 2 * (wanted - len(chosen)) + 8
      rows = np.where(rng.random(draws) < OFF_TASTE, TASTE_CLUSTERS,
                      self.cluster[user])
      both = np.concatenate([chosen, self._search(rows, rng.random(draws))])
      _, first = np.unique(both, return_index=True)
      chosen = both[np.sort(first)]
      if len(chosen) >= wanted:
        return chosen[:wanted]
    rest = np.setdiff1d(np.arange(self.sizes.movies), chosen)
    weight = np.diff(self.pick_cdf[self.cluster[user]], prepend=0)[rest]
    keys = np.log(rng.random(len(rest))) / np.maximum(weight, 1e-12)
    rest = rest[np.argsort(-keys, kind='stable')]
    return np.concatenate([chosen, rest])[:wanted]

  def _search(self, rows: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """Inverse-CDF picks, each from its row of pick_cdf."""
    movies = np.empty(len(draws), np.int64)
    for row in np.unique(rows):
      mask = rows == row
      movies[mask] = np.searchsorted(self.pick_cdf[row], draws[mask], 'right')
    return np.minimum(movies, self.sizes.movies - 1)

  def user_ratings(self, user: int, seed: int):
    """(movies, ratings, timestamps) of every rating the user gives, from
    the user's own random stream."""
    rng = np.random.default_rng([seed, 2, user])
    movies = self.picked_movies(user, rng)
    count = len(movies)
    score = (MEAN_RATING + self.user_bias[user] + self.movie_bias[movies] +
             self.movie_factors[movies] @ self.user_factors[user] +
             rng.normal(0, NOISE, count))
    later = rng.random(count) >= SAME_DAY
    delay = np.where(later, rng.exponential(LATER_DAYS * DAY_SECONDS, count),
                     rng.uniform(0, DAY_SECONDS, count))
    delay[:1] = 0  # the first rating is the sign-up
    timestamps = np.minimum(self.signup[user] + delay.astype(np.int64),
                            LAST_TIMESTAMP)
    return movies, np.clip(np.rint(score), 1, 5), timestamps

  def ratings(self, start: int, count: int, seed: int) -> pa.Table:
    """Ratings start .. start+count-1 (user by user)."""
    first = int(np.searchsorted(self.ends, start, 'right'))
    last = int(np.searchsorted(self.ends, start + count - 1, 'right'))
    parts = []
    for user in range(first, last + 1):
      begin = self.ends[user] - self.counts[user]
      low, high = max(start, begin) - begin, min(start + count,
                                                 self.ends[user]) - begin
      parts.append((np.full(high - low, user),
                    *(a[low:high] for a in self.user_ratings(user, seed))))
    users, movies, rating, timestamp = (np.concatenate(p) for p in
                                        zip(*parts))
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


def generator_settings() -> Dict[str, object]:
  """The constants the ratings follow: data written under other settings
  is other data (bench.scale regenerates it)."""
  return {name: globals()[name] for name in (
      'FACTORS', 'MEAN_RATING', 'NOISE', 'MOVIE_TAIL', 'TASTE_CLUSTERS',
      'TASTE_STRENGTH', 'OFF_TASTE', 'SAME_DAY', 'LATER_DAYS')}


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
      'generator': generator_settings(),
      'bytes': os.path.getsize(path),
      'seconds': round(time.monotonic() - start, 1),
  }
  with open(os.path.join(out_dir, MANIFEST), 'w') as f:
    json.dump(manifest, f, indent=2)
  return manifest


# ------------------------------------------------- calibration at 100k

CALIBRATION_K = 10
CALIBRATION_EVAL_SHARE = 0.2


def generated(sizes: Sizes, seed: int = 0) -> Dict[str, np.ndarray]:
  """Every generated rating in memory: user, movie, rating, timestamp."""
  return as_arrays(pa.concat_tables(list(chunks(sizes, seed))))


def as_arrays(table: pa.Table) -> Dict[str, np.ndarray]:
  """A ratings table's user, movie, rating and timestamp columns."""
  return {'users': table['user_id'].to_numpy(),
          'movies': table['movie_title'].to_numpy(),
          'ratings': table['user_rating'].to_numpy(),
          'timestamps': table['timestamp'].to_numpy()}


def movielens_100k(directory: str) -> Dict[str, np.ndarray]:
  """MovieLens 100k's u.data (user, movie id, rating, timestamp)."""
  data = np.loadtxt(os.path.join(directory, 'u.data'), dtype=np.int64)
  return {'users': data[:, 0].astype(str), 'movies': data[:, 1].astype(str),
          'ratings': data[:, 2].astype(np.float64), 'timestamps': data[:, 3]}


def recalls(data: Dict[str, np.ndarray], seed: int = 0) -> Dict[str, float]:
  """Recall@10 of EASE and of most popular on a random 80/20 split of the
  ratings (relevant: held-out ratings >= 4), scored as the Evaluator
  scores (components/top_n_metrics.py)."""
  from bench import top_n  # pylint: disable=g-import-not-at-top
  from components import top_n_metrics  # pylint: disable=g-import-not-at-top
  held_out = np.random.default_rng(seed).random(len(data['ratings'])) < (
      CALIBRATION_EVAL_SHARE)
  train, evals = (top_n_metrics.Ratings(
      data['users'][rows], data['movies'][rows], data['ratings'][rows])
                  for rows in (~held_out, held_out))
  evaluated = top_n_metrics.protocol(train, evals, min_rating=4.0)
  k = CALIBRATION_K
  ease = top_n_metrics.summarize(top_n.ease_lists(train, evaluated, k),
                                 evaluated, k)[f'recall@{k}']
  popular = top_n_metrics.summarize(top_n_metrics.most_popular(evaluated, k),
                                    evaluated, k)[f'recall@{k}']
  return {'ease': ease, 'most_popular': popular,
          'ease_over_most_popular': ease / popular}


def profile(data: Dict[str, np.ndarray]) -> Dict[str, float]:
  """What calibration compares: sizes, the popularity curve, ratings per
  user, the rating histogram, how soon people rate, and top-N signal."""
  _, users = np.unique(data['users'], return_inverse=True)
  _, movie_counts = np.unique(data['movies'], return_counts=True)
  per_user = np.bincount(users)
  first = np.full(per_user.size, np.iinfo(np.int64).max)
  np.minimum.at(first, users, data['timestamps'])
  by_movie = np.sort(movie_counts)[::-1]
  stars = np.rint(data['ratings']).astype(int)
  return {
      'ratings': len(stars), 'users': int(per_user.size),
      'movies': int(by_movie.size),
      'top 10% of movies: share of ratings': by_movie[
          :max(1, by_movie.size // 10)].sum() / len(stars),
      'ratings per user: median': float(np.median(per_user)),
      'ratings per user: 90th percentile': float(np.percentile(per_user, 90)),
      **{f'{star} stars: share': float(np.mean(stars == star))
         for star in range(1, 6)},
      'mean rating': float(np.mean(data['ratings'])),
      "within a day of the rater's first: share": float(np.mean(
          data['timestamps'] - first[users] < DAY_SECONDS)),
      **{f'Recall@{CALIBRATION_K} {name}': value
         for name, value in recalls(data).items()},
  }


def calibration(real_100k_dir: str, seed: int = 0) -> str:
  """The generated 100k beside MovieLens 100k, one line per measure."""
  real = profile(movielens_100k(real_100k_dir))
  # Its users and movies, so the per-user and per-movie curves compare.
  ours = profile(generated(Sizes(real['ratings'], real['users'],
                                 real['movies']), seed))
  lines = [f'{"":46s} {"MovieLens 100k":>15s} {"generated":>10s}']
  shown = lambda value: f'{value:,}' if isinstance(value, int) else (
      f'{value:.3f}')
  for name, value in real.items():
    lines.append(f'{name:46s} {shown(value):>15s} {shown(ours[name]):>10s}')
  return '\n'.join(lines)


# ------------------------------------------------- the tests' small data

TASTE_GROUPS = 6  # user u and movie m are in group u % 6 and m % 6
TASTE_AFFINITY = 20.0  # a user picks a movie of their group this much more
SMALL_GENRES = ['Action', 'Comedy', 'Drama', 'Romance', 'Thriller']
SMALL_OCCUPATIONS = ['engineer', 'student', 'writer', 'doctor']
SMALL_START, SMALL_SECONDS = 874_000_000, 10_000_000  # the ratings' times
SMALL_ACTIVE_DAYS = 10  # with arrivals: each user rates within this of sign-up


def movie_titles(num_movies: int) -> List[str]:
  """The small data's titles, shaped like MovieLens's, a comma in some."""
  return [f'Movie {i}, The ({1950 + i % 50})' if i % 7 == 0 else
          f'Movie {i} ({1950 + i % 50})' for i in range(num_movies)]


def write_small_ratings_csv(path: str, num_ratings: int = 3000,
                            num_users: int = 120, num_movies: int = 150,
                            seed: int = 0, arrivals: float = 0.0) -> str:
  """Writes the tests' small ratings CSV (every column ExampleGen knows);
  returns `path`.

  Ratings come from latent user and movie factors plus noise, so a model
  can learn them. Who rates what has a planted structure, as in real data:
  a user picks a movie of their own taste group TASTE_AFFINITY times as
  often as another, and low-numbered movies more often than high-numbered
  ones (a long tail), so the most popular list is a fair reference. Every
  user and movie occurs at least once. Timestamps spread over about 116
  days; with `arrivals` (a share), every user whose id's hash falls in
  that share signs up at a time that grows with their id and gives their
  ratings within SMALL_ACTIVE_DAYS of it, so a later period has new users
  (the same data otherwise). User ids are numeric-looking strings
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
      offset = int(rng.integers(0, SMALL_SECONDS))
      if (user * 2654435761 % 2**32) / 2**32 < arrivals:  # Knuth's hash
        offset = (user * (SMALL_SECONDS // num_users)
                  + offset % (SMALL_ACTIVE_DAYS * 86_400))
      writer.writerow([
          str(user + 1), titles[movie], float(np.clip(np.rint(score), 1, 5)),
          SMALL_START + offset, str(movie + 1),
          csv_source.MULTI_VALUE_SEPARATOR.join(
              SMALL_GENRES[g] for g in sorted({movie % 5, (movie // 5) % 5})),
          int(user % 2),
          float(max(g for g in AGE_GROUPS if g <= age)), float(age),
          occupation, OCCUPATIONS[occupation], f'{10000 + user * 37:05d}',
      ])
  return path


def sizes_of(args: argparse.Namespace) -> Sizes:
  """The sizes the flags ask for (MovieLens-like where not given)."""
  sizes = Sizes.for_ratings(args.ratings)
  return dataclasses.replace(sizes, users=args.users or sizes.users,
                             movies=args.movies or sizes.movies)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog='python -m bench.synthetic', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--ratings', type=int, help='how many ratings')
  parser.add_argument('--out', help='output folder')
  parser.add_argument('--calibrate', metavar='ML_100K_DIR',
                      help='print the generated 100k beside the real one '
                      '(an unpacked ml-100k folder) instead of writing')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--format', choices=FORMATS, default='csv',
                      help='csv (any tool reads it) or parquet (typed, '
                      'columnar, ~5x faster to ingest; default %(default)s)')
  parser.add_argument('--users', type=int, default=None,
                      help='default: ratings / 150')
  parser.add_argument('--movies', type=int, default=None,
                      help='default: 1.7 * ratings ** 0.6')
  args = parser.parse_args(argv)
  if args.calibrate:
    if not os.path.isfile(os.path.join(args.calibrate, 'u.data')):
      parser.error(f'--calibrate: no u.data in {args.calibrate}')
    return args
  if args.ratings is None or args.out is None:
    parser.error('--ratings and --out are required (or --calibrate)')
  if args.ratings < 1:
    parser.error('--ratings must be >= 1')
  for name in ('users', 'movies'):
    if getattr(args, name) is not None and getattr(args, name) < 1:
      parser.error(f'--{name} must be >= 1')
  sizes = sizes_of(args)
  if sizes.ratings > sizes.users * sizes.movies:
    parser.error(f'--ratings {sizes.ratings} is more than {sizes.users} '
                 f'users can give to {sizes.movies} movies (each at most once)')
  return args


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  if args.calibrate:
    print(calibration(args.calibrate, args.seed))
    return 0
  manifest = write(sizes_of(args), args.out, args.seed, args.format)
  print(json.dumps(manifest))
  return 0


if __name__ == '__main__':
  sys.exit(main())
