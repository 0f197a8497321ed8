"""Bookkeeping for the injected faults: what each did to the served model.

Each fault test snapshots the serving directory before and after its fault
and records both here; conftest.py prints the totals at the end of the run:
"faults tried: N, pushed after a fault: 0, served model changed by a
fault: 0".
"""

import hashlib
import os
from typing import Dict, List

LEDGER: List[dict] = []


def tree_digest(path: str) -> str:
  """sha256 over every file's relative path and bytes under path."""
  digest = hashlib.sha256()
  for root, dirs, names in os.walk(path):
    dirs.sort()
    for name in sorted(names):
      full = os.path.join(root, name)
      digest.update(os.path.relpath(full, path).encode() + b'\0')
      with open(full, 'rb') as f:
        digest.update(f.read())
  return digest.hexdigest()


def snapshot(serving_dir: str) -> Dict[str, str]:
  """{version: digest} of every numbered version folder a model server
  would list under the serving directory."""
  if not os.path.isdir(serving_dir):
    return {}
  return {name: tree_digest(os.path.join(serving_dir, name))
          for name in sorted(os.listdir(serving_dir)) if name.isdigit()}


def record(fault: str, before: Dict[str, str],
           after: Dict[str, str]) -> dict:
  """Adds one fault's outcome to the ledger and returns it."""
  entry = {
      'fault': fault,
      'pushed': sorted(set(after) - set(before)),
      'changed': sorted(v for v in before if after.get(v) != before[v]),
  }
  LEDGER.append(entry)
  return entry


def summary_line() -> str:
  """The totals over every recorded fault."""
  return (f'faults tried: {len(LEDGER)}, pushed after a fault: '
          f'{sum(1 for e in LEDGER if e["pushed"])}, served model changed '
          f'by a fault: {sum(1 for e in LEDGER if e["changed"])}')
