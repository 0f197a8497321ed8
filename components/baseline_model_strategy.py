"""The Evaluator's baseline: the latest blessed model that is not the
candidate.

TFX's LatestBlessedModelStrategy returns the latest blessed model. On a re-run
where nothing changed, the Trainer is served from cache, so its model (already
blessed by the previous run) becomes its own baseline: the Evaluator's inputs
differ from the previous run's and it evaluates the same model twice. This
strategy leaves the candidate out, so an unchanged run
resolves the same inputs as before and the Evaluator is cached too; a model
trained on new data or code is still compared with the last blessed one.

The Resolver reads the Trainer's model channel, which holds this run's model
(new, or reused from cache), so it runs after the Trainer.

Kubeflow V2 / Vertex compile only TFX's own strategies; the Kubeflow runner
uses LatestBlessedModelStrategy.
"""

from typing import Dict, List, Optional, Set

from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.common import resolver
from tfx.types import artifact_utils

import ml_metadata as mlmd

MODEL_KEY = 'model'
MODEL_BLESSING_KEY = 'model_blessing'
_CURRENT_MODEL_ID = evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY
_BLESSED = evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY


def latest_blessed_other_than(
    store: mlmd.MetadataStore, candidate_ids: Set[int],
    blessings: List[types.Artifact]) -> Dict[str, List[types.Artifact]]:
  """The newest blessed model whose id is not in `candidate_ids`, with its
  blessing; empty lists if there is none."""
  blessed = {b.get_int_custom_property(_CURRENT_MODEL_ID): b
             for b in blessings if b.get_int_custom_property(_BLESSED) == 1}
  baseline_ids = sorted(set(blessed) - candidate_ids)
  if not baseline_ids:
    return {MODEL_KEY: [], MODEL_BLESSING_KEY: []}
  (mlmd_model,) = store.get_artifacts_by_id([baseline_ids[-1]])
  (model_type,) = store.get_artifact_types_by_id([mlmd_model.type_id])
  model = artifact_utils.deserialize_artifact(model_type, mlmd_model)
  return {MODEL_KEY: [model], MODEL_BLESSING_KEY: [blessed[model.id]]}


class LatestBlessedBaselineStrategy(resolver.ResolverStrategy):
  """Latest blessed model other than this run's model (the candidate).

  Inputs: `model` (the Trainer's model channel: this run's model) and
  `model_blessing` (every blessing of the pipeline). The baseline model is
  read from ML Metadata by the id its blessing names.
  """

  def resolve_artifacts(
      self, store: mlmd.MetadataStore,
      input_dict: Dict[str, List[types.Artifact]]
  ) -> Optional[Dict[str, List[types.Artifact]]]:
    return latest_blessed_other_than(
        store, {model.id for model in input_dict[MODEL_KEY]},
        input_dict[MODEL_BLESSING_KEY])
