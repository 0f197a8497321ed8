"""Unpacked GroupLens MovieLens folders, read as they come.

The ratings file is joined with the movies file (title, genres) and, for
100k and 1M, the users file (gender, age, occupation, zip code), giving the
same tf.Examples as the TFDS path (`tensorflow_datasets` `movielens_parsing`
followed by `_RenameTfdsExample`): same feature names, kinds and values.

| format | ratings | movies | users | text |
|---|---|---|---|---|
| 100k | `u.data` (or a shipped split, `u1.base` ...), tab-separated | `u.item` | `u.user` | Latin-1 |
| 1m | `ratings.dat`, `::`-separated | `movies.dat` | `users.dat` | Latin-1 |
| 20m, 25m, 32m, latest | `ratings.csv` with a header | `movies.csv` | none | UTF-8 |
"""

import csv
import dataclasses
import io
import os
from typing import Any, Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf

from components import tf_examples
from components.ratings_source import RatingsSource
from components.tf_examples import RatingsSourceError

# MovieLens 100k's shipped train/test pairs (its README: u1..u5 are the
# five folds of a 5-fold cross-validation; ua/ub keep 10 ratings per user
# for test).
SPLITS_100K = ('u1', 'u2', 'u3', 'u4', 'u5', 'ua', 'ub')


@dataclasses.dataclass(frozen=True)
class Format:
  """How one MovieLens release lays out its files."""
  name: str
  ratings_file: str
  movies_file: str
  users_file: Optional[str]
  encoding: str
  ratings_separator: Optional[str]  # None: CSV, with a header line
  table_separator: Optional[str]  # of the movies and users files
  tfds_config: str  # the TFDS config with the same features

  @property
  def header(self) -> bool:
    """Whether each file starts with a header line."""
    return self.ratings_separator is None


FORMATS = (
    Format('100k', 'u.data', 'u.item', 'u.user', 'latin-1', '\t', '|',
           'movielens/100k-ratings'),
    Format('1m', 'ratings.dat', 'movies.dat', 'users.dat', 'latin-1', '::',
           '::', 'movielens/1m-ratings'),
    Format('20m', 'ratings.csv', 'movies.csv', None, 'utf-8', None, None,
           'movielens/20m-ratings'),
)

# As TFDS's movielens_parsing: 100k genre columns, in order ("Children's"
# named "Children" as in the other releases).
GENRES_100K = (
    'Unknown', 'Action', 'Adventure', 'Animation', 'Children', 'Comedy',
    'Crime', 'Documentary', 'Drama', 'Fantasy', 'Film-Noir', 'Horror',
    'Musical', 'Mystery', 'Romance', 'Sci-Fi', 'Thriller', 'War', 'Western')
AGE_THRESHOLDS_100K = (18, 25, 35, 45, 50, 56)
# 100k occupations -> the labels 1M uses (TFDS's conversion map).
OCCUPATION_LABELS_100K = {
    'administrator': 'clerical/admin', 'artist': 'artist',
    'doctor': 'doctor/health care', 'educator': 'academic/educator',
    'engineer': 'technician/engineer', 'entertainment': 'entertainment',
    'executive': 'executive/managerial', 'healthcare': 'doctor/health care',
    'homemaker': 'homemaker', 'lawyer': 'lawyer', 'librarian': 'librarian',
    'marketing': 'sales/marketing', 'none': 'other/not specified',
    'other': 'other/not specified', 'programmer': 'programmer',
    'retired': 'retired', 'salesman': 'sales/marketing',
    'scientist': 'scientist', 'student': 'student',
    'technician': 'technician/engineer', 'writer': 'writer',
}
# 1M's occupation codes (its README), and the two student codes TFDS merges.
OCCUPATIONS_1M = (
    'other/not specified', 'academic/educator', 'artist', 'clerical/admin',
    'college/grad student', 'customer service', 'doctor/health care',
    'executive/managerial', 'farmer', 'homemaker', 'K-12 student', 'lawyer',
    'programmer', 'retired', 'sales/marketing', 'scientist', 'self-employed',
    'technician/engineer', 'tradesman/craftsman', 'unemployed', 'writer')
STUDENT_OCCUPATIONS_1M = ('K-12 student', 'college/grad student')

Record = Dict[str, List[Any]]


def split_fields(text: str, separator: Optional[str]) -> List[str]:
  """The fields of one line: split on `separator`, or read as CSV."""
  if separator is None:
    return next(csv.reader(io.StringIO(text)), [])
  return text.split(separator)


def find_format(directory: str) -> Format:
  """The release whose ratings file `directory` holds; raises naming the
  files looked for."""
  for fmt in FORMATS:
    if tf.io.gfile.exists(os.path.join(directory, fmt.ratings_file)):
      return fmt
  if not tf.io.gfile.isdir(directory):
    raise RatingsSourceError(f'--movielens-dir {directory}: no such folder')
  raise RatingsSourceError(
      f'--movielens-dir {directory}: no MovieLens ratings file; expected '
      'one of ' + ', '.join(f.ratings_file for f in FORMATS) +
      ' (an unpacked GroupLens zip: ml-100k, ml-1m, ml-20m, ml-25m, '
      'ml-latest-small)')


def ratings_files(directory: str, split: Optional[str] = None
                  ) -> Tuple[Format, List[str]]:
  """The release's format and its ratings file(s): one, or the shipped
  split's train and test files (100k only)."""
  fmt = find_format(directory)
  needed = [fmt.movies_file] + ([fmt.users_file] if fmt.users_file else [])
  if split is None:
    files = [fmt.ratings_file]
  elif fmt.name != '100k':
    raise RatingsSourceError(
        f'--movielens-split {split}: only MovieLens 100k ships train/test '
        f'splits; {directory} is the {fmt.name} format')
  elif split not in SPLITS_100K:
    raise RatingsSourceError(
        f'--movielens-split {split}: one of {", ".join(SPLITS_100K)}')
  else:
    files = [f'{split}.base', f'{split}.test']
  for name in files + needed:
    if not tf.io.gfile.exists(os.path.join(directory, name)):
      raise RatingsSourceError(
          f'--movielens-dir {directory}: {name} is missing (the {fmt.name} '
          f'format needs {", ".join(files + needed)})')
  return fmt, [os.path.join(directory, name) for name in files]


def _lines(path: str, fmt: Format) -> Iterable[Tuple[int, str]]:
  """(line number, text) of a small file, decoded; raises naming the line
  that is not `fmt.encoding` text."""
  with tf.io.gfile.GFile(path, 'rb') as f:
    for number, raw in enumerate(f, start=1):
      yield number, tf_examples.decode_line(raw, path, number, fmt.encoding)


def read_movies(directory: str, fmt: Format) -> Dict[str, Record]:
  """{movie id: movie_id, movie_title and movie_genres} from the movies
  file, as TFDS parses it."""
  path = os.path.join(directory, fmt.movies_file)
  movies = {}
  for number, text in _lines(path, fmt):
    text = text.strip()
    if not text or (fmt.header and number == 1):
      continue
    fields = split_fields(text, fmt.table_separator)
    try:
      if fmt.name == '100k':  # id|title|dates|url|19 genre flags
        movie_id, title = fields[0], fields[1]
        genres = [g for g, flag in zip(GENRES_100K, fields[5:]) if flag == '1']
      else:
        movie_id, title, genre_text = fields
        genres = genre_text.split('|')
        if fmt.name == '1m':
          genres = ['Children' if g == "Children's" else g for g in genres]
    except ValueError as error:
      raise RatingsSourceError(
          f'{path} line {number}: cannot read {text!r} ({error})') from error
    movies[movie_id] = {'movie_id': [movie_id], 'movie_title': [title],
                        'movie_genres': genres}
  return movies


def _age_bucket_100k(age: int) -> int:
  """TFDS's bucketized_user_age of a 100k age: the largest threshold <=
  age, or 1 under 18."""
  bucket = 1
  for threshold in AGE_THRESHOLDS_100K:
    if age < threshold:
      break
    bucket = threshold
  return bucket


def read_users(directory: str, fmt: Format) -> Dict[str, Record]:
  """{user id: the user's features} from the users file (100k, 1M), as
  TFDS parses it; {} for releases without one."""
  if not fmt.users_file:
    return {}
  path = os.path.join(directory, fmt.users_file)
  users = {}
  for number, text in _lines(path, fmt):
    text = text.strip()
    if not text:
      continue
    fields = split_fields(text, fmt.table_separator)
    try:
      if fmt.name == '100k':  # id|age|gender|occupation|zip
        user_id, age, gender, occupation, zip_code = fields
        label = OCCUPATION_LABELS_100K[occupation]
        ages = {'bucketized_user_age': [float(_age_bucket_100k(int(age)))],
                'raw_user_age': [float(age)]}
      else:  # id::gender::age::occupation code::zip
        user_id, gender, age, code, zip_code = fields
        occupation = OCCUPATIONS_1M[int(code)]
        label = ('student' if occupation in STUDENT_OCCUPATIONS_1M
                 else occupation)
        ages = {'bucketized_user_age': [float(age)]}
    except (ValueError, KeyError, IndexError) as error:
      raise RatingsSourceError(
          f'{path} line {number}: cannot read {text!r} '
          f'({type(error).__name__}: {error})') from error
    users[user_id] = {'user_gender': [int(gender == 'M')], **ages,
                      'user_occupation_label': [label],
                      'user_occupation_text': [occupation],
                      'user_zip_code': [zip_code]}
  return users


def rating_to_record(text: str, fmt: Format, movies: Dict[str, Record],
                     users: Dict[str, Record], path: str) -> Record:
  """One line of a ratings file joined with its movie and user; raises
  naming the file and the line when it cannot be."""
  fields = split_fields(text, fmt.ratings_separator)
  if len(fields) != 4:
    raise RatingsSourceError(
        f'{path}: line {text!r} has {len(fields)} fields; a rating has 4 '
        '(user id, movie id, rating, timestamp)')
  user_id, movie_id, rating, timestamp = (f.strip() for f in fields)
  if movie_id not in movies:
    raise RatingsSourceError(
        f'{path}: line {text!r} rates movie {movie_id}, which '
        f'{fmt.movies_file} does not have')
  if users and user_id not in users:
    raise RatingsSourceError(
        f'{path}: line {text!r} is by user {user_id}, whom '
        f'{fmt.users_file} does not have')
  try:
    values = {'user_rating': [float(rating)], 'timestamp': [int(timestamp)]}
  except ValueError as error:
    raise RatingsSourceError(
        f'{path}: bad rating or timestamp in line {text!r}: {error}'
    ) from error
  return {'user_id': [user_id], **values, **movies[movie_id],
          **users.get(user_id, {})}


class _RatingLineToExample(beam.DoFn):
  """Ratings file lines -> tf.Examples; the movies and users files are read
  once per worker."""

  def __init__(self, ratings_path: str, fmt: Format):
    self._path = ratings_path
    self._fmt = fmt
    self._movies: Dict[str, Record] = {}
    self._users: Dict[str, Record] = {}

  def setup(self):
    directory = os.path.dirname(self._path)
    self._movies = read_movies(directory, self._fmt)
    self._users = read_users(directory, self._fmt)

  def process(self, line: bytes) -> Iterable[tf.train.Example]:
    text = tf_examples.decode_line(line, self._path, None, self._fmt.encoding)
    if text.strip():
      yield tf_examples.to_example(rating_to_record(
          text.rstrip('\r\n'), self._fmt, self._movies, self._users,
          self._path))


def format_of(ratings_path: str) -> Format:
  """The format a ratings file's name says (u.data, u1.base, ratings.dat,
  ratings.csv ...)."""
  name = os.path.basename(ratings_path)
  if name == 'u.data' or name.endswith(('.base', '.test')):
    return FORMATS[0]
  for fmt in FORMATS[1:]:
    if name == fmt.ratings_file:
      return fmt
  raise RatingsSourceError(f'{ratings_path}: not a MovieLens ratings file')


@beam.ptransform_fn
def ReadGroupLens(pipeline: beam.Pipeline,  # pylint: disable=invalid-name
                  ratings_path: str) -> beam.PCollection:
  """Every rating of a GroupLens ratings file, joined, as tf.Examples."""
  fmt = format_of(ratings_path)
  return (pipeline
          | 'ReadLines' >> beam.io.ReadFromText(
              ratings_path, coder=beam.coders.BytesCoder(),
              skip_header_lines=1 if fmt.header else 0)
          | 'ToExample' >> beam.ParDo(_RatingLineToExample(ratings_path,
                                                           fmt)))


# ---------------------------------------- the source interface (ratings_source)

FILE_BASED = True


def split_paths(source: RatingsSource) -> List[str]:
  """The release's ratings file, or the shipped pair's train and test
  files; checks that they and the files they are joined with exist (names
  only)."""
  return ratings_files(source.paths[0], source.split)[1]


def check(source: RatingsSource) -> Optional[List[str]]:
  """`split_paths` checks the files; None: every MovieLens column."""
  split_paths(source)
  return None


def columns(source: RatingsSource) -> Optional[List[str]]:
  """None: the release's own columns (`tfds_config`)."""
  del source
  return None


def tfds_config(source: RatingsSource) -> Optional[str]:
  """The TFDS config of the same release, whose reviewed schema it has."""
  return find_format(source.paths[0]).tfds_config


def count(source: RatingsSource, path: str) -> int:
  """The ratings in the ratings file (its lines, less a header)."""
  del source
  return tf_examples.count_lines(path) - int(format_of(path).header)


def read(pipeline: beam.Pipeline, source: RatingsSource,
         path: str) -> beam.PCollection:
  """ReadGroupLens of the ratings file `path`."""
  del source
  return pipeline | 'ReadGroupLens' >> ReadGroupLens(path)  # pylint: disable=no-value-for-parameter


def side_files(input_base: str) -> List[str]:
  """The names of the movies and users files the ratings are joined with
  (fingerprinted with the ratings files): the folder is the input base."""
  fmt = find_format(input_base)
  return [name for name in (fmt.movies_file, fmt.users_file) if name]
