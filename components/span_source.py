"""The span source: a folder of periods, `span-1/`, `span-2/`, ..., each
holding that period's ratings as CSV or Parquet files with the columns of
`--ratings-csv`.

ExampleGen reads it with TFX's span semantics: the split pattern is
`span-{SPAN}/*.csv` (or `*.parquet`), TFX's file-based driver resolves the
newest span (or the one a RangeConfig names) and fingerprints its files, and
the Examples artifact carries the span number. A run ingests one span; the
pipeline's window resolver (components/span_window.py) reads the others from
earlier runs' artifacts.

The folder is checked whole while the pipeline is built, so a bad span stops
the run before anything is read or written: every span folder holds ratings
of one kind (CSV or Parquet), span numbers have no gap, and every span has
the first span's columns.
"""

import os
from typing import Dict, List, Optional, Tuple

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen import utils as example_gen_utils

from components import csv_source
from components import parquet_source
from components import tf_examples
from components.ratings_source import is_remote
from components.ratings_source import RatingsSource
from components.ratings_source import span_folders_in
from components.ratings_source import SPAN_PREFIX
from components.tf_examples import RatingsSourceError

SPAN_FOLDER = SPAN_PREFIX + example_gen_utils.SPAN_SPEC  # span-{SPAN}
KINDS = ('csv', 'parquet')  # the file kinds a span may hold, by extension


def span_folders(folder: str) -> Dict[int, str]:
  """{span number: its folder} of the `span-N` folders in `folder`."""
  if not tf.io.gfile.isdir(folder):
    raise RatingsSourceError(f'ratings folder {folder} does not exist')
  return span_folders_in(folder, tf.io.gfile.listdir, tf.io.gfile.isdir,
                         RatingsSourceError)


def span_kind(span_folder: str) -> str:
  """The kind of ratings files a span folder holds (one of KINDS)."""
  kinds = [kind for kind in KINDS
           if tf.io.gfile.glob(os.path.join(span_folder, f'*.{kind}'))]
  if not kinds:
    raise RatingsSourceError(
        f'{span_folder}: no ratings (no .csv or .parquet file)')
  if len(kinds) > 1:
    raise RatingsSourceError(
        f'{span_folder}: both .csv and .parquet files; a span holds one '
        'kind')
  return kinds[0]


def span_columns(span_folder: str, kind: str, encoding: str) -> List[str]:
  """The columns of a span's files, checked (each has a rating; all have
  the same columns)."""
  if kind == 'parquet':
    return parquet_source.check_parquet(os.path.join(span_folder,
                                                     '*.parquet'))[0]
  found = [(path, csv_source.check_csv(path, encoding)) for path in
           sorted(tf.io.gfile.glob(os.path.join(span_folder, '*.csv')))]
  for path, columns in found[1:]:
    if columns != found[0][1]:
      raise RatingsSourceError(f'{path}: columns {columns} differ from '
                               f'{found[0][0]}\'s {found[0][1]}')
  return found[0][1]


def check_spans(source: RatingsSource) -> Tuple[str, List[str], List[int]]:
  """Checks every span of the folder; returns the file kind, the columns and
  the span numbers. Raises RatingsSourceError naming the span that is
  wrong: no ratings, a gap before it, another kind or other columns than
  the first span's; or a requested span that is not there."""
  folders = span_folders(source.paths[0])
  numbers = list(folders)
  for before, after in zip(numbers, numbers[1:]):
    if after != before + 1:
      raise RatingsSourceError(
          f'{source.paths[0]}: {SPAN_PREFIX}{before + 1} is missing (spans '
          f'{before} and {after} are there); span numbers must have no gap')
  first = numbers[0]
  kind = span_kind(folders[first])
  columns = span_columns(folders[first], kind, source.encoding)
  for number in numbers[1:]:
    other = span_kind(folders[number])
    if other != kind:
      raise RatingsSourceError(f'{folders[number]}: {other} files; '
                               f'{SPAN_PREFIX}{first} has {kind}')
    found = span_columns(folders[number], kind, source.encoding)
    if found != columns:
      raise RatingsSourceError(f'{folders[number]}: columns {found} differ '
                               f'from {SPAN_PREFIX}{first}\'s {columns}')
  if source.span is not None and source.span not in folders:
    raise RatingsSourceError(
        f'{source.paths[0]}: no {SPAN_PREFIX}{source.span} (spans '
        f'{numbers[0]}..{numbers[-1]})')
  return kind, columns, numbers


# ---------------------------------------- the source interface (ratings_source)

FILE_BASED = True


def split_paths(source: RatingsSource) -> List[str]:
  """One input split: the files of the span TFX's driver resolves (of the
  span's kind, read when it runs: a remote folder is not listed while the
  pipeline is built or compiled)."""
  return [os.path.join(source.paths[0], SPAN_FOLDER, '*')]


def check(source: RatingsSource) -> Optional[List[str]]:
  """Checks every span of a local folder (check_spans); their columns,
  None for a remote folder (its spans are checked as they are read)."""
  return None if is_remote(source.paths[0]) else check_spans(source)[1]


def columns(source: RatingsSource) -> Optional[List[str]]:
  """The spans' columns."""
  return check_spans(source)[1]


def tfds_config(source: RatingsSource) -> Optional[str]:
  """None: the schema follows the files' columns."""
  del source
  return None


def _kind_and_files(path: str) -> Tuple[str, str, List[str]]:
  """(kind, its files' glob, the files) of a resolved span pattern
  (`.../span-3/*`)."""
  kind = span_kind(os.path.dirname(path))
  pattern = f'{path}.{kind}'
  return kind, pattern, sorted(tf.io.gfile.glob(pattern))


def count(source: RatingsSource, path: str) -> int:
  """The ratings of one span's files (CSV data lines; Parquet rows)."""
  kind, pattern, files = _kind_and_files(path)
  if kind == 'parquet':
    return parquet_source.check_parquet(pattern)[1]
  return sum(tf_examples.count_lines(file, source.encoding) - 1
             for file in files)


def read(pipeline: beam.Pipeline, source: RatingsSource,
         path: str) -> beam.PCollection:
  """Every rating of one span's files."""
  kind, pattern, files = _kind_and_files(path)
  if kind == 'parquet':
    return parquet_source.read(pipeline, source, pattern)
  # pylint: disable=no-value-for-parameter
  return tuple(pipeline | f'ReadCsv[{os.path.basename(file)}]' >> (
      csv_source.ReadCsv(file, source.encoding)) for file in files
               ) | 'SpanFiles' >> beam.Flatten()


def side_files(input_base: str) -> List[str]:
  """None: the span's files are the split."""
  del input_base
  return []
