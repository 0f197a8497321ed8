"""StatisticsGen that sizes its sample by the data.

TFX's StatisticsGen, except that a split of more than `max_examples_per_split`
examples (as MovieLensExampleGen counted them when writing) is described from
a random sample of about that many (TFDV's sample rate for that split): on 25M
ratings, statistics of every example cost about as much as writing them. The
statistics artifact records each split's sample rate (TFX's
`sample_rate_by_split`) and, under SPLIT_EXAMPLE_COUNTS_PROPERTY, the exact
number of examples of each split, which the run summary reports.

TFDV keeps or drops whole record batches at that rate, so the sample is
about the size asked for when a split has many batches, as one of more than
1M examples has. What reads the statistics reads shares (the one-user check,
drift, schema checks of value kinds and domains); a rare bad value in a
sampled split can go unseen by ExampleValidator, as in any sampled TFDV run.
"""

import json
from typing import Any, Dict, List, Optional

import tensorflow_data_validation as tfdv
from tfx import types
from tfx.components.statistics_gen import component as statistics_gen_component
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import json_utils

from components.movielens_example_gen import SPLIT_EXAMPLE_COUNTS_PROPERTY

MAX_EXAMPLES_KEY = 'max_examples_per_split'


def example_counts(artifact: types.Artifact) -> Dict[str, int]:
  """{split: examples} an artifact records (empty if it records none)."""
  if not artifact.has_custom_property(SPLIT_EXAMPLE_COUNTS_PROPERTY):
    return {}
  return json.loads(artifact.get_string_custom_property(
      SPLIT_EXAMPLE_COUNTS_PROPERTY))


def sample_rates(counts: Dict[str, int],
                 max_examples: Optional[int]) -> Dict[str, float]:
  """{split: the rate that keeps about `max_examples`} for each split of
  more than `max_examples`; the others are read whole."""
  if not max_examples:
    return {}
  return {split: max_examples / n for split, n in counts.items()
          if n > max_examples}


class Executor(statistics_gen_executor.Executor):
  """TFX's StatisticsGen executor, with the sample rates of the splits
  too large to read whole, and the exact counts on its output."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    counts = example_counts(artifact_utils.get_single_instance(
        input_dict[standard_component_specs.EXAMPLES_KEY]))
    given = json_utils.loads(exec_properties.get(
        standard_component_specs.SAMPLE_RATE_BY_SPLIT_KEY) or 'null') or {}
    rates = {**sample_rates(counts, exec_properties.get(MAX_EXAMPLES_KEY)),
             **given}
    super().Do(input_dict, output_dict, {
        **exec_properties,
        standard_component_specs.SAMPLE_RATE_BY_SPLIT_KEY:
            json_utils.dumps(rates)})
    if counts:
      for statistics in output_dict[standard_component_specs.STATISTICS_KEY]:
        statistics.set_string_custom_property(SPLIT_EXAMPLE_COUNTS_PROPERTY,
                                              json.dumps(counts))


class StatisticsGenSpec(standard_component_specs.StatisticsGenSpec):
  """TFX's StatisticsGen spec plus the largest split read whole."""

  PARAMETERS = {
      **standard_component_specs.StatisticsGenSpec.PARAMETERS,
      MAX_EXAMPLES_KEY: ExecutionParameter(type=int, optional=True),
  }


class StatisticsGen(statistics_gen_component.StatisticsGen):
  """TFX's StatisticsGen; splits of more than `max_examples_per_split`
  examples are described from a sample of about that many."""

  SPEC_CLASS = StatisticsGenSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

  def __init__(self,  # pylint: disable=super-init-not-called
               examples: types.BaseChannel,
               max_examples_per_split: Optional[int] = None,
               stats_options: Optional[tfdv.StatsOptions] = None):
    base_beam_component.BaseBeamComponent.__init__(self, spec=StatisticsGenSpec(
        examples=examples,
        stats_options_json=stats_options.to_json() if stats_options else None,
        exclude_splits=json_utils.dumps([]),
        **{MAX_EXAMPLES_KEY: max_examples_per_split},
        statistics=types.Channel(type=standard_artifacts.ExampleStatistics)))
