"""What every ratings source shares: records -> tf.Examples, decoding text
lines, each user's first rating, and the error a bad source raises."""

import codecs
from typing import Any, List, Mapping, Optional, Tuple

import pyarrow as pa
import pyarrow.compute as pc
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
  if name == 'utf-8-sig':  # UTF-8 with a byte-order mark: read as UTF-8
    return 'utf-8'
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


def check_columns(path: str, columns: List[str]) -> List[str]:
  """Checks a source's column names against the features ExampleGen knows."""
  missing = [c for c in features.REQUIRED_FEATURE_KINDS if c not in columns]
  if missing:
    raise RatingsSourceError(
        f'{path}: header {columns} lacks required column(s) {missing}; '
        f'expected {list(features.REQUIRED_FEATURE_KINDS)} plus optional '
        f'{list(features.OPTIONAL_FEATURE_KINDS)}')
  unknown = [c for c in columns if c not in features.FEATURE_KINDS]
  if unknown:
    raise RatingsSourceError(
        f'{path}: unknown column(s) {unknown}; allowed optional columns are '
        f'{list(features.OPTIONAL_FEATURE_KINDS)}')
  if len(set(columns)) != len(columns):
    raise RatingsSourceError(f'{path}: duplicate column names in {columns}')
  return columns


def _raise_decode_error(path: str, lines_before: int,
                        error: UnicodeDecodeError, encoding: str) -> None:
  """Raises decode_line's error for the line of `error.object` (a chunk of
  the file after `lines_before` lines) that does not decode."""
  data = error.object
  start = data.rfind(b'\n', 0, error.start) + 1
  end = data.find(b'\n', error.start)
  decode_line(data[start:end if end >= 0 else len(data)], path,
                          lines_before + data.count(b'\n', 0, start) + 1,
                          encoding)
  raise RatingsSourceError(f'{path}: not {encoding} text: {error}')


def count_lines(path: str, encoding: Optional[str] = None) -> int:
  """The number of lines of a file, in one read; given an `encoding`, also
  checks that the file is such text and raises naming the first line that
  is not."""
  lines = 0
  decoder = codecs.getincrementaldecoder(encoding)() if encoding else None
  with tf.io.gfile.GFile(path, 'rb') as f:
    for chunk in iter(lambda: f.read(1 << 20), b''):
      if decoder:
        try:
          decoder.decode(chunk)
        except UnicodeDecodeError as error:
          _raise_decode_error(path, lines, error, encoding)
      lines += chunk.count(b'\n')
  if decoder:
    try:
      decoder.decode(b'', final=True)
    except UnicodeDecodeError as error:
      _raise_decode_error(path, lines, error, encoding)
  return lines


def first_ratings_of_table(table: pa.Table
                           ) -> List[Tuple[bytes, Optional[int]]]:
  """(user id, earliest timestamp or None) per user of a table with those
  two columns (a timestamp column missing: None for every user), grouped
  in Arrow: ExampleGen's new-user split needs no examples made for it."""
  users = table[features.USER_ID_KEY].cast(pa.binary())
  if features.TIMESTAMP_KEY not in table.column_names:
    return [(user, None) for user in pc.unique(users).to_pylist()]
  first = pa.table({'user': users, 'time': table[features.TIMESTAMP_KEY].cast(
      pa.int64())}).group_by('user').aggregate([('time', 'min')])
  return list(zip(first['user'].to_pylist(), first['time_min'].to_pylist()))
