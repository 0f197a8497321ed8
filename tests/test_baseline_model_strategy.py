"""The Evaluator's baseline: the latest blessed model other than this run's."""

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from components import baseline_model_strategy


def fake_store():
  """An in-memory ML Metadata store holding models 1, 2 and 3."""
  config = metadata_store_pb2.ConnectionConfig()
  config.fake_database.SetInParent()
  store = metadata_store.MetadataStore(config)
  type_id = store.put_artifact_type(metadata_store_pb2.ArtifactType(
      name=standard_artifacts.Model.TYPE_NAME))
  ids = store.put_artifacts([metadata_store_pb2.Artifact(
      type_id=type_id, uri=f'/models/{i}') for i in (1, 2, 3)])
  assert ids == [1, 2, 3]
  return store


def model(artifact_id: int):
  artifact = standard_artifacts.Model()
  artifact.id = artifact_id
  return artifact


def blessing(model_id: int, blessed: bool):
  artifact = standard_artifacts.ModelBlessing()
  artifact.id = 100 + model_id
  artifact.set_int_custom_property('current_model_id', model_id)
  artifact.set_int_custom_property('blessed', int(blessed))
  return artifact


def resolve(candidates, blessings):
  strategy = baseline_model_strategy.LatestBlessedBaselineStrategy()
  return strategy.resolve_artifacts(fake_store(), {
      'model': candidates, 'model_blessing': blessings})


def test_a_cached_candidate_is_not_its_own_baseline():
  # Run 2 with nothing changed: model 1 is both the candidate and blessed.
  result = resolve([model(1)], [blessing(1, True)])
  assert result == {'model': [], 'model_blessing': []}


def test_a_new_candidate_gets_the_latest_blessed_model():
  result = resolve([model(3)], [blessing(1, True), blessing(2, False)])
  assert [m.id for m in result['model']] == [1]
  assert result['model'][0].uri == '/models/1'
  assert [b.id for b in result['model_blessing']] == [101]
  result = resolve([model(3)], [blessing(1, True), blessing(2, True)])
  assert [m.id for m in result['model']] == [2]


def test_no_blessed_model_means_no_baseline():
  assert resolve([model(2)], [blessing(1, False)])['model'] == []
