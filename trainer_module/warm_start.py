"""Warm start: a Trainer run starts from the last blessed model's weights.

Beside the served SavedModel, every Trainer run writes its Keras models'
trainable weights and the user and movie vocabularies they were indexed by
(`save`, in the Model artifact's WARM_START_FOLDER: the Pusher copies only
the served model). A warm run builds its models for the new vocabularies,
then `restore` copies into them, by key, every row of the user- and
movie-indexed tables (KEYED_TABLES): a user's or movie's row moves to the
key's new id whatever the new vocabulary's order; keys new to this run keep
their fresh initial rows; keys gone from it are dropped. The OOV row (the
unknown user's, the unknown movie's) carries over as itself. Every other
weight (dense layers, biases, the global mean) carries over when its shape
is unchanged. A table indexed by another vocabulary (the tuned model's side
features) starts fresh: its rows are never copied by position.

The folder also records the time of the latest rating the models trained
on (`TRAINED_ON_FILE`): a warm run chooses its epochs only on validation
ratings given after it (trainer.unseen_validation).

Weights are found by their attribute path in the model (e.g.
`ranking_model/ratings/1/kernel`), which does not depend on Keras's
per-process layer names.
"""

import dataclasses
import io
import json
import os
from typing import Dict, Iterator, List, Optional, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import features

WARM_START_FOLDER = 'warm_start'
# The Embedding layers (by layer name) whose rows are users or movies.
KEYED_TABLES = {
    'user_embedding': features.USER_ID_KEY,
    'movie_embedding': features.MOVIE_TITLE_KEY,
    'user_bias': features.USER_ID_KEY,
    'movie_bias': features.MOVIE_TITLE_KEY,
    'implicit_movie_embedding': features.MOVIE_TITLE_KEY,
    'autorec_encoder': features.USER_ID_KEY,
    'autorec_decoder': features.USER_ID_KEY,
    'autorec_bias': features.USER_ID_KEY,
    'retrieval_user_embedding': features.USER_ID_KEY,
    'retrieval_movie_embedding': features.MOVIE_TITLE_KEY,
}
KEYS = (features.USER_ID_KEY, features.MOVIE_TITLE_KEY)
TRAINED_ON_FILE = 'trained_on.json'


def warm_start_dir(serving_model_dir: str) -> str:
  """The folder beside a Model artifact's served SavedModel."""
  return os.path.join(os.path.dirname(serving_model_dir.rstrip('/')),
                      WARM_START_FOLDER)


def _weights(layer: tf.Module, prefix: str = ''
             ) -> Iterator[Tuple[str, tf.Variable, Optional[str]]]:
  """(attribute path, trainable variable, the Embedding layer's name that
  holds it or None) of every weight of a Keras model, in path order."""
  children = (enumerate(layer.layers)
              if isinstance(layer, tf.keras.Sequential) else
              sorted(vars(layer).items()))
  for name, value in children:
    if isinstance(name, str) and name.startswith('_'):
      continue
    path = f'{prefix}{name}'
    if isinstance(value, tf.keras.layers.Embedding):
      if value.built and value.embeddings.trainable:
        yield f'{path}/embeddings', value.embeddings, value.name
    elif isinstance(value, tf.keras.layers.Layer):
      yield from _weights(value, f'{path}/')
    elif isinstance(value, tf.Variable) and value.trainable:
      yield path, value, None


def weights(model: tf.keras.Model) -> Dict[str, tf.Variable]:
  """{attribute path: trainable variable} of a built Keras model."""
  return {path: var for path, var, _ in _weights(model)}


def vocabulary(tf_transform_output: tft.TFTransformOutput,
               key: str) -> List[bytes]:
  """Transform's vocabulary of `key`, in id order."""
  return tf_transform_output.vocabulary_by_name(features.vocabulary_name(key))


def save(directory: str, models: Dict[str, tf.keras.Model],
         tf_transform_output: tft.TFTransformOutput,
         latest_timestamp: Optional[int] = None) -> None:
  """Writes each model's weights (`{name}.npz`), the user and movie
  vocabularies (`{key}.vocabulary`, one term per line as TFT writes them)
  and TRAINED_ON_FILE: the time of the latest rating the models trained on
  (None: the data has no times)."""
  tf.io.gfile.makedirs(directory)
  with tf.io.gfile.GFile(os.path.join(directory, TRAINED_ON_FILE), 'w') as f:
    json.dump({'latest_timestamp': latest_timestamp}, f)
  for name, model in models.items():
    buffer = io.BytesIO()  # zip needs a seekable file; GFile's is not
    np.savez(buffer, **{path: var.numpy()
                        for path, var in weights(model).items()})
    with tf.io.gfile.GFile(os.path.join(directory, f'{name}.npz'), 'wb') as f:
      f.write(buffer.getvalue())
  for key in KEYS:
    with tf.io.gfile.GFile(os.path.join(directory, f'{key}.vocabulary'),
                           'wb') as f:
      f.write(b''.join(term + b'\n'
                       for term in vocabulary(tf_transform_output, key)))


@dataclasses.dataclass
class Carried:
  """What a restore carried into one model."""
  tables: int = 0  # keyed tables remapped
  rows_kept: int = 0  # rows whose key both vocabularies have (OOV included)
  rows_new: int = 0  # rows of keys new to this run (fresh)
  copied: int = 0  # other weights copied as they were
  fresh: List[str] = dataclasses.field(default_factory=list)  # not carried
  shrink: float = 1.0  # the factor carried weights were multiplied by


class WarmStart:
  """The weights and vocabularies a previous run saved."""

  def __init__(self, directory: str):
    if not tf.io.gfile.exists(directory):
      raise ValueError(f'the base model has no {WARM_START_FOLDER} folder '
                       f'({directory}): it was trained before warm start '
                       'existed; train once without --warm-start')
    self.directory = directory
    self.vocabularies = {}
    for key in KEYS:
      with tf.io.gfile.GFile(os.path.join(directory, f'{key}.vocabulary'),
                             'rb') as f:
        self.vocabularies[key] = f.read().split(b'\n')[:-1]
    trained_on = os.path.join(directory, TRAINED_ON_FILE)
    self.latest_timestamp: Optional[int] = None  # unknown: no times
    if tf.io.gfile.exists(trained_on):
      with tf.io.gfile.GFile(trained_on) as f:
        self.latest_timestamp = json.load(f)['latest_timestamp']

  def has(self, name: str) -> bool:
    """Whether a model of that name was saved."""
    return tf.io.gfile.exists(os.path.join(self.directory, f'{name}.npz'))

  def restore(self, name: str, model: tf.keras.Model,
              tf_transform_output: tft.TFTransformOutput,
              shrink: float = 1.0) -> Carried:
    """Carries the saved model `name`'s weights into `model` (built, for
    Transform's new vocabularies), each multiplied by `shrink`: see the
    module doc."""
    with tf.io.gfile.GFile(os.path.join(self.directory, f'{name}.npz'),
                           'rb') as f:
      saved = dict(np.load(io.BytesIO(f.read())))
    new_ids = {key: {term: i for i, term in enumerate(
        vocabulary(tf_transform_output, key))} for key in KEYS}
    carried = Carried(shrink=shrink)
    for path, var, table in _weights(model):
      old = saved.get(path)
      key = KEYED_TABLES.get(table) if table else None
      if old is None or (table and not key) or (
          not key and old.shape != tuple(var.shape)):
        carried.fresh.append(path)
      elif key:
        value, kept = remap_rows(old * shrink, self.vocabularies[key],
                                 new_ids[key], var.numpy())
        var.assign(value)
        carried.tables += 1
        carried.rows_kept += kept
        carried.rows_new += int(var.shape[0]) - kept
      else:
        var.assign(old * shrink)
        carried.copied += 1
    logging.info('warm start of %s: %s', name, carried)
    return carried


def remap_rows(old: np.ndarray, old_terms: List[bytes],
               new_ids: Dict[bytes, int], fresh: np.ndarray
               ) -> Tuple[np.ndarray, int]:
  """`fresh` (the new table, vocabulary rows then the OOV rows) with each
  old row moved to its key's new id, and the old OOV rows as the new OOV
  rows; the rows carried."""
  oov = old.shape[0] - len(old_terms)
  if oov < 0 or fresh.shape[0] - len(new_ids) != oov or (
      old.shape[1:] != fresh.shape[1:]):
    raise ValueError(f'a table of {old.shape} rows for {len(old_terms)} '
                     f'terms does not fit one of {fresh.shape} for '
                     f'{len(new_ids)}')
  value = fresh.copy()
  pairs = [(new_ids[term], i) for i, term in enumerate(old_terms)
           if term in new_ids]
  if pairs:
    to, of = (np.array(ids) for ids in zip(*pairs))
    value[to] = old[of]
  if oov:
    value[len(new_ids):] = old[len(old_terms):]
  return value, len(pairs) + oov
