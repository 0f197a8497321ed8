"""Bookkeeping for the injected faults: what each did to the served model.

Each fault test snapshots the serving directory before and after its fault
and records both here; conftest.py carries each test's entries in its report
(pytest-xdist runs tests in worker processes) and prints the totals at the
end of the run:
"faults tried: N, pushed after a fault: 0, served model changed by a
fault: 0".
"""

import os
from typing import Dict, List

from tests import e2e

# What this process recorded; what every report carried (conftest.py).
LEDGER: List[dict] = []
REPORTED: List[dict] = []
_unreported = 0


def snapshot(serving_dir: str) -> Dict[str, Dict[str, bytes]]:
  """{version: {file: bytes}} of every numbered version folder a model
  server would list under the serving directory."""
  if not os.path.isdir(serving_dir):
    return {}
  return {name: e2e.tree_bytes(os.path.join(serving_dir, name))
          for name in sorted(os.listdir(serving_dir)) if name.isdigit()}


def record(fault: str, before: Dict[str, dict],
           after: Dict[str, dict]) -> dict:
  """Adds one fault's outcome to the ledger and returns it."""
  entry = {
      'fault': fault,
      'pushed': sorted(set(after) - set(before)),
      'changed': sorted(v for v in before if after.get(v) != before[v]),
  }
  LEDGER.append(entry)
  return entry


def take_unreported() -> List[dict]:
  """The entries recorded since the last call."""
  global _unreported
  entries, _unreported = LEDGER[_unreported:], len(LEDGER)
  return entries


def summary_line(entries: List[dict]) -> str:
  """The totals over the given faults."""
  return (f'faults tried: {len(entries)}, pushed after a fault: '
          f'{sum(1 for e in entries if e["pushed"])}, served model changed '
          f'by a fault: {sum(1 for e in entries if e["changed"])}')
