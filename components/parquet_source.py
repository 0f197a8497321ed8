"""The Parquet source: files (a path or glob) with the CSV's columns, typed
(genres a list of strings). Row groups become tf.Examples in tfx_bsl's C++
encoder, then canonical bytes: the fast way in for large data (README:
"Scale"). ExampleGen takes them a table at a time (`read_tables`): split,
carved and written without a Beam step per rating."""

from typing import Iterator, List, Optional, Tuple

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tensorflow as tf

from components import tf_examples
from components.ratings_source import is_remote
from components.ratings_source import RatingsSource
from components.tf_examples import RatingsSourceError
from trainer_module import features

# The Arrow type each tf.Example kind is encoded from.
_ARROW_TYPES = {'bytes': pa.binary(), 'float': pa.float32(),
                'int64': pa.int64()}


def _arrow_kind(arrow_type: pa.DataType) -> Optional[str]:
  """The tf.Example kind an Arrow column (or list column) can become."""
  if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
    arrow_type = arrow_type.value_type
  if (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
      or pa.types.is_binary(arrow_type)
      or pa.types.is_large_binary(arrow_type)):
    return 'bytes'
  if pa.types.is_floating(arrow_type):
    return 'float'
  if pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type):
    return 'int64'
  return None


def _open(path: str):
  """A seekable file object, as pyarrow needs (GFile is not)."""
  return FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED)


def parquet_files(pattern: str) -> List[str]:
  """The files a Parquet path or glob names, sorted; raises if none."""
  files = sorted(tf.io.gfile.glob(pattern))
  if not files:
    raise RatingsSourceError(f'ratings Parquet {pattern}: no such file')
  return files


def check_parquet(pattern: str) -> Tuple[List[str], int]:
  """Checks the columns, their types and that there is a row; returns the
  column names and the number of rows. Reads only the files' footers."""
  files = parquet_files(pattern)
  rows = 0
  columns: List[str] = []
  for path in files:
    with _open(path) as f:
      parquet_file = pq.ParquetFile(f)
      schema = parquet_file.schema_arrow
      rows += parquet_file.metadata.num_rows
    if columns and schema.names != columns:
      raise RatingsSourceError(
          f'{path}: columns {schema.names} differ from {files[0]}\'s '
          f'{columns}')
    columns = tf_examples.check_columns(path, schema.names)
    for field in schema:
      wanted = features.FEATURE_KINDS[field.name]
      kind = _arrow_kind(field.type)
      if kind != wanted and not (wanted == 'float' and kind == 'int64'):
        raise RatingsSourceError(
            f'{path}: column {field.name} is {field.type}; it needs '
            f'{_ARROW_TYPES[wanted]} values (or a list of them)')
  if rows == 0:
    raise RatingsSourceError(f'{pattern}: no ratings (0 rows)')
  return columns, rows


def _feature_lists(column: pa.Array, kind: str) -> pa.ListArray:
  """A column as the list array tfx_bsl encodes: one list per row, empty
  (no feature) where the value is null."""
  if pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
    return column.cast(pa.list_(_ARROW_TYPES[kind]))
  valid = column.is_valid().to_numpy(zero_copy_only=False)
  offsets = np.zeros(len(column) + 1, np.int32)
  np.cumsum(valid, out=offsets[1:])
  return pa.ListArray.from_arrays(
      pa.array(offsets), column.drop_null().cast(_ARROW_TYPES[kind]),
      mask=None if valid.all() else pa.array(~valid))


def parquet_table_to_examples(table: pa.Table,
                              path: str = '<parquet>') -> List[bytes]:
  """Serialized tf.Examples of a table of ratings (column by column in
  Arrow, no per-row Python); raises on a row without a required value."""
  for name in features.REQUIRED_FEATURE_KINDS:
    nulls = table[name].null_count
    if nulls:
      raise RatingsSourceError(f'{path}: {nulls} row(s) have no {name}')
  ratings = table[features.LABEL_KEY]
  if not pc.all(pc.is_finite(ratings.cast(pa.float64()))).as_py():
    raise RatingsSourceError(
        f'{path}: {features.LABEL_KEY} must be finite numbers')
  batch = pa.RecordBatch.from_arrays(
      [_feature_lists(table[name].combine_chunks(),
                      features.FEATURE_KINDS[name])
       for name in table.column_names], table.column_names)
  # ExampleGen's hash split (and the validation split) hash these bytes, so
  # they are canonical (tf_examples.canonical_examples: what tfx_bsl's
  # C++ encoder writes, with the feature map in key order, as protobuf's
  # deterministic serialization gives it): the same rows land in the same
  # splits in every run, and the CSV path writes the same bytes.
  return tf_examples.canonical_examples(batch, features.FEATURE_KINDS)


@beam.ptransform_fn
def ReadParquet(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, pattern: str) -> beam.PCollection:
  """Every row of the Parquet files, as serialized tf.Examples."""
  columns, _ = check_parquet(pattern)
  return (pipeline
          | 'ReadParquet' >> beam.io.ReadFromParquetBatched(
              pattern, columns=columns)
          | 'ToExamples' >> beam.FlatMap(parquet_table_to_examples, pattern))


# The most rows of one element of `ReadTables`: what a Beam worker holds at
# once, whatever the files' row groups.
SLICE_ROWS = 262_144


def row_groups(pattern: str) -> List[Tuple[int, str, int]]:
  """(file number, file, row group) of every row group of the files, in
  the files' sorted order. Reads only the footers."""
  groups = []
  for number, path in enumerate(parquet_files(pattern)):
    with _open(path) as f:
      groups += [(number, path, group) for group in
                 range(pq.ParquetFile(f).metadata.num_row_groups)]
  return groups


def table_slices(group: Tuple[int, str, int], columns: List[str]
                 ) -> Iterator[Tuple[str, pa.Table]]:
  """One row group's rows in slices of at most SLICE_ROWS, each keyed by
  where it is in the files ('file-group-slice'): the same key in every run
  and retry, unique within the files."""
  number, path, group_index = group
  with _open(path) as f:
    table = pq.ParquetFile(f).read_row_group(group_index, columns=columns)
  for start in range(0, max(table.num_rows, 1), SLICE_ROWS):
    yield (f'{number:05d}-{group_index:05d}-{start // SLICE_ROWS:03d}',
           table.slice(start, SLICE_ROWS))


@beam.ptransform_fn
def ReadTables(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, pattern: str) -> beam.PCollection:
  """Every row of the Parquet files, as keyed tables (table_slices), the
  row groups spread over the workers."""
  columns, _ = check_parquet(pattern)
  return (pipeline
          | 'RowGroups' >> beam.Create(row_groups(pattern))
          | 'Spread' >> beam.Reshuffle()
          | 'Read' >> beam.FlatMap(table_slices, columns))


@beam.ptransform_fn
def ReadUserTimes(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, pattern: str) -> beam.PCollection:
  """(user id, earliest timestamp) per user and row group of the Parquet
  files, from those two columns alone."""
  columns, _ = check_parquet(pattern)
  return (pipeline
          | 'ReadParquet' >> beam.io.ReadFromParquetBatched(
              pattern, columns=[name for name in columns if name in (
                  features.USER_ID_KEY, features.TIMESTAMP_KEY)])
          | 'FirstRatings' >> beam.FlatMap(tf_examples.first_ratings_of_table))


# ---------------------------------------- the source interface (ratings_source)

FILE_BASED = True


def split_paths(source: RatingsSource) -> List[str]:
  """The path or glob of the Parquet files."""
  return list(source.paths)


def check(source: RatingsSource) -> Optional[List[str]]:
  """Checks local files' columns, types and rows (their footers); the
  columns, None for remote files (read when the component runs)."""
  return None if is_remote(source.paths[0]) else check_parquet(
      source.paths[0])[0]


def columns(source: RatingsSource) -> Optional[List[str]]:
  """The files' columns (their footers; remote files too)."""
  return check_parquet(source.paths[0])[0]


def tfds_config(source: RatingsSource) -> Optional[str]:
  """None: the schema follows the files' columns."""
  del source
  return None


def count(source: RatingsSource, path: str) -> int:
  """The rows of the files, from their footers."""
  del source
  return check_parquet(path)[1]


def read(pipeline: beam.Pipeline, source: RatingsSource,
         path: str) -> beam.PCollection:
  """ReadParquet of `path`."""
  del source
  return pipeline | 'ReadParquet' >> ReadParquet(path)  # pylint: disable=no-value-for-parameter


def read_tables(pipeline: beam.Pipeline, source: RatingsSource,
                path: str) -> beam.PCollection:
  """ReadTables of `path`: ExampleGen's path for Parquet (keyed tables of
  ratings; parquet_table_to_examples makes their examples)."""
  del source
  return pipeline | 'ReadTables' >> ReadTables(path)  # pylint: disable=no-value-for-parameter


def user_ids(table: pa.Table) -> pa.Array:
  """The user id of each row of a table, as bytes."""
  return table[features.USER_ID_KEY].combine_chunks().cast(pa.binary())


def user_times(pipeline: beam.Pipeline, source: RatingsSource,
               path: str) -> beam.PCollection:
  """ReadUserTimes of `path` (for ExampleGen's new-user split)."""
  del source
  return pipeline | 'ReadUserTimes' >> ReadUserTimes(path)  # pylint: disable=no-value-for-parameter


def side_files(input_base: str) -> List[str]:
  """None: the split is its files."""
  del input_base
  return []
