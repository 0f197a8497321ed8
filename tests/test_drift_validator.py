"""The drift baseline: statistics of the data the latest blessed model was
evaluated on, read from ML Metadata's lineage."""

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from components import drift_validator

_Event = metadata_store_pb2.Event
_Artifact = metadata_store_pb2.Artifact


class Lineage:
  """An in-memory store where runs write examples, statistics and
  blessings the way the pipeline's components do."""

  def __init__(self):
    config = metadata_store_pb2.ConnectionConfig()
    config.fake_database.SetInParent()
    self.store = metadata_store.MetadataStore(config)
    self.types = {name: self.store.put_artifact_type(
        metadata_store_pb2.ArtifactType(name=name)) for name in (
            standard_artifacts.Examples.TYPE_NAME,
            standard_artifacts.ExampleStatistics.TYPE_NAME,
            standard_artifacts.ModelBlessing.TYPE_NAME)}
    self.execution_type = self.store.put_execution_type(
        metadata_store_pb2.ExecutionType(name='component'))

  def artifact(self, type_name: str, state=_Artifact.LIVE) -> int:
    (artifact_id,) = self.store.put_artifacts([_Artifact(
        type_id=self.types[type_name], uri=f'/{type_name}', state=state)])
    return artifact_id

  def execution(self, inputs, outputs) -> None:
    """inputs/outputs: {key: artifact id}."""
    (execution_id,) = self.store.put_executions([
        metadata_store_pb2.Execution(type_id=self.execution_type)])
    events = []
    for kind, bound in ((_Event.INPUT, inputs), (_Event.OUTPUT, outputs)):
      for key, artifact_id in bound.items():
        event = _Event(artifact_id=artifact_id, execution_id=execution_id,
                       type=kind)
        event.path.steps.add().key = key
        events.append(event)
    self.store.put_events(events)

  def run(self, blessed: bool, statistics_state=_Artifact.LIVE):
    """One pipeline run: ExampleGen -> StatisticsGen, Evaluator; returns
    (statistics id, the blessing as the resolver sees it)."""
    examples = self.artifact(standard_artifacts.Examples.TYPE_NAME)
    self.execution({}, {'examples': examples})
    statistics = self.artifact(standard_artifacts.ExampleStatistics.TYPE_NAME,
                               statistics_state)
    self.execution({'examples': examples}, {'statistics': statistics})
    blessing_id = self.artifact(standard_artifacts.ModelBlessing.TYPE_NAME)
    self.execution({'examples': examples}, {'blessing': blessing_id})
    blessing = standard_artifacts.ModelBlessing()
    blessing.id = blessing_id
    blessing.set_int_custom_property('blessed', int(blessed))
    return statistics, blessing


def baseline(lineage, blessings, current_examples=()):
  return [s.id for s in drift_validator.statistics_of_blessed_data(
      lineage.store, blessings, current_examples)]


def examples_artifact(artifact_id: int) -> standard_artifacts.Examples:
  examples = standard_artifacts.Examples()
  examples.id = artifact_id
  return examples


def test_the_baseline_is_the_data_of_the_latest_blessed_model():
  lineage = Lineage()
  first, blessed_first = lineage.run(blessed=True)
  second, blessed_second = lineage.run(blessed=True)
  _, refused = lineage.run(blessed=False)
  assert baseline(lineage, [blessed_first, blessed_second, refused]) == [
      second]
  assert baseline(lineage, [blessed_first, refused]) == [first]


def test_no_blessed_model_means_no_baseline():
  lineage = Lineage()
  _, refused = lineage.run(blessed=False)
  assert baseline(lineage, []) == [] and baseline(lineage, [refused]) == []


def test_deleted_statistics_mean_no_baseline():
  lineage = Lineage()
  _, blessing = lineage.run(blessed=True,
                            statistics_state=_Artifact.DELETED)
  assert baseline(lineage, [blessing]) == []


def test_no_baseline_when_this_run_has_the_blessed_data():
  """A run on the data the last blessed model saw (its ExampleGen cached)
  measures no drift, so a run that changed nothing stays all cached; new
  data is compared with the blessed data."""
  lineage = Lineage()
  first, blessing = lineage.run(blessed=True)
  (blessed_examples,) = lineage.store.get_artifacts_by_type(
      standard_artifacts.Examples.TYPE_NAME)
  assert baseline(lineage, [blessing],
                  [examples_artifact(blessed_examples.id)]) == []
  new_examples = lineage.artifact(standard_artifacts.Examples.TYPE_NAME)
  assert baseline(lineage, [blessing],
                  [examples_artifact(new_examples)]) == [first]


def test_a_rerun_compares_with_the_blessed_data_before_its_own():
  """Run 2 on new data is compared with run 1's; a re-run of run 2 (its
  model now the latest blessed) resolves run 1's data again, as run 2 did."""
  lineage = Lineage()
  first, blessed_first = lineage.run(blessed=True)
  _, blessed_second = lineage.run(blessed=True)
  second_examples = max(lineage.store.get_artifacts_by_type(
      standard_artifacts.Examples.TYPE_NAME), key=lambda a: a.id)
  assert baseline(lineage, [blessed_first, blessed_second],
                  [examples_artifact(second_examples.id)]) == [first]
