"""The pipeline with tutorial defaults on the real MovieLens 100k archive.

Runs when MOVIELENS_MANUAL_DIR names a folder holding ml-100k.zip (CI sets
it); TFDS prepares the dataset offline from that zip, checksum-verified.
"""

import json
import os

import pytest

from pipeline import configs
from tests import e2e

MANUAL_DIR = os.environ.get('MOVIELENS_MANUAL_DIR')
TUTORIAL_RMSE = 1.1108
TUTORIAL_TITLES = ['M*A*S*H (1970)', 'Dances with Wolves (1990)',
                   'Speed (1994)']

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    not MANUAL_DIR, reason='set MOVIELENS_MANUAL_DIR to the folder holding '
    'ml-100k.zip to run on the real MovieLens 100k')]


@pytest.fixture(scope='module')
def run(tmp_path_factory):
  base = tmp_path_factory.mktemp('movielens')
  output_dir = str(base / 'out')
  summary = e2e.run_pipeline(output_dir, [
      '--manual-dir', MANUAL_DIR, '--tfds-data-dir', str(base / 'tfds')])
  return output_dir, summary


def test_all_100k_ratings_are_split_80_20_and_new_users_apart(run):
  _, summary = run
  examples = summary['examples']
  assert sum(examples.values()) == 100_000
  # The newest 20% of the users by sign-up (189 of 943) and every rating
  # of theirs: the new_users split.
  assert summary['top_n']['new_users']['users'] == 189
  known = 100_000 - examples['new_users']
  training = examples['train'] + examples['validation']
  assert 0.79 < training / known < 0.81
  # Issue 16: validation is 10% of the training data.
  assert 0.09 < examples['validation'] / training < 0.11


def test_rmse_matches_the_tutorial_and_the_model_is_pushed(run):
  _, summary = run
  assert summary['rmse'] < 1.2
  assert abs(summary['rmse'] - TUTORIAL_RMSE) <= 0.03
  assert summary['blessed'] is True
  assert os.path.exists(os.path.join(summary['pushed_model'],
                                     'saved_model.pb'))


def test_tutorial_call_on_the_pushed_model(run):
  _, summary = run
  rating = e2e.tutorial_call(summary['pushed_model'], '42', 'Speed (1994)')
  assert rating.shape == (1, 1)
  assert 2.5 < float(rating[0, 0]) < 4.5  # the data's mean is 3.53


def test_predict_ranks_the_tutorial_titles(run):
  output_dir, _ = run
  args = ['--model-dir', configs.output_paths(output_dir)['serving_model_dir'],
          '--user-id', '42', '--json']
  for title in TUTORIAL_TITLES:
    args += ['--movie-title', title]
  result = e2e.run_module('pipeline.predict', args)
  assert result.returncode == 0, result.stderr[-2000:]
  out = json.loads(result.stdout)
  assert out['user_known'] is True
  assert sorted(r['movie_title'] for r in out['ranking']) == sorted(
      TUTORIAL_TITLES)
  assert all(r['known'] for r in out['ranking'])
  ratings = [r['predicted_rating'] for r in out['ranking']]
  assert ratings == sorted(ratings, reverse=True)


def test_top_n_metrics_are_reported_and_beat_most_popular(run):
  _, summary = run
  top_n = summary['top_n']
  assert top_n['k'] == 10 and top_n['failures'] == []
  for name in ('bundle', 'retrieval', 'most_popular'):
    assert set(top_n[name]) >= {'recall@10', 'ndcg@10', 'map@10', 'users',
                                'by_activity'}
    assert top_n[name]['users'] > 700  # known eval users with a rating >= 4
  assert top_n['bundle']['recall@10'] >= 1.5 * top_n['most_popular'][
      'recall@10']
  assert top_n['bundle']['by_activity']  # per user-activity bucket


def test_predict_top_k_recommends_10_unrated_titles(run):
  output_dir, _ = run
  result = e2e.run_module('pipeline.predict', [
      '--model-dir', configs.output_paths(output_dir)['serving_model_dir'],
      '--user-id', '42', '--top-k', '10', '--json'])
  assert result.returncode == 0, result.stderr[-2000:]
  out = json.loads(result.stdout)
  assert out['user_known'] is True
  titles = [r['movie_title'] for r in out['ranking']]
  assert len(titles) == len(set(titles)) == 10
  rated = rated_in_train(output_dir, '42')
  assert rated and not set(titles) & rated
  scores = [r['score'] for r in out['ranking']]
  assert scores == sorted(scores, reverse=True)


def rated_in_train(output_dir: str, user_id: str) -> set:
  """Titles user_id rated in the run's training data (ExampleGen's train
  and validation splits)."""
  import glob  # pylint: disable=g-import-not-at-top
  from components import recommender_evaluator  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  (uri,) = glob.glob(os.path.join(configs.output_paths(output_dir)[
      'pipeline_root'], 'MovieLensExampleGen', 'examples', '*'))
  examples = standard_artifacts.Examples()
  examples.uri = uri
  examples.split_names = '["train", "validation", "eval"]'
  train = recommender_evaluator.training_ratings(examples)
  return {t.decode() for u, t in zip(train.users, train.titles)
          if u == user_id.encode()}


def test_new_users_are_served_from_their_ratings_above_most_popular(run):
  """Every H: recommend_from_ratings at least the most popular list on the
  same people (the gate is at H = 10)."""
  _, summary = run
  new = summary['top_n']['new_users']
  assert new['failures'] == [] and new['history'] == 10
  assert sorted(new['by_history'], key=int) == ['1', '3', '5', '10', '20']
  for history, lists in new['by_history'].items():
    assert lists['bundle']['users'] > 150, history
    assert (lists['bundle']['recall@10'] >=
            lists['most_popular']['recall@10']), history


def test_predict_recommends_from_ratings_given_now(run):
  output_dir, _ = run
  result = e2e.run_module('pipeline.predict', [
      '--model-dir', configs.output_paths(output_dir)['serving_model_dir'],
      '--ratings', 'Star Wars (1977)=5,Empire Strikes Back, The (1980)=5,'
      'Not A Film (2099)=3', '--top-k', '5', '--json'])
  assert result.returncode == 0, result.stderr[-2000:]
  out = json.loads(result.stdout)
  assert out['known_ratings'] == 2
  assert out['unknown_titles'] == ['Not A Film (2099)']
  titles = [r['movie_title'] for r in out['ranking']]
  assert len(titles) == 5
  assert not {'Star Wars (1977)', 'Empire Strikes Back, The (1980)'} & set(
      titles)
  assert 'Return of the Jedi (1983)' in titles
