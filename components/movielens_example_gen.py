"""MovieLensExampleGen: MovieLens ratings (TFDS, CSV, Parquet or GroupLens's
own files) -> tf.Examples.

A file-based ExampleGen (like CsvExampleGen): `input_base` is the folder
of the source files and each input split's pattern a file (or glob) in it,
so TFX's file-based driver fingerprints the files when the component runs,
on every orchestrator (on Kubeflow V2 / Vertex too, where it runs before
the cache check); a changed file is never served from cache. The standard
executor splits the records by hash into train and eval (80/20 by default,
or the two files given), then this executor carves `validation` out of
train by a second hash (10% of it by default), moves every rating of the
newest users by sign-up to `new_users` when asked (`new_user_percent`,
data with timestamps: components/new_users.py), and writes gzipped
TFRecords. A source read as tables (Parquet) goes through the same splits
a table at a time, each table's part of a split written to its own file:
no Beam step per rating (`split_tables`). The Trainer fits on train and
validates (early stopping, model selection) on validation; only the
Evaluator reads eval and new_users.
This module holds the component, its executor and the splits. What it
reads is one RatingsSource (components/ratings_source.py); each format is
its own module with the same functions (`SourceModule`):

- TFDS (`RatingsSource.tfds('movielens/100k-ratings')`, any `*-ratings`
  config): components/tfds_source.py;
- a ratings CSV (`RatingsSource.csv(path[, eval_path, encoding])`):
  components/csv_source.py;
- Parquet (`RatingsSource.parquet(path or glob)`):
  components/parquet_source.py;
- an unpacked GroupLens folder (`RatingsSource.grouplens(folder[, split])`):
  components/grouplens_files.py.

What they share (tf.Example building, decoding, file fingerprints):
components/tf_examples.py.
"""

import collections
import dataclasses
import hashlib
import itertools
import json
import os
import uuid
from typing import (Any, Dict, FrozenSet, Iterable, List, Optional, Protocol,
                    Sequence, Tuple, Union)

import apache_beam as beam
from apache_beam.runners.runner import PipelineResult
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf

from tfx import types
from tfx.components.example_gen import base_example_gen_executor
from tfx.components.example_gen import component
from tfx.components.example_gen import driver
from tfx.components.example_gen import utils as example_gen_utils
from tfx.components.example_gen import write_split
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.proto import range_config_pb2
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ComponentSpec
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import io_utils
from tfx.utils import proto_utils

from components import new_users
from components import parquet_source
from components import tf_examples
from components.beam_runner import is_direct_runner
from components.ratings_source import is_remote
from components.ratings_source import RatingsSource
from components.ratings_source import source_module
from components.ratings_source import SPANS
from components.split_names import check_percent
from components.split_names import DEFAULT_VALIDATION_PERCENT
from components.split_names import EVAL_SPLIT
from components.split_names import NEW_USERS_SPLIT
from components.split_names import TRAIN_SPLIT
from components.split_names import VALIDATION_SPLIT
from components.tf_examples import RatingsSourceError
from trainer_module import features

# A source that is not file-based (a TFDS dataset, versioned and prepared
# by the executor) has no files to fingerprint before it runs. This base
# matches no file, so TFX's file-based driver (on Kubeflow V2) gives a
# constant fingerprint too.
NO_FILES_INPUT_BASE = 'tfds:'

RATINGS_SOURCE_KEY = 'ratings_source'  # RatingsSource.to_json()
VALIDATION_PERCENT_KEY = 'validation_percent'
EVAL_MAX_RATINGS_KEY = 'eval_max_ratings'
NEW_USER_PERCENT_KEY = 'new_user_percent'


# -------------------------------------------------------------------- splits


def input_config_of(exec_properties: Dict[str, Any]) -> example_gen_pb2.Input:
  """The component's input_config (JSON in its execution properties)."""
  config = example_gen_pb2.Input()
  proto_utils.json_to_proto(
      exec_properties[standard_component_specs.INPUT_CONFIG_KEY], config)
  return config


def output_config_of(exec_properties: Dict[str, Any]
                     ) -> example_gen_pb2.Output:
  """The component's output_config (JSON in its execution properties)."""
  config = example_gen_pb2.Output()
  proto_utils.json_to_proto(
      exec_properties[standard_component_specs.OUTPUT_CONFIG_KEY], config)
  return config


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


def hash_buckets(records: Sequence[bytes], modulus: int,
                 salt: bytes = b'') -> np.ndarray:
  """int(sha256(salt + record).hexdigest(), 16) % modulus of each record:
  the bucket TFX's hash split (`_PartitionFn`) and validation_partition
  give it, with one hashlib call a record and the 256-bit remainder taken
  in NumPy 32 bits at a time."""
  if not 0 < modulus < 1 << 31:  # the remainder << 32 stays in int64
    raise ValueError(f'hash buckets must be 1 to 2^31, got {modulus}')
  words = np.frombuffer(b''.join(
      [hashlib.sha256(salt + record).digest() for record in records]),
                        '>u4').reshape(-1, 8).astype(np.int64)
  remainder = np.zeros(len(words), np.int64)
  for word in words.T:  # most significant first
    remainder = ((remainder << 32) + word) % modulus
  return remainder


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
                       validation_percent: Optional[int],
                       new_user_percent: Optional[int] = None) -> List[str]:
  """TFX's split names, with 'validation' after 'train' when carved, and
  'new_users' last when set apart."""
  names = example_gen_utils.generate_output_split_names(input_config,
                                                        output_config)
  if validation_percent:
    names.insert(names.index(TRAIN_SPLIT) + 1, VALIDATION_SPLIT)
  if new_user_percent:
    names.append(NEW_USERS_SPLIT)
  return names


def user_and_time(record: Union[tf.train.Example, bytes]
                  ) -> Tuple[bytes, Optional[int]]:
  """(user id, timestamp or None) of a record."""
  example = (record if isinstance(record, tf.train.Example)
             else tf.train.Example.FromString(record))
  feature = example.features.feature  # read with `in`: [] would add a key
  timestamps = (feature[features.TIMESTAMP_KEY].int64_list.value
                if features.TIMESTAMP_KEY in feature else ())
  return (feature[features.USER_ID_KEY].bytes_list.value[0],
          timestamps[0] if timestamps else None)


def earliest(timestamps: Iterable[Optional[int]]) -> Optional[int]:
  """The first of the timestamps given (None when none is)."""
  return min((t for t in timestamps if t is not None), default=None)


def newest_of(user_times: Sequence[beam.PCollection], percent: int
              ) -> beam.PCollection:
  """The newest `percent`% of the users by first rating, over `user_times`
  ((user id, timestamp or None) pairs; new_users.newest_users): one set,
  for a side input."""
  return (tuple(user_times)
          | 'EverySplit' >> beam.Flatten()
          | 'FirstRating' >> beam.CombinePerKey(earliest)
          | 'Users' >> beam.combiners.ToList()
          | 'NewestUsers' >> beam.Map(new_users.newest_users, percent))


# A split as one PCollection, or as parts written into the same folder.
SplitParts = Union[beam.PCollection, Tuple[beam.PCollection, ...], 'Batched']


def carve_new_users(splits: Dict[str, beam.PCollection],
                    new: beam.PCollection) -> Dict[str, SplitParts]:
  """Every rating of the users in `new` (a newest_of set) moved from each
  split to NEW_USERS_SPLIT, whose parts (one per split they came from) are
  written side by side into its folder.

  `new` must not be computed from `splits` themselves: a split that feeds
  its own side input is held whole (in memory, on the DirectRunner) until
  the side input is ready. The executor reads the source a second time for
  it instead, so each split streams from the read to its files.
  The parts are not flattened into one PCollection: on the DirectRunner
  (Beam 2.61, multi-processing) the write after such a Flatten lost runs
  of ratings on large data (bench/results/HISTORY.md; the cause in Beam is
  not pinned down: apache/beam#26190 reports Flatten watermarks in the
  same runner)."""
  kept, moved = {}, []
  for name, split in splits.items():
    kept[name], part = split | f'NewUsersOf[{name}]' >> beam.Partition(
        lambda record, _, newest: int(user_and_time(record)[0] in newest), 2,
        beam.pvalue.AsSingleton(new))
    moved.append(part)
  return {**kept, NEW_USERS_SPLIT: tuple(moved)}


@dataclasses.dataclass(frozen=True)
class Batched:
  """A split whose parts hold (key, serialized examples) batches: the
  table path's, written a batch to a file (_WriteBatch)."""
  parts: Tuple[beam.PCollection, ...]


class _SplitTable(beam.DoFn):
  """A keyed table of ratings (parquet_source.table_slices) as canonical
  tf.Examples, each in the split the record path puts it in: the input
  split's name, or TFX's hash partition when there is one input split
  (the bucket of TFX's _PartitionFn from hash_buckets; _PartitionFn
  itself with a partition_feature_name); `validation` carved out of train
  (validation_partition's bucket); the newest users' ratings in
  NEW_USERS_SPLIT. Yields one (key, examples) batch per split with rows,
  tagged by split: no Beam step per rating."""

  def __init__(self, names: Sequence[str],
               split_config: example_gen_pb2.SplitConfig,
               validation_percent: Optional[int], path: str):
    self._names = list(names)
    self._split_config = split_config
    self._buckets = list(itertools.accumulate(
        split.hash_buckets for split in split_config.splits))
    self._validation_percent = validation_percent
    self._path = path

  def _splits_of(self, records: List[bytes]) -> np.ndarray:
    """The split the record path gives each known user's serialized
    example, as an index into `self._names` (len(self._names): the
    validation split)."""
    if not self._buckets:
      split = np.zeros(len(records), np.int64)
    elif self._split_config.HasField('partition_feature_name'):
      split = np.array([base_example_gen_executor._PartitionFn(  # pylint: disable=protected-access
          tf.train.Example.FromString(record), len(self._buckets),
          self._buckets, self._split_config) for record in records],
                       np.int64)
    else:  # TFX's _PartitionFn: the bucket of the whole record's sha256
      split = np.searchsorted(self._buckets, hash_buckets(
          records, self._buckets[-1]), side='right')
    if self._validation_percent and TRAIN_SPLIT in self._names:
      train = np.flatnonzero(split == self._names.index(TRAIN_SPLIT))
      validation = hash_buckets([records[i] for i in train], 100,
                                _VALIDATION_SALT) < self._validation_percent
      split[train[validation]] = len(self._names)
    return split

  def process(self, keyed: Tuple[str, pa.Table],
              newest: Optional[FrozenSet] = None):
    key, table = keyed
    records = parquet_source.parquet_table_to_examples(table, self._path)
    splits = self._splits_of(records)
    names = [*self._names, VALIDATION_SPLIT, NEW_USERS_SPLIT]
    if newest is not None:
      splits[pc.is_in(parquet_source.user_ids(table), value_set=pa.array(
          list(newest), pa.binary())).to_numpy(zero_copy_only=False)] = (
              len(names) - 1)
    batches = collections.defaultdict(list)
    for index in np.unique(splits):  # an input split may be `validation`
      batches[names[index]] += [records[i]
                                for i in np.flatnonzero(splits == index)]
    for name, batch in batches.items():
      yield beam.pvalue.TaggedOutput(name, (key, batch))


class _WriteBatch(beam.DoFn):
  """Writes each (key, serialized examples) batch to its own gzipped
  TFRecord file in the split's folder, named by the key: a retried batch
  writes the same file again (through a temporary name, so no reader sees
  half of one). Counts the split's examples."""

  def __init__(self, split_path: str, split_name: str, prefix: str):
    self._split_path = split_path
    self._prefix = prefix
    self._split_examples = beam.metrics.Metrics.counter(_COUNTERS, split_name)

  def setup(self):
    tf.io.gfile.makedirs(self._split_path)

  def process(self, batch: Tuple[str, List[bytes]]):
    key, records = batch
    path = os.path.join(self._split_path, f'{self._prefix}-{key}.gz')
    temporary = f'{path}.{uuid.uuid4().hex}.incomplete'
    with tf.io.TFRecordWriter(temporary, 'GZIP') as writer:
      for record in records:
        writer.write(record)
    tf.io.gfile.rename(temporary, path, overwrite=True)
    self._split_examples.inc(len(records))
    return ()  # writes only


# ------------------------------------------------------------------ sources


class SourceModule(Protocol):
  """What each format's module (ratings_source.SOURCE_MODULES) provides."""

  FILE_BASED: bool  # False: no files for TFX's driver to fingerprint

  def split_paths(self, source: RatingsSource) -> List[str]:
    """Each input split's file or glob (train, then eval if given)."""

  def check(self, source: RatingsSource) -> Optional[List[str]]:
    """Cheap checks of local files while the pipeline is built; the
    columns read, None when none were (a release's own columns)."""

  def columns(self, source: RatingsSource) -> Optional[List[str]]:
    """The columns, read cheaply (remote files too); None: a release's."""

  def tfds_config(self, source: RatingsSource) -> Optional[str]:
    """The TFDS config with the same columns (its reviewed schema)."""

  def count(self, source: RatingsSource, path: str) -> int:
    """The ratings an input split holds, before Beam runs."""

  def read(self, pipeline: beam.Pipeline, source: RatingsSource,
           path: str) -> beam.PCollection:
    """Every rating of an input split, as tf.Examples (or their bytes)."""

  def side_files(self, input_base: str) -> List[str]:
    """Files besides the splits' whose changes must re-run ExampleGen."""

  # Optional: user_times(pipeline, source, path), each rating's (user id,
  # timestamp or None) read without making examples (a columnar format's
  # two columns); without it the executor reads the examples again.
  # Optional: read_tables(pipeline, source, path), the ratings as keyed
  # Arrow tables with the CSV's columns (parquet_source.table_slices): the
  # executor then makes their examples (parquet_table_to_examples), splits
  # and writes them a table at a time (split_tables) instead of `read`.


def source_of(exec_properties: Dict[str, Any]) -> RatingsSource:
  """The RatingsSource the component was built with."""
  return RatingsSource.from_json(exec_properties[RATINGS_SOURCE_KEY])


# ------------------------------------------------------------------ executor


def source_path(exec_properties: Dict[str, Any], split_pattern: str) -> str:
  """The file (or glob) an input split names, as the driver fingerprints it
  (TFX joins input_base and the pattern the same way); a source without
  files names it by the pattern itself."""
  if not source_module(source_of(exec_properties)).FILE_BASED:
    return split_pattern
  return os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY],
                      split_pattern)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(Union[tf.train.Example, bytes])
def _RatingsToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                      split_pattern: str) -> beam.PCollection:
  """Reads the ratings one input split names, as its source's module
  does."""
  source = source_of(exec_properties)
  return source_module(source).read(pipeline, source,
                                    source_path(exec_properties, split_pattern))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
def _ReadTables(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                split_pattern: str) -> beam.PCollection:
  """The keyed tables of the ratings one input split names (a source with
  `read_tables`)."""
  source = source_of(exec_properties)
  return source_module(source).read_tables(
      pipeline, source, source_path(exec_properties, split_pattern))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
def _ReadUserTimes(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                   split_pattern: str) -> beam.PCollection:
  """(user id, timestamp or None) of every rating an input split names:
  from the source's own `user_times` where it has one, else from its
  examples."""
  source = source_of(exec_properties)
  module = source_module(source)
  path = source_path(exec_properties, split_pattern)
  if hasattr(module, 'user_times'):
    return module.user_times(pipeline, source, path)
  return (module.read(pipeline, source, path)
          | 'UserAndTime' >> beam.Map(user_and_time))


def count_split(exec_properties: Dict[str, Any], split_pattern: str) -> int:
  """The ratings an input split holds, read before Beam runs; a CSV is
  checked on the way to be text in its encoding, so a bad byte is named by
  its exact line before anything is written."""
  source = source_of(exec_properties)
  return source_module(source).count(
      source, source_path(exec_properties, split_pattern))


def resolved_output_config(exec_properties: Dict[str, Any]
                           ) -> example_gen_pb2.Output:
  """The splits to write: the output_config given, else (one input split)
  80/20 capped by the ratings counted now (`split_config`)."""
  input_config = input_config_of(exec_properties)
  output_config = output_config_of(exec_properties)
  counts = [count_split(exec_properties, split.pattern)
            for split in input_config.splits]
  if output_config.HasField('split_config') or len(counts) > 1 or (
      input_config.splits[0].name == TRAIN_SPLIT):  # a span, all train
    return output_config
  return split_config(counts[0], exec_properties.get(EVAL_MAX_RATINGS_KEY))


# The Examples artifact's custom property holding {split: examples written}
# (a JSON string), counted as they are written: StatisticsGen sizes its
# sample by it, and the run summary reports it.
SPLIT_EXAMPLE_COUNTS_PROPERTY = 'split_example_counts'
_COUNTERS = 'MovieLensExampleGen.split_examples'


def split_pattern(examples: types.Artifact, split: str) -> str:
  """The glob of one split's files in an Examples artifact (for
  trainer_module.splits.split_files)."""
  return os.path.join(artifact_utils.get_split_uri([examples], split), '*')


class _Serialize(write_split.MaybeSerialize):
  """TFX's MaybeSerialize, its features in key order: protobuf's default
  order of a map's entries is not fixed, and the same examples took other
  bytes on Flink than on the DirectRunner."""

  def process(self, e):
    if isinstance(e, (tf.train.Example, tf.train.SequenceExample)):
      e = e.SerializeToString(deterministic=True)
    yield from super().process(e)


class _Count(beam.DoFn):
  """Passes the split's examples on, counting them."""

  def __init__(self, split_name: str):
    self._split_examples = beam.metrics.Metrics.counter(_COUNTERS, split_name)

  def process(self, e):
    self._split_examples.inc(1)
    yield e


def split_counts(result: PipelineResult) -> Dict[str, int]:
  """{split: examples written} from a finished run's counters (a split
  written in parts: the sum of its parts' steps)."""
  counters = result.metrics().query(
      beam.metrics.MetricsFilter().with_namespace(_COUNTERS))['counters']
  counts: Dict[str, int] = collections.Counter()
  for c in counters:
    counts[c.key.metric.name] += int(c.committed if c.committed is not None
                                     else c.attempted)
  return dict(counts)


@beam.ptransform_fn
def _WriteSplit(examples: beam.PCollection, output_split_path: str,
                split_name: str, shuffle: bool,
                file_name: str = write_split.DEFAULT_TF_RECORD_FILE_NAME
                ) -> beam.pvalue.PDone:
  """TFX's WriteSplit (TFRecords), each example's bytes the same in any
  process, counting the split's examples; without its Reshuffle unless
  `shuffle` (see Executor). `file_name`: the files' prefix (a split
  written in parts gives each part its own)."""
  serialized = examples | 'MaybeSerialize' >> beam.ParDo(_Serialize())
  if shuffle:
    serialized = serialized | 'Shuffle' >> beam.Reshuffle()
  return (serialized
          | 'Count' >> beam.ParDo(_Count(split_name))
          | 'Write' >> beam.io.WriteToTFRecord(
              os.path.join(output_split_path, file_name),
              file_name_suffix='.gz'))


def write_empty(split_path: str) -> None:
  """An empty gzipped TFRecord file in a split's folder, as Beam's sink
  writes for a split without examples: readers find the split."""
  tf.io.gfile.makedirs(split_path)
  with tf.io.TFRecordWriter(os.path.join(
      split_path, f'{write_split.DEFAULT_TF_RECORD_FILE_NAME}-empty.gz'),
                            'GZIP'):
    pass


class Executor(base_example_gen_executor.BaseExampleGenExecutor):
  """Turns MovieLens ratings into tf.Examples.

  On the DirectRunner the splits are written without TFX's Reshuffle: the
  DirectRunner holds a shuffled PCollection whole in memory, which grows
  with the data (figures: bench/results/HISTORY.md). The hash split already
  spreads the data; the Trainer shuffles.
  Other runners shuffle as TFX does. A source read as tables is written a
  batch to a file on every runner, without a shuffle: each batch is already
  one large write.
  """

  def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
    return _RatingsToExample

  def GenerateExamplesByBeam(self, pipeline: beam.Pipeline,
                             exec_properties: Dict[str, Any]
                             ) -> Dict[str, SplitParts]:
    """TFX's splits, then `validation` carved out of train, and the new
    users' ratings out of each (in parts: carve_new_users); a source read
    as tables (Parquet) is split a table at a time (split_tables)."""
    if hasattr(source_module(source_of(exec_properties)), 'read_tables'):
      return self.split_tables(pipeline, exec_properties)
    splits = super().GenerateExamplesByBeam(pipeline, exec_properties)
    percent = exec_properties.get(VALIDATION_PERCENT_KEY)
    if percent:
      train, validation = splits[TRAIN_SPLIT] | 'CarveValidation' >> (
          beam.Partition(validation_partition, 2, percent))
      splits = {**splits, TRAIN_SPLIT: train, VALIDATION_SPLIT: validation}
    new_user_percent = exec_properties.get(NEW_USER_PERCENT_KEY)
    if new_user_percent:
      splits = carve_new_users(splits, newest_of(
          self.read_again(pipeline, exec_properties), new_user_percent))
    return splits

  def split_tables(self, pipeline: beam.Pipeline,
                   exec_properties: Dict[str, Any]) -> Dict[str, Batched]:
    """The splits GenerateExamplesByBeam gives, from a source's keyed
    tables (_SplitTable): every split in parts, one per input split."""
    input_config = input_config_of(exec_properties)
    output_config = output_config_of(exec_properties)
    names = example_gen_utils.generate_output_split_names(input_config,
                                                          output_config)
    percent = exec_properties.get(VALIDATION_PERCENT_KEY)
    new_user_percent = exec_properties.get(NEW_USER_PERCENT_KEY)
    newest = ([beam.pvalue.AsSingleton(newest_of(
        self.read_again(pipeline, exec_properties), new_user_percent))]
              if new_user_percent else [])
    hashed = bool(output_config.split_config.splits)
    parts = collections.defaultdict(list)
    for index, split in enumerate(input_config.splits):
      path = source_path(exec_properties, split.pattern)
      tagged = (
          pipeline
          | f'InputToTables[{split.name}]' >> _ReadTables(  # pylint: disable=no-value-for-parameter
              exec_properties, split.pattern)
          | f'SplitTables[{split.name}]' >> beam.ParDo(
              _SplitTable(names if hashed else [names[index]],
                          output_config.split_config, percent, path),
              *newest).with_outputs())
      for name in output_split_names(input_config, output_config, percent,
                                     new_user_percent):
        parts[name].append(tagged[name])
    return {name: Batched(tuple(split_parts))
            for name, split_parts in parts.items()}

  def read_again(self, pipeline: beam.Pipeline,
                 exec_properties: Dict[str, Any]) -> List[beam.PCollection]:
    """Every input split's (user id, timestamp) pairs, read a second time
    (carve_new_users says why)."""
    input_config = input_config_of(exec_properties)
    # pylint: disable=no-value-for-parameter
    return [pipeline | f'ReadForNewUsers[{split.name}]' >> _ReadUserTimes(
        exec_properties, split.pattern) for split in input_config.splits]

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    # TFX 1.16's BaseExampleGenExecutor.Do, line for line, but resolving
    # the splits, naming the validation split and writing with _WriteSplit
    # (tests/test_movielens_example_gen.py checks that it gives the
    # artifact the properties TFX's Do gives).
    self._log_startup(input_dict, output_dict, exec_properties)
    input_config = input_config_of(exec_properties)
    # The eval cap needs the size of the source: counted here, at run time.
    output_config = resolved_output_config(exec_properties)
    exec_properties = {
        **exec_properties,
        standard_component_specs.OUTPUT_CONFIG_KEY:
            proto_utils.proto_to_json(output_config)}
    examples = output_dict[standard_component_specs.EXAMPLES_KEY]
    artifact_utils.get_single_instance(examples).split_names = (
        artifact_utils.encode_split_names(output_split_names(
            input_config, output_config,
            exec_properties.get(VALIDATION_PERCENT_KEY),
            exec_properties.get(NEW_USER_PERCENT_KEY))))
    output_file_format = exec_properties.get(
        standard_component_specs.OUTPUT_FILE_FORMAT_KEY,
        example_gen_pb2.FILE_FORMAT_UNSPECIFIED)
    direct = is_direct_runner(self._beam_pipeline_args)
    with self._make_beam_pipeline() as pipeline:
      splits = self.GenerateExamplesByBeam(pipeline, exec_properties)
      for split_name, split in splits.items():
        path = artifact_utils.get_split_uri(examples, split_name)
        # pylint: disable=no-value-for-parameter
        if isinstance(split, Batched):  # split_tables
          for i, part in enumerate(split.parts):
            _ = part | f'WriteSplit[{split_name}][{i}]' >> beam.ParDo(
                _WriteBatch(path, split_name,
                            f'{write_split.DEFAULT_TF_RECORD_FILE_NAME}-part{i}'))
        elif isinstance(split, tuple):  # parts (carve_new_users)
          for i, part in enumerate(split):
            _ = part | f'WriteSplit[{split_name}][{i}]' >> _WriteSplit(
                path, split_name, shuffle=not direct,
                file_name=f'{write_split.DEFAULT_TF_RECORD_FILE_NAME}-part{i}')
        else:
          _ = split | f'WriteSplit[{split_name}]' >> _WriteSplit(
              path, split_name, shuffle=not direct)
    counts = split_counts(pipeline.result)
    for split_name, split in splits.items():
      if isinstance(split, Batched) and not counts.get(split_name):
        write_empty(artifact_utils.get_split_uri(examples, split_name))
    payload_format = exec_properties.get(
        standard_component_specs.OUTPUT_DATA_FORMAT_KEY)
    for artifact in examples:
      artifact.set_string_custom_property(
          SPLIT_EXAMPLE_COUNTS_PROPERTY,
          json.dumps({split: counts.get(split, 0) for split in
                      artifact_utils.decode_split_names(
                          artifact.split_names)}))
      if payload_format:
        examples_utils.set_payload_format(artifact, payload_format)
      if output_file_format:
        examples_utils.set_file_format(
            artifact, write_split.to_file_format_str(output_file_format))


# ----------------------------------------------------------------- component


class MovieLensExampleGenSpec(ComponentSpec):
  """The file-based ExampleGen spec plus the RatingsSource, the validation
  and new-user shares and the eval cap."""

  PARAMETERS = {
      **standard_component_specs.FileBasedExampleGenSpec.PARAMETERS,
      RATINGS_SOURCE_KEY: ExecutionParameter(type=str),
      VALIDATION_PERCENT_KEY: ExecutionParameter(type=int, optional=True),
      EVAL_MAX_RATINGS_KEY: ExecutionParameter(type=int, optional=True),
      NEW_USER_PERCENT_KEY: ExecutionParameter(type=int, optional=True),
  }
  INPUTS = {}
  OUTPUTS = {
      standard_component_specs.EXAMPLES_KEY:
          ChannelParameter(type=standard_artifacts.Examples),
  }


class SourceDriver(driver.FileBasedDriver):
  """TFX's file-based driver (span, version and a fingerprint of the input
  files, taken when the component runs, before the cache is looked up),
  which also fingerprints the files a source's splits are joined with (a
  GroupLens folder's movies and users files) and names a source without
  files (a TFDS dataset) by its (versioned) name."""

  def resolve_exec_properties(self, exec_properties: Dict[str, Any],
                              pipeline_info, component_info
                              ) -> Dict[str, Any]:
    module = source_module(source_of(exec_properties))
    if not module.FILE_BASED:
      input_config = input_config_of(exec_properties)
      exec_properties[example_gen_utils.SPAN_PROPERTY_NAME] = 0
      exec_properties[example_gen_utils.VERSION_PROPERTY_NAME] = None
      exec_properties[example_gen_utils.FINGERPRINT_PROPERTY_NAME] = (
          NO_FILES_INPUT_BASE + ','.join(s.pattern
                                         for s in input_config.splits))
      return exec_properties
    exec_properties = super().resolve_exec_properties(
        exec_properties, pipeline_info, component_info)
    base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    exec_properties[example_gen_utils.FINGERPRINT_PROPERTY_NAME] += ''.join(
        '\n' + io_utils.generate_fingerprint(name, os.path.join(base, name))
        for name in module.side_files(base))
    return exec_properties


def input_base_and_patterns(paths: Sequence[str]) -> Tuple[str, List[str]]:
  """The deepest folder holding every path (or glob), and each path
  relative to it: TFX's `input_base` and split patterns. Local paths are
  made absolute, so the component does not depend on where it runs."""
  paths = [p if is_remote(p) else os.path.abspath(p) for p in paths]
  parts = [p.split('/') for p in paths]
  common = os.path.commonprefix([p[:-1] for p in parts])
  # TFX's placeholders ({SPAN}, {VERSION}) belong in the pattern.
  common = common[:next((i for i, part in enumerate(common) if '{' in part),
                        len(common))]
  return ('/'.join(common) or '/',
          ['/'.join(p[len(common):]) for p in parts])


def input_config_for(patterns: Sequence[str],
                     spans: bool = False) -> example_gen_pb2.Input:
  """One input split (hash-split later), or two: the given train and eval;
  a span is all train (the newest span is the pipeline's eval data)."""
  if spans:
    return example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=TRAIN_SPLIT, pattern=patterns[0])])
  if len(patterns) == 2:
    return example_gen_pb2.Input(splits=[
        example_gen_pb2.Input.Split(name=TRAIN_SPLIT, pattern=patterns[0]),
        example_gen_pb2.Input.Split(name=EVAL_SPLIT, pattern=patterns[1]),
    ])
  return example_gen_utils.make_default_input_config(patterns[0])


def has_timestamps(source: RatingsSource) -> bool:
  """Whether the ratings have a timestamp column, checking local files
  (cheaply) on the way; assumed for a release's own columns and remote
  files."""
  columns = source_module(source).check(source)
  return columns is None or features.TIMESTAMP_KEY in columns


class MovieLensExampleGen(component.FileBasedExampleGen):
  """ExampleGen over MovieLens ratings from one RatingsSource: TFDS, a CSV
  file, Parquet or an unpacked GroupLens folder."""

  SPEC_CLASS = MovieLensExampleGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
  DRIVER_CLASS = SourceDriver

  def __init__(self,  # pylint: disable=super-init-not-called
               source: RatingsSource,
               output_config: Optional[example_gen_pb2.Output] = None,
               eval_max_ratings: Optional[int] = None,
               validation_percent: int = DEFAULT_VALIDATION_PERCENT,
               new_user_percent: int = 0,
               split_spans: bool = False):
    """Reads `source`.

    Local files are checked here (columns, a first rating, the GroupLens
    folder's files), cheaply: nothing reads a whole file or a bucket while
    the pipeline is built or compiled. The files are fingerprinted, counted
    and decoded when the component runs.

    Args:
      source: the ratings (components/ratings_source.py).
      output_config: the splits; default train/eval 80/20 by hash (see
        `split_config`), or the two files' splits.
      eval_max_ratings: caps the default eval split near this many ratings.
      validation_percent: the share of the train split (after the eval
        split is set apart, or of the train file when eval is given) written
        as the `validation` split instead; 0 writes none.
      new_user_percent: the newest users by first rating (this share of
        them) have every rating moved to the `new_users` split, when the
        data has timestamps (a local CSV or Parquet without a `timestamp`
        column gets none; TFDS's and GroupLens's always have them); 0:
        none.
      split_spans: a span (a folder of spans) is split train/eval by hash,
        as any other input; by default it is all train and validation (the
        pipeline evaluates on the newest span: components/span_window.py),
        and no new users are carved (the next span's are the new ones).

    Raises:
      RatingsSourceError: a local source is missing, or its header, columns
        or files are wrong (checked here, before anything runs).
    """
    check_percent('validation_percent', validation_percent)
    check_percent('new_user_percent', new_user_percent)
    tf_examples.check_encoding(source.encoding)
    module = source_module(source)
    spans = source.format == SPANS and not split_spans
    timestamps = has_timestamps(source) and not spans
    if module.FILE_BASED:
      input_base, patterns = input_base_and_patterns(
          module.split_paths(source))
    else:
      input_base, patterns = NO_FILES_INPUT_BASE, module.split_paths(source)
    spec = MovieLensExampleGenSpec(
        input_base=input_base,
        input_config=input_config_for(patterns, spans),
        output_config=output_config or example_gen_pb2.Output(),
        range_config=range_config_pb2.RangeConfig(
            static_range=range_config_pb2.StaticRange(
                start_span_number=source.span,
                end_span_number=source.span)
        ) if source.span is not None else None,
        output_data_format=example_gen_pb2.FORMAT_TF_EXAMPLE,
        output_file_format=example_gen_pb2.FORMAT_TFRECORDS_GZIP,
        ratings_source=source.to_json(),
        validation_percent=validation_percent or None,
        eval_max_ratings=eval_max_ratings,
        new_user_percent=(new_user_percent or None) if timestamps else None,
        examples=types.Channel(type=standard_artifacts.Examples))
    base_beam_component.BaseBeamComponent.__init__(self, spec=spec)
