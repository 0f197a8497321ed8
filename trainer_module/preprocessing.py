"""Transform's `preprocessing_fn`: vocabularies for user ids and titles, the
buckets the Evaluator slices on, and the side features of the tuned model
(only when the run's rating model reads them: `SIDE_FEATURES_KEY`).

Each vocabulary is computed over the train split, ordered by frequency, and
has `features.NUM_OOV_BUCKETS` extra index(es) for values it has not seen.
The analyzers count each batch's values in C before Beam combines them
(`vocabulary_ids`, `ValuesSeenAtLeast`), not value by value in Beam. The
label passes through unchanged. Raw features arrive as `[batch, 1]` (the
schema gives them shape [1]); outputs are `[batch]`.
"""

import collections
from typing import Any, Dict, Iterable, Optional, Sequence

import apache_beam as beam
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import common_types

from trainer_module import code_fingerprint
from trainer_module import features


# Transform's custom_config key: whether preprocessing_fn writes the side
# features (create_pipeline sets it from the rating model): their three
# vocabularies are most of Transform's analysis, and every component that
# loads the transform graph pays for them.
SIDE_FEATURES_KEY = 'side_features'


def writes_side_features(custom_config: Optional[Dict[str, Any]]) -> bool:
  """What `SIDE_FEATURES_KEY` says; every feature when it is not given."""
  return bool((custom_config or {}).get(SIDE_FEATURES_KEY, True))


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


class _CountValues(beam.CombineFn):
  """How often each value occurs, over batches of one feature's values."""

  def create_accumulator(self) -> collections.Counter:
    return collections.Counter()

  def add_input(self, counts: collections.Counter,
                batch: Sequence[np.ndarray]) -> collections.Counter:
    counts.update(batch[0].ravel().tolist())
    return counts

  def merge_accumulators(self, accumulators: Iterable[collections.Counter]
                         ) -> collections.Counter:
    merged = collections.Counter()
    for counts in accumulators:
      merged.update(counts)
    return merged

  def extract_output(self, counts: collections.Counter
                     ) -> collections.Counter:
    return counts


class ValuesSeenAtLeast(beam.PTransform):
  """Analyzer: [n_t for each threshold t], n_t the number of distinct values
  seen at least t times; one pass of C-speed counting per batch, where
  `tft.count_per_key` combines every key of every batch through Beam."""

  def __init__(self, thresholds: Sequence[int]):
    super().__init__()
    self._thresholds = tuple(thresholds)

  def expand(self, batches: beam.PCollection) -> beam.PCollection:
    return (batches
            | 'Count' >> beam.CombineGlobally(_CountValues())
            | 'AtLeast' >> beam.Map(self._at_least))

  def _at_least(self, counts: collections.Counter) -> np.ndarray:
    seen = np.fromiter(counts.values(), np.int64, len(counts))
    return np.array([(seen >= t).sum() for t in self._thresholds], np.int64)


def vocabulary_ids(values: common_types.ConsistentTensorType,
                   key: str) -> common_types.ConsistentTensorType:
  """Values -> ids in the train split's vocabulary of `key`, ordered by
  frequency, plus `features.NUM_OOV_BUCKETS` ids for values not in it.

  Unit weights make TFT count each batch's distinct values in the graph
  (the same counts and order), instead of sending every value through Beam.
  """
  weights = tf.ones_like(
      values.values if isinstance(values, tf.SparseTensor) else values,
      tf.float32)
  return tft.compute_and_apply_vocabulary(
      values, weights=weights, num_oov_buckets=features.NUM_OOV_BUCKETS,
      vocab_filename=features.vocabulary_name(key))


def count_bucket(index: tf.Tensor, values: tf.Tensor,
                 thresholds: Sequence[int]) -> tf.Tensor:
  """How often each value occurs in the analyzed data, as a named bucket.

  `index` is the value's id in a vocabulary of `values` ordered by frequency
  (most frequent first), so the values seen at least t times are exactly the
  first `n_t` ids. The bucket is how many thresholds a value reaches; values
  never seen in the analyzed split (the OOV id) fall in the first bucket.
  """
  at_least, = tft.experimental.ptransform_analyzer(
      [values], ValuesSeenAtLeast(thresholds), [tf.int64],
      [[len(thresholds)]])
  reached = [tf.cast(index < at_least[i], tf.int64)
             for i in range(len(thresholds))]
  return _labelled(tf.add_n(reached), thresholds)


def preprocessing_fn(inputs: Dict[str, tf.Tensor],
                     custom_config: Optional[Dict[str, Any]] = None
                     ) -> Dict[str, tf.Tensor]:
  """Maps raw features to the model's integer ids, the label and slices.

  Args:
    inputs: the raw features, as the schema describes them.
    custom_config: Transform's custom_config (TFX passes it): holds the
      fingerprint of the code the pipeline was built from, checked first,
      and whether to write the side features (`SIDE_FEATURES_KEY`).

  Returns:
    The transformed features.
  """
  code_fingerprint.check(custom_config,
                         code_fingerprint.transform_fingerprint())
  outputs = {}
  for key in features.VOCABULARY_FEATURE_KEYS:
    outputs[features.transformed_name(key)] = vocabulary_ids(
        _flatten(key, inputs[key]), key)
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
  with_side_features = writes_side_features(custom_config)
  age_key = next((k for k in features.AGE_SOURCE_KEYS
                  if isinstance(inputs.get(k), tf.Tensor)), None)
  if age_key:  # only when every example has an age
    age = tf.cast(_flatten(age_key, inputs[age_key]), tf.float32)
    bucket = tf.cast(tf.searchsorted(
        tf.constant(features.AGE_BOUNDARIES, tf.float32), age, side='right'),
                     tf.int64)
    outputs[features.USER_AGE_KEY] = _labelled(bucket, features.AGE_BOUNDARIES)
    if with_side_features:
      outputs[features.USER_AGE_GROUP_KEY] = bucket
  if with_side_features:
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
  ids = vocabulary_ids(genres, features.MOVIE_GENRE_IDS_KEY)
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
    outputs[features.USER_OCCUPATION_KEY] = vocabulary_ids(
        tf.strings.as_string(occupation) if occupation.dtype != tf.string
        else occupation, features.USER_OCCUPATION_KEY)
  zip_code = _dense(inputs, [features.ZIP_CODE_KEY])
  if zip_code is not None:
    outputs[features.USER_ZIP_PREFIX_KEY] = vocabulary_ids(
        tf.strings.substr(zip_code, 0, features.ZIP_PREFIX_LENGTH),
        features.USER_ZIP_PREFIX_KEY)
  gender = _dense(inputs, [features.GENDER_KEY])
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
