"""The CSV source: a ratings CSV with a header, `user_id,movie_title,
user_rating` plus any optional column of trainer_module.features; every
value keeps the type the model expects (ids stay strings)."""

import csv
import io
import math
from typing import Any, List, Optional

import apache_beam as beam
import tensorflow as tf

from components import tf_examples
from components.ratings_source import is_remote
from components.ratings_source import RatingsSource
from components.tf_examples import RatingsSourceError
from trainer_module import features

MULTI_VALUE_SEPARATOR = '|'  # between genres in a CSV cell, as MovieLens does


def read_csv_header(path: str,
                    encoding: str = tf_examples.DEFAULT_ENCODING) -> List[str]:
  """Checks the header of a ratings CSV and returns its column names (a
  UTF-8 byte-order mark dropped)."""
  if not tf.io.gfile.exists(path):
    raise RatingsSourceError(f'ratings CSV {path} does not exist')
  with tf.io.gfile.GFile(path, 'rb') as f:
    header_line = tf_examples.decode_line(f.readline(), path, 1, encoding)
  columns = next(csv.reader([header_line]), [])
  return tf_examples.check_columns(path, [c.strip() for c in columns])


def check_csv(path: str,
              encoding: str = tf_examples.DEFAULT_ENCODING) -> List[str]:
  """Checks the header and that at least one rating follows; returns the
  column names. Reads only up to the first data line."""
  columns = read_csv_header(path, encoding)
  with tf.io.gfile.GFile(path, 'rb') as f:
    f.readline()
    if not any(line.strip() for line in f):
      raise RatingsSourceError(f'{path}: no ratings after the header')
  return columns


def _parse_cell(kind: str, name: str, text: str) -> List[Any]:
  """Values of one CSV cell; raises ValueError naming the column."""
  parts = text.split(MULTI_VALUE_SEPARATOR) if name == features.GENRE_KEY else [
      text]
  if kind == 'bytes':
    return parts
  if kind == 'float':
    values = [float(p) for p in parts]
    if not all(math.isfinite(v) for v in values):
      raise ValueError(f'{name} must be a finite number, got {text!r}')
    return values
  return [int(p) for p in parts]


def csv_line_to_example(line: str, columns: List[str],
                        path: str = '<csv>') -> tf.train.Example:
  """Parses one data line of a ratings CSV into a tf.Example."""
  cells = next(csv.reader(io.StringIO(line)), [])
  if len(cells) != len(columns):
    raise RatingsSourceError(
        f'{path}: line {line!r} has {len(cells)} fields, header has '
        f'{len(columns)}')
  values = {}
  for name, text in zip(columns, cells):
    text = text.strip()
    if not text:
      if name in features.REQUIRED_FEATURE_KINDS:
        raise RatingsSourceError(
            f'{path}: empty {name} in line {line!r}')
      continue  # a missing optional value is simply absent
    try:
      values[name] = _parse_cell(features.FEATURE_KINDS[name], name, text)
    except ValueError as e:
      raise RatingsSourceError(f'{path}: bad {name} in line {line!r}: {e}')
  return tf_examples.to_example(values)


@beam.ptransform_fn
def ReadCsv(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, path: str, encoding: str) -> beam.PCollection:
  """Every data line of a ratings CSV, as tf.Examples."""
  columns = check_csv(path, encoding)
  return (pipeline
          | 'ReadLines' >> beam.io.ReadFromText(
              path, skip_header_lines=1, coder=beam.coders.BytesCoder())
          | 'Decode' >> beam.Map(tf_examples.decode_line, path, None,
                                 encoding)
          | 'DropBlank' >> beam.Filter(lambda line: line.strip() != '')
          | 'ToExample' >> beam.Map(csv_line_to_example, columns, path))


# ---------------------------------------- the source interface (ratings_source)

FILE_BASED = True


def split_paths(source: RatingsSource) -> List[str]:
  """The ratings CSV, and the eval split's when given."""
  return list(source.paths)


def check(source: RatingsSource) -> Optional[List[str]]:
  """Checks each local file's header and first rating (a remote one is
  read when the component runs); the columns every file has, None when
  none was read."""
  local = [p for p in source.paths if not is_remote(p)]
  found = [check_csv(path, source.encoding) for path in local]
  return [c for c in found[0] if all(c in f for f in found)] if found else (
      None)


def columns(source: RatingsSource) -> Optional[List[str]]:
  """The ratings CSV's columns (its header; a remote file too)."""
  return read_csv_header(source.paths[0], source.encoding)


def tfds_config(source: RatingsSource) -> Optional[str]:
  """None: the schema follows the file's columns."""
  del source
  return None


def count(source: RatingsSource, path: str) -> int:
  """The data lines of the CSV (blank lines too, as a bound), after
  checking that the whole file is text in its encoding."""
  return tf_examples.count_lines(path, source.encoding) - 1


def read(pipeline: beam.Pipeline, source: RatingsSource,
         path: str) -> beam.PCollection:
  """ReadCsv of `path`."""
  return pipeline | 'ReadCsv' >> ReadCsv(path, source.encoding)  # pylint: disable=no-value-for-parameter


def side_files(input_base: str) -> List[str]:
  """None: each split is its file."""
  del input_base
  return []
