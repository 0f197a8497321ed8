"""The model a Trainer run on a window of spans warm-starts from: the latest
blessed model trained on an earlier window.

TFX's LatestBlessedModelStrategy returns the latest blessed model, which on
a re-run of the same span is the model that run trained: the Trainer's
inputs would change and it would train again, from itself, on every re-run.
This strategy takes the latest blessed model whose training window ended
before this run's (the newest span it was trained on is older), so a re-run
resolves the same base model and is served from the cache, while next
week's run starts from this week's blessed model.
"""

from typing import Dict, Iterable, List, Optional, Set

from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.common import resolver
from tfx.types import artifact_utils

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2

from components import span_window

EXAMPLES_KEY = 'examples'  # the window this run trains on
MODEL_KEY = 'model'  # every model of the pipeline
MODEL_BLESSING_KEY = 'model_blessing'  # every blessing of the pipeline
_CURRENT_MODEL_ID = evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY
_BLESSED = evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY


def spans_read(store: mlmd.MetadataStore, artifact_id: int) -> Set[int]:
  """The spans of the examples the execution that wrote an artifact (a
  Trainer's model, a Transform's cache) read."""
  producers = [e.execution_id for e in store.get_events_by_artifact_ids(
      [artifact_id]) if e.type == metadata_store_pb2.Event.OUTPUT]
  if not producers:
    return set()
  inputs = [e.artifact_id for e in store.get_events_by_execution_ids(
      producers[:1]) if e.type == metadata_store_pb2.Event.INPUT and any(
          step.key == EXAMPLES_KEY for step in e.path.steps)]
  return {artifact.custom_properties['span'].int_value
          for artifact in store.get_artifacts_by_id(inputs)
          if 'span' in artifact.custom_properties}


def latest_written_before(store: mlmd.MetadataStore,
                          window: List[types.Artifact],
                          artifact_ids: Iterable[int]) -> Optional[int]:
  """The newest of `artifact_ids` written from spans all older than the
  newest of `window` (an earlier window), or None."""
  newest = max(span_window.span_of(a) for a in window)
  for artifact_id in sorted(artifact_ids, reverse=True):
    spans = spans_read(store, artifact_id)
    if spans and max(spans) < newest:
      return artifact_id
  return None


def base_model(store: mlmd.MetadataStore, window: List[types.Artifact],
               blessings: List[types.Artifact]
               ) -> Dict[str, List[types.Artifact]]:
  """The latest blessed model trained on spans all older than the newest
  of `window`; empty lists when there is none (the run trains cold)."""
  model_id = latest_written_before(
      store, window, {b.get_int_custom_property(_CURRENT_MODEL_ID)
                      for b in blessings
                      if b.get_int_custom_property(_BLESSED) == 1})
  if model_id is None:
    return {MODEL_KEY: []}
  (mlmd_model,) = store.get_artifacts_by_id([model_id])
  (model_type,) = store.get_artifact_types_by_id([mlmd_model.type_id])
  return {MODEL_KEY: [artifact_utils.deserialize_artifact(model_type,
                                                          mlmd_model)]}


class WarmStartModelStrategy(resolver.ResolverStrategy):
  """Inputs: `examples` (the window), `model` and `model_blessing` (every
  model and blessing of the pipeline). Output: `model`, the base model (or
  none); `examples` and `model_blessing` as given."""

  def resolve_artifacts(
      self, store: mlmd.MetadataStore,
      input_dict: Dict[str, List[types.Artifact]]
  ) -> Optional[Dict[str, List[types.Artifact]]]:
    return {**input_dict, **base_model(store, input_dict[EXAMPLES_KEY],
                                       input_dict[MODEL_BLESSING_KEY])}
