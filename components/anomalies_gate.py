"""AnomaliesGate: stops the run when ExampleValidator or DriftValidator
found anomalies.

The validators record anomalies but do not fail; TFX leaves the decision to
the pipeline. Ours: nothing trains on data that does not match the schema or
has drifted from the data of the served model. Transform runs after this
gate, so a failure here stops the run before training, with every anomaly
named in the error.
"""

import os
from typing import List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.types import artifact as artifact_lib
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


@tfx.dsl.components.component
def AnomaliesGate(
    anomalies: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ExampleAnomalies],
    drift_anomalies: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ExampleAnomalies] = None) -> None:
  """Raises DataAnomaliesError naming every anomaly of every split."""
  problems = artifact_anomalies(anomalies)
  if problems:
    raise DataAnomaliesError(
        'ExampleValidator found anomalies; fix the data or update the '
        'schema (README: "The schema"):\n  ' + '\n  '.join(problems))
  drift = artifact_anomalies(drift_anomalies) if drift_anomalies else []
  if drift:
    raise DataAnomaliesError(
        'DriftValidator: the data drifted from the data of the served '
        'model beyond configs.DRIFT_COMPARATORS (split pairs are '
        'new_baseline); check the data, or raise the thresholds if the '
        'change is expected:\n  '
        + '\n  '.join(drift))
