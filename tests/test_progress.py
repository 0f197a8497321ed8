"""The progress reader: one line per component as it starts and finishes,
each state reported once, with what the component produced."""

import io
import json

from ml_metadata.proto import metadata_store_pb2

from pipeline import progress
from pipeline import run_summary
from pipeline.run_summary import ComponentRun


def artifact(uri: str, **properties) -> metadata_store_pb2.Artifact:
  result = metadata_store_pb2.Artifact(uri=uri)
  for name, value in properties.items():
    result.properties[name].string_value = value
  return result


def reporter() -> progress.Progress:
  return progress.Progress('/nonexistent/metadata.db', out=io.StringIO())


def test_each_state_is_reported_once_with_what_was_made():
  watcher = reporter()
  running = ComponentRun('MovieLensExampleGen', 'RUNNING', 0.0, {}, {})
  done = ComponentRun('MovieLensExampleGen', 'COMPLETE', 12.5, {
      'examples': [artifact('/e', split_names='["train", "validation", '
                                              '"eval"]')]}, {})
  for run in (running, running, done, done):
    watcher._report(run.node_id, run)  # pylint: disable=protected-access
  lines = watcher._out.getvalue().splitlines()  # pylint: disable=protected-access
  assert len(lines) == 2
  assert lines[0].endswith('MovieLensExampleGen started')
  assert lines[1].endswith('MovieLensExampleGen complete in 12.5s: splits '
                           '["train", "validation", "eval"]')


def test_a_failed_component_says_only_that_it_failed():
  watcher = reporter()
  failed = ComponentRun('Trainer', 'FAILED', 3.0, {}, {}, error='boom')
  watcher._report('Trainer', failed)  # pylint: disable=protected-access
  assert watcher._out.getvalue().strip().endswith(  # pylint: disable=protected-access
      'Trainer failed in 3.0s')


def test_the_tuner_line_names_the_best_trial(tmp_path):
  (tmp_path / 'tuner_results.json').write_text(json.dumps([
      {'trial_id': '1', 'score': 0.95, 'learning_rate': 0.001},
      {'trial_id': '0', 'score': 0.91, 'learning_rate': 0.002}]))
  run = ComponentRun('Tuner', 'COMPLETE', 60.0,
                     {'tuner_results': [artifact(str(tmp_path))]}, {})
  assert progress.describe(run) == (
      'best of 2 trials: val RMSE 0.9100 with learning_rate 0.002')


def test_components_without_a_describer_get_no_detail():
  run = ComponentRun('ImportSchemaGen', 'CACHED', 0.0, {}, {})
  assert progress.describe(run) == ''


def test_one_connection_sees_the_runs_written_after_it_opened(tmp_path):
  path = str(tmp_path / 'metadata.db')
  assert reporter()._run_ids() == set()  # pylint: disable=protected-access
  writer = run_summary.open_store(path)
  run_type = writer.put_context_type(
      metadata_store_pb2.ContextType(name='pipeline_run'))
  watcher = progress.Progress(path, out=io.StringIO())
  assert watcher._run_ids() == set()  # pylint: disable=protected-access
  store = watcher._store  # pylint: disable=protected-access
  for name in ('run-1', 'run-2'):
    writer.put_contexts([metadata_store_pb2.Context(type_id=run_type,
                                                    name=name)])
    assert name in watcher._run_ids()  # pylint: disable=protected-access
  assert watcher._store is store  # pylint: disable=protected-access
