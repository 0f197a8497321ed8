"""The Evaluator's baseline leaves out the candidate (the newest model)."""

from tfx.types import standard_artifacts

from components import baseline_model_strategy


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


def resolve(models, blessings):
  strategy = baseline_model_strategy.LatestBlessedBaselineStrategy()
  return strategy.resolve_artifacts(None, {'model': models,
                                           'model_blessing': blessings})


def test_a_cached_candidate_is_not_its_own_baseline():
  # Run 2 with nothing changed: model 1 is both the candidate and blessed.
  result = resolve([model(1)], [blessing(1, True)])
  assert result['model'] == []


def test_a_new_candidate_gets_the_latest_blessed_older_model():
  result = resolve([model(3), model(1), model(2)],
                   [blessing(1, True), blessing(2, False)])
  assert [m.id for m in result['model']] == [1]


def test_no_blessed_model_means_no_baseline():
  assert resolve([model(1), model(2)], [blessing(1, False)])['model'] == []
