"""create_pipeline's graph: its components, and the edges between them."""

import dataclasses
import json

from google.protobuf import json_format
import pytest
from tensorflow_model_analysis.proto import config_pb2 as tfma_config

from components.ratings_source import RatingsSource
from pipeline import configs
from pipeline import pipeline as pipeline_lib
from trainer_module import code_fingerprint
from trainer_module import preprocessing

EXPECTED_EDGES = {
    ('MovieLensExampleGen', 'StatisticsGen'),
    # The drift baseline resolves before this run's statistics exist.
    ('drift_baseline_statistics_resolver', 'StatisticsGen'),
    ('drift_baseline_statistics_resolver', 'DriftValidator'),
    # It has no baseline when this run's examples are the blessed data.
    ('MovieLensExampleGen', 'drift_baseline_statistics_resolver'),
    ('StatisticsGen', 'DriftValidator'),
    ('DriftValidator', 'AnomaliesGate'),
    ('StatisticsGen', 'ExampleValidator'),
    ('ImportSchemaGen', 'ExampleValidator'),
    ('ExampleValidator', 'AnomaliesGate'),
    ('StatisticsGen', 'AnomaliesGate'),
    ('AnomaliesGate', 'Transform'),
    ('MovieLensExampleGen', 'Transform'),
    ('ImportSchemaGen', 'Transform'),
    ('Transform', 'Trainer'),
    # Transform writes no transformed copy: the Trainer reads the raw
    # examples through the transform graph.
    ('MovieLensExampleGen', 'Trainer'),
    ('ImportSchemaGen', 'Trainer'),
    ('MovieLensExampleGen', 'Evaluator'),
    ('Trainer', 'Evaluator'),
    ('latest_blessed_model_resolver', 'Evaluator'),
    ('Trainer', 'Pusher'),
    ('Evaluator', 'Pusher'),
    # The baseline resolver reads the Trainer's models to leave out the
    # candidate (not on Kubeflow V2, which has TFX's own strategy).
    ('Trainer', 'latest_blessed_model_resolver'),
}
KUBEFLOW_V2_EDGES = EXPECTED_EDGES - {
    ('Trainer', 'latest_blessed_model_resolver'),
    ('MovieLensExampleGen', 'drift_baseline_statistics_resolver')}


def edges(pipeline) -> set:
  return {(up.id, node.id) for node in pipeline.components
          for up in node.upstream_nodes}


@pytest.fixture(scope='module')
def built(tmp_path_factory):
  root = tmp_path_factory.mktemp('graph')
  return pipeline_lib.create_pipeline(
      pipeline_name='test', pipeline_root=str(root / 'root'),
      serving_model_dir=str(root / 'serving'),
      source=RatingsSource.tfds(manual_dir='/data'))


COMPONENTS = {
    'MovieLensExampleGen', 'drift_baseline_statistics_resolver',
    'StatisticsGen', 'ImportSchemaGen', 'ExampleValidator', 'DriftValidator',
    'AnomaliesGate', 'Transform', 'Trainer', 'latest_blessed_model_resolver',
    'Evaluator', 'Pusher'}


def test_components(built):
  assert {c.id for c in built.components} == COMPONENTS


def test_schema_infer_uses_schema_gen(tmp_path):
  inferred = pipeline_lib.create_pipeline(
      pipeline_name='test', pipeline_root=str(tmp_path / 'root'),
      serving_model_dir=str(tmp_path / 'serving'), schema_path=None)
  assert ('StatisticsGen', 'SchemaGen') in edges(inferred)
  assert 'ImportSchemaGen' not in {c.id for c in inferred.components}


def test_edges(built):
  assert edges(built) == EXPECTED_EDGES


def test_user_code_and_hyperparameters(built):
  by_id = {c.id: c for c in built.components}
  assert by_id['Transform'].exec_properties['preprocessing_fn'] == (
      configs.PREPROCESSING_FN)
  assert by_id['Trainer'].exec_properties['run_fn'] == configs.RUN_FN
  assert RatingsSource.from_json(by_id['MovieLensExampleGen'].exec_properties[
      'ratings_source']).manual_dir == '/data'


def test_evaluator_gates_rmse_by_value_and_by_change():
  config = pipeline_lib.eval_config(rmse_threshold=1.25)
  (metric,) = [m for m in config.metrics_specs[0].metrics
               if m.class_name == 'RootMeanSquaredError']
  # Only the overall slice is gated; the other slices are only reported.
  assert not metric.HasField('threshold')
  (gate,) = metric.per_slice_thresholds
  assert list(gate.slicing_specs) == [tfma_config.SlicingSpec()]
  assert gate.threshold.value_threshold.upper_bound.value == 1.25
  assert gate.threshold.change_threshold.direction == (
      tfma_config.MetricDirection.LOWER_IS_BETTER)
  assert {tuple(s.feature_keys) for s in config.slicing_specs} == {
      (), ('user_activity_bucket',), ('movie_popularity_bucket',),
      ('movie_genres',), ('user_age_bucket',)}
  spec = config.model_specs[0]
  assert spec.signature_name == 'serving_tf_example'
  assert list(spec.preprocessing_function_names) == ['transform_features']
  assert spec.label_key == 'user_rating'


def test_user_code_fingerprint_reaches_transform_and_trainer(built):
  by_id = {c.id: c for c in built.components}
  transform_config = json.loads(by_id['Transform'].exec_properties[
      'custom_config'])
  trainer_config = json.loads(by_id['Trainer'].exec_properties[
      'custom_config'])
  assert transform_config['code_fingerprint'] == (
      code_fingerprint.transform_fingerprint())
  assert trainer_config['code_fingerprint'] == (
      code_fingerprint.trainer_fingerprint())


@pytest.mark.parametrize('preset, model, side_features', [
    ('tutorial', None, False), ('tuned', None, True),
    ('tuned', 'autorec', False), ('tutorial', 'tuned', True)])
def test_transform_writes_side_features_only_for_a_model_that_reads_them(
    tmp_path, preset, model, side_features):
  config = configs.preset(preset, **({'model': model} if model else {}))
  built = pipeline_lib.create_pipeline(
      pipeline_name='p', pipeline_root=str(tmp_path / 'root'),
      serving_model_dir=str(tmp_path / 'serving'), config=config)
  transform = next(c for c in built.components if c.id == 'Transform')
  assert json.loads(transform.exec_properties['custom_config'])[
      preprocessing.SIDE_FEATURES_KEY] is side_features


def _rmse_gate(pipeline) -> float:
  """The Evaluator's RMSE value gate."""
  evaluator = next(c for c in pipeline.components if c.id == 'Evaluator')
  config = json_format.Parse(evaluator.exec_properties['eval_config'],
                             tfma_config.EvalConfig())
  (metric,) = [m for m in config.metrics_specs[0].metrics
               if m.class_name == 'RootMeanSquaredError']
  return metric.per_slice_thresholds[0].threshold.value_threshold.upper_bound \
      .value


def test_the_tuned_model_gets_the_tuned_presets_gate_and_defaults(tmp_path):
  """Issue 18, defect 8: {'model': 'tuned'} kept the tutorial's 1.2 gate."""
  tuned = pipeline_lib.create_pipeline(
      pipeline_name='test', pipeline_root=str(tmp_path / 'root'),
      serving_model_dir=str(tmp_path / 'serving'),
      config=configs.preset('tuned', epochs=7))
  assert _rmse_gate(tuned) == configs.PRESETS['tuned'].rmse_threshold
  trainer = next(c for c in tuned.components if c.id == 'Trainer')
  config = json.loads(trainer.exec_properties['custom_config'])
  assert (config['model'], config['optimizer'], config['epochs']) == (
      'tuned', 'adam', 7)


def test_only_the_evaluator_reads_the_eval_split(built):
  """Issue 16: the Trainer validates and selects on `validation`; eval is
  the Evaluator's alone (and it refuses eval splits of unseen users)."""
  by_id = {c.id: c for c in built.components}
  props = lambda cid, key: json.loads(by_id[cid].exec_properties[key])
  assert by_id['MovieLensExampleGen'].exec_properties[
      'validation_percent'] == configs.VALIDATION_PERCENT
  assert props('Transform', 'splits_config') == {'analyze': ['train']}
  # Transform materializes nothing: the Trainer reads ExampleGen's splits.
  assert 'transformed_examples' not in by_id['Transform'].outputs
  assert by_id['Trainer'].inputs['examples'].producer_component_id == (
      'MovieLensExampleGen')
  assert props('Trainer', 'train_args') == {'splits': ['train']}
  assert props('Trainer', 'eval_args') == {'splits': ['validation']}
  assert 'max_unseen_eval_user_share' not in props('Trainer', 'custom_config')
  assert props('Evaluator', 'top_n_config')[
      'max_unseen_eval_user_share'] == configs.MAX_UNSEEN_EVAL_USER_SHARE
  # TFMA's default split: eval.
  assert json.loads(
      by_id['Evaluator'].exec_properties['example_splits']) is None


@pytest.mark.parametrize('percent', [0, 51])
def test_a_validation_share_no_trainer_can_use_is_refused(tmp_path, percent):
  with pytest.raises(ValueError, match='validation_percent must be between'):
    pipeline_lib.create_pipeline(
        pipeline_name='p', pipeline_root=str(tmp_path / 'root'),
        serving_model_dir=str(tmp_path / 'serving'),
        config=dataclasses.replace(configs.PRESETS['tutorial'],
                                   validation_percent=percent))

def test_a_tuner_searches_on_validation_and_feeds_the_trainer(tmp_path):
  tuned = pipeline_lib.create_pipeline(
      pipeline_name='p', pipeline_root=str(tmp_path / 'root'),
      serving_model_dir=str(tmp_path / 'serving'),
      config=dataclasses.replace(configs.PRESETS['tuned'], tune_trials=3))
  by_id = {c.id: c for c in tuned.components}
  tuner = by_id['Tuner']
  props = lambda key: json.loads(tuner.exec_properties[key])
  assert tuner.exec_properties['tuner_fn'] == configs.TUNER_FN
  assert props('train_args') == {'splits': ['train']}
  assert props('eval_args') == {'splits': ['validation']}
  assert props('custom_config')['tune_trials'] == 3
  assert props('custom_config')['model'] == 'tuned'
  assert by_id['Trainer'].inputs['hyperparameters'].producer_component_id == (
      'Tuner')
  assert tuner.inputs['examples'].producer_component_id == (
      'MovieLensExampleGen')
