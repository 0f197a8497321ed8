"""AnomaliesGate on anomalies computed by TFDV from generated data."""

import os

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import standard_artifacts

from components import anomalies_gate


def anomalies_artifact(tmp_path, train: pd.DataFrame,
                       serving: pd.DataFrame):
  """An ExampleAnomalies artifact: `serving` validated against a schema
  inferred from `train`, written where ExampleValidator writes it."""
  schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(train))
  anomalies = tfdv.validate_statistics(
      tfdv.generate_statistics_from_dataframe(serving), schema)
  artifact = standard_artifacts.ExampleAnomalies()
  artifact.uri = str(tmp_path / 'anomalies')
  artifact.split_names = '["train", "eval"]'
  for split, proto in (('train', type(anomalies)()), ('eval', anomalies)):
    split_dir = os.path.join(artifact.uri, f'Split-{split}')
    os.makedirs(split_dir)
    with open(os.path.join(split_dir, anomalies_gate.ANOMALIES_FILE_NAME),
              'wb') as f:
      f.write(proto.SerializeToString())
  return artifact


def run_gate(artifact):
  executor = anomalies_gate.AnomaliesGate.EXECUTOR_SPEC.executor_class()
  executor.Do({'anomalies': [artifact]}, {}, {})


TRAIN = pd.DataFrame({'user_id': ['1', '2', '3'] * 20,
                      'user_occupation_text': ['doctor', 'writer'] * 30,
                      'user_rating': [1.0, 4.0, 5.0] * 20})


def test_clean_data_passes(tmp_path):
  run_gate(anomalies_artifact(tmp_path, TRAIN, TRAIN.copy()))


def test_anomalies_stop_the_run_and_are_named(tmp_path):
  bad = TRAIN.copy()
  bad['user_occupation_text'] = 'astronaut'
  bad = bad.drop(columns=['user_rating'])
  with pytest.raises(anomalies_gate.DataAnomaliesError) as error:
    run_gate(anomalies_artifact(tmp_path, TRAIN, bad))
  message = str(error.value)
  assert '[eval] user_occupation_text' in message
  assert '[eval] user_rating' in message
  assert '[train]' not in message
