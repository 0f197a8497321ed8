"""The Tuner's tuner_fn on generated data, and the Trainer taking its best
values."""

import json
import os
import re

import pytest
from tfx.components.tuner import executor as tuner_executor
from tfx.types import standard_artifacts
from tfx.utils import json_utils

from tests import e2e
from tests.test_model import make_fn_args
from trainer_module import hyperparameters
from trainer_module import trainer
from trainer_module import tuner

TUNED_SMALL = {'model': 'tuned', 'epochs': 4, 'batch_size': 64,
               'optimizer': 'adam', 'early_stopping_patience': 2, 'seed': 1,
               'tune_trials': 3}


@pytest.fixture(scope='module')
def searched(transformed_data, tmp_path_factory):
  """TFX's Tuner executor with our tuner_fn: its two output artifacts."""
  examples = standard_artifacts.Examples()
  examples.uri = transformed_data.examples_uri
  examples.split_names = '["train", "eval"]'
  transform_graph = standard_artifacts.TransformGraph()
  transform_graph.uri = transformed_data.transform_output
  best, results = (standard_artifacts.HyperParameters(),
                   standard_artifacts.TunerResults())
  best.uri = str(tmp_path_factory.mktemp('best'))
  results.uri = str(tmp_path_factory.mktemp('results'))
  context = tuner_executor.Executor.Context(
      tmp_dir=str(tmp_path_factory.mktemp('tmp')), unique_id='1')
  tuner_executor.Executor(context).Do(
      {'examples': [examples], 'transform_graph': [transform_graph]},
      {'best_hyperparameters': [best], 'tuner_results': [results]},
      {'tuner_fn': 'trainer_module.tuner.tuner_fn',
       'train_args': '{"splits": ["train"]}',
       'eval_args': '{"splits": ["eval"]}',
       'custom_config': json_utils.dumps(TUNED_SMALL)})
  with open(os.path.join(best.uri, 'best_hyperparameters.txt')) as f:
    best_config = json.load(f)
  with open(os.path.join(results.uri, 'tuner_results.json')) as f:
    trials = json.load(f)
  return best_config, trials


@pytest.mark.e2e  # TFX's Tuner executor, then run_fn
def test_the_search_tries_the_trials_asked_within_the_space(searched):
  best_config, trials = searched
  assert len(trials) == TUNED_SMALL['tune_trials']
  space = tuner.search_space('tuned')
  values = hyperparameters.tuned_values(best_config)
  assert set(values) == {'learning_rate', 'embedding_dim', 'l2'}
  for name, value in values.items():
    assert value in space.get_config()['space'][
        [h['config']['name'] for h in space.get_config()['space']].index(
            name)]['config']['values']
  # The best trial is the one with the lowest validation RMSE.
  best = min(trials, key=lambda t: t['score'])
  assert {k: best[k] for k in values} == values
  assert 0.3 < best['score'] < 1.2  # generated ratings' std is ~1.0


@pytest.mark.e2e  # TFX's Tuner executor, then run_fn
def test_the_trainer_trains_with_the_tuners_best_values(
    searched, transformed_data, tmp_path):
  best_config, _ = searched
  fn_args = make_fn_args(transformed_data, str(tmp_path), {
      **TUNED_SMALL, 'embedding_dim': 999, 'learning_rate': 9.0})
  fn_args.hyperparameters = best_config
  trainer.run_fn(fn_args)
  with open(os.path.join(fn_args.model_run_dir,
                         trainer.TRAINING_STATS_FILE)) as f:
    stats = json.load(f)
  assert stats['from_tuner'] == hyperparameters.tuned_values(best_config)
  assert stats['best_val_rmse'] < 1.2  # not the preset's absurd 9.0 rate


def test_without_a_tuner_nothing_is_overridden():
  assert hyperparameters.tuned_values(None) == {}
  assert hyperparameters.tuned_values({}) == {}
  assert set(tuner.search_space('tutorial').values) == {
      'learning_rate', 'embedding_dim'}


@pytest.mark.e2e
def test_a_run_with_tune_searches_trains_with_the_best_and_caches(
    ratings_csv, tmp_path):
  output_dir = str(tmp_path / 'out')
  args = ['--ratings-csv', ratings_csv, '--preset', 'tuned', '--tune',
          '--tune-trials', '2', '--epochs', '3', '--batch-size', '64',
          *e2e.SMALL_DATA_RETRIEVAL]
  summary, result = e2e.run_pipeline_with_output(output_dir, args)
  trials = summary['tuner_trials']
  assert len(trials) == 2 and trials[0]['score'] <= trials[1]['score']
  best = {k: v for k, v in trials[0].items() if k not in ('trial_id', 'score')}
  assert summary['training']['from_tuner'] == best
  assert re.search(r'Tuner complete in .*best of 2 trials: val RMSE',
                   result.stdout), result.stdout[-2000:]
  assert 'Search space summary' not in result.stdout  # quiet unless --verbose
  again, _ = e2e.run_pipeline_with_output(output_dir, args)
  assert again['component_states']['Tuner'] == 'CACHED'
  assert again['component_states']['Trainer'] == 'CACHED'
