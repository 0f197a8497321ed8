"""The TFDS source: a MovieLens ratings config prepared by TFDS (offline from
the GroupLens zip in a manual folder), read as tf.Examples."""

import os
from typing import Dict, Iterable, List, Optional, Tuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import tensorflow as tf

from components import tf_examples
from components.ratings_source import RatingsSource
from components.tf_examples import RatingsSourceError
from trainer_module import features

# Ratings in each TFDS MovieLens config (TFDS's catalog).
TFDS_RATINGS = {
    'movielens/100k-ratings': 100_000,
    'movielens/1m-ratings': 1_000_209,
    'movielens/20m-ratings': 20_000_263,
    'movielens/25m-ratings': 25_000_095,
    'movielens/latest-small-ratings': 100_836,
}

# Serialized examples parsed per TensorFlow call when reading user times.
_PARSE_BATCH_SIZE = 65536

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



class RenameTfdsExample(beam.DoFn):
  """A TFDS-encoded serialized tf.Example -> ours, serialized canonically
  (map entries sorted): class labels written as their names, features the
  pipeline does not know dropped. As bytes, ExampleGen's hash split and its
  writer take it as it is, instead of serializing it once each."""

  def __init__(self, class_names: Dict[str, List[str]]):
    self._class_names = class_names

  def process(self, record: bytes) -> Iterable[bytes]:
    example = tf.train.Example.FromString(record)
    feature_map = example.features.feature
    for name in [n for n in feature_map if n not in features.FEATURE_KINDS]:
      del feature_map[name]
    for name, names in self._class_names.items():
      if name in feature_map:
        feature_map[name].CopyFrom(tf_examples.feature('bytes', [
            names[i] for i in feature_map[name].int64_list.value]))
    yield example.SerializeToString(deterministic=True)


def class_names(builder) -> Dict[str, List[str]]:
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
def ReadTfds(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, dataset: str, data_dir: Optional[str],
    manual_dir: Optional[str]) -> beam.PCollection:
  """Every rating of a TFDS MovieLens config, as serialized tf.Examples.

  TFDS prepares tf.Example TFRecords whose features already carry the
  MovieLens names and types; they are read as they are (no decoding to
  numpy), with class-label ids rewritten as their names.
  """
  builder = prepare_tfds_builder(dataset, data_dir, manual_dir)
  files = tfds_record_files(builder)
  return (pipeline
          | 'ListFiles' >> beam.Create(files)
          | 'ReadTfRecords' >> beam.io.ReadAllFromTFRecord()
          | 'ToExample' >> beam.ParDo(RenameTfdsExample(
              class_names(builder))))


def first_ratings_of_file(path: str, timed: bool
                          ) -> List[Tuple[bytes, Optional[int]]]:
  """(user id, earliest timestamp or None) per user of one prepared TFRecord
  file, its two features parsed in batches by TensorFlow (`timed`: the
  config has timestamps): ExampleGen's new-user split makes no examples."""
  spec = {features.USER_ID_KEY: tf.io.FixedLenFeature([], tf.string)}
  if timed:
    spec[features.TIMESTAMP_KEY] = tf.io.FixedLenFeature([], tf.int64)
  batches = [tf.io.parse_example(serialized, spec) for serialized in
             tf.data.TFRecordDataset(path).batch(_PARSE_BATCH_SIZE)]
  if not batches:
    return []
  return tf_examples.first_ratings_of_table(pa.table({
      key: np.concatenate([batch[key].numpy() for batch in batches])
      for key in spec}))


@beam.ptransform_fn
def ReadTfdsUserTimes(  # pylint: disable=invalid-name
    pipeline: beam.Pipeline, dataset: str, data_dir: Optional[str],
    manual_dir: Optional[str]) -> beam.PCollection:
  """(user id, earliest timestamp or None) per user and prepared file of a
  TFDS MovieLens config, from those two features alone."""
  builder = prepare_tfds_builder(dataset, data_dir, manual_dir)
  timed = features.TIMESTAMP_KEY in builder.info.features
  return (pipeline
          | 'ListFiles' >> beam.Create(tfds_record_files(builder))
          | 'FirstRatings' >> beam.FlatMap(first_ratings_of_file, timed))


# ---------------------------------------- the source interface (ratings_source)

FILE_BASED = False  # a versioned dataset TFDS prepares: no files to watch


def split_paths(source: RatingsSource) -> List[str]:
  """The one input split: the config's name."""
  return list(source.paths)


def check(source: RatingsSource) -> Optional[List[str]]:
  """Nothing to check before the run (TFDS prepares it then); None: every
  MovieLens column, timestamps included."""
  del source
  return None


def columns(source: RatingsSource) -> Optional[List[str]]:
  """None: the TFDS config's own columns (`tfds_config`)."""
  del source
  return None


def tfds_config(source: RatingsSource) -> Optional[str]:
  """The config, whose reviewed schema the run uses."""
  return source.paths[0]


def count(source: RatingsSource, path: str) -> int:
  """The config's ratings, from TFDS's catalog."""
  del source
  return TFDS_RATINGS.get(path, 0)


def read(pipeline: beam.Pipeline, source: RatingsSource,
         path: str) -> beam.PCollection:
  """ReadTfds of the config `path` names."""
  return pipeline | 'ReadTfds' >> ReadTfds(  # pylint: disable=no-value-for-parameter
      path, source.data_dir, source.manual_dir)


def user_times(pipeline: beam.Pipeline, source: RatingsSource,
               path: str) -> beam.PCollection:
  """ReadTfdsUserTimes of the config `path` names (for ExampleGen's
  new-user split)."""
  return pipeline | 'ReadTfdsUserTimes' >> ReadTfdsUserTimes(  # pylint: disable=no-value-for-parameter
      path, source.data_dir, source.manual_dir)


def side_files(input_base: str) -> List[str]:
  """None: the dataset is named by its versioned name, not files."""
  del input_base
  return []
