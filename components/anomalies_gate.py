"""AnomaliesGate: stops the run when ExampleValidator found anomalies.

ExampleValidator records anomalies but does not fail; TFX leaves the decision
to the pipeline. Ours: nothing trains on data that does not match the schema.
Transform runs after this gate, so a failure here stops the run before
training, with every anomaly named in the error.
"""

import os
from typing import List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.types import artifact as artifact_lib
from tfx.types import standard_artifact_utils as artifact_utils
from tfx.utils import io_utils

ANOMALIES_FILE_NAME = 'SchemaDiff.pb'


class DataAnomaliesError(RuntimeError):
  """The examples do not match the schema."""


def describe_anomalies(anomalies: anomalies_pb2.Anomalies) -> List[str]:
  """One line per anomaly: feature, short description and details."""
  lines = []
  for feature, info in sorted(anomalies.anomaly_info.items()):
    lines.append(f'{feature}: {info.short_description} ({info.description})')
  if anomalies.HasField('dataset_anomaly_info'):
    info = anomalies.dataset_anomaly_info
    lines.append(f'<dataset>: {info.short_description} ({info.description})')
  return lines


def split_anomalies(artifact: artifact_lib.Artifact, split: str) -> List[str]:
  """Anomaly lines of one split of an ExampleAnomalies artifact."""
  path = os.path.join(
      artifact_utils.get_split_uri([artifact], split), ANOMALIES_FILE_NAME)
  anomalies = anomalies_pb2.Anomalies()
  anomalies.ParseFromString(io_utils.read_bytes_file(path))
  return describe_anomalies(anomalies)


@tfx.dsl.components.component
def AnomaliesGate(
    anomalies: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ExampleAnomalies]) -> None:
  """Raises DataAnomaliesError naming every anomaly in every split."""
  problems = []
  for split in artifact_utils.decode_split_names(anomalies.split_names):
    problems += [f'[{split}] {line}'
                 for line in split_anomalies(anomalies, split)]
  if problems:
    raise DataAnomaliesError(
        'ExampleValidator found anomalies; fix the data or update the '
        'schema:\n  ' + '\n  '.join(problems))
