"""canonical_examples writes what tfx_bsl's encoder writes, made canonical
by protobuf's deterministic serialization, byte for byte."""

import numpy as np
import pyarrow as pa
import pytest
import tensorflow as tf
from tfx_bsl.coders import example_coder

from components import tf_examples

ROWS = 600
KINDS = {'user_id': 'bytes', 'movie_title': 'bytes', 'user_rating': 'float',
         'timestamp': 'int64', 'movie_genres': 'bytes', 'raw_user_age':
         'float', 'user_gender': 'int64', 'ids': 'int64'}


def column(rng, kind, width=1, null_every=0, empty_every=0) -> pa.Array:
  """A list column of ROWS rows: `width` values a row (0: 1 to 3), a null
  list every `null_every` rows, an empty one every `empty_every`."""
  def value(i):
    if kind == 'bytes':  # 1 to ~20k bytes: one-, two- and three-byte lengths
      return ('é' * int(rng.choice([1, 70, 9000])) + str(i)).encode()
    if kind == 'float':
      return float(rng.normal() * 1e3)
    return int(rng.choice([0, 1, 127, 128, 300, 16384, 1 << 40, -1,
                           -(1 << 62), (1 << 63) - 1]))
  rows = []
  for i in range(ROWS):
    if null_every and i % null_every == 0:
      rows.append(None)
    elif empty_every and i % empty_every == 1:
      rows.append([])
    else:
      rows.append([value(i) for _ in range(width or rng.integers(1, 4))])
  return pa.array(rows, pa.list_({'bytes': pa.binary(), 'float': pa.float32(),
                                  'int64': pa.int64()}[kind]))


@pytest.fixture(scope='module')
def batch() -> pa.RecordBatch:
  rng = np.random.default_rng(7)
  columns = {
      'user_id': column(rng, 'bytes'),
      'movie_title': column(rng, 'bytes', null_every=11),
      'user_rating': column(rng, 'float'),
      'timestamp': column(rng, 'int64', null_every=5, empty_every=3),
      'movie_genres': column(rng, 'bytes', width=0, null_every=9,
                             empty_every=4),
      'raw_user_age': column(rng, 'float', width=0, empty_every=6),
      'user_gender': column(rng, 'int64', width=0, null_every=2),
      'ids': column(rng, 'int64', width=0),
  }
  return pa.RecordBatch.from_arrays(list(columns.values()), list(columns))


def theirs(batch: pa.RecordBatch):
  return [tf.train.Example.FromString(example).SerializeToString(
      deterministic=True)
          for example in example_coder.RecordBatchToExamples(batch)]


def test_the_bytes_are_tfx_bsls_made_deterministic(batch):
  assert tf_examples.canonical_examples(batch, KINDS) == theirs(batch)


def test_a_slice_of_a_batch(batch):
  part = batch.slice(101, 250)
  assert tf_examples.canonical_examples(part, KINDS) == theirs(part)


def test_one_column_and_no_rows(batch):
  one = pa.RecordBatch.from_arrays([batch.column(6)], ['user_gender'])
  assert tf_examples.canonical_examples(one, KINDS) == theirs(one)
  assert tf_examples.canonical_examples(batch.slice(0, 0), KINDS) == []


@pytest.mark.parametrize('value', [0, 1, 127, 128, 255, 16383, 16384,
                                   (1 << 63) - 1, -1, -(1 << 63)])
def test_varints_are_protobufs(value):
  """An Int64List's packed values are varints: ours against protobuf's."""
  packed = tf.train.Int64List(value=[value]).SerializeToString()
  assert tf_examples.varints([value])[0].as_py() == packed[2:]
