"""What a local run depends on, as one key, to skip a run that would only
take every component from the cache.

The key covers the flags, this project's code and schema, the installed
packages of the stack, and the size and modification time of every local
input file (ratings files, a GroupLens folder, the TFDS manual and data
folders), as TFX's file-based driver fingerprints them. When a run
succeeds having executed nothing (every component cached; the resolvers
found what they found the run before), the local runner records its key
with the state of the ML Metadata store (LAST_RUN_FILE). A run with the
same key, on a store nobody has written since, would execute nothing
either: the same flags, code and inputs, and resolvers reading the same
store. The runner then reports that run without importing TFX or running
its cached components. A run that executed something
(a first run; the run after it, whose drift check has a blessed baseline
for the first time) records no key, so the next one runs. `--no-cache` and
remote paths (gs://...) always run.
"""

import argparse
import glob
import hashlib
import importlib.metadata
import json
import os
import sys
from typing import Any, Dict, Iterable, List, Optional

from pipeline import cli

LAST_RUN_FILE = 'last_run.json'
PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DISTRIBUTION = 'movielens-ranking-tfx'  # setup.py's name
SOURCE_SUFFIXES = ('.py', '.pbtxt')
# Flags that change what is printed or where, not what runs.
UNKEYED_FLAGS = ('verbose', 'no_report', 'output_dir')


def source_dirs() -> List[str]:
  """This project's packages, as setup.py lists them (the installed
  distribution's top_level.txt)."""
  listed = importlib.metadata.distribution(DISTRIBUTION).read_text(
      'top_level.txt') or ''
  return sorted(listed.split())


def installed_packages() -> Dict[str, str]:
  """{name: version} of every distribution installed beside this one."""
  return dict(sorted((d.metadata['Name'], d.version)
                     for d in importlib.metadata.distributions()))


def source_digest() -> str:
  """sha256 of this project's code and schema files."""
  digest = hashlib.sha256()
  for folder in source_dirs():
    for root, dirs, files in os.walk(os.path.join(PROJECT_ROOT, folder)):
      dirs[:] = sorted(d for d in dirs if d != '__pycache__')
      for name in sorted(files):
        if name.endswith(SOURCE_SUFFIXES):
          path = os.path.join(root, name)
          digest.update(os.path.relpath(path, PROJECT_ROOT).encode())
          with open(path, 'rb') as f:
            digest.update(hashlib.sha256(f.read()).digest())
  return digest.hexdigest()


def file_states(pattern: str) -> List[List[Any]]:
  """[path, size, mtime_ns] of every file `pattern` (a file, folder or
  glob) names; a folder's files recursively."""
  states = []
  for path in sorted(glob.glob(pattern)) or [pattern]:
    if os.path.isdir(path):
      for root, dirs, files in os.walk(path):
        dirs.sort()
        states += [state(os.path.join(root, name)) for name in sorted(files)]
    else:
      states.append(state(path))
  return states


def state(path: str) -> List[Any]:
  """[path, size, mtime_ns], or [path, None, None] if it does not exist."""
  try:
    stat = os.stat(path)
  except FileNotFoundError:
    return [path, None, None]
  return [path, stat.st_size, stat.st_mtime_ns]


def input_paths(args: argparse.Namespace) -> List[str]:
  """The local inputs a run with these flags reads: every path-typed flag's
  value (cli.InputPath) and the ratings source's files (for TFDS, where it
  keeps the dataset)."""
  paths = [value for _, value in sorted(vars(args).items())
           if isinstance(value, cli.InputPath) and value]
  return paths + cli.ratings_source(args).local_inputs()


def run_key(args: argparse.Namespace) -> Optional[str]:
  """The key of a run with these flags now; None when it must run anyway
  (--no-cache, an input this machine cannot stat, or this project not
  installed)."""
  flags = {k: v for k, v in sorted(vars(args).items())
           if k not in UNKEYED_FLAGS}
  paths = input_paths(args)
  if args.no_cache or any('://' in p for p in paths):
    return None
  try:
    code = source_digest()
  except importlib.metadata.PackageNotFoundError:
    return None
  content = {
      'flags': flags,
      'code': code,
      'python': sys.version,
      'packages': installed_packages(),
      'inputs': [file_states(p) for p in paths],
  }
  return hashlib.sha256(
      json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def executed(component_states: Dict[str, str],
             resolver_ids: Iterable[str]) -> List[str]:
  """The components a run executed (not taken from the cache), resolvers
  aside: they run every time."""
  return [node for node, state in component_states.items()
          if state != 'CACHED' and node not in resolver_ids]


def record(output_dir: str, metadata_path: str, key: Optional[str]) -> None:
  """Records the key of a successful run that executed nothing and the
  store's state after it (None: forgets any)."""
  path = os.path.join(output_dir, LAST_RUN_FILE)
  if key is None:
    forget(output_dir)
    return
  with open(path, 'w') as f:
    json.dump({'key': key, 'metadata': state(metadata_path)}, f)


def forget(output_dir: str) -> None:
  """No successful run to compare with (the last one failed)."""
  path = os.path.join(output_dir, LAST_RUN_FILE)
  if os.path.exists(path):
    os.remove(path)


def unchanged(output_dir: str, metadata_path: str,
              key: Optional[str]) -> bool:
  """True if the last run succeeded with this key and nothing has written
  the ML Metadata store since."""
  path = os.path.join(output_dir, LAST_RUN_FILE)
  if key is None or not os.path.exists(path):
    return False
  with open(path) as f:
    last: Dict[str, Any] = json.load(f)
  return last.get('key') == key and last.get('metadata') == state(
      metadata_path)
