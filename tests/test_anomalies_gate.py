"""AnomaliesGate on anomalies computed by TFDV from generated data."""

import os
import pathlib

import pandas as pd
import pytest
import tensorflow_data_validation as tfdv
from tfx.types import artifact_utils
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


def statistics_artifact(tmp_path, splits: dict):
  """An ExampleStatistics artifact of {split: DataFrame}, where StatisticsGen
  writes it."""
  artifact = standard_artifacts.ExampleStatistics()
  artifact.uri = str(tmp_path / 'statistics')
  artifact.split_names = artifact_utils.encode_split_names(list(splits))
  for split, frame in splits.items():
    split_dir = os.path.join(artifact.uri, f'Split-{split}')
    os.makedirs(split_dir)
    with open(os.path.join(split_dir, 'FeatureStats.pb'), 'wb') as f:
      f.write(tfdv.generate_statistics_from_dataframe(
          frame).SerializeToString())
  return artifact


def run_gate(artifact, statistics=None, drift=None):
  executor = anomalies_gate.AnomaliesGate.EXECUTOR_SPEC.executor_class()
  if statistics is None:
    statistics = statistics_artifact(pathlib.Path(artifact.uri + '-stats'),
                                     {'train': TRAIN})
  inputs = {'anomalies': [artifact], 'statistics': [statistics]}
  if drift:
    inputs['drift_anomalies'] = [drift]
  executor.Do(inputs, {}, {'user_key': 'user_id', 'max_one_user_share': 0.25})


TRAIN = pd.DataFrame({'user_id': [str(i % 6) for i in range(60)],
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


def test_one_user_with_most_ratings_stops_the_run(tmp_path):
  dominated = TRAIN.copy()
  dominated.loc[dominated.index[:45], 'user_id'] = '7'  # 45 of 60 ratings
  statistics = statistics_artifact(tmp_path, {'train': TRAIN,
                                              'eval': dominated})
  with pytest.raises(anomalies_gate.DataAnomaliesError) as error:
    run_gate(anomalies_artifact(tmp_path, TRAIN, TRAIN.copy()), statistics)
  assert ("[eval] user_id: one user has more than 25% of the ratings ('7' "
          'has 75%)') in str(error.value)
  assert '[train]' not in str(error.value)
  # Issue 18, defect 8: the gate's own check, not ExampleValidator's.
  assert str(error.value).startswith('AnomaliesGate: one user dominates')
  assert 'ExampleValidator' not in str(error.value)


def test_drift_anomalies_stop_the_run_after_the_schema_ones(tmp_path):
  schema = tfdv.infer_schema(tfdv.generate_statistics_from_dataframe(TRAIN))
  tfdv.get_feature(schema, 'user_rating').drift_comparator.\
      jensen_shannon_divergence.threshold = 0.1
  harsher = TRAIN.assign(user_rating=1.0)
  drift = tfdv.validate_statistics(
      tfdv.generate_statistics_from_dataframe(harsher), schema,
      previous_statistics=tfdv.generate_statistics_from_dataframe(TRAIN))
  artifact = standard_artifacts.ExampleAnomalies()
  artifact.uri = str(tmp_path / 'drift')
  os.makedirs(os.path.join(artifact.uri, 'SplitPair-train_train'))
  with open(os.path.join(artifact.uri, 'SplitPair-train_train',
                         anomalies_gate.ANOMALIES_FILE_NAME), 'wb') as f:
    f.write(drift.SerializeToString())
  with pytest.raises(anomalies_gate.DataAnomaliesError) as error:
    run_gate(anomalies_artifact(tmp_path, TRAIN, TRAIN.copy()), drift=artifact)
  assert 'DriftValidator' in str(error.value)
  assert '[train_train] user_rating: High approximate Jensen-Shannon' in str(
      error.value)
