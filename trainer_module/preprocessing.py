"""Transform's `preprocessing_fn`: vocabularies for user ids and titles, the
buckets the Evaluator slices on, and the side features of the tuned model.

Each vocabulary is computed over the train split, ordered by frequency, and
has `features.NUM_OOV_BUCKETS` extra index(es) for values it has not seen. The
label passes through unchanged. Raw features arrive as `[batch, 1]` (the
schema gives them shape [1]); outputs are `[batch]`.
"""

from typing import Any, Dict, Optional, Sequence

import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import code_fingerprint
from trainer_module import features


def _flatten(name: str, tensor: tf.Tensor) -> tf.Tensor:
  """[batch, 1] -> [batch]; refuses a feature with no fixed shape."""
  if not isinstance(tensor, tf.Tensor):
    raise ValueError(
        f'feature {name!r} must have exactly one value per example (a dense '
        f'feature in the schema), got {type(tensor).__name__}')
  return tf.reshape(tensor, [-1])


def _labelled(bucket: tf.Tensor, boundaries: Sequence[int]) -> tf.Tensor:
  """Bucket index -> its readable name, e.g. 2 -> '50-99'."""
  return tf.gather(tf.constant(features.bucket_labels(boundaries)), bucket)


def count_bucket(index: tf.Tensor, values: tf.Tensor,
                 thresholds: Sequence[int]) -> tf.Tensor:
  """How often each value occurs in the analyzed data, as a named bucket.

  `index` is the value's id in a vocabulary of `values` ordered by frequency
  (most frequent first), so the values seen at least t times are exactly the
  first `n_t` ids, where n_t counts the keys of `tft.count_per_key` with a
  count >= t. The bucket is how many thresholds a value reaches; values never
  seen in the analyzed split (the OOV id) fall in the first bucket.
  """
  _, counts = tft.count_per_key(values)
  reached = []
  for threshold in thresholds:
    at_least = tf.reduce_sum(tf.cast(counts >= threshold, tf.int64))
    reached.append(tf.cast(index < at_least, tf.int64))
  return _labelled(tf.add_n(reached), thresholds)


def preprocessing_fn(inputs: Dict[str, tf.Tensor],
                     custom_config: Optional[Dict[str, Any]] = None
                     ) -> Dict[str, tf.Tensor]:
  """Maps raw features to the model's integer ids, the label and slices.

  Args:
    inputs: the raw features, as the schema describes them.
    custom_config: Transform's custom_config (TFX passes it): holds the
      fingerprint of the code the pipeline was built from, checked first.

  Returns:
    The transformed features.
  """
  code_fingerprint.check(custom_config,
                         code_fingerprint.transform_fingerprint())
  outputs = {}
  for key in features.VOCABULARY_FEATURE_KEYS:
    outputs[features.transformed_name(key)] = tft.compute_and_apply_vocabulary(
        _flatten(key, inputs[key]),
        num_oov_buckets=features.NUM_OOV_BUCKETS,
        vocab_filename=features.vocabulary_name(key))
  outputs[features.LABEL_KEY] = _flatten(
      features.LABEL_KEY, inputs[features.LABEL_KEY])

  outputs[features.USER_ACTIVITY_KEY] = count_bucket(
      outputs[features.transformed_name(features.USER_ID_KEY)],
      _flatten(features.USER_ID_KEY, inputs[features.USER_ID_KEY]),
      features.USER_ACTIVITY_THRESHOLDS)
  outputs[features.MOVIE_POPULARITY_KEY] = count_bucket(
      outputs[features.transformed_name(features.MOVIE_TITLE_KEY)],
      _flatten(features.MOVIE_TITLE_KEY, inputs[features.MOVIE_TITLE_KEY]),
      features.MOVIE_POPULARITY_THRESHOLDS)
  age_key = next((k for k in features.AGE_SOURCE_KEYS
                  if isinstance(inputs.get(k), tf.Tensor)), None)
  if age_key:  # only when every example has an age
    age = tf.cast(_flatten(age_key, inputs[age_key]), tf.float32)
    bucket = tf.cast(tf.searchsorted(
        tf.constant(features.AGE_BOUNDARIES, tf.float32), age, side='right'),
                     tf.int64)
    outputs[features.USER_AGE_KEY] = _labelled(bucket, features.AGE_BOUNDARIES)
    outputs[features.USER_AGE_GROUP_KEY] = bucket
  outputs.update(side_features(inputs))
  return outputs


def _dense(inputs: Dict[str, tf.Tensor], keys: Sequence[str]):
  """The first of `keys` present with one value per example, as [batch]."""
  key = next((k for k in keys if isinstance(inputs.get(k), tf.Tensor)), None)
  return None if key is None else _flatten(key, inputs[key])


def release_year_bucket(titles: tf.Tensor) -> tf.Tensor:
  """'Speed (1994)' -> bucket of 1994 among YEAR_BOUNDARIES, +1; 0 if the
  title carries no year."""
  year_text = tf.strings.regex_replace(
      titles, r'^.*\((\d{4})\)\s*$', r'\1')
  has_year = tf.strings.regex_full_match(titles, r'^.*\(\d{4}\)\s*$')
  year = tf.strings.to_number(
      tf.where(has_year, year_text, '0'), out_type=tf.float32)
  bucket = tf.searchsorted(tf.constant(features.YEAR_BOUNDARIES, tf.float32),
                           year, side='right')
  return tf.where(has_year, tf.cast(bucket, tf.int64) + 1, 0)


def genre_ids(genres: tf.SparseTensor) -> tf.Tensor:
  """Genre names per example -> [batch, MAX_GENRES] vocabulary ids + 1,
  0-padded (ids of genres past MAX_GENRES are dropped)."""
  ids = tft.compute_and_apply_vocabulary(
      genres, num_oov_buckets=features.NUM_OOV_BUCKETS,
      vocab_filename=features.vocabulary_name(features.MOVIE_GENRE_IDS_KEY))
  ids = tf.SparseTensor(ids.indices, ids.values + 1, ids.dense_shape)
  batch = ids.dense_shape[0]
  ids = tf.sparse.slice(ids, [0, 0], [batch, features.MAX_GENRES])
  return tf.reshape(
      tf.sparse.to_dense(tf.sparse.reset_shape(
          ids, [batch, features.MAX_GENRES])), [-1, features.MAX_GENRES])


def side_features(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """The tuned model's user and movie side features, from whichever raw
  side features the data carries."""
  outputs = {}
  occupation = _dense(inputs, features.OCCUPATION_SOURCE_KEYS)
  if occupation is not None:
    outputs[features.USER_OCCUPATION_KEY] = tft.compute_and_apply_vocabulary(
        tf.strings.as_string(occupation) if occupation.dtype != tf.string
        else occupation, num_oov_buckets=features.NUM_OOV_BUCKETS,
        vocab_filename=features.vocabulary_name(features.USER_OCCUPATION_KEY))
  zip_code = _dense(inputs, ['user_zip_code'])
  if zip_code is not None:
    outputs[features.USER_ZIP_PREFIX_KEY] = tft.compute_and_apply_vocabulary(
        tf.strings.substr(zip_code, 0, features.ZIP_PREFIX_LENGTH),
        num_oov_buckets=features.NUM_OOV_BUCKETS,
        vocab_filename=features.vocabulary_name(features.USER_ZIP_PREFIX_KEY))
  gender = _dense(inputs, ['user_gender'])
  if gender is not None:
    outputs[features.USER_GENDER_KEY] = tf.clip_by_value(
        tf.cast(gender, tf.int64), 0, 1)
  genres = inputs.get(features.GENRE_KEY)
  if isinstance(genres, tf.Tensor):  # a fixed number of genres per example
    genres = tf.sparse.from_dense(genres)
  if isinstance(genres, tf.SparseTensor):
    outputs[features.MOVIE_GENRE_IDS_KEY] = genre_ids(genres)
  outputs[features.MOVIE_YEAR_KEY] = release_year_bucket(
      _flatten(features.MOVIE_TITLE_KEY, inputs[features.MOVIE_TITLE_KEY]))
  return outputs
