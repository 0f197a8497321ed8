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


def test_outputs_are_flat_int_ids_the_float_label_slices_and_side_features(
    tft_output):
  spec = tft_output.transformed_feature_spec()
  assert set(spec) == {features.transformed_name(k) for k in
                       features.VOCABULARY_FEATURE_KEYS} | {
                           features.LABEL_KEY, features.USER_ACTIVITY_KEY,
                           features.MOVIE_POPULARITY_KEY,
                           features.USER_AGE_KEY} | set(
                               features.SIDE_FEATURE_SIZES)
  for key in [features.transformed_name(k)
              for k in features.VOCABULARY_FEATURE_KEYS] + [
                  k for k in features.SIDE_FEATURE_SIZES
                  if k != features.MOVIE_GENRE_IDS_KEY]:
    assert spec[key].dtype == tf.int64
    assert spec[key].shape == []
  assert spec[features.MOVIE_GENRE_IDS_KEY].shape == [features.MAX_GENRES]
  assert spec[features.LABEL_KEY].dtype == tf.float32


def test_side_features_of_one_example(tft_output):
  titles = tft_output.vocabulary_by_name(
      features.vocabulary_name(features.MOVIE_TITLE_KEY))
  genres = tft_output.vocabulary_by_name(
      features.vocabulary_name(features.MOVIE_GENRE_IDS_KEY))
  out = tft_output.transform_features_layer()({
      'user_id': tf.constant([[b'1'], [b'2']]),
      'movie_title': tf.constant([[titles[0]], [b'No year']]),
      'user_rating': tf.constant([[4.0], [1.0]]),
      'raw_user_age': tf.constant([[30.0], [60.0]]),
      'user_gender': tf.constant([[1], [0]], tf.int64),
      'user_occupation_text': tf.constant([[b'writer'], [b'astronaut']]),
      'user_zip_code': tf.constant([[b'10037'], [b'99999']]),
      'movie_genres': tf.sparse.from_dense(
          tf.constant([[genres[1], genres[0]], [b'', b'']])),
  })
  assert out[features.MOVIE_GENRE_IDS_KEY].numpy().tolist() == [
      [2, 1] + [0] * (features.MAX_GENRES - 2), [0] * features.MAX_GENRES]
  assert out[features.USER_AGE_GROUP_KEY].numpy().tolist() == [2, 6]
  assert out[features.USER_GENDER_KEY].numpy().tolist() == [1, 0]
  occupations = tft_output.vocabulary_by_name(
      features.vocabulary_name(features.USER_OCCUPATION_KEY))
  assert out[features.USER_OCCUPATION_KEY].numpy().tolist() == [
      occupations.index(b'writer'), len(occupations)]
  year = int(titles[0].decode()[-5:-1])
  expected_bucket = 1 + sum(year >= b for b in features.YEAR_BOUNDARIES)
  assert out[features.MOVIE_YEAR_KEY].numpy().tolist() == [expected_bucket, 0]


def test_a_feature_without_fixed_shape_is_refused():
  sparse = tf.sparse.from_dense(tf.constant([[b'a'], [b'b']]))
  with pytest.raises(ValueError, match='exactly one value per example'):
    preprocessing._flatten('user_id', sparse)  # pylint: disable=protected-access


def test_flatten_turns_batch_by_one_into_batch():
  flat = preprocessing._flatten('x', tf.constant(np.array([[1], [2]])))  # pylint: disable=protected-access
  assert flat.shape == [2]


@pytest.mark.parametrize('key, bucket_key, thresholds', [
    (features.USER_ID_KEY, features.USER_ACTIVITY_KEY,
     features.USER_ACTIVITY_THRESHOLDS),
    (features.MOVIE_TITLE_KEY, features.MOVIE_POPULARITY_KEY,
     features.MOVIE_POPULARITY_THRESHOLDS),
])
def test_count_bucket_counts_each_values_train_ratings(
    tft_output, transformed_data, key, bucket_key, thresholds):
  counts = collections.Counter(r[key] for r in transformed_data.raw_train)
  values = sorted(counts, key=counts.get)
  picked = [values[0], values[len(values) // 2], values[-1]]
  other = {features.USER_ID_KEY: b'1', features.MOVIE_TITLE_KEY: b'x'}
  raw = {k: tf.constant([[v]] * 4) for k, v in other.items()}
  raw[key] = tf.constant([[v.encode()] for v in picked] + [[b'new']])
  out = tft_output.transform_features_layer()(
      {**raw, 'user_rating': tf.constant([[1.0]] * 4)})
  labels = features.bucket_labels(thresholds)
  expected = [labels[sum(counts[v] >= t for t in thresholds)]
              for v in picked]
  assert len({counts[v] >= thresholds[0] for v in picked}) == 2
  assert [b.decode() for b in out[bucket_key].numpy()] == [
      *expected, labels[0]]  # a value unseen in train: the first bucket


def test_equal_counts_keep_tfts_order_by_value(tft_output, transformed_data):
  counts = collections.Counter(
      r[features.MOVIE_TITLE_KEY] for r in transformed_data.raw_train)
  vocabulary = [v.decode() for v in tft_output.vocabulary_by_name(
      features.vocabulary_name(features.MOVIE_TITLE_KEY))]
  assert len(set(counts.values())) < len(counts)  # the data has ties
  assert vocabulary == sorted(vocabulary, key=lambda v: (counts[v], v.encode()),
                              reverse=True)


@pytest.mark.parametrize('batches, expected', [
    ([[b'a', b'b', b'a'], [b'a', b'c'], [b'b']], [3, 2, 0]),  # a:3 b:2 c:1
    ([], [0, 0, 0]),
])
def test_values_seen_at_least_counts_over_batches(batches, expected):
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from apache_beam.testing import util as beam_util  # pylint: disable=g-import-not-at-top
  with beam.Pipeline() as p:
    out = (p | beam.Create([(np.array(b, object),) for b in batches],
                           reshuffle=False)
           | preprocessing.ValuesSeenAtLeast((1, 2, 4)))
    beam_util.assert_that(out | beam.Map(list),
                          beam_util.equal_to([expected]))


def test_bucket_labels():
  assert features.bucket_labels((20, 50, 100)) == [
      '<20', '20-49', '50-99', '100+']


def run_transform(rows, feature_spec):
  """preprocessing_fn through tft_beam on a few rows; transformed rows."""
  import tempfile  # pylint: disable=g-import-not-at-top
  import tensorflow_transform.beam as tft_beam  # pylint: disable=g-import-not-at-top
  from tensorflow_transform.tf_metadata import dataset_metadata  # pylint: disable=g-import-not-at-top
  from tensorflow_transform.tf_metadata import schema_utils  # pylint: disable=g-import-not-at-top
  metadata = dataset_metadata.DatasetMetadata(
      schema_utils.schema_from_feature_spec(feature_spec))
  with tft_beam.Context(temp_dir=tempfile.mkdtemp()):
    (out, _), _ = (rows, metadata) | tft_beam.AnalyzeAndTransformDataset(
        preprocessing.preprocessing_fn)
  return out


@pytest.mark.parametrize('age_key, ages', [
    ('raw_user_age', [7.0, 18.0, 24.0, 33.0, 49.0, 50.0, 73.0]),
    ('bucketized_user_age', [1.0, 18.0, 18.0, 25.0, 45.0, 50.0, 56.0]),
])
def test_age_buckets_are_the_movielens_groups(age_key, ages):
  spec = {'user_id': tf.io.FixedLenFeature([1], tf.string),
          'movie_title': tf.io.FixedLenFeature([1], tf.string),
          'user_rating': tf.io.FixedLenFeature([1], tf.float32),
          age_key: tf.io.FixedLenFeature([1], tf.float32)}
  rows = [{'user_id': np.array([b'1']), 'movie_title': np.array([b'A']),
           'user_rating': np.array([3.0], np.float32),
           age_key: np.array([age], np.float32)} for age in ages]
  out = run_transform(rows, spec)
  assert [r[features.USER_AGE_KEY].decode() for r in out] == [
      '<18', '18-24', '18-24', '25-34', '45-49', '50-55', '56+']


@pytest.fixture(scope='module')
def without_side_features(transformed_data, tmp_path_factory):
  """preprocessing_fn told not to write the side features (a rating model
  that reads none: create_pipeline's Transform custom_config), analyzed on
  the first generated ratings."""
  import functools  # pylint: disable=g-import-not-at-top
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  import tensorflow_transform.beam as tft_beam  # pylint: disable=g-import-not-at-top
  base = tmp_path_factory.mktemp('no_side_features')
  raw = tft.TFTransformOutput(transformed_data.transform_output)
  dtypes = {key: spec.dtype for key, spec in raw.raw_feature_spec().items()}
  instances = [{key: np.array(
      [v.encode() for v in value] if key == 'movie_genres' else
      [value.encode() if isinstance(value, str) else value],
      None if dtypes[key] == tf.string else dtypes[key].as_numpy_dtype)
                for key, value in row.items() if key in dtypes}
               for row in transformed_data.raw_train[:300]]
  output = str(base / 'transform_graph')
  with beam.Pipeline() as p, tft_beam.Context(temp_dir=str(base / 'tmp')):
    _ = ((p | beam.Create(instances), raw.raw_metadata)
         | tft_beam.AnalyzeDataset(functools.partial(
             preprocessing.preprocessing_fn, custom_config={
                 preprocessing.SIDE_FEATURES_KEY: False}))
         | tft_beam.WriteTransformFn(output))
  return tft.TFTransformOutput(output)


def test_side_features_are_left_out_when_the_model_reads_none(
    tft_output, without_side_features):
  written = set(without_side_features.transformed_feature_spec())
  assert written == set(tft_output.transformed_feature_spec()) - set(
      features.SIDE_FEATURE_SIZES)
  # The ids and the Evaluator's slices stay.
  assert {features.USER_ACTIVITY_KEY, features.MOVIE_POPULARITY_KEY,
          features.USER_AGE_KEY, features.LABEL_KEY} <= written
  for key in (features.USER_OCCUPATION_KEY, features.USER_ZIP_PREFIX_KEY,
              features.MOVIE_GENRE_IDS_KEY):
    with pytest.raises(Exception):
      without_side_features.vocabulary_by_name(features.vocabulary_name(key))
  assert preprocessing.writes_side_features(None)
  assert not preprocessing.writes_side_features(
      {preprocessing.SIDE_FEATURES_KEY: False})


def test_a_model_that_reads_side_features_refuses_a_graph_without_them(
    without_side_features):
  from trainer_module import hyperparameters  # pylint: disable=g-import-not-at-top
  from trainer_module import ranking_models  # pylint: disable=g-import-not-at-top
  with pytest.raises(ValueError, match="'tuned' rating model reads side"):
    ranking_models.model_feature_keys(
        without_side_features, hyperparameters.Hyperparameters(model='tuned'))
  assert ranking_models.model_feature_keys(
      without_side_features, hyperparameters.Hyperparameters()) == [
          ranking_models.USER_KEY, ranking_models.MOVIE_KEY]
