"""Reading the Trainer's splits (train and validation): ExampleGen's gzipped
tf.Examples, parsed a batch at a time (only the raw features training needs)
and mapped through Transform's graph, streamed or loaded whole. Transform
writes no transformed copy of the data (`materialize=False`)."""

from typing import Dict, List, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import features

USER_KEY = features.transformed_name(features.USER_ID_KEY)
MOVIE_KEY = features.transformed_name(features.MOVIE_TITLE_KEY)

# Serialized examples in the training shuffle buffer (~200 MB): a split up
# to this size is shuffled completely every epoch, as the tutorial does; a
# larger one streams through the buffer, from shards in a new order each
# epoch, so memory does not grow with the data.
SHUFFLE_BUFFER = 1_000_000
READ_BUFFER_BYTES = 1 << 20  # per TFRecord file being read
LOAD_BATCH_SIZE = 65_536  # examples parsed at a time to load a split


def split_files(file_patterns: List[str]) -> List[str]:
  """The TFRecord files of a split (FnArgs gives glob patterns)."""
  files = sorted(f for pattern in file_patterns
                 for f in tf.io.gfile.glob(pattern))
  if not files:
    raise ValueError(f'no files match {file_patterns}')
  return files


class SplitParser:
  """Serialized raw tf.Examples -> (the transformed features `keys`, the
  label): parses the raw features they are computed from
  (features.TRANSFORM_SOURCES) and applies Transform's graph to them."""

  def __init__(self, tf_transform_output: tft.TFTransformOutput,
               keys: List[str]):
    self.keys = list(keys)
    raw_spec = tf_transform_output.raw_feature_spec()
    written = tf_transform_output.transformed_feature_spec()
    missing = [k for k in [*self.keys, features.LABEL_KEY]
               if k not in written]
    if missing:
      raise ValueError(f'Transform computes no {missing}')
    self.raw_spec = {
        source: raw_spec[source]
        for key in [*self.keys, features.LABEL_KEY]
        for source in features.TRANSFORM_SOURCES[key] if source in raw_spec}
    self._transform = tf_transform_output.transform_features_layer()

  def __call__(self, records: tf.Tensor
               ) -> Tuple[Dict[str, tf.Tensor], tf.Tensor]:
    transformed = self._transform(tf.io.parse_example(records, self.raw_spec))
    return ({key: transformed[key] for key in self.keys},
            transformed[features.LABEL_KEY])


def read_split(files: List[str], parser: SplitParser, batch_size: int,
               shuffle: bool = False, seed: Optional[int] = None,
               examples: Optional[int] = None) -> tf.data.Dataset:
  """(features, label) batches of a split's raw TFRecords, transformed by
  `parser` a batch at a time. Given the number of `examples`, the dataset
  knows its length (Keras then starts each epoch afresh).

  TFX's `data_accessor.tf_dataset_factory` decodes whole examples through
  Arrow: 41k examples/s on 2 cores against 800k/s with tf.io.parse_example
  (1M synthetic ratings' transformed train split), so it is not used.
  """
  compression = 'GZIP' if all(f.endswith('.gz') for f in files) else ''
  dataset = tf.data.Dataset.from_tensor_slices(files)
  if shuffle:
    dataset = dataset.shuffle(len(files), seed=seed,
                              reshuffle_each_iteration=True)
  dataset = dataset.flat_map(lambda path: tf.data.TFRecordDataset(
      path, compression_type=compression, buffer_size=READ_BUFFER_BYTES))
  if shuffle:
    dataset = dataset.shuffle(SHUFFLE_BUFFER, seed=seed,
                              reshuffle_each_iteration=True)

  dataset = dataset.batch(batch_size).map(
      parser, num_parallel_calls=tf.data.AUTOTUNE)
  if examples is not None:
    dataset = dataset.apply(tf.data.experimental.assert_cardinality(
        -(-examples // batch_size)))
  return dataset.prefetch(tf.data.AUTOTUNE)


def load_split(files: List[str], parser: SplitParser
               ) -> Dict[str, tf.Tensor]:
  """A whole split in memory, features and label (the tuned model builds
  its per-user and per-movie tables from the train split)."""
  batches = [{**x, features.LABEL_KEY: y}
             for x, y in read_split(files, parser, LOAD_BATCH_SIZE)]
  if not batches:
    raise ValueError(f'no examples in {files}')
  return {key: tf.concat([b[key] for b in batches], axis=0)
          for key in batches[0]}
