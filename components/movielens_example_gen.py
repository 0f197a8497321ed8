"""MovieLensExampleGen: MovieLens ratings (TFDS, CSV, Parquet or GroupLens's
own files) -> tf.Examples.

A query-based ExampleGen (like BigQueryExampleGen): the standard executor
splits the records by hash (80/20 by default) and writes gzipped TFRecords;
this module only says how one source becomes tf.Examples.

- TFDS source (`dataset='movielens/100k-ratings'`, any `*-ratings` config):
  prepared by TFDS, offline from `manual_dir` when given (the original
  GroupLens zip, checksum-verified by TFDS), then read through Beam.
- CSV source (`ratings_csv=...`): columns `user_id,movie_title,user_rating`
  plus any of the optional columns in `trainer_module.features`; every value
  keeps the type the model expects (ids stay strings). UTF-8 by default (a
  byte-order mark is dropped), or `csv_encoding`.
- Parquet source (`ratings_parquet=...`, a path or glob): the same columns,
  typed. Row groups become tf.Examples in tfx_bsl's C++ encoder, with no
  per-row Python: the fast way in for large data (README: "Scale").
- GroupLens folder (`movielens_dir=...`): an unpacked MovieLens zip read as
  it comes, joined as TFDS joins it (components/grouplens_files.py).
"""

import codecs
import csv
import hashlib
import io
import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import tensorflow as tf

from tfx import types
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import driver
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import proto_utils
from tfx_bsl.coders import example_coder

from components import grouplens_files
from components.beam_runner import is_direct_runner
from components import tf_examples
from components.tf_examples import RatingsSourceError
from components.tf_examples import to_example
from trainer_module import features

TFDS_SCHEME = 'tfds:'
CSV_SCHEME = 'csv:'
PARQUET_SCHEME = 'parquet:'
GROUPLENS_SCHEME = 'grouplens:'  # a ratings file of an unpacked GroupLens zip
MULTI_VALUE_SEPARATOR = '|'  # between genres in a CSV cell, as MovieLens does

MANUAL_DIR_KEY = 'manual_dir'
DATA_DIR_KEY = 'data_dir'
SOURCE_FINGERPRINT_KEY = 'source_fingerprint'
CSV_ENCODING_KEY = 'csv_encoding'


# ---------------------------------------------------------------------- TFDS


_WHAT_TO_DO = (
    'Offline, put the original GroupLens zip (e.g. ml-100k.zip for '
    'movielens/100k-ratings) in a folder and pass --manual-dir FOLDER or set '
    'MOVIELENS_MANUAL_DIR; TFDS checks it against its registered checksum, '
    'so a truncated or modified zip is refused: download it again.')


def prepare_tfds_builder(dataset: str, data_dir: Optional[str],
                         manual_dir: Optional[str]):
  """Returns the TFDS builder of `dataset`, prepared (downloaded once)."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  if not dataset.startswith('movielens/') or not dataset.endswith('-ratings'):
    raise RatingsSourceError(
        f'dataset {dataset!r} is not a MovieLens ratings config; use one of '
        'movielens/100k-ratings, 1m-ratings, 20m-ratings, 25m-ratings, '
        'latest-small-ratings')
  builder = tfds.builder(dataset, data_dir=data_dir or None)
  download_config = tfds.download.DownloadConfig(
      manual_dir=manual_dir or None)
  try:
    builder.download_and_prepare(download_config=download_config)
  except Exception as error:  # pylint: disable=broad-except
    raise RatingsSourceError(
        f'TFDS could not prepare {dataset}: {type(error).__name__}: {error}. '
        + _WHAT_TO_DO) from error
  return builder



class _RenameTfdsExample(beam.DoFn):
  """A TFDS-encoded tf.Example -> ours: class labels written as their names,
  features the pipeline does not know dropped."""

  def __init__(self, class_names: Dict[str, List[str]]):
    self._class_names = class_names

  def process(self, example: tf.train.Example) -> Iterable[tf.train.Example]:
    feature_map = example.features.feature
    for name in [n for n in feature_map if n not in features.FEATURE_KINDS]:
      del feature_map[name]
    for name, names in self._class_names.items():
      if name in feature_map:
        feature_map[name].CopyFrom(tf_examples.feature('bytes', [
            names[i] for i in feature_map[name].int64_list.value]))
    yield example


def _class_names(builder) -> Dict[str, List[str]]:
  """Names of the ClassLabel features (and sequences of them) of a dataset."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  names = {}
  for name, feature in builder.info.features.items():
    if isinstance(feature, tfds.features.Sequence):
      feature = feature.feature
    if isinstance(feature, tfds.features.ClassLabel):
      names[name] = list(feature.names)
  return names


def tfds_record_files(builder) -> List[str]:
  """The prepared TFRecord files of the builder's only split, 'train'."""
  file_format = builder.info.file_format
  if file_format is not None and file_format.value != 'tfrecord':
    raise RatingsSourceError(
        f'{builder.info.full_name} is prepared as {file_format.value}; '
        'prepare it as tfrecord (the TFDS default) in --tfds-data-dir')
  return [os.fspath(path) for path in builder.info.splits['train'].filepaths]


@beam.ptransform_fn
def _ReadTfds(pipeline: beam.Pipeline, dataset: str, data_dir: Optional[str],
              manual_dir: Optional[str]) -> beam.PCollection:
  """Every rating of a TFDS MovieLens config, as tf.Examples.

  TFDS prepares tf.Example TFRecords whose features already carry the
  MovieLens names and types; they are read as they are (no decoding to
  numpy), with class-label ids rewritten as their names.
  """
  builder = prepare_tfds_builder(dataset, data_dir, manual_dir)
  files = tfds_record_files(builder)
  return (pipeline
          | 'ListFiles' >> beam.Create(files)
          | 'ReadTfRecords' >> beam.io.ReadAllFromTFRecord(
              coder=beam.coders.ProtoCoder(tf.train.Example))
          | 'ToExample' >> beam.ParDo(_RenameTfdsExample(
              _class_names(builder))))


# ----------------------------------------------------------------------- CSV


def check_columns(path: str, columns: List[str]) -> List[str]:
  """Checks a source's column names against the features ExampleGen knows."""
  missing = [c for c in features.REQUIRED_FEATURE_KINDS if c not in columns]
  if missing:
    raise RatingsSourceError(
        f'{path}: header {columns} lacks required column(s) {missing}; '
        f'expected {list(features.REQUIRED_FEATURE_KINDS)} plus optional '
        f'{list(features.OPTIONAL_FEATURE_KINDS)}')
  unknown = [c for c in columns if c not in features.FEATURE_KINDS]
  if unknown:
    raise RatingsSourceError(
        f'{path}: unknown column(s) {unknown}; allowed optional columns are '
        f'{list(features.OPTIONAL_FEATURE_KINDS)}')
  if len(set(columns)) != len(columns):
    raise RatingsSourceError(f'{path}: duplicate column names in {columns}')
  return columns


def read_csv_header(path: str,
                    encoding: str = tf_examples.DEFAULT_ENCODING) -> List[str]:
  """Checks the header of a ratings CSV and returns its column names (a
  UTF-8 byte-order mark dropped)."""
  if not tf.io.gfile.exists(path):
    raise RatingsSourceError(f'ratings CSV {path} does not exist')
  with tf.io.gfile.GFile(path, 'rb') as f:
    header_line = tf_examples.decode_line(f.readline(), path, 1, encoding)
  columns = next(csv.reader([header_line]), [])
  return check_columns(path, [c.strip() for c in columns])


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
  parts = text.split(MULTI_VALUE_SEPARATOR) if name == 'movie_genres' else [
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
  return to_example(values)


@beam.ptransform_fn
def _ReadCsv(pipeline: beam.Pipeline, path: str,
             encoding: str) -> beam.PCollection:
  """Every data line of a ratings CSV, as tf.Examples."""
  columns = check_csv(path, encoding)
  return (pipeline
          | 'ReadLines' >> beam.io.ReadFromText(
              path, skip_header_lines=1, coder=beam.coders.BytesCoder())
          | 'Decode' >> beam.Map(tf_examples.decode_line, path, None,
                                 encoding)
          | 'DropBlank' >> beam.Filter(lambda line: line.strip() != '')
          | 'ToExample' >> beam.Map(csv_line_to_example, columns, path))


# ------------------------------------------------------------------- Parquet


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
    with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED
                          ) as f:  # seekable, as pyarrow needs (GFile is not)
      parquet_file = pq.ParquetFile(f)
      schema = parquet_file.schema_arrow
      rows += parquet_file.metadata.num_rows
    if columns and schema.names != columns:
      raise RatingsSourceError(
          f'{path}: columns {schema.names} differ from {files[0]}\'s '
          f'{columns}')
    columns = check_columns(path, schema.names)
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
  """Serialized tf.Examples of a table of ratings (C++ encoder, no
  per-row Python); raises on a row without a required value."""
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
  return example_coder.RecordBatchToExamples(batch)


@beam.ptransform_fn
def _ReadParquet(pipeline: beam.Pipeline, pattern: str) -> beam.PCollection:
  """Every row of the Parquet files, as serialized tf.Examples."""
  columns, _ = check_parquet(pattern)
  return (pipeline
          | 'ReadParquet' >> beam.io.ReadFromParquetBatched(
              pattern, columns=columns)
          | 'ToExamples' >> beam.FlatMap(parquet_table_to_examples, pattern))


def _raise_decode_error(path: str, lines_before: int,
                        error: UnicodeDecodeError, encoding: str) -> None:
  """Raises decode_line's error for the line of `error.object` (a chunk of
  the file after `lines_before` lines) that does not decode."""
  data = error.object
  start = data.rfind(b'\n', 0, error.start) + 1
  end = data.find(b'\n', error.start)
  tf_examples.decode_line(data[start:end if end >= 0 else len(data)], path,
                          lines_before + data.count(b'\n', 0, start) + 1,
                          encoding)
  raise RatingsSourceError(f'{path}: not {encoding} text: {error}')


def scan_file(path: str, encoding: Optional[str] = None) -> Tuple[str, int]:
  """Content hash of a file (so a changed file is not served from cache)
  and its number of lines, in one read; given an `encoding`, also checks
  that the file is such text and raises naming the first line that is
  not."""
  digest = hashlib.sha256()
  lines = 0
  decoder = codecs.getincrementaldecoder(encoding)() if encoding else None
  with tf.io.gfile.GFile(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      digest.update(chunk)
      if decoder:
        try:
          decoder.decode(chunk)
        except UnicodeDecodeError as error:
          _raise_decode_error(path, lines, error, encoding)
      lines += chunk.count(b'\n')
  if decoder:
    try:
      decoder.decode(b'', final=True)
    except UnicodeDecodeError as error:
      _raise_decode_error(path, lines, error, encoding)
  return digest.hexdigest(), lines


def fingerprint_files(paths: List[str],
                      encoding: Optional[str] = None) -> str:
  """Content hash of several files, in the given order (each checked to be
  `encoding` text when given)."""
  return ','.join(scan_file(path, encoding)[0] for path in paths)


# -------------------------------------------------------------------- splits


# Ratings in each TFDS MovieLens config (TFDS's catalog).
TFDS_RATINGS = {
    'movielens/100k-ratings': 100_000,
    'movielens/1m-ratings': 1_000_209,
    'movielens/20m-ratings': 20_000_263,
    'movielens/25m-ratings': 25_000_095,
    'movielens/latest-small-ratings': 100_836,
}
SAMPLED_SPLIT_BUCKETS = 1000


def split_config(ratings: Optional[int],
                 eval_max_ratings: Optional[int]) -> example_gen_pb2.Output:
  """Train/eval by hash: 80/20, as the tutorial, while 20% of `ratings`
  is at most `eval_max_ratings`; past that the eval split keeps about
  `eval_max_ratings` (in thousandths of the data) and the rest trains.
  The Evaluator's cost grows with its eval split; a fixed-size sample
  measures RMSE to ~0.003 at 100k ratings."""
  if ratings is None or eval_max_ratings is None or (
      ratings * 0.2 <= eval_max_ratings):
    train_buckets, eval_buckets = 4, 1
  else:
    eval_buckets = max(1, round(SAMPLED_SPLIT_BUCKETS * eval_max_ratings /
                                ratings))
    train_buckets = SAMPLED_SPLIT_BUCKETS - eval_buckets
  return example_gen_pb2.Output(
      split_config=example_gen_pb2.SplitConfig(splits=[
          example_gen_pb2.SplitConfig.Split(name='train',
                                            hash_buckets=train_buckets),
          example_gen_pb2.SplitConfig.Split(name='eval',
                                            hash_buckets=eval_buckets),
      ]))


# ------------------------------------------------------------------ executor


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(Union[tf.train.Example, bytes])
def _RatingsToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                      split_pattern: str) -> beam.PCollection:
  """Reads the source named by `split_pattern` ('tfds:NAME', 'csv:PATH',
  'parquet:PATTERN' or 'grouplens:RATINGS_FILE')."""
  if split_pattern.startswith(TFDS_SCHEME):
    return pipeline | 'ReadTfds' >> _ReadTfds(  # pylint: disable=no-value-for-parameter
        split_pattern[len(TFDS_SCHEME):],
        exec_properties.get(DATA_DIR_KEY),
        exec_properties.get(MANUAL_DIR_KEY))
  if split_pattern.startswith(CSV_SCHEME):
    return pipeline | 'ReadCsv' >> _ReadCsv(  # pylint: disable=no-value-for-parameter
        split_pattern[len(CSV_SCHEME):],
        exec_properties.get(CSV_ENCODING_KEY) or tf_examples.DEFAULT_ENCODING)
  if split_pattern.startswith(GROUPLENS_SCHEME):
    return pipeline | 'ReadGroupLens' >> grouplens_files.ReadGroupLens(  # pylint: disable=no-value-for-parameter
        split_pattern[len(GROUPLENS_SCHEME):])
  if split_pattern.startswith(PARQUET_SCHEME):
    return pipeline | 'ReadParquet' >> _ReadParquet(  # pylint: disable=no-value-for-parameter
        split_pattern[len(PARQUET_SCHEME):])
  raise RatingsSourceError(
      f'unknown ratings source {split_pattern!r}: expected {TFDS_SCHEME}NAME, '
      f'{CSV_SCHEME}PATH, {PARQUET_SCHEME}PATTERN or '
      f'{GROUPLENS_SCHEME}RATINGS_FILE')


@beam.ptransform_fn
def _WriteSplitInOrder(examples: beam.PCollection,
                       output_split_path: str) -> beam.pvalue.PDone:
  """TFX's WriteSplit without its Reshuffle (see Executor)."""
  return (examples
          | 'MaybeSerialize' >> beam.ParDo(write_split.MaybeSerialize())
          | 'Write' >> beam.io.WriteToTFRecord(
              os.path.join(output_split_path,
                           write_split.DEFAULT_TF_RECORD_FILE_NAME),
              file_name_suffix='.gz'))


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """Turns MovieLens ratings into tf.Examples.

  On the DirectRunner the splits are written without TFX's Reshuffle: the
  DirectRunner holds a shuffled PCollection whole in memory (MovieLensExampleGen
  peaked at 5.1 GiB for 1M ratings, ~2 KiB a rating, and would need ~50 GiB
  for 25M). The hash split already spreads the data; the Trainer shuffles.
  Other runners shuffle as TFX does.
  """

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _RatingsToExample

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    if not is_direct_runner(self._beam_pipeline_args):
      return super().Do(input_dict, output_dict, exec_properties)
    # TFX 1.16's BaseExampleGenExecutor.Do, line for line, but writing with
    # _WriteSplitInOrder (tests/test_movielens_example_gen.py checks that
    # both paths give the artifact the same properties).
    self._log_startup(input_dict, output_dict, exec_properties)
    input_config = example_gen_pb2.Input()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.INPUT_CONFIG_KEY],
        input_config)
    output_config = example_gen_pb2.Output()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY],
        output_config)
    examples = output_dict[standard_component_specs.EXAMPLES_KEY]
    artifact_utils.get_single_instance(examples).split_names = (
        artifact_utils.encode_split_names(
            example_gen_utils.generate_output_split_names(input_config,
                                                          output_config)))
    output_file_format = exec_properties.get(
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY,
        example_gen_pb2.FILE_FORMAT_UNSPECIFIED)
    with self._make_beam_pipeline() as pipeline:
      splits = self.GenerateExamplesByBeam(pipeline, exec_properties)
      for split_name, split in splits.items():
        _ = split | f'WriteSplit[{split_name}]' >> _WriteSplitInOrder(  # pylint: disable=no-value-for-parameter
            artifact_utils.get_split_uri(examples, split_name))
    payload_format = exec_properties.get(
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
    for artifact in examples:
      if payload_format:
        examples_utils.set_payload_format(artifact, payload_format)
      if output_file_format:
        examples_utils.set_file_format(
            artifact, write_split.to_file_format_str(output_file_format))


# ----------------------------------------------------------------- component


class MovieLensExampleGenSpec(ComponentSpec):
  """The query-based ExampleGen spec plus where TFDS finds its files."""

  PARAMETERS = {
      **standard_component_specs.QueryBasedExampleGenSpec.PARAMETERS,
      MANUAL_DIR_KEY: ExecutionParameter(type=str, optional=True),
      DATA_DIR_KEY: ExecutionParameter(type=str, optional=True),
      SOURCE_FINGERPRINT_KEY: ExecutionParameter(type=str, optional=True),
      CSV_ENCODING_KEY: ExecutionParameter(type=str, optional=True),
  }
  INPUTS = {}
  OUTPUTS = {
      standard_component_specs.EXAMPLES_KEY:
          ChannelParameter(type=standard_artifacts.Examples),
  }


class MovieLensExampleGen(base_beam_component.BaseBeamComponent):
  """ExampleGen over MovieLens ratings from TFDS, a CSV file, Parquet or an
  unpacked GroupLens folder."""

  SPEC_CLASS = MovieLensExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
  DRIVER_CLASS = driver.QueryBasedDriver

  def __init__(self,
               dataset: Optional[str] = None,
               ratings_csv: Optional[str] = None,
               eval_ratings_csv: Optional[str] = None,
               ratings_parquet: Optional[str] = None,
               movielens_dir: Optional[str] = None,
               movielens_split: Optional[str] = None,
               manual_dir: Optional[str] = None,
               data_dir: Optional[str] = None,
               output_config: Optional[example_gen_pb2.Output] = None,
               eval_max_ratings: Optional[int] = None,
               csv_encoding: str = tf_examples.DEFAULT_ENCODING):
    """Reads `dataset` (a TFDS MovieLens ratings config), `ratings_csv`,
    `ratings_parquet` or `movielens_dir`.

    Args:
      dataset: TFDS name, e.g. 'movielens/100k-ratings'.
      ratings_csv: path of a ratings CSV, instead of `dataset`.
      eval_ratings_csv: path of the eval split's ratings CSV; then
        `ratings_csv` is the train split (no hash split).
      ratings_parquet: path or glob of Parquet files with the CSV's columns
        (typed; genres a list of strings), instead of `dataset`.
      movielens_dir: an unpacked GroupLens MovieLens folder (ml-100k,
        ml-1m, ml-20m, ml-25m, ml-latest-small), instead of `dataset`.
      movielens_split: with a 100k `movielens_dir`, one of its shipped
        train/test pairs ('u1'..'u5', 'ua', 'ub') as train/eval.
      manual_dir: folder holding the original zip, for offline TFDS use.
      data_dir: where TFDS keeps prepared datasets (TFDS default if unset).
      output_config: the splits; default train/eval 80/20 by hash (see
        `split_config`), or the two files' splits.
      eval_max_ratings: caps the default eval split near this many ratings.
      csv_encoding: text encoding of the ratings CSVs (a UTF-8 byte-order
        mark is accepted either way).

    Raises:
      RatingsSourceError: the source is missing, or its header, columns or
        text encoding are wrong (checked here, before anything runs).
    """
    if sum(bool(s) for s in (dataset, ratings_csv, ratings_parquet,
                             movielens_dir)) != 1:
      raise ValueError('give exactly one of dataset, ratings_csv, '
                       'ratings_parquet or movielens_dir')
    if eval_ratings_csv and not ratings_csv:
      raise ValueError('eval_ratings_csv needs ratings_csv (the train split)')
    if movielens_split and not movielens_dir:
      raise ValueError('movielens_split needs movielens_dir')
    csv_encoding = tf_examples.check_encoding(csv_encoding)
    fingerprint = None
    ratings = None
    if eval_ratings_csv or movielens_split:  # given train and eval files
      if movielens_split:
        _, (train, evals) = grouplens_files.ratings_files(movielens_dir,
                                                          movielens_split)
        scheme = GROUPLENS_SCHEME
        fingerprint = fingerprint_files(
            grouplens_files.source_files([train, evals]))
      else:
        train, evals, scheme = ratings_csv, eval_ratings_csv, CSV_SCHEME
        check_csv(train, csv_encoding)  # fail at pipeline build, not mid-run
        check_csv(evals, csv_encoding)
        fingerprint = fingerprint_files([train, evals], csv_encoding)
      input_config = example_gen_pb2.Input(splits=[
          example_gen_pb2.Input.Split(name='train', pattern=scheme + train),
          example_gen_pb2.Input.Split(name='eval', pattern=scheme + evals),
      ])
      output_config = output_config or example_gen_pb2.Output()
    else:
      if ratings_csv:
        check_csv(ratings_csv, csv_encoding)
        fingerprint, lines = scan_file(ratings_csv, csv_encoding)
        ratings = lines - 1  # the header
        source = CSV_SCHEME + ratings_csv
      elif ratings_parquet:
        _, ratings = check_parquet(ratings_parquet)
        fingerprint = fingerprint_files(parquet_files(ratings_parquet))
        source = PARQUET_SCHEME + ratings_parquet
      elif movielens_dir:
        fmt, (path,) = grouplens_files.ratings_files(movielens_dir)
        fingerprint, lines = scan_file(path)
        fingerprint += ',' + fingerprint_files(
            grouplens_files.source_files([path])[1:])
        ratings = lines - int(fmt.header)
        source = GROUPLENS_SCHEME + path
      else:
        ratings = TFDS_RATINGS.get(dataset)
        source = TFDS_SCHEME + dataset
      input_config = example_gen_utils.make_default_input_config(source)
      output_config = output_config or split_config(ratings,
                                                    eval_max_ratings)
    spec = MovieLensExampleGenSpec(
        input_config=input_config,
        output_config=output_config,
        output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
        output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        manual_dir=manual_dir,
        data_dir=data_dir,
        source_fingerprint=fingerprint,
        csv_encoding=(csv_encoding if csv_encoding != 'utf-8' else None),
        examples=types.Channel(type=standard_artifacts.Examples))
    super().__init__(spec=spec)
