"""RatingsSource: where a run's ratings come from, as one value.

The CLI builds one from its flags; `create_pipeline` and MovieLensExampleGen
take it whole. What each format does with it (check it while the pipeline is
built, count, read and fingerprint its files when ExampleGen runs) is the
format's own module, each with the same functions (`SOURCE_MODULES`; the
interface is in components/movielens_example_gen.py, `SourceModule`).
Adding a source: a module with those functions, a format name here and a
constructor (README, "How to add a data source").

This module imports nothing heavy: the CLI's fast path (pipeline/run_key.py)
reads it without importing TensorFlow.
"""

import dataclasses
import importlib
import json
import os
import re
from types import ModuleType
from typing import Callable, Dict, Iterable, List, Optional, Tuple

TFDS = 'tfds'  # a TFDS MovieLens ratings config
CSV = 'csv'  # a ratings CSV, and optionally the eval split's
PARQUET = 'parquet'  # Parquet files (a path or glob)
GROUPLENS = 'grouplens'  # an unpacked GroupLens MovieLens zip
SPANS = 'spans'  # a folder of periods, span-1/, span-2/, ... (CSV or Parquet)
# The module implementing each format.
SOURCE_MODULES = {
    TFDS: 'components.tfds_source',
    CSV: 'components.csv_source',
    PARQUET: 'components.parquet_source',
    GROUPLENS: 'components.grouplens_files',
    SPANS: 'components.span_source',
}
FORMATS = tuple(SOURCE_MODULES)
DEFAULT_ENCODING = 'utf-8'
DEFAULT_DATASET = 'movielens/100k-ratings'


@dataclasses.dataclass(frozen=True)
class RatingsSource:
  """The ratings a run reads.

  Attributes:
    format: one of FORMATS.
    paths: TFDS: (config name,); CSV: (ratings[, eval ratings]); Parquet:
      (path or glob,); GroupLens: (folder,). Local paths are absolute.
    encoding: the text encoding of a CSV.
    split: a GroupLens 100k folder's shipped train/test pair (u1..u5, ua,
      ub) as train/eval.
    manual_dir: TFDS: the folder holding the original zip (offline use).
    data_dir: TFDS: where prepared datasets are kept (TFDS's default).
    span: spans: the span to ingest (TFX's RangeConfig); None, the newest.
  """
  format: str
  paths: Tuple[str, ...]
  encoding: str = DEFAULT_ENCODING
  split: Optional[str] = None
  manual_dir: Optional[str] = None
  data_dir: Optional[str] = None
  span: Optional[int] = None

  def __post_init__(self):
    """Refuses a value no format reads."""
    if self.format not in FORMATS:
      raise ValueError(f'ratings source format {self.format!r}: one of '
                       f'{", ".join(FORMATS)}')
    most = 2 if self.format == CSV else 1
    if not 1 <= len(self.paths) <= most or not all(self.paths):
      raise ValueError(f'a {self.format} ratings source takes 1 to {most} '
                       f'paths, not {list(self.paths)}')
    if self.split and self.format != GROUPLENS:
      raise ValueError('a shipped split (--movielens-split) needs a GroupLens '
                       'folder (--movielens-dir)')
    if (self.manual_dir or self.data_dir) and self.format != TFDS:
      raise ValueError('manual_dir and data_dir are for a TFDS source')
    if self.span is not None and (self.format != SPANS or self.span < 0):
      raise ValueError('a span (--span) is a number >= 0 of a folder of '
                       'spans (--ratings-dir)')

  @classmethod
  def tfds(cls, dataset: str = DEFAULT_DATASET,
           manual_dir: Optional[str] = None,
           data_dir: Optional[str] = None) -> 'RatingsSource':
    """A TFDS MovieLens ratings config, e.g. 'movielens/100k-ratings'."""
    return cls(TFDS, (dataset,), manual_dir=local_path(manual_dir),
               data_dir=local_path(data_dir))

  @classmethod
  def csv(cls, path: str, eval_path: Optional[str] = None,
          encoding: str = DEFAULT_ENCODING) -> 'RatingsSource':
    """A ratings CSV; with `eval_path`, it is train and that file eval."""
    return cls(CSV, tuple(local_path(p) for p in (path, eval_path) if p),
               encoding=encoding)

  @classmethod
  def parquet(cls, pattern: str) -> 'RatingsSource':
    """Parquet files with the CSV's columns (a path or glob)."""
    return cls(PARQUET, (local_path(pattern),))

  @classmethod
  def grouplens(cls, folder: str,
                split: Optional[str] = None) -> 'RatingsSource':
    """An unpacked GroupLens folder (ml-100k, ml-1m, ml-20m, ml-25m,
    ml-latest-small), optionally 100k's shipped pair `split`."""
    return cls(GROUPLENS, (local_path(folder),), split=split)

  @classmethod
  def spans(cls, folder: str, span: Optional[int] = None,
            encoding: str = DEFAULT_ENCODING) -> 'RatingsSource':
    """A folder of `span-N/` folders of CSV or Parquet ratings; ExampleGen
    ingests `span` (default: the newest)."""
    return cls(SPANS, (local_path(folder),), encoding=encoding, span=span)

  def to_json(self) -> str:
    """The value as an execution property (a string), without the span:
    ExampleGen's RangeConfig names it, and TFX's driver resolves it."""
    fields = dataclasses.asdict(self)
    del fields['span']
    return json.dumps(fields, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> 'RatingsSource':
    """The value `to_json` wrote."""
    fields = json.loads(text)
    return cls(**{**fields, 'paths': tuple(fields['paths'])})

  def local_inputs(self) -> List[str]:
    """The local files, globs or folders a run reads: what a run's key
    (pipeline/run_key.py) fingerprints. TFDS: where it keeps the dataset."""
    if self.format == TFDS:
      data_dir = self.data_dir or os.environ.get('TFDS_DATA_DIR') or (
          os.path.expanduser('~/tensorflow_datasets'))
      return [os.path.join(data_dir, *self.paths[0].split('/'))]
    return [p for p in self.paths if not is_remote(p)]


SPAN_PREFIX = 'span-'  # a span's folder: span-1, span-2, ...
SPAN_NAME = re.compile(re.escape(SPAN_PREFIX) + r'(\d+)$')


def span_folders_in(folder: str, listdir: Callable[[str], Iterable[str]],
                    isdir: Callable[[str], bool],
                    error: type = ValueError) -> Dict[int, str]:
  """{span number: its folder} of the `span-N` folders in `folder`, in
  order, listed with `listdir` and `isdir` (os's where TensorFlow is not
  imported yet, tf.io.gfile's for any file system). Raises `error` when
  there is none."""
  spans = {}
  for name in listdir(folder):
    match = SPAN_NAME.match(name.rstrip('/'))
    path = os.path.join(folder, name.rstrip('/'))
    if match and isdir(path):
      spans[int(match.group(1))] = path
  if not spans:
    raise error(f'ratings folder {folder}: no span folders ({SPAN_PREFIX}1, '
                f'{SPAN_PREFIX}2, ...)')
  return dict(sorted(spans.items()))


def span_window(source: RatingsSource, window_spans: int
                ) -> Optional[Tuple[int, List[int]]]:
  """(the span a run ingests and evaluates on, the spans before it that it
  trains on) for a local folder of spans (None for a remote one: the window
  resolver checks it when it runs). Raises ValueError when no window is
  possible: the span is the first, or fewer spans precede it than asked."""
  folder = source.paths[0]
  if is_remote(folder):
    return None
  numbers = list(span_folders_in(
      folder, lambda path: os.listdir(path) if os.path.isdir(path) else (),
      os.path.isdir, ValueError))
  span = max(numbers) if source.span is None else source.span
  earlier = [n for n in numbers if n < span]
  if not earlier:
    raise ValueError(
        f'{SPAN_PREFIX}{span} is the first span: a run evaluates on its '
        'span and trains on the spans before it, so it needs at least two '
        '(--ingest-only ingests this one for the next run)')
  if window_spans > len(earlier):
    raise ValueError(
        f'--window-spans {window_spans}: only {len(earlier)} span(s) before '
        f'{SPAN_PREFIX}{span} ({SPAN_PREFIX}{earlier[0]}..'
        f'{SPAN_PREFIX}{earlier[-1]})')
  return span, earlier[-window_spans:] if window_spans else earlier


def source_module(source: RatingsSource) -> ModuleType:
  """The module implementing the source's format (imported now: it imports
  TensorFlow and Beam)."""
  return importlib.import_module(SOURCE_MODULES[source.format])


def is_remote(path: str) -> bool:
  """Whether a path is a URI (gs://, s3://, ...), not a local file."""
  return '://' in path


def local_path(path: Optional[str]) -> Optional[str]:
  """Absolute path for local files; URIs such as gs://... stay as given."""
  if not path or is_remote(path):
    return path or None
  return os.path.abspath(path)
