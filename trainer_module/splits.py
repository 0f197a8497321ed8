"""Reading the Trainer's splits (train and validation): ExampleGen's gzipped
tf.Examples, parsed a batch at a time (only the raw features training needs)
and mapped through Transform's graph once, into memory; then batches of them
in a new order each epoch. Transform writes no transformed copy of the data
(`materialize=False`)."""

import dataclasses
import functools
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import features
from trainer_module import tracing

USER_KEY = features.transformed_name(features.USER_ID_KEY)
MOVIE_KEY = features.transformed_name(features.MOVIE_TITLE_KEY)

# Dataset.map converts its function with AutoGraph, which here has no
# Python control flow to convert: AutoGraph took 3.6 of the 4.0 s the
# Trainer spent loading MovieLens 100k's train split (Transform's layer),
# so the functions below are traced as plain Python.

LOAD_BATCH_SIZE = 65_536  # examples parsed and transformed at a time
READ_BUFFER_BYTES = 1 << 20  # per TFRecord file being read
RECORD_KEY_BUCKETS = (1 << 63) - 1  # a record's key: its fingerprint


def split_files(file_patterns: List[str], required: bool = True
                ) -> List[str]:
  """The TFRecord files of a split, sorted (FnArgs gives glob patterns;
  movielens_example_gen.split_pattern gives an Examples artifact's).
  Raises if none match, unless not `required` (an empty split)."""
  files = sorted(f for pattern in file_patterns
                 for f in tf.io.gfile.glob(pattern))
  if not files and required:
    raise ValueError(f'no files match {file_patterns}')
  return files


class SplitParser:
  """Serialized raw tf.Examples -> (the transformed features `keys` and the
  raw integer features `raw_keys`, the label): parses the raw features they
  are computed from (features.TRANSFORM_SOURCES) and applies Transform's
  graph to them. A raw key the data lacks on an example reads -1."""

  def __init__(self, tf_transform_output: tft.TFTransformOutput,
               keys: List[str], raw_keys: Sequence[str] = ()):
    self.keys = list(keys)
    raw_spec = tf_transform_output.raw_feature_spec()
    written = tf_transform_output.transformed_feature_spec()
    missing = [k for k in [*self.keys, features.LABEL_KEY]
               if k not in written]
    if missing:
      raise ValueError(f'Transform computes no {missing}')
    missing = [k for k in raw_keys if k not in raw_spec]
    if missing:
      raise ValueError(f'the raw data has no {missing}')
    self.raw_keys = list(raw_keys)
    self.sources = {
        source: raw_spec[source]
        for key in [*self.keys, features.LABEL_KEY]
        for source in features.TRANSFORM_SOURCES[key] if source in raw_spec}
    self.raw_spec = {**self.sources,
                     **{key: raw_spec[key] for key in self.raw_keys}}
    self._transform = tf_transform_output.transform_features_layer()

  def __call__(self, records: tf.Tensor
               ) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
    raw = tf.io.parse_example(records, self.raw_spec)
    transformed = self._transform({key: raw[key] for key in self.sources})
    columns = {key: transformed[key] for key in self.keys}
    columns.update({key: first_value(raw[key]) for key in self.raw_keys})
    return columns, transformed[features.LABEL_KEY]


def first_value(tensor) -> tf.Tensor:
  """An integer feature's first value per example, [batch] int64; -1 where
  an example has none (a VarLenFeature parses as a SparseTensor)."""
  if isinstance(tensor, tf.SparseTensor):
    tensor = tf.sparse.to_dense(tensor, default_value=-1)
    tensor = tf.pad(tensor, [[0, 0], [0, 1]], constant_values=-1)
  return tf.cast(tf.reshape(tensor, [tf.shape(tensor)[0], -1])[:, 0],
                 tf.int64)


def compression_of(files: List[str]) -> str:
  """`TFRecordDataset`'s compression_type for a split's files: GZIP when
  each is gzipped ('.gz', as ExampleGen writes them), else none."""
  return 'GZIP' if all(f.endswith('.gz') for f in files) else ''


def read_split(files: List[str], parser: SplitParser,
               batch_size: int) -> tf.data.Dataset:
  """(features, label, record key) batches of a split's raw TFRecords, in
  file order, transformed by `parser` a batch at a time; the key is a
  fingerprint of each serialized record (load_split orders by it).

  TFX's `data_accessor.tf_dataset_factory` decodes whole examples through
  Arrow: 41k examples/s on 2 cores against 800k/s with tf.io.parse_example
  (1M synthetic ratings' transformed train split), so it is not used.
  """
  def parse(records: tf.Tensor):
    x, y = parser(records)
    return x, y, tf.strings.to_hash_bucket_fast(records, RECORD_KEY_BUCKETS)

  dataset = tf.data.TFRecordDataset(files,
                                    compression_type=compression_of(files),
                                    buffer_size=READ_BUFFER_BYTES)
  return dataset.batch(batch_size).map(
      tracing.no_autograph(parse),
      num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def load_split(files: List[str], parser: SplitParser
               ) -> Dict[str, tf.Tensor]:
  """A whole split in memory, transformed once: the parser's features and
  the label, one tensor each, ordered by each record's fingerprint.

  The order is the records' own, not the files': a runner writes a split
  in its own shards and order (the DirectRunner in input order, Flink by
  its workers), and the same examples then train the same model.
  """
  parts, keys = [], []
  for x, y, key in read_split(files, parser, LOAD_BATCH_SIZE):
    parts.append({**x, features.LABEL_KEY: y})
    keys.append(key.numpy())
  if not parts:
    raise ValueError(f'no examples in {files}')
  order = np.argsort(np.concatenate(keys), kind='stable')
  return {key: tf.gather(column, order)
          for key, column in concat(*parts).items()}


def concat(*parts: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """Splits (or batches) in memory, one after the other."""
  return {key: tf.concat([part[key] for part in parts], axis=0)
          for key in parts[0]}


def rows_where(split: Dict[str, tf.Tensor], keep: tf.Tensor
               ) -> Dict[str, tf.Tensor]:
  """The rows of `split` where `keep` ([n] bools) is true, whole."""
  rows = tf.where(keep)[:, 0]
  return {key: tf.gather(column, rows) for key, column in split.items()}


def batches(data: Dict[str, tf.Tensor], keys: List[str], batch_size: int,
            shuffle: bool = False, seed: Optional[int] = None
            ) -> tf.data.Dataset:
  """(features `keys`, label) batches of a split in memory (load_split);
  with `shuffle`, in a new random order each time it is iterated (each
  Keras epoch), else in order. The dataset knows its length.

  Training reads the split from memory: it was transformed once when
  loaded, and an epoch gathers batches of a permutation instead of reading,
  decompressing, parsing and transforming every example again.
  """
  n = int(tf.size(data[features.LABEL_KEY]))
  num_batches = -(-n // batch_size)
  columns = {key: data[key] for key in keys}
  labels = data[features.LABEL_KEY]

  def permutation_batches(epoch_seed: tf.Tensor) -> tf.data.Dataset:
    order = tf.random.experimental.stateless_shuffle(
        tf.range(n, dtype=tf.int64), seed=tf.stack([epoch_seed, 0]))
    return tf.data.Dataset.range(num_batches).map(tracing.no_autograph(
        lambda i: order[i * batch_size:(i + 1) * batch_size]))

  if shuffle:
    indices = tf.data.Dataset.random(
        seed=seed, rerandomize_each_iteration=True).take(1).flat_map(
            tracing.no_autograph(permutation_batches))
  else:
    indices = tf.data.Dataset.range(num_batches).map(tracing.no_autograph(
        lambda i: tf.range(i * batch_size, tf.minimum((i + 1) * batch_size,
                                                      n))))

  def gather(index: tf.Tensor):
    return ({key: tf.gather(column, index) for key, column in
             columns.items()}, tf.gather(labels, index))

  return indices.map(tracing.no_autograph(gather),
                     num_parallel_calls=tf.data.AUTOTUNE).apply(
      tf.data.experimental.assert_cardinality(num_batches)).prefetch(
          tf.data.AUTOTUNE)


@dataclasses.dataclass
class TrainingData:
  """What training reads: the train and validation splits in memory, the
  model's features (`keys`) and the label, transformed once as they were
  read. The Trainer never sees the eval split: it is the Evaluator's."""
  keys: List[str]
  train: Dict[str, tf.Tensor]
  validation: Dict[str, tf.Tensor]

  @functools.cached_property
  def both(self) -> Dict[str, tf.Tensor]:
    """Train then validation, concatenated once (refit, retrieval and the
    rated-movies table read it)."""
    return concat(self.train, self.validation)

  @property
  def train_examples(self) -> int:
    return int(tf.size(self.train[features.LABEL_KEY]))

  @property
  def validation_examples(self) -> int:
    return int(tf.size(self.validation[features.LABEL_KEY]))
