"""Transform's `preprocessing_fn`: vocabularies for user ids and titles.

Each vocabulary is computed over the train split, ordered by frequency, and
has `features.NUM_OOV_BUCKETS` extra index(es) for values it has not seen. The
label passes through unchanged. Raw features arrive as `[batch, 1]` (the
schema gives them shape [1]); outputs are `[batch]`.
"""

from typing import Dict

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


def preprocessing_fn(inputs: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
  """Maps raw features to the model's integer ids and the label."""
  outputs = {}
  for key in features.VOCABULARY_FEATURE_KEYS:
    outputs[features.transformed_name(key)] = tft.compute_and_apply_vocabulary(
        _flatten(key, inputs[key]),
        num_oov_buckets=features.NUM_OOV_BUCKETS,
        vocab_filename=features.vocabulary_name(key))
  outputs[features.LABEL_KEY] = _flatten(
      features.LABEL_KEY, inputs[features.LABEL_KEY])
  return outputs
