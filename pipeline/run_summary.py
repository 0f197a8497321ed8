"""What a pipeline run did, read back from ML Metadata.

Used by the local runner (run_summary.json) and by the tests: which
components ran or were cached, how long each took, the Evaluator's RMSE,
the blessing and the pushed model.
"""

import dataclasses
import os
from typing import Dict, List, Optional, Tuple

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx.orchestration import metadata

from components import names
from pipeline import artifacts

_EXECUTION_STATES = metadata_store_pb2.Execution.State
ArtifactsByKey = Dict[str, List[metadata_store_pb2.Artifact]]


@dataclasses.dataclass
class ComponentRun:
  """One component's execution in a pipeline run."""
  node_id: str
  state: str  # COMPLETE, CACHED, FAILED, RUNNING...
  seconds: float
  outputs: ArtifactsByKey
  inputs: ArtifactsByKey
  error: Optional[str] = None
  started: float = 0.0  # seconds since the epoch


def open_store(metadata_path: str) -> mlmd.MetadataStore:
  """The SQLite ML Metadata store of a local run (read only use)."""
  return mlmd.MetadataStore(
      metadata.sqlite_metadata_connection_config(metadata_path))


def latest_run_id(store: mlmd.MetadataStore) -> Optional[str]:
  """Name of the most recent `pipeline_run` context, or None."""
  runs = store.get_contexts_by_type('pipeline_run')
  if not runs:
    return None
  return max(runs, key=lambda c: (c.create_time_since_epoch, c.id)).name


def node_id(store: mlmd.MetadataStore,
            execution: metadata_store_pb2.Execution) -> str:
  """The component id an execution ran (IR-based and legacy runners)."""
  if 'component_id' in execution.properties:  # Airflow's legacy launcher
    return execution.properties['component_id'].string_value
  for context in store.get_contexts_by_execution(execution.id):
    if context.type == 'node':
      return context.name.split('.', 1)[-1]
  return '?'


_OUTPUT_EVENTS = (metadata_store_pb2.Event.OUTPUT,
                  metadata_store_pb2.Event.DECLARED_OUTPUT)
_INPUT_EVENTS = (metadata_store_pb2.Event.INPUT,
                 metadata_store_pb2.Event.DECLARED_INPUT)


def _inputs_and_outputs(store: mlmd.MetadataStore, execution_id: int
                        ) -> Tuple[ArtifactsByKey, ArtifactsByKey]:
  """An execution's input and output artifacts, each by key (one query)."""
  events = store.get_events_by_execution_ids([execution_id])
  by_id = {a.id: a for a in store.get_artifacts_by_id(
      [e.artifact_id for e in events])}
  inputs: ArtifactsByKey = {}
  outputs: ArtifactsByKey = {}
  for event in events:
    if event.type in _INPUT_EVENTS:
      side = inputs
    elif event.type in _OUTPUT_EVENTS:
      side = outputs
    else:
      continue
    # One event names every key the artifact is bound to (e.g. an Evaluator
    # whose baseline is its candidate: 'model' and 'baseline_model').
    for step in event.path.steps:
      if step.HasField('key'):
        side.setdefault(step.key, []).append(by_id[event.artifact_id])
  return inputs, outputs


def component_runs(store: mlmd.MetadataStore,
                   run_id: str) -> Dict[str, ComponentRun]:
  """Every execution of pipeline run `run_id`, keyed by node id."""
  context = store.get_context_by_type_and_name('pipeline_run', run_id)
  runs = {}
  for execution in sorted(store.get_executions_by_context(context.id),
                          key=lambda e: e.id):
    node = node_id(store, execution)
    inputs, outputs = _inputs_and_outputs(store, execution.id)
    error = execution.custom_properties.get('__execution_result__')
    runs[node] = ComponentRun(
        node_id=node,
        state=_EXECUTION_STATES.Name(execution.last_known_state),
        seconds=round((execution.last_update_time_since_epoch -
                       execution.create_time_since_epoch) / 1000.0, 2),
        outputs=outputs,
        inputs=inputs,
        error=error.string_value if error else None,
        started=execution.create_time_since_epoch / 1000.0)
  return runs


def producing_run(store: mlmd.MetadataStore,
                  artifact: metadata_store_pb2.Artifact) -> Optional[str]:
  """The pipeline run whose execution first wrote `artifact` (a cached
  execution records the same artifact as its output later)."""
  producers = sorted(e.execution_id for e in
                     store.get_events_by_artifact_ids([artifact.id])
                     if e.type in _OUTPUT_EVENTS)
  if not producers:
    return None
  for context in store.get_contexts_by_execution(producers[0]):
    if context.type == 'pipeline_run':
      return context.name
  return None


def output(runs: Dict[str, ComponentRun], node: str,
            key: str) -> Optional[metadata_store_pb2.Artifact]:
  """The first `key` output of `node` in this run, if it produced one."""
  outputs = runs[node].outputs.get(key) if node in runs else None
  return outputs[0] if outputs else None


def summarize(metadata_path: str, run_id: Optional[str] = None) -> dict:
  """The run_summary.json content of run `run_id` (default: the latest)."""
  store = open_store(metadata_path)
  run_id = run_id or latest_run_id(store)
  if run_id is None:
    raise ValueError(f'{metadata_path} records no pipeline run')
  runs = component_runs(store, run_id)
  summary = {
      'run_id': run_id,
      'component_seconds': {n: r.seconds for n, r in runs.items()},
      'component_states': {n: r.state for n, r in runs.items()},
      'rmse': None,
      'blessed': False,
      'not_blessed_because': [],
      'pushed_model': None,
      'examples': {},
      'vocabulary_sizes': {},
      'training': {},
      'slices': [],
      'top_n': None,
      'tuner_trials': None,
      # The run whose Trainer trained the model: an earlier one when this
      # run took it from the cache.
      'model_trained_in_run': None,
  }
  if output(runs, names.STATISTICS_GEN, names.STATISTICS):
    summary['examples'] = artifacts.split_example_counts(
        output(runs, names.STATISTICS_GEN, names.STATISTICS))
  if output(runs, names.TRANSFORM, names.TRANSFORM_GRAPH):
    summary['vocabulary_sizes'] = artifacts.vocabulary_sizes(
        output(runs, names.TRANSFORM, names.TRANSFORM_GRAPH))
  if output(runs, names.TUNER, names.TUNER_RESULTS):
    summary['tuner_trials'] = artifacts.tuner_trials(
        output(runs, names.TUNER, names.TUNER_RESULTS).uri)
  if output(runs, names.TRAINER, names.MODEL_RUN):
    summary['training'] = artifacts.training_stats(
        output(runs, names.TRAINER, names.MODEL_RUN).uri)
  if output(runs, names.TRAINER, names.MODEL):
    summary['model_trained_in_run'] = producing_run(
        store, output(runs, names.TRAINER, names.MODEL))
  if output(runs, names.EVALUATOR, names.EVALUATION):
    evaluation = output(runs, names.EVALUATOR, names.EVALUATION).uri
    summary['slices'] = artifacts.slice_metrics(evaluation)
    summary['rmse'] = artifacts.overall_rmse(summary['slices'])
    summary['top_n'] = artifacts.top_n_metrics(evaluation)
    summary['blessed'] = artifacts.is_blessed(
        output(runs, names.EVALUATOR, names.BLESSING))
    if not summary['blessed']:
      summary['not_blessed_because'] = artifacts.validation_failures(
          evaluation) + (summary['top_n'] or {}).get('failures', [])
  pushed = output(runs, names.PUSHER, names.PUSHED_MODEL)
  if pushed and artifacts.pushed_version(pushed):
    summary['pushed_model'] = artifacts.pushed_version(pushed)[1]
  return summary


def failed_components(metadata_path: str) -> Dict[str, Optional[str]]:
  """Node ids that failed in the latest run, with their recorded error."""
  store = open_store(metadata_path)
  run_id = latest_run_id(store)
  if run_id is None:
    return {}
  return {n: r.error for n, r in component_runs(store, run_id).items()
          if r.state == 'FAILED'}



def ingested_spans(metadata_path: str) -> List[int]:
  """The spans ExampleGen has written (live Examples artifacts) in every
  run of the store so far; none when there is no store yet."""
  if not os.path.exists(metadata_path):
    return []
  return sorted(span_ingests(metadata_path))


def span_ingests(metadata_path: str) -> Dict[int, int]:
  """{span: how many ExampleGen executions read it} over every run of the
  store (executions served from the cache read nothing): a folder of spans
  is read once per span however many runs use it."""
  store = open_store(metadata_path)
  reads: Dict[int, int] = {}
  for execution in store.get_executions():
    if (execution.last_known_state != _EXECUTION_STATES.COMPLETE
        or node_id(store, execution) != names.EXAMPLE_GEN):
      continue
    for artifact in _inputs_and_outputs(store, execution.id)[1].get(
        names.EXAMPLES, []):
      span = artifact.custom_properties['span'].int_value
      reads[span] = reads.get(span, 0) + 1
  return dict(sorted(reads.items()))
