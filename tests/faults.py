"""Bookkeeping for the injected faults: what each did to the served model.

Each fault test snapshots the serving directory before and after its fault
and records both here; conftest.py prints the totals at the end of the run:
"faults tried: N, pushed after a fault: 0, served model changed by a
fault: 0".
"""

import os
from typing import Dict, List

from tests import e2e

LEDGER: List[dict] = []


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


def summary_line() -> str:
  """The totals over every recorded fault."""
  return (f'faults tried: {len(LEDGER)}, pushed after a fault: '
          f'{sum(1 for e in LEDGER if e["pushed"])}, served model changed '
          f'by a fault: {sum(1 for e in LEDGER if e["changed"])}')
