"""Reads what the components wrote: example counts, vocabulary sizes,
training curves, evaluation metrics by slice.

Shared by the run summary, the progress lines and the report.
"""

import glob
import json
import os
import re
from typing import Dict, List, Optional, Tuple

from ml_metadata.proto import metadata_store_pb2
from tfx.components.evaluator import constants as evaluator_constants

from components import names

RMSE_METRIC = 'root_mean_squared_error'
COUNT_METRIC = 'example_count'

Mlmd = metadata_store_pb2.Artifact


def _as_tfx(artifact: Mlmd, artifact_class):
  tfx_artifact = artifact_class()
  tfx_artifact.set_mlmd_artifact(artifact)
  return tfx_artifact


def split_example_counts(statistics: Mlmd) -> Dict[str, int]:
  """Examples per split, from a StatisticsGen output: the exact counts it
  records (its statistics may describe a sample), else its statistics'."""
  from tfx.components.statistics_gen import stats_artifact_utils  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifact_utils  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from components import statistics_gen  # pylint: disable=g-import-not-at-top
  artifact = _as_tfx(statistics, standard_artifacts.ExampleStatistics)
  counts = statistics_gen.example_counts(artifact)
  if counts:
    return counts
  for split in standard_artifact_utils.decode_split_names(
      artifact.split_names):
    stats = stats_artifact_utils.load_statistics(artifact, split).proto()
    counts[split] = int(stats.datasets[0].num_examples)
  return counts


def vocabulary_sizes(transform_graph: Mlmd) -> Dict[str, int]:
  """Size of each vocabulary the model embeds, from a Transform output."""
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  from trainer_module import features  # pylint: disable=g-import-not-at-top
  output = tft.TFTransformOutput(transform_graph.uri)
  return {key: output.vocabulary_size_by_name(features.vocabulary_name(key))
          for key in features.VOCABULARY_FEATURE_KEYS}


def training_curves(model_run_uri: str) -> Dict[str, Dict[str, List[float]]]:
  """Per-epoch scalars from the Trainer's TensorBoard logs: the rating
  model's (the first of an ensemble's, whose logs are at the top; the
  others' are in a folder each).

  Returns {'train': {'rmse': [...], 'loss': [...]}, 'validation': {...}}.
  """
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  curves: Dict[str, Dict[str, List[Tuple[int, float]]]] = {}
  for phase in ('train', 'validation'):
    for path in sorted(glob.glob(os.path.join(
        model_run_uri, phase, 'events.out.tfevents.*'))):
      for event in tf.compat.v1.train.summary_iterator(path):
        for value in event.summary.value:
          if not value.tag.startswith('epoch_'):
            continue
          number = float(tf.make_ndarray(value.tensor)) if value.HasField(
              'tensor') else value.simple_value
          curves.setdefault(phase, {}).setdefault(
              value.tag[len('epoch_'):], []).append((event.step, number))
  return {phase: {tag: [v for _, v in sorted(points)]
                  for tag, points in tags.items()}
          for phase, tags in curves.items()}


def training_stats(model_run_uri: str) -> Dict:
  """What run_fn wrote about training (examples/s, epochs, best epoch)."""
  from trainer_module import trainer  # pylint: disable=g-import-not-at-top
  path = os.path.join(model_run_uri, trainer.TRAINING_STATS_FILE)
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    return json.load(f)


def _slice_name(slice_key: Tuple) -> str:
  if not slice_key:
    return 'Overall'
  return ', '.join(f'{feature}={value.decode() if isinstance(value, bytes) else value}'
                   for feature, value in slice_key)


def _flat_metrics(metrics: Dict) -> Dict[str, float]:
  flat = {}
  for by_sub_key in metrics.values():
    for values in by_sub_key.values():
      for name, value in values.items():
        if 'doubleValue' in value:
          flat[name] = float(value['doubleValue'])
  return flat


def slice_metrics(evaluation_uri: str) -> List[Dict]:
  """One row per slice: feature, value, examples, RMSE and, when the
  Evaluator had a baseline, the baseline's RMSE and the change."""
  import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
  candidate = tfma.load_eval_result(evaluation_uri)
  try:
    baseline = {key: _flat_metrics(m) for key, m in tfma.load_eval_result(
        evaluation_uri, model_name='baseline').slicing_metrics}
  except IndexError:  # TFMA's answer when no baseline was evaluated
    baseline = {}
  rows = []
  for slice_key, metrics in candidate.slicing_metrics:
    flat = _flat_metrics(metrics)
    if RMSE_METRIC not in flat:
      continue
    feature = slice_key[0][0] if slice_key else ''
    rows.append({
        'slice': _slice_name(slice_key),
        'feature': feature,
        'value': _slice_name(slice_key).split('=', 1)[-1],
        'examples': int(flat.get(COUNT_METRIC, 0)),
        'rmse': flat[RMSE_METRIC],
        'baseline_rmse': baseline.get(slice_key, {}).get(RMSE_METRIC),
        'rmse_change': flat.get(RMSE_METRIC + '_diff'),
    })
  return sorted(rows, key=lambda r: (r['feature'], _value_order(r['value'])))


def _value_order(value: str) -> Tuple:
  """Buckets in numeric order ('<20', '20-49', '200+'), other values by
  name."""
  if value.startswith('<'):
    return (0, 0, value)
  match = re.match(r'\d+', value)
  return (1, int(match.group()), value) if match else (2, 0, value)


def overall_rmse(slice_rows: List[Dict]) -> Optional[float]:
  """The RMSE over the whole eval split, from `slice_metrics` rows."""
  return next((r['rmse'] for r in slice_rows if r['slice'] == 'Overall'),
              None)


def _threshold_text(threshold) -> str:
  """'<= 1.2', or '+1e-10' for a change, of a TFMA MetricThreshold."""
  if threshold.HasField('change_threshold'):
    change = threshold.change_threshold
    bound = change.absolute if change.HasField('absolute') else (
        change.relative)
    return f'{bound.value:+g}'
  value = threshold.value_threshold
  bounds = []
  if value.HasField('lower_bound'):
    bounds.append(f'>= {value.lower_bound.value:g}')
  if value.HasField('upper_bound'):
    bounds.append(f'<= {value.upper_bound.value:g}')
  return ' and '.join(bounds)


def validation_failures(evaluation_uri: str) -> List[str]:
  """Why the Evaluator did not bless: one line per failed threshold, e.g.
  'root_mean_squared_error 1.5327 (Overall); required <= 1.2'."""
  import tensorflow_model_analysis as tfma  # pylint: disable=g-import-not-at-top
  from tensorflow_model_analysis.slicer import slicer_lib  # pylint: disable=g-import-not-at-top
  result = tfma.load_validation_result(evaluation_uri)
  reasons = []
  for per_slice in result.metric_validations_per_slice:
    where = _slice_name(slicer_lib.deserialize_slice_key(per_slice.slice_key))
    for failure in per_slice.failures:
      key = failure.metric_key
      value = failure.metric_value.double_value.value
      bound = _threshold_text(failure.metric_threshold)
      reasons.append(
          f'{key.name} {value:+.4f} against the baseline model ({where}); '
          f'allowed at most {bound}' if key.is_diff else
          f'{key.name} {value:.4f} ({where}); required {bound}')
  if not result.validation_ok and not reasons:
    reasons.append('validation failed: ' + ' '.join(str(result).split()))
  return reasons


def top_n_metrics(evaluation_uri: str) -> Optional[Dict]:
  """The recommender's top-N metrics and failed gates the Evaluator wrote
  (components/recommender_evaluator.py), or None for an evaluation
  without them."""
  from components import recommender_evaluator  # pylint: disable=g-import-not-at-top
  path = os.path.join(evaluation_uri, recommender_evaluator.TOP_N_FILE)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


# What TFX's Tuner writes in its `tuner_results` artifact.
TUNER_RESULTS_FILE = 'tuner_results.json'


def tuner_trials(tuner_results_uri: str) -> List[Dict]:
  """The Tuner's completed trials, best (lowest validation RMSE) first:
  each {'trial_id', 'score', and the values tried}."""
  with open(os.path.join(tuner_results_uri, TUNER_RESULTS_FILE)) as f:
    return sorted(json.load(f), key=lambda trial: trial['score'])


def _int_property(artifact: Mlmd, name: str) -> int:
  value = artifact.custom_properties.get(name)
  return value.int_value if value else 0


def is_blessed(blessing: Mlmd) -> bool:
  """Whether an Evaluator's ModelBlessing blessed the model."""
  return _int_property(
      blessing, evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1


def pushed_version(pushed_model: Mlmd) -> Optional[Tuple[str, str]]:
  """(version, destination) of a Pusher output, or None if not pushed."""
  if _int_property(pushed_model, 'pushed') != 1:
    return None
  props = pushed_model.custom_properties
  return (props['pushed_version'].string_value,
          props['pushed_destination'].string_value)


def examples_artifact(examples_uri: str):
  """An Examples artifact for a folder of Split-* folders (an ExampleGen
  output read outside a run: the report, bench)."""
  from tfx.types import artifact_utils  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  examples = standard_artifacts.Examples()
  examples.uri = examples_uri
  examples.split_names = artifact_utils.encode_split_names(sorted(
      name[len(names.SPLIT_FOLDER_PREFIX):]
      for name in os.listdir(examples_uri)
      if name.startswith(names.SPLIT_FOLDER_PREFIX)))
  return examples
