"""One line per component as it starts and finishes, read from ML Metadata.

LocalDagRunner has no progress callbacks, so a thread follows the run's
executions in the SQLite store and reports each one's state changes with
what it produced.
"""

import os
import sys
import threading
import time
from typing import Callable, Dict, Optional, TextIO

import ml_metadata as mlmd
from ml_metadata import errors as mlmd_errors

from components import names
from pipeline import artifacts
from pipeline import run_summary

_DONE = ('COMPLETE', 'CACHED', 'FAILED', 'CANCELED')


def _first(run: run_summary.ComponentRun, key: str, inputs: bool = False):
  artifacts_ = (run.inputs if inputs else run.outputs).get(key)
  return artifacts_[0] if artifacts_ else None


def _example_gen(run):
  examples = _first(run, names.EXAMPLES)
  return f"splits {examples.properties['split_names'].string_value}" if (
      examples) else ''


def _statistics(run):
  statistics = _first(run, names.STATISTICS)
  counts = artifacts.split_example_counts(statistics) if statistics else {}
  return ', '.join(f'{split} {n:,} examples' for split, n in counts.items())


def _transform(run):
  graph = _first(run, names.TRANSFORM_GRAPH)
  sizes = artifacts.vocabulary_sizes(graph) if graph else {}
  return 'vocabularies: ' + ', '.join(f'{k} {n:,}' for k, n in sizes.items())


def _tuner(run):
  results = _first(run, names.TUNER_RESULTS)
  trials = artifacts.tuner_trials(results.uri) if results else []
  if not trials:
    return ''
  best = trials[0]
  values = ', '.join(f'{k} {v:g}' for k, v in best.items()
                     if k not in ('trial_id', 'score'))
  return (f"best of {len(trials)} trials: val RMSE {best['score']:.4f} "
          f'with {values}')


def _trainer(run):
  model_run = _first(run, names.MODEL_RUN)
  if not model_run:
    return ''
  curves = artifacts.training_curves(model_run.uri)
  train, validation = curves.get('train', {}), curves.get('validation', {})
  epochs = []
  for i, rmse in enumerate(train.get('rmse', [])):
    val = validation.get('rmse', [])
    epochs.append(f'{i + 1}: rmse {rmse:.4f}' +
                  (f' val {val[i]:.4f}' if i < len(val) else ''))
  return 'epochs ' + '; '.join(epochs)


def _evaluator(run):
  evaluation, blessing = _first(run, names.EVALUATION), _first(run, names.BLESSING)
  rmse = artifacts.overall_rmse(
      artifacts.slice_metrics(evaluation.uri)) if evaluation else None
  blessed = blessing is not None and artifacts.is_blessed(blessing)
  baseline = _first(run, 'baseline_model', inputs=True)
  top_n = artifacts.top_n_metrics(evaluation.uri) if evaluation else None
  recall = ''
  if top_n:
    metric = f"recall@{top_n['k']}"
    recall = (f"; {metric} {top_n['bundle'][metric]:.4f} (most popular "
              f"{top_n['most_popular'][metric]:.4f})")
    new = top_n.get('new_users') or {}
    gated = new.get('by_history', {}).get(str(new.get('history')))
    if gated and gated['bundle']['users']:
      recall += (f"; new users {gated['bundle'][metric]:.4f} (most popular "
                 f"{gated['most_popular'][metric]:.4f})")
  return (f'eval RMSE {rmse:.4f}, ' if rmse is not None else '') + (
      'blessed' if blessed else 'NOT blessed') + (
          f' (against baseline model #{baseline.id})' if baseline else
          ' (no baseline yet)') + recall


def _pusher(run):
  pushed = _first(run, names.PUSHED_MODEL)
  version = artifacts.pushed_version(pushed) if pushed else None
  return (f'pushed version {version[0]}' if version else
          'not pushed (model not blessed)')


DESCRIBERS: Dict[str, Callable[[run_summary.ComponentRun], str]] = {
    names.EXAMPLE_GEN: _example_gen,
    names.STATISTICS_GEN: _statistics,
    names.TRANSFORM: _transform,
    names.TUNER: _tuner,
    names.TRAINER: _trainer,
    names.EVALUATOR: _evaluator,
    names.PUSHER: _pusher,
}


def describe(run: run_summary.ComponentRun) -> str:
  """What a finished component produced, in a few words."""
  describer = DESCRIBERS.get(run.node_id)
  return describer(run) if describer and run.state != 'FAILED' else ''


class Progress:
  """Prints component start and finish lines while a run goes on."""

  def __init__(self, metadata_path: str, out: TextIO = sys.stdout,
               interval: float = 0.5):
    self._metadata_path = metadata_path
    self._out = out
    self._interval = interval
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._follow, daemon=True)
    self._started = time.monotonic()
    self._known_run_ids = set()
    self._reported: Dict[str, str] = {}  # node id -> last state reported
    # One connection for every look (opening one makes the store's folder
    # and connects: a poll's largest cost, taken from the run it watches).
    # Used by one thread at a time: the caller's before the thread starts
    # and after it ends.
    self._store: Optional[mlmd.MetadataStore] = None

  def __enter__(self) -> 'Progress':
    self._known_run_ids = self._run_ids()
    self._thread.start()
    return self

  def __exit__(self, *exc) -> None:
    self._stop.set()
    self._thread.join()
    self._poll()  # whatever finished since the last look

  def _open_store(self) -> Optional[mlmd.MetadataStore]:
    """The store, connected once it exists (the run creates it)."""
    if self._store is None and os.path.exists(self._metadata_path):
      self._store = run_summary.open_store(self._metadata_path)
    return self._store

  def _run_ids(self) -> set:
    store = self._open_store()
    if store is None:
      return set()
    return {c.name for c in store.get_contexts_by_type('pipeline_run')}

  def _follow(self) -> None:
    while not self._stop.wait(self._interval):
      try:
        self._poll()
      except mlmd_errors.StatusError:
        pass  # the runner holds the SQLite lock; look again next time

  def _poll(self) -> None:
    new_runs = self._run_ids() - self._known_run_ids
    if not new_runs:
      return
    for node, run in run_summary.component_runs(
        self._store, sorted(new_runs)[-1]).items():
      self._report(node, run)

  def _report(self, node: str, run: run_summary.ComponentRun) -> None:
    state = run.state if run.state in _DONE else 'RUNNING'
    if self._reported.get(node) == state:
      return
    elapsed = time.monotonic() - self._started
    if state == 'RUNNING':
      line = f'[{elapsed:6.1f}s] {node} started'
    else:
      what = describe(run)
      line = (f'[{elapsed:6.1f}s] {node} {state.lower()} in '
              f'{run.seconds:.1f}s' + (f': {what}' if what else ''))
    self._reported[node] = state
    print(line, file=self._out, flush=True)


def watch(metadata_path: str, out: Optional[TextIO] = None) -> Progress:
  """Context manager: `with watch(path): LocalDagRunner().run(...)`."""
  return Progress(metadata_path, out or sys.stdout)
