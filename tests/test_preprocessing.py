"""preprocessing_fn, run by tft_beam on generated ratings."""

import collections

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import features
from trainer_module import preprocessing


@pytest.fixture(scope='module')
def tft_output(transformed_data):
  return tft.TFTransformOutput(transformed_data.transform_output)


@pytest.mark.parametrize('key', features.VOCABULARY_FEATURE_KEYS)
def test_vocabulary_is_every_train_value_most_frequent_first(
    tft_output, transformed_data, key):
  counts = collections.Counter(r[key] for r in transformed_data.raw_train)
  vocabulary = [v.decode() for v in tft_output.vocabulary_by_name(
      features.vocabulary_name(key))]
  assert sorted(vocabulary) == sorted(counts)
  frequencies = [counts[v] for v in vocabulary]
  assert frequencies == sorted(frequencies, reverse=True)


def test_ids_stay_strings_in_the_vocabulary(tft_output):
  users = tft_output.vocabulary_by_name(
      features.vocabulary_name(features.USER_ID_KEY))
  assert b'1' in users and all(isinstance(u, bytes) for u in users)


def test_known_values_map_to_their_index_and_unseen_to_the_oov_bucket(
    tft_output):
  layer = tft_output.transform_features_layer()
  titles = tft_output.vocabulary_by_name(
      features.vocabulary_name(features.MOVIE_TITLE_KEY))
  users = tft_output.vocabulary_by_name(
      features.vocabulary_name(features.USER_ID_KEY))
  out = layer({
      'user_id': tf.constant([[users[3]], [b'no such user']]),
      'movie_title': tf.constant([[titles[0]], [b'Unseen (2099)']]),
      'user_rating': tf.constant([[4.0], [1.0]]),
  })
  user_ids = out[features.transformed_name(features.USER_ID_KEY)].numpy()
  title_ids = out[features.transformed_name(features.MOVIE_TITLE_KEY)].numpy()
  assert user_ids.tolist() == [3, len(users)]
  assert title_ids.tolist() == [0, len(titles)]
  assert out[features.LABEL_KEY].numpy().tolist() == [4.0, 1.0]


def test_outputs_are_flat_int_ids_and_the_float_label(tft_output):
  spec = tft_output.transformed_feature_spec()
  assert set(spec) == {features.transformed_name(k) for k in
                       features.VOCABULARY_FEATURE_KEYS} | {features.LABEL_KEY}
  for key in features.VOCABULARY_FEATURE_KEYS:
    assert spec[features.transformed_name(key)].dtype == tf.int64
    assert spec[features.transformed_name(key)].shape == []
  assert spec[features.LABEL_KEY].dtype == tf.float32


def test_a_feature_without_fixed_shape_is_refused():
  sparse = tf.sparse.from_dense(tf.constant([[b'a'], [b'b']]))
  with pytest.raises(ValueError, match='exactly one value per example'):
    preprocessing._flatten('user_id', sparse)  # pylint: disable=protected-access


def test_flatten_turns_batch_by_one_into_batch():
  flat = preprocessing._flatten('x', tf.constant(np.array([[1], [2]])))  # pylint: disable=protected-access
  assert flat.shape == [2]
