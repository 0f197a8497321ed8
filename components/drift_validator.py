"""DriftValidator: TFX's DistributionValidator against the data of the
served model.

DistributionValidator compares this run's statistics with a baseline's,
feature by feature (configs.DRIFT_COMPARATORS). TFX's component requires a
baseline; ours takes it as optional, so the first run (no blessed model, so
no baseline) passes, as TFX's executor already does when given none.

The baseline (BlessedDataStatisticsStrategy) is not simply the latest
statistics: after a run stopped for drift, re-running on the same drifted
data would compare it with itself and pass. The strategy follows ML Metadata
from the latest blessed model's blessing to the Evaluator run that produced
it, to the examples it evaluated, to the statistics StatisticsGen computed
over them. With no blessed model yet there
is no baseline, and DistributionValidator passes (TFX's cold start).

Kubeflow V2 / Vertex compile only TFX's own strategies; the Kubeflow runner
uses LatestArtifactStrategy (the latest statistics) instead.
"""

from typing import Dict, List, Optional, Sequence, Tuple

from ml_metadata.proto import metadata_store_pb2
from tensorflow_metadata.proto.v0 import path_pb2
from tfx import types
from tfx.components.distribution_validator import executor
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.dsl.components.common import resolver
from tfx.proto import distribution_validator_pb2
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils
from tfx.utils import proto_utils

import ml_metadata as mlmd

STATISTICS_KEY = standard_component_specs.STATISTICS_KEY
MODEL_BLESSING_KEY = 'model_blessing'
EXAMPLES_KEY = standard_component_specs.EXAMPLES_KEY
_BLESSED = evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY
_Event = metadata_store_pb2.Event
_CONFIG_KEY = standard_component_specs.DISTRIBUTION_VALIDATOR_CONFIG_KEY
_ANOMALIES_KEY = standard_component_specs.ANOMALIES_KEY
# Not 'anomalies': Airflow's launcher names artifacts '<output key>:<run>',
# unique per type, and ExampleValidator already writes 'anomalies'.
DRIFT_ANOMALIES_KEY = 'drift_anomalies'


def _events(store: mlmd.MetadataStore, artifact_ids: List[int],
            kind: int) -> List[metadata_store_pb2.Event]:
  return [e for e in store.get_events_by_artifact_ids(artifact_ids)
          if e.type == kind]


def _linked(store: mlmd.MetadataStore, execution_ids: List[int], kind: int,
            key: str) -> List[int]:
  """Ids of the artifacts bound to `key` as input/output of executions."""
  return [e.artifact_id
          for e in store.get_events_by_execution_ids(execution_ids)
          if e.type == kind and any(s.key == key for s in e.path.steps)]


def statistics_of_blessed_data(
    store: mlmd.MetadataStore, blessings: List[types.Artifact],
    current_examples: Sequence[types.Artifact] = ()
) -> List[types.Artifact]:
  """[statistics of the examples the latest blessed model was evaluated on],
  leaving out blessings of models evaluated on `current_examples` (this
  run's data: no drift to measure against itself, and a re-run resolves
  what the run it repeats resolved, so it stays all cached); [] if there is
  no such blessing or its statistics are gone."""
  blessed = sorted((b for b in blessings
                    if b.get_int_custom_property(_BLESSED) == 1),
                   key=lambda b: b.id, reverse=True)
  current = {e.id for e in current_examples}
  for blessing in blessed:
    evaluator_runs = [e.execution_id for e in _events(
        store, [blessing.id], _Event.OUTPUT)]
    examples = _linked(store, evaluator_runs, _Event.INPUT, EXAMPLES_KEY)
    if not set(examples) & current:
      break
  else:
    return []
  consumers = [e.execution_id for e in _events(store, examples, _Event.INPUT)]
  statistics = store.get_artifacts_by_id(
      _linked(store, consumers, _Event.OUTPUT, STATISTICS_KEY))
  statistics = [s for s in statistics
                if s.state == metadata_store_pb2.Artifact.LIVE]
  if not statistics:
    return []
  newest = max(statistics, key=lambda s: s.id)
  (artifact_type,) = store.get_artifact_types_by_id([newest.type_id])
  return [artifact_utils.deserialize_artifact(artifact_type, newest)]


class BlessedDataStatisticsStrategy(resolver.ResolverStrategy):
  """Statistics of the data of the latest blessed model.

  Inputs: `statistics` (any ExampleStatistics channel; gives the output its
  type), `model_blessing` (every blessing of the pipeline) and, optional,
  `examples` (this run's ExampleGen output: no baseline if it is the
  blessed data).
  """

  def resolve_artifacts(
      self, store: mlmd.MetadataStore,
      input_dict: Dict[str, List[types.Artifact]]
  ) -> Optional[Dict[str, List[types.Artifact]]]:
    return {
        **{key: [] for key in input_dict},
        STATISTICS_KEY: statistics_of_blessed_data(
            store, input_dict[MODEL_BLESSING_KEY],
            input_dict.get(EXAMPLES_KEY, [])),
    }


def drift_config(comparators: Dict[str, Tuple[str, float]]
                 ) -> distribution_validator_pb2.DistributionValidatorConfig:
  """{feature: (FeatureComparator field, threshold)} -> the config."""
  config = distribution_validator_pb2.DistributionValidatorConfig()
  for name, (comparator, threshold) in sorted(comparators.items()):
    feature = config.default_slice_config.feature.add(
        path=path_pb2.Path(step=[name]))
    getattr(feature.distribution_comparator, comparator).threshold = threshold
  return config


class DriftValidatorSpec(standard_component_specs.DistributionValidatorSpec):
  """DistributionValidator's spec with an optional baseline, its config
  kept as JSON (TFX 1.16 turns proto parameters into a placeholder that the
  Airflow and Kubeflow V2 runners cannot render), and its own output key."""

  PARAMETERS = {
      **standard_component_specs.DistributionValidatorSpec.PARAMETERS,
      _CONFIG_KEY: ExecutionParameter(
          type=distribution_validator_pb2.DistributionValidatorConfig),
  }
  OUTPUTS = {
      DRIFT_ANOMALIES_KEY: ChannelParameter(
          type=standard_artifacts.ExampleAnomalies),
  }
  INPUTS = {
      **standard_component_specs.DistributionValidatorSpec.INPUTS,
      standard_component_specs.BASELINE_STATISTICS_KEY: ChannelParameter(
          type=standard_artifacts.ExampleStatistics,
          optional=True),
  }


class Executor(executor.Executor):
  """DistributionValidator's executor, given its config as JSON and writing
  to DRIFT_ANOMALIES_KEY."""

  def Do(self, input_dict, output_dict, exec_properties):
    config = exec_properties.get(_CONFIG_KEY)
    if isinstance(config, str):
      exec_properties = {**exec_properties, _CONFIG_KEY: proto_utils
                         .json_to_proto(config, distribution_validator_pb2
                                        .DistributionValidatorConfig())}
    result = super().Do(
        input_dict, {_ANOMALIES_KEY: output_dict[DRIFT_ANOMALIES_KEY]},
        exec_properties)
    if result is not None and _ANOMALIES_KEY in result.output_artifacts:
      result.output_artifacts[DRIFT_ANOMALIES_KEY].CopyFrom(
          result.output_artifacts[_ANOMALIES_KEY])
      del result.output_artifacts[_ANOMALIES_KEY]
    return result


class DriftValidator(base_component.BaseComponent):
  """DistributionValidator whose baseline may be absent."""

  SPEC_CLASS = DriftValidatorSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

  def __init__(
      self, statistics: types.BaseChannel,
      baseline_statistics: types.BaseChannel,
      config: distribution_validator_pb2.DistributionValidatorConfig,
      split_pairs: Optional[Sequence[Tuple[str, str]]] = None):
    """Compares `statistics` with `baseline_statistics`: each split with
    the baseline's of the same name, or the (split, baseline split) pairs
    given."""
    super().__init__(spec=DriftValidatorSpec(
        statistics=statistics,
        baseline_statistics=baseline_statistics,
        distribution_validator_config=config,
        include_split_pairs=json_utils.dumps(
            [list(pair) for pair in split_pairs] if split_pairs else None),
        drift_anomalies=types.Channel(
            type=standard_artifacts.ExampleAnomalies)))
