"""The Evaluator's baseline: the latest blessed model that is not the
candidate.

TFX's LatestBlessedModelStrategy returns the latest blessed model. On a re-run
where nothing changed, the Trainer is served from cache, so its model (already
blessed by the previous run) becomes its own baseline: the Evaluator's inputs
differ from the previous run's and it evaluates the same model twice (~45 s on
MovieLens 100k). This strategy leaves the candidate out, so an unchanged run
resolves the same inputs as before and the Evaluator is cached too; a model
trained on new data or code is still compared with the last blessed one.

The candidate is the newest model the Trainer produced, which is this run's
model in runs that follow one another. The Resolver reads the Trainer's model
channel, so it runs after the Trainer.

Kubeflow V2 / Vertex compile only TFX's own strategies; the Kubeflow runner
uses LatestBlessedModelStrategy.
"""

from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.input_resolution.strategies import latest_blessed_model_strategy

import ml_metadata as mlmd

MODEL_KEY = 'model'
MODEL_BLESSING_KEY = 'model_blessing'


def without_candidate(
    input_dict: Dict[str, List[types.Artifact]]
) -> Dict[str, List[types.Artifact]]:
  """`input_dict` with the newest model (the candidate) left out."""
  models = sorted(input_dict[MODEL_KEY], key=lambda model: model.id)
  return {**input_dict, MODEL_KEY: models[:-1]}


class LatestBlessedBaselineStrategy(
    latest_blessed_model_strategy.LatestBlessedModelStrategy):
  """Latest blessed model, excluding the newest model (the candidate).

  Inputs: `model` (the Trainer's model channel) and `model_blessing`.
  """

  def resolve_artifacts(
      self, store: mlmd.MetadataStore,
      input_dict: Dict[str, List[types.Artifact]]
  ) -> Optional[Dict[str, List[types.Artifact]]]:
    return super().resolve_artifacts(store, without_candidate(input_dict))
