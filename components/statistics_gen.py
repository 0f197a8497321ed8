"""StatisticsGen that sizes its sample by the data.

TFX's StatisticsGen, except that a split of more than `max_examples_per_split`
examples (as MovieLensExampleGen counted them when writing) is described from
a random sample of about that many: on 25M ratings, statistics of every
example cost about as much as writing them. The sample is drawn from the
serialized records before TFDV decodes them (`sample_split`: a keyed hash of
each record, so the same data gives the same sample): the records left out
are neither decoded nor described. The statistics artifact records
each split's sample rate (TFX's `sample_rate_by_split` property) and, under
SPLIT_EXAMPLE_COUNTS_PROPERTY, the exact number of examples of each split,
which the run summary reports.

When every split to describe holds at most IN_MEMORY_MAX_EXAMPLES examples
(always, under the pipeline's cap), TFDV describes each in memory
(`split_statistics`: its records decoded in one Arrow batch, TFDV's
`generate_statistics_in_memory`) instead of in TFX's Beam pipeline, whose
fixed costs and per-record reading outweigh describing that many examples.
The statistics are TFDV's from the same generators (means and deviations equal
to the last digit or two, equal counts ranked in another order among ties);
larger splits still go through TFX's executor.

What reads the statistics reads shares (the one-user check, drift, schema
checks of value kinds and domains); a rare bad value in a sampled split can
go unseen by ExampleValidator, as in any sampled TFDV run.
"""

import json
import os
from typing import Any, Dict, Iterator, List, Optional

import numpy as np
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.statistics import stats_impl
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx import types
from tfx.components.statistics_gen import component as statistics_gen_component
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_beam_component
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import io_utils
from tfx.utils import json_utils
from tfx.utils import stats_utils
from tfx_bsl.coders import example_coder

from components.movielens_example_gen import SPLIT_EXAMPLE_COUNTS_PROPERTY
from components.movielens_example_gen import split_pattern
from trainer_module import splits

MAX_EXAMPLES_KEY = 'max_examples_per_split'
# The most examples of a split TFDV describes in memory (one Arrow batch of
# them: ~100 MB at 200k MovieLens examples); above it, TFX's Beam executor.
IN_MEMORY_MAX_EXAMPLES = 500_000


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


# The key of the sampling hash: independent of ExampleGen's split hash,
# which is on the same serialized records.
_SAMPLE_HASH_KEY = [0x5354415453, 0x53414d504c45]
_SAMPLE_HASH_BUCKETS = 1 << 30
_SAMPLE_READ_BATCH = 65_536
SAMPLE_FILE_NAME = 'sampled-examples.gz'
SAMPLE_DIR_NAME = '.sampled_examples'


def sampled_records(files: List[str], rate: float) -> Iterator[np.ndarray]:
  """Batches of the records of TFRecord `files` whose keyed hash falls
  below `rate` (all of them at rate 1)."""
  threshold = int(rate * _SAMPLE_HASH_BUCKETS)
  compression = splits.compression_of(files)
  # Batched within each file: tf.data's parallel interleave costs ~15 us a
  # record handed over one by one, ~1 us a record in batches.
  records = tf.data.Dataset.from_tensor_slices(files).interleave(
      lambda f: tf.data.TFRecordDataset(
          f, compression_type=compression).batch(_SAMPLE_READ_BATCH),
      num_parallel_calls=tf.data.AUTOTUNE)
  if rate < 1:
    records = records.map(
        lambda batch: tf.boolean_mask(batch, tf.strings.to_hash_bucket_strong(
            batch, _SAMPLE_HASH_BUCKETS, _SAMPLE_HASH_KEY) < threshold),
        num_parallel_calls=tf.data.AUTOTUNE)
  return records.prefetch(1).as_numpy_iterator()


def sample_split(files: List[str], rate: float, output_path: str) -> int:
  """Writes the records of TFRecord `files` whose keyed hash falls below
  `rate` to `output_path` (gzipped); returns how many it wrote."""
  written = 0
  with tf.io.TFRecordWriter(output_path, 'GZIP') as writer:
    for batch in sampled_records(files, rate):
      for record in batch:
        writer.write(record)
      written += len(batch)
  return written


def split_statistics(files: List[str], rate: float,
                     stats_options: tfdv.StatsOptions
                     ) -> statistics_pb2.DatasetFeatureStatisticsList:
  """TFDV's statistics of the tf.Example records of `files` kept at `rate`,
  described in memory (as TFX's executor decodes them: no schema)."""
  records = [record for batch in sampled_records(files, rate)
             for record in batch]
  return stats_impl.generate_statistics_in_memory(
      example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(records),
      stats_options)


def describable_in_memory(stats_options: tfdv.StatsOptions) -> bool:
  """Whether TFDV's in-memory statistics honour these options (they do not
  slice, nor filter what is read)."""
  return not (stats_options.experimental_slice_functions or
              # TFDV 1.16 only (1.21 has no SQL slicing).
              getattr(stats_options, 'experimental_slice_sqls', None) or
              stats_options.experimental_filter_read_paths)


def sampled_examples(examples: types.Artifact, rates: Dict[str, float],
                     output_dir: str) -> types.Artifact:
  """A copy of the Examples artifact under `output_dir` holding each of its
  splits sampled at its rate in `rates` (whole if it has none)."""
  sample = standard_artifacts.Examples()
  sample.uri = output_dir
  sample.split_names = examples.split_names
  examples_utils.set_payload_format(
      sample, examples_utils.get_payload_format(examples))
  examples_utils.set_file_format(
      sample, examples_utils.get_file_format(examples))
  for split in artifact_utils.decode_split_names(examples.split_names):
    split_dir = artifact_utils.get_split_uri([sample], split)
    fileio.makedirs(split_dir)
    files = splits.split_files([split_pattern(examples, split)],
                               required=False)
    sample_split(files, rates.get(split, 1.0),
                 os.path.join(split_dir, SAMPLE_FILE_NAME))
  return sample


def stats_options_of(input_dict: Dict[str, List[types.Artifact]],
                     exec_properties: Dict[str, Any]) -> tfdv.StatsOptions:
  """The StatsOptions TFX's executor describes with: the JSON options, with
  the schema input if there is one."""
  options_json = exec_properties.get(
      standard_component_specs.STATS_OPTIONS_JSON_KEY)
  options = (tfdv.StatsOptions.from_json(options_json) if options_json
             else tfdv.StatsOptions())
  schema = input_dict.get(standard_component_specs.SCHEMA_KEY)
  if schema:
    if options.schema:
      raise ValueError('a schema input and a schema in stats_options: '
                       'give one of them')
    options.schema = io_utils.SchemaReader().read(io_utils.get_only_uri_in_dir(
        artifact_utils.get_single_uri(schema)))
  return options


def in_memory_rates(examples: types.Artifact, split_names: List[str],
                    counts: Dict[str, int], rates: Dict[str, float],
                    stats_options: tfdv.StatsOptions
                    ) -> Optional[Dict[str, float]]:
  """{split: the rate it is described at} when TFDV can describe every
  split in memory: tf.Examples, counted, at most IN_MEMORY_MAX_EXAMPLES
  described each, options it honours. None otherwise."""
  if (not describable_in_memory(stats_options) or
      examples_utils.get_payload_format(examples) !=
      example_gen_pb2.FORMAT_TF_EXAMPLE or
      examples.has_custom_property(
          examples_utils.CUSTOM_SPLIT_PATTERN_PROPERTY_NAME)):
    return None
  described = {split: rates.get(split, 1.0) * (stats_options.sample_rate or
                                               1.0)
               for split in split_names}
  if all(split in counts and counts[split] * rate <= IN_MEMORY_MAX_EXAMPLES
         for split, rate in described.items()):
    return described
  return None


def describe_in_memory(examples: types.Artifact, statistics: types.Artifact,
                       described: Dict[str, float],
                       stats_options: tfdv.StatsOptions) -> None:
  """Writes each split's statistics, described in memory at its rate in
  `described`, and the properties TFX's executor gives the artifact."""
  statistics.split_names = artifact_utils.encode_split_names(list(described))
  statistics.span = examples.span
  statistics.set_string_custom_property(
      statistics_gen_executor.STATS_DASHBOARD_LINK,
      stats_utils.generate_stats_dashboard_link(statistics))
  statistics.set_json_value_custom_property(
      statistics_gen_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME,
      json_utils.dumps(described))
  options = tfdv.StatsOptions.from_json(stats_options.to_json())
  options.sample_rate = None  # applied by the split's rate
  for split, rate in described.items():
    output = artifact_utils.get_split_uri([statistics], split)
    fileio.makedirs(output)
    with fileio.open(os.path.join(
        output, statistics_gen_executor.DEFAULT_FILE_NAME), 'wb') as f:
      files = splits.split_files([split_pattern(examples, split)],
                                 required=False)
      f.write(split_statistics(files, rate, options).SerializeToString())


class Executor(statistics_gen_executor.Executor):
  """TFX's StatisticsGen executor, reading a sample of the splits too large
  to read whole, in memory when they are small enough, and the exact
  counts on its output."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    examples = artifact_utils.get_single_instance(
        input_dict[standard_component_specs.EXAMPLES_KEY])
    counts = example_counts(examples)
    given = json_utils.loads(exec_properties.get(
        standard_component_specs.SAMPLE_RATE_BY_SPLIT_KEY) or 'null') or {}
    rates = {**sample_rates(counts, exec_properties.get(MAX_EXAMPLES_KEY)),
             **given}
    statistics = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.STATISTICS_KEY])
    excluded = json_utils.loads(exec_properties.get(
        standard_component_specs.EXCLUDE_SPLITS_KEY) or 'null') or []
    split_names = [split for split in artifact_utils.decode_split_names(
        examples.split_names) if split not in excluded]
    stats_options = stats_options_of(input_dict, exec_properties)
    described = in_memory_rates(examples, split_names, counts, rates,
                                stats_options)
    if described is not None:
      self._log_startup(input_dict, output_dict, exec_properties)
      describe_in_memory(examples, statistics, described, stats_options)
    else:
      self._describe_with_beam(input_dict, output_dict, exec_properties,
                               examples, statistics, rates)
    if counts:
      statistics.set_string_custom_property(SPLIT_EXAMPLE_COUNTS_PROPERTY,
                                            json.dumps(counts))

  def _describe_with_beam(self, input_dict: Dict[str, List[types.Artifact]],
                          output_dict: Dict[str, List[types.Artifact]],
                          exec_properties: Dict[str, Any],
                          examples: types.Artifact,
                          statistics: types.Artifact,
                          rates: Dict[str, float]) -> None:
    """TFX's executor, on a sample of the splits `rates` names
    (`examples` and `statistics`: the dicts' artifacts)."""
    # Beside the statistics' Split-* directories, removed once TFDV has run.
    sample_dir = os.path.join(statistics.uri, SAMPLE_DIR_NAME)
    try:
      if rates:
        input_dict = {**input_dict, standard_component_specs.EXAMPLES_KEY: [
            sampled_examples(examples, rates, sample_dir)]}
      super().Do(input_dict, output_dict, {
          **exec_properties,
          standard_component_specs.SAMPLE_RATE_BY_SPLIT_KEY: 'null'})
    finally:
      if fileio.exists(sample_dir):
        fileio.rmtree(sample_dir)
    applied = json.loads(statistics.get_string_custom_property(
        statistics_gen_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME))
    statistics.set_json_value_custom_property(
        statistics_gen_executor.SAMPLE_RATE_BY_SPLIT_PROPERTY_NAME,
        json_utils.dumps({split: rate * rates.get(split, 1.0)
                          for split, rate in applied.items()}))


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
