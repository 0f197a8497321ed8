"""What every ratings source shares: records -> tf.Examples, decoding text
lines, and the error a bad source raises."""

import codecs
from typing import Any, List, Mapping, Optional

import tensorflow as tf

from trainer_module import features

DEFAULT_ENCODING = 'utf-8'


class RatingsSourceError(ValueError):
  """The ratings source cannot be turned into examples; says what and where."""


def feature(kind: str, values: List[Any]) -> tf.train.Feature:
  """One tf.train.Feature of `kind` ('bytes', 'float' or 'int64')."""
  if kind == 'bytes':
    return tf.train.Feature(bytes_list=tf.train.BytesList(
        value=[v if isinstance(v, bytes) else str(v).encode() for v in values]))
  if kind == 'float':
    return tf.train.Feature(float_list=tf.train.FloatList(value=values))
  return tf.train.Feature(int64_list=tf.train.Int64List(value=values))


def to_example(record: Mapping[str, List[Any]]) -> tf.train.Example:
  """Builds a tf.Example from {feature name: list of values}."""
  return tf.train.Example(features=tf.train.Features(feature={
      name: feature(features.FEATURE_KINDS[name], values)
      for name, values in record.items()
  }))


def check_encoding(encoding: str) -> str:
  """The codec's canonical name; raises unless it is a text encoding whose
  lines end in the byte b'\\n' (as line-splitting readers need: UTF-8,
  Latin-1, cp1252 ... but not UTF-16)."""
  try:
    name = codecs.lookup(encoding).name
  except LookupError as error:
    raise RatingsSourceError(
        f'--csv-encoding {encoding}: unknown encoding') from error
  if name.startswith(('utf-16', 'utf-32')) or '\n'.encode(name) != b'\n':
    raise RatingsSourceError(
        f'--csv-encoding {encoding}: not supported; save the file as UTF-8')
  return name


def decode_line(raw: bytes, path: str, line_number: Optional[int],
                encoding: str) -> str:
  """One line of a text file, decoded; a UTF-8 byte-order mark (as
  spreadsheet programs write it) is dropped. Raises naming the file, the
  line and what to do when the bytes are not `encoding` text."""
  if raw.startswith(codecs.BOM_UTF8) and codecs.lookup(
      encoding).name == 'utf-8':
    raw = raw[len(codecs.BOM_UTF8):]
  try:
    return raw.decode(encoding)
  except UnicodeDecodeError as error:
    where = f'line {line_number}' if line_number else 'a line'
    raise RatingsSourceError(
        f'{path} {where}: byte 0x{raw[error.start]:02x} at column '
        f'{error.start + 1} is not {encoding} text ({raw[:80]!r}). Pass '
        '--csv-encoding with the file\'s encoding (MovieLens\'s own files '
        'are latin-1), or save the file as UTF-8.') from error
