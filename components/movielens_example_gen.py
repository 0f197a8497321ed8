"""MovieLensExampleGen: MovieLens ratings (TFDS, CSV, Parquet or GroupLens's
own files) -> tf.Examples.

A query-based ExampleGen (like BigQueryExampleGen): the standard executor
splits the records by hash into train and eval (80/20 by default, or the
two files given), then this executor carves `validation` out of train by
a second hash (10% of it by default), and writes gzipped TFRecords. The
Trainer fits on train and validates (early stopping, model selection) on
validation; only the Evaluator reads eval.
This module holds the component, its executor and the splits; each source
has its own module:

- TFDS (`dataset='movielens/100k-ratings'`, any `*-ratings` config):
  components/tfds_source.py;
- a ratings CSV (`ratings_csv=...`, UTF-8 or `csv_encoding`):
  components/csv_source.py;
- Parquet (`ratings_parquet=...`, a path or glob): components/parquet_source.py;
- an unpacked GroupLens folder (`movielens_dir=...`):
  components/grouplens_files.py.

What they share (tf.Example building, decoding, file fingerprints):
components/tf_examples.py.
"""

import hashlib
import os
from typing import Any, Dict, List, Optional, Union

import apache_beam as beam
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

from components import csv_source
from components import grouplens_files
from components import parquet_source
from components import tf_examples
from components import tfds_source
from components.beam_runner import is_direct_runner
from components.tf_examples import RatingsSourceError

TFDS_SCHEME = 'tfds:'
CSV_SCHEME = 'csv:'
PARQUET_SCHEME = 'parquet:'
GROUPLENS_SCHEME = 'grouplens:'  # a ratings file of an unpacked GroupLens zip

MANUAL_DIR_KEY = 'manual_dir'
DATA_DIR_KEY = 'data_dir'
SOURCE_FINGERPRINT_KEY = 'source_fingerprint'
CSV_ENCODING_KEY = 'csv_encoding'
VALIDATION_PERCENT_KEY = 'validation_percent'

TRAIN_SPLIT = 'train'
VALIDATION_SPLIT = 'validation'
EVAL_SPLIT = 'eval'
DEFAULT_VALIDATION_PERCENT = 10  # of the train split


# -------------------------------------------------------------------- splits


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
          example_gen_pb2.SplitConfig.Split(name=TRAIN_SPLIT,
                                            hash_buckets=train_buckets),
          example_gen_pb2.SplitConfig.Split(name=EVAL_SPLIT,
                                            hash_buckets=eval_buckets),
      ]))


# Salt of the validation hash, so that it does not follow the train/eval
# hash's buckets.
_VALIDATION_SALT = b'validation:'


def validation_partition(record: Union[tf.train.Example, bytes],
                         num_partitions: int, percent: int) -> int:
  """1 (validation) for about `percent`% of the train records, else 0:
  by the sha256 of the serialized record, as TFX's hash split."""
  del num_partitions  # always 2
  key = (record if isinstance(record, bytes)
         else record.SerializeToString(deterministic=True))
  bucket = int(hashlib.sha256(_VALIDATION_SALT + key).hexdigest(), 16) % 100
  return int(bucket < percent)


def output_split_names(input_config: example_gen_pb2.Input,
                       output_config: example_gen_pb2.Output,
                       validation_percent: Optional[int]) -> List[str]:
  """TFX's split names, with 'validation' after 'train' when carved."""
  names = example_gen_utils.generate_output_split_names(input_config,
                                                        output_config)
  if validation_percent:
    names.insert(names.index(TRAIN_SPLIT) + 1, VALIDATION_SPLIT)
  return names


# ------------------------------------------------------------------ executor


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(Union[tf.train.Example, bytes])
def _RatingsToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                      split_pattern: str) -> beam.PCollection:
  """Reads the source named by `split_pattern` ('tfds:NAME', 'csv:PATH',
  'parquet:PATTERN' or 'grouplens:RATINGS_FILE')."""
  if split_pattern.startswith(TFDS_SCHEME):
    return pipeline | 'ReadTfds' >> tfds_source.ReadTfds(  # pylint: disable=no-value-for-parameter
        split_pattern[len(TFDS_SCHEME):],
        exec_properties.get(DATA_DIR_KEY),
        exec_properties.get(MANUAL_DIR_KEY))
  if split_pattern.startswith(CSV_SCHEME):
    return pipeline | 'ReadCsv' >> csv_source.ReadCsv(  # pylint: disable=no-value-for-parameter
        split_pattern[len(CSV_SCHEME):],
        exec_properties.get(CSV_ENCODING_KEY) or tf_examples.DEFAULT_ENCODING)
  if split_pattern.startswith(GROUPLENS_SCHEME):
    return pipeline | 'ReadGroupLens' >> grouplens_files.ReadGroupLens(  # pylint: disable=no-value-for-parameter
        split_pattern[len(GROUPLENS_SCHEME):])
  if split_pattern.startswith(PARQUET_SCHEME):
    return pipeline | 'ReadParquet' >> parquet_source.ReadParquet(  # pylint: disable=no-value-for-parameter
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

  def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                             exec_properties: Dict[str, Any]
                             ) -> Dict[str, beam.PCollection]:
    """TFX's splits, then `validation` carved out of train."""
    splits = super().GenerateExamplesByBeam(pipeline, exec_properties)
    percent = exec_properties.get(VALIDATION_PERCENT_KEY)
    if not percent:
      return splits
    train, validation = splits[TRAIN_SPLIT] | 'CarveValidation' >> (
        beam.Partition(validation_partition, 2, percent))
    return {**splits, TRAIN_SPLIT: train, VALIDATION_SPLIT: validation}

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    # TFX 1.16's BaseExampleGenExecutor.Do, line for line, but naming the
    # validation split and, on the DirectRunner, writing with
    # _WriteSplitInOrder (tests/test_movielens_example_gen.py checks that
    # it gives the artifact the properties TFX's Do gives).
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
        artifact_utils.encode_split_names(output_split_names(
            input_config, output_config,
            exec_properties.get(VALIDATION_PERCENT_KEY))))
    output_file_format = exec_properties.get(
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY,
        example_gen_pb2.FILE_FORMAT_UNSPECIFIED)
    direct = is_direct_runner(self._beam_pipeline_args)
    with self._make_beam_pipeline() as pipeline:
      splits = self.GenerateExamplesByBeam(pipeline, exec_properties)
      for split_name, split in splits.items():
        path = artifact_utils.get_split_uri(examples, split_name)
        # pylint: disable=no-value-for-parameter
        _ = split | f'WriteSplit[{split_name}]' >> (
            _WriteSplitInOrder(path) if direct else write_split.WriteSplit(
                path, output_file_format, exec_properties))
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
      VALIDATION_PERCENT_KEY: ExecutionParameter(type=int, optional=True),
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
               csv_encoding: str = tf_examples.DEFAULT_ENCODING,
               validation_percent: int = DEFAULT_VALIDATION_PERCENT):
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
      validation_percent: the share of the train split (after the eval
        split is set apart, or of `ratings_csv` / the base file when eval
        is given) written as the `validation` split instead; 0 writes none.

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
    if not 0 <= validation_percent <= 50:
      raise ValueError('validation_percent must be between 0 and 50, not '
                       f'{validation_percent}')
    csv_encoding = tf_examples.check_encoding(csv_encoding)
    fingerprint = None
    ratings = None
    if eval_ratings_csv or movielens_split:  # given train and eval files
      if movielens_split:
        _, (train, evals) = grouplens_files.ratings_files(movielens_dir,
                                                          movielens_split)
        scheme = GROUPLENS_SCHEME
        fingerprint = tf_examples.fingerprint_files(
            grouplens_files.source_files([train, evals]))
      else:
        train, evals, scheme = ratings_csv, eval_ratings_csv, CSV_SCHEME
        csv_source.check_csv(train, csv_encoding)  # fail at pipeline build, not mid-run
        csv_source.check_csv(evals, csv_encoding)
        fingerprint = tf_examples.fingerprint_files([train, evals], csv_encoding)
      input_config = example_gen_pb2.Input(splits=[
          example_gen_pb2.Input.Split(name=TRAIN_SPLIT, pattern=scheme + train),
          example_gen_pb2.Input.Split(name=EVAL_SPLIT, pattern=scheme + evals),
      ])
      output_config = output_config or example_gen_pb2.Output()
    else:
      if ratings_csv:
        csv_source.check_csv(ratings_csv, csv_encoding)
        fingerprint, lines = tf_examples.scan_file(ratings_csv, csv_encoding)
        ratings = lines - 1  # the header
        source = CSV_SCHEME + ratings_csv
      elif ratings_parquet:
        _, ratings = parquet_source.check_parquet(ratings_parquet)
        fingerprint = tf_examples.fingerprint_files(parquet_source.parquet_files(ratings_parquet))
        source = PARQUET_SCHEME + ratings_parquet
      elif movielens_dir:
        fmt, (path,) = grouplens_files.ratings_files(movielens_dir)
        fingerprint, lines = tf_examples.scan_file(path)
        fingerprint += ',' + tf_examples.fingerprint_files(
            grouplens_files.source_files([path])[1:])
        ratings = lines - int(fmt.header)
        source = GROUPLENS_SCHEME + path
      else:
        ratings = tfds_source.TFDS_RATINGS.get(dataset)
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
        validation_percent=validation_percent or None,
        examples=types.Channel(type=standard_artifacts.Examples))
    super().__init__(spec=spec)
