"""Transform's `preprocessing_fn`: vocabularies for user ids and titles, and
the buckets the Evaluator slices on.

Each vocabulary is computed over the train split, ordered by frequency, and
has `features.NUM_OOV_BUCKETS` extra index(es) for values it has not seen. The
label passes through unchanged. Raw features arrive as `[batch, 1]` (the
schema gives them shape [1]); outputs are `[batch]`.
"""

from typing import Dict, Sequence

import tensorflow as tf
import tensorflow_transform as tft

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


def count_bucket(values: tf.Tensor, thresholds: Sequence[int],
                 name: str) -> tf.Tensor:
  """How often each value occurs in the analyzed data, as a named bucket.

  A vocabulary with `frequency_threshold=t` holds exactly the values seen at
  least t times; the bucket is how many thresholds a value reaches. Values
  never seen in the analyzed split fall in the first bucket.
  """
  reached = []
  for threshold in thresholds:
    vocabulary = tft.vocabulary(
        values, frequency_threshold=threshold,
        vocab_filename=f'{name}_at_least_{threshold}')
    index = tft.apply_vocabulary(values, vocabulary, default_value=-1)
    reached.append(tf.cast(index >= 0, tf.int64))
  return _labelled(tf.add_n(reached), thresholds)


def preprocessing_fn(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """Maps raw features to the model's integer ids, the label and slices."""
  outputs = {}
  for key in features.VOCABULARY_FEATURE_KEYS:
    outputs[features.transformed_name(key)] = tft.compute_and_apply_vocabulary(
        _flatten(key, inputs[key]),
        num_oov_buckets=features.NUM_OOV_BUCKETS,
        vocab_filename=features.vocabulary_name(key))
  outputs[features.LABEL_KEY] = _flatten(
      features.LABEL_KEY, inputs[features.LABEL_KEY])

  outputs[features.USER_ACTIVITY_KEY] = count_bucket(
      _flatten(features.USER_ID_KEY, inputs[features.USER_ID_KEY]),
      features.USER_ACTIVITY_THRESHOLDS, 'user_activity')
  outputs[features.MOVIE_POPULARITY_KEY] = count_bucket(
      _flatten(features.MOVIE_TITLE_KEY, inputs[features.MOVIE_TITLE_KEY]),
      features.MOVIE_POPULARITY_THRESHOLDS, 'movie_popularity')
  age_key = next((k for k in features.AGE_SOURCE_KEYS
                  if isinstance(inputs.get(k), tf.Tensor)), None)
  if age_key:  # only when every example has an age
    age = tf.cast(_flatten(age_key, inputs[age_key]), tf.float32)
    bucket = tf.searchsorted(
        tf.constant(features.AGE_BOUNDARIES, tf.float32), age, side='right')
    outputs[features.USER_AGE_KEY] = _labelled(
        tf.cast(bucket, tf.int64), features.AGE_BOUNDARIES)
  return outputs
