"""What every ratings source shares: records -> tf.Examples, decoding text
lines, each user's first rating, and the error a bad source raises."""

import codecs
from typing import Any, List, Mapping, Optional, Tuple

import numpy as np
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



# ---------------------------------------- record batches -> tf.Example bytes
# `canonical_examples` writes tf.Example's wire format itself. Each tag byte
# is a field number << 3 | 2 (length-delimited): Example.features and
# Features' map entries are field 1; an entry's key 1 and value 2; a
# Feature's bytes_list 1, float_list 2, int64_list 3; a list's values 1.
_TAG_1, _TAG_2 = 0x0a, 0x12
_LIST_TAGS = {'bytes': 0x0a, 'float': 0x12, 'int64': 0x1a}
_VARINT_MAX_BYTES = 10


def _binary(sizes: np.ndarray, data: np.ndarray) -> pa.Array:
  """A large binary array: value i is the next sizes[i] bytes of `data`."""
  offsets = np.zeros(len(sizes) + 1, np.int64)
  np.cumsum(sizes, out=offsets[1:])
  return pa.Array.from_buffers(
      pa.large_binary(), len(sizes),
      [None, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(
          data, np.uint8))])


def _varint_bytes(values: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
  """(sizes, bytes [n, width]) of each integer as protobuf writes it, a
  varint: 7 bits a byte, low first, the high bit set on all but the last
  (a negative one as its 64-bit two's complement: ten bytes)."""
  unsigned = np.asarray(values, np.int64).view(np.uint64)
  sizes = np.ones(len(unsigned), np.int64)
  largest = unsigned.max(initial=0)
  for i in range(1, _VARINT_MAX_BYTES):
    if largest < np.uint64(1 << (7 * i)):
      break
    sizes += unsigned >= np.uint64(1 << (7 * i))
  width = int(sizes.max(initial=1))
  groups = np.empty((len(unsigned), width), np.uint8)
  for i in range(width):
    groups[:, i] = (unsigned >> np.uint64(7 * i)) & np.uint64(0x7f)
  groups[np.arange(width) < sizes[:, None] - 1] |= 0x80
  return sizes, groups


def _piece(sizes: np.ndarray, data: np.ndarray) -> pa.Array:
  """Row i: the first sizes[i] bytes of data[i] (sizes may be 0)."""
  return _binary(sizes, data[np.arange(data.shape[1]) < sizes[:, None]])


def varints(values: np.ndarray, present: Optional[np.ndarray] = None,
            tag: Optional[int] = None) -> pa.Array:
  """Each integer's varint, after the byte `tag` if given; empty where
  `present` is False."""
  sizes, data = _varint_bytes(values)
  if tag is not None:
    sizes = sizes + 1
    data = np.concatenate([np.full((len(data), 1), tag, np.uint8), data],
                          axis=1)
  if present is not None:
    sizes = np.where(present, sizes, 0)
  return _piece(sizes, data)


def _varint_sizes(values: np.ndarray) -> np.ndarray:
  """How many bytes each integer's varint takes."""
  return _varint_bytes(values)[0]


def _lengths(values: pa.Array) -> np.ndarray:
  """The byte length of each binary value."""
  return pc.binary_length(values).to_numpy(zero_copy_only=False)


def _concat(*pieces: Any) -> pa.Array:
  """Row by row, the pieces (binary arrays, or bytes for every row) one
  after the other."""
  return pc.binary_join_element_wise(
      *(pa.scalar(p, pa.large_binary()) if isinstance(p, bytes) else p
        for p in pieces), pa.scalar(b'', pa.large_binary()))


def _per_row(lists: pa.Array, items: pa.Array) -> pa.Array:
  """Each row's encoded items, one after the other: `items` holds the
  list values' encodings in order, so a row's bytes are one range of
  their buffer (an empty one for a null list)."""
  offsets = lists.offsets.to_numpy()
  _, item_offsets, data = items.buffers()
  item_offsets = np.frombuffer(item_offsets, np.int64)[
      items.offset:items.offset + len(items) + 1]
  return pa.Array.from_buffers(
      pa.large_binary(), len(lists),
      [None, pa.py_buffer(np.ascontiguousarray(
          item_offsets[offsets - offsets[0]])), data])


def _list_contents(lists: pa.Array, kind: str) -> pa.Array:
  """Each row's values as encoded inside its list: a BytesList's repeated
  field, or the packed numbers of a FloatList or Int64List."""
  values = lists.flatten()
  if kind == 'bytes':
    values = values.cast(pa.large_binary())
    items = _concat(varints(_lengths(values), tag=_TAG_1), values)
  elif kind == 'float':
    items = _binary(np.full(len(values), 4), np.asarray(
        values.to_numpy(zero_copy_only=False), '<f4').view(np.uint8))
  else:
    items = varints(values.to_numpy(zero_copy_only=False))
  return _per_row(lists, items)


def _map_entries(name: str, lists: pa.Array, kind: str
                 ) -> Tuple[pa.Array, np.ndarray]:
  """(bytes, byte lengths) of each row's Features map entry for the column
  `name`: its tf.train.Feature of `kind`, or, where the list is null, a
  Feature of no kind (as tfx_bsl encodes it)."""
  contents = _list_contents(lists, kind)
  content_size = _lengths(contents)
  present = lists.is_valid().to_numpy(zero_copy_only=False)
  packed = kind != 'bytes' and content_size.any()
  # A list of numbers is one packed field 1, left out when empty.
  packed_size = np.where(content_size > 0, 1 + _varint_sizes(
      content_size) + content_size, 0) if packed else content_size
  feature_size = np.where(present, 1 + _varint_sizes(packed_size) +
                          packed_size, 0)
  key = name.encode()
  head = bytes([_TAG_1, *varints([len(key)])[0].as_py(), *key, _TAG_2])
  entry_size = len(head) + _varint_sizes(feature_size) + feature_size
  entry = _concat(
      varints(entry_size, tag=_TAG_1), head, varints(feature_size),
      varints(packed_size, present, tag=_LIST_TAGS[kind]),
      *([varints(content_size, content_size > 0, tag=_TAG_1)] if packed
        else []), contents)
  return entry, 1 + _varint_sizes(entry_size) + entry_size


def canonical_examples(batch: pa.RecordBatch,
                       kinds: Mapping[str, str]) -> List[bytes]:
  """Each row of a record batch of list columns as a serialized
  tf.Example: the bytes of tfx_bsl's RecordBatchToExamples (a null list: a
  Feature of no kind; an empty one: the kind's empty list) parsed and
  serialized again with deterministic=True (map entries in key order),
  as TFX's ExampleGen hashes and writes examples; without either step
  per row. `kinds`: each column's 'bytes', 'float' or 'int64'."""
  entries, size = [], np.zeros(batch.num_rows, np.int64)
  for name in sorted(batch.schema.names, key=lambda n: n.encode()):
    entry, entry_size = _map_entries(name, batch.column(name), kinds[name])
    entries.append(entry)
    size += entry_size
  return _concat(varints(size, tag=_TAG_1), *entries).to_pylist()
