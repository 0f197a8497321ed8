"""AnomaliesGate: stops the run when ExampleValidator or DriftValidator
found anomalies, or when one user dominates a split.

The validators record anomalies but do not fail; TFX leaves the decision to
the pipeline. Ours: nothing trains on data that does not match the schema or
has drifted from the data of the served model. Transform runs after this
gate, so a failure here stops the run before training, with every anomaly
named in the error.

The one-user check reads the statistics here rather than through
ExampleValidator's SQL custom validations: TFX 1.16 passes those as a proto
placeholder that the Airflow and Kubeflow V2 runners cannot render.
"""

import os
from typing import List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.component.experimental import annotations
from tfx.dsl.component.experimental import decorators
from tfx.dsl.io import fileio
from tfx.types import artifact as artifact_lib
from tfx.types import standard_artifacts
from tfx.types import standard_artifact_utils
from tfx.utils import io_utils

ANOMALIES_FILE_NAME = 'SchemaDiff.pb'


class DataAnomaliesError(RuntimeError):
  """The examples do not match the schema."""


def describe_anomalies(anomalies: anomalies_pb2.Anomalies) -> List[str]:
  """One line per anomaly: feature, short description and details."""
  items = sorted(anomalies.anomaly_info.items())
  if anomalies.HasField('dataset_anomaly_info'):
    items.append(('<dataset>', anomalies.dataset_anomaly_info))
  return [f'{feature}: {_text(info)}' for feature, info in items]


def _text(info: anomalies_pb2.AnomalyInfo) -> str:
  """'short (long)' of an anomaly; drift anomalies carry it per reason."""
  short = info.short_description or '; '.join(
      r.short_description for r in info.reason)
  long = info.description or ' '.join(r.description for r in info.reason)
  return f'{short} ({long})'


def artifact_anomalies(artifact: artifact_lib.Artifact) -> List[str]:
  """Anomaly lines of every split (or split pair) of an ExampleAnomalies
  artifact, each prefixed with its split folder's name."""
  lines = []
  for folder in sorted(fileio.listdir(artifact.uri)):
    path = os.path.join(artifact.uri, folder.strip('/'), ANOMALIES_FILE_NAME)
    if not fileio.exists(path):
      continue
    anomalies = anomalies_pb2.Anomalies()
    anomalies.ParseFromString(io_utils.read_bytes_file(path))
    split = folder.strip('/').split('-', 1)[-1]
    lines += [f'[{split}] {line}' for line in describe_anomalies(anomalies)]
  return lines


def dominant_users(statistics: artifact_lib.Artifact, user_key: str,
                   max_share: float) -> List[str]:
  """One line per split whose most frequent `user_key` value has more than
  `max_share` of the split's values."""
  lines = []
  for split in standard_artifact_utils.decode_split_names(
      statistics.split_names):
    view = stats_artifact_utils.load_statistics(statistics, split)
    feature = view.get_default_slice_or_die().get_feature([user_key])
    stats = feature.proto().string_stats if feature else None
    if not stats or not stats.top_values or not (
        stats.common_stats.num_non_missing):
      continue
    top = stats.top_values[0]
    share = top.frequency / stats.common_stats.num_non_missing
    if share > max_share:
      lines.append(f'[{split}] {user_key}: one user has more than '
                   f'{max_share:.0%} of the ratings ({top.value!r} has '
                   f'{share:.0%})')
  return lines


@decorators.component
def AnomaliesGate(
    anomalies: annotations.InputArtifact[
        standard_artifacts.ExampleAnomalies],
    statistics: annotations.InputArtifact[
        standard_artifacts.ExampleStatistics],
    user_key: annotations.Parameter[str],
    max_one_user_share: annotations.Parameter[float],
    drift_anomalies: annotations.InputArtifact[
        standard_artifacts.ExampleAnomalies] = None) -> None:
  """Raises DataAnomaliesError naming every anomaly of every split, each
  under the check that found it."""
  sections = []
  schema_anomalies = artifact_anomalies(anomalies)
  if schema_anomalies:
    sections.append(
        'ExampleValidator found anomalies; fix the data or update the '
        'schema (README: "The schema"):\n  ' + '\n  '.join(schema_anomalies))
  dominated = dominant_users(statistics, user_key, max_one_user_share)
  if dominated:
    sections.append(
        'AnomaliesGate: one user dominates a split (more than '
        'configs.MAX_ONE_USER_SHARE of its ratings); check the data for a '
        'bot or a bad join:\n  ' + '\n  '.join(dominated))
  if sections:
    raise DataAnomaliesError('\n'.join(sections))
  drift = artifact_anomalies(drift_anomalies) if drift_anomalies else []
  if drift:
    raise DataAnomaliesError(
        'DriftValidator: the data drifted from the data of the served '
        'model beyond configs.DRIFT_COMPARATORS (split pairs are '
        'new_baseline); check the data, or raise the thresholds if the '
        'change is expected:\n  '
        + '\n  '.join(drift))
