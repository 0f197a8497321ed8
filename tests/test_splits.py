"""The Trainer's reader: raw examples parsed for the features training
needs and mapped through Transform's graph (Transform materializes
nothing)."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import features
from trainer_module import splits


@pytest.fixture(scope='module')
def tft_output(transformed_data):
  return tft.TFTransformOutput(transformed_data.transform_output)


def train_files(transformed_data):
  return sorted(glob.glob(os.path.join(transformed_data.examples_uri,
                                       'Split-train', '*')))


def test_every_training_feature_transform_computes_has_its_sources(
    tft_output):
  written = set(tft_output.transformed_feature_spec())
  slices = {features.USER_ACTIVITY_KEY, features.MOVIE_POPULARITY_KEY,
            features.USER_AGE_KEY}
  assert written - slices == set(features.TRANSFORM_SOURCES)


def test_parsing_only_the_sources_gives_what_the_whole_example_gives(
    tft_output, transformed_data):
  keys = [k for k in features.TRANSFORM_SOURCES if k != features.LABEL_KEY]
  parser = splits.SplitParser(tft_output, keys)
  assert set(splits.SplitParser(
      tft_output, [splits.USER_KEY, splits.MOVIE_KEY]).raw_spec) == {
          features.USER_ID_KEY, features.MOVIE_TITLE_KEY, features.LABEL_KEY}
  files = train_files(transformed_data)
  loaded = splits.load_split(files, parser)
  records = tf.concat(list(tf.data.TFRecordDataset(
      files, compression_type='GZIP').batch(1_000_000)), axis=0)
  whole = tft_output.transform_features_layer()(tf.io.parse_example(
      records, tft_output.raw_feature_spec()))
  order = np.argsort(tf.strings.to_hash_bucket_fast(
      records, splits.RECORD_KEY_BUCKETS).numpy(), kind='stable')
  assert set(loaded) == {*keys, features.LABEL_KEY}
  for key in loaded:
    np.testing.assert_array_equal(loaded[key].numpy(),
                                  whole[key].numpy()[order], err_msg=key)
  assert len(loaded[features.LABEL_KEY]) == len(transformed_data.raw_train)


def test_a_split_loads_the_same_whatever_its_files_and_their_order(
    tft_output, transformed_data, tmp_path):
  """As another runner writes it: other shards, the records in another
  order; the Trainer sees the same examples in the same order."""
  files = train_files(transformed_data)
  records = [r.numpy() for r in tf.data.TFRecordDataset(
      files, compression_type='GZIP')][::-1]
  shards = [str(tmp_path / f'shard-{i}.gz') for i in range(3)]
  for i, shard in enumerate(shards):
    with tf.io.TFRecordWriter(shard, options='GZIP') as writer:
      for record in records[i::3]:
        writer.write(record)
  parser = splits.SplitParser(tft_output, [splits.USER_KEY, splits.MOVIE_KEY])
  ours, theirs = (splits.load_split(f, parser) for f in (files, shards))
  for key in ours:
    np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy(),
                                  err_msg=key)


def test_batches_cover_the_split_once_in_a_new_order_each_epoch(
    tft_output, transformed_data):
  data = splits.load_split(train_files(transformed_data), splits.SplitParser(
      tft_output, [splits.USER_KEY, splits.MOVIE_KEY]))
  n = len(transformed_data.raw_train)
  keys = [splits.USER_KEY]
  shuffled = splits.batches(data, keys, 500, shuffle=True, seed=1)
  assert len(shuffled) == -(-n // 500)

  def epoch(dataset):
    rows = []
    for x, ys in dataset:
      assert set(x) == set(keys)
      rows += zip(x[splits.USER_KEY].numpy().tolist(), ys.numpy().tolist())
    return rows

  first, second = epoch(shuffled), epoch(shuffled)
  in_order = epoch(splits.batches(data, keys, 500))
  assert in_order == list(zip(data[splits.USER_KEY].numpy().tolist(),
                              data[features.LABEL_KEY].numpy().tolist()))
  assert first != second != in_order
  assert sorted(first) == sorted(second) == sorted(in_order)
  # The same seed gives the same epochs.
  again = splits.batches(data, keys, 500, shuffle=True, seed=1)
  assert epoch(again) == first


def test_a_feature_transform_does_not_compute_is_refused(tft_output):
  with pytest.raises(ValueError, match="Transform computes no.*'nope'"):
    splits.SplitParser(tft_output, [splits.USER_KEY, 'nope'])


def test_raw_integer_features_come_along_as_they_are(tft_output,
                                                     transformed_data):
  """A raw key (the Trainer's timestamps) is loaded beside the transformed
  features, in the same order, one value per example."""
  parser = splits.SplitParser(tft_output, [splits.USER_KEY],
                              [features.GENDER_KEY])
  loaded = splits.load_split(train_files(transformed_data), parser)
  assert set(loaded) == {splits.USER_KEY, features.GENDER_KEY,
                         features.LABEL_KEY}
  assert loaded[features.GENDER_KEY].dtype == tf.int64
  assert sorted(loaded[features.GENDER_KEY].numpy().tolist()) == sorted(
      int(row[features.GENDER_KEY]) for row in transformed_data.raw_train)
  with pytest.raises(ValueError, match="raw data has no.*'timestamp'"):
    splits.SplitParser(tft_output, [splits.USER_KEY],
                       [features.TIMESTAMP_KEY])


def test_an_optional_raw_feature_reads_minus_one_where_missing():
  sparse = tf.sparse.SparseTensor([[0, 0], [2, 0]], tf.constant([7, 9],
                                                                tf.int64),
                                  [3, 1])
  assert splits.first_value(sparse).numpy().tolist() == [7, -1, 9]
  empty = tf.sparse.SparseTensor(tf.zeros([0, 2], tf.int64),
                                 tf.zeros([0], tf.int64), [2, 0])
  assert splits.first_value(empty).numpy().tolist() == [-1, -1]
  dense = tf.constant([[4], [5]], tf.int64)
  assert splits.first_value(dense).numpy().tolist() == [4, 5]
