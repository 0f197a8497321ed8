"""bench.popularity_prior: the served retrieval score's popularity weight
and half-life, scored on each window's validation hold-out and on its
newest week."""

import re

import numpy as np
import pytest

from bench import popularity_prior
from bench import warm_retrieval
from tests.test_bench_warm_retrieval import small_ratings
from trainer_module import retrieval_model
from trainer_module.hyperparameters import Hyperparameters


def test_recall_of_scores_leaves_seen_movies_out():
  held = retrieval_model.HeldOut(
      people=np.array([0, 1]), seen_rows=np.array([0]),
      seen_movies=np.array([2]),
      relevant=np.array([[True, False, False, False],
                         [False, False, False, True]]))
  scores = np.array([[0.0, 1.0, 9.0, 2.0], [0.0, 1.0, 9.0, 2.0]])
  # Person 0 saw movie 2: top 2 is (3, 1), missing 0; person 1's top 2
  # is (2, 3), finding 3.
  assert retrieval_model.recall_of_scores(
      lambda people: scores[people], held, k=2) == pytest.approx(0.5)


def test_weight_zero_is_the_towers_recall_and_every_setting_is_scored(
    tmp_path):
  data = small_ratings(tmp_path)
  result = popularity_prior.run(data, first_weeks=8, spans=[10], seeds=[0],
                                weights=[0.0, 0.5], half_lives=[0.0, 7.0])
  (row,) = result['rows']
  settings = {'0/0', '0.5/0', '0/7', '0.5/7'}
  for part in popularity_prior.PARTS:
    assert set(row[part]) == settings, part
    assert all(0 <= v <= 1 for v in row[part].values()), part
  # Weight 0 is the towers alone, whatever the half-life.
  for part in popularity_prior.PARTS:
    assert row[part]['0/0'] == row[part]['0/7']
  assert row['returning_people'] > 0
  assert 0 <= row['next_week_most_popular'] <= 1
  assert set(result['chosen']) == {'hash_split', 'spans', 'new_people_spans'}
  assert set(result['chosen'].values()) <= settings
  # recommend_from_ratings' base counts every rating alike.
  assert result['chosen']['new_people_spans'].endswith('/0')
  assert len(popularity_prior.table(result).splitlines()) == 2 + 4 + 1

  # The same cold model's towers alone (what a warm run's validation
  # scores) give the weight-0 figure.
  ratings = warm_retrieval.numbered(data)
  week = warm_retrieval.weeks_of(ratings['timestamp'], 8)
  split = warm_retrieval.window_split(
      ratings, week < 10, warm_retrieval.in_validation(ratings))
  hparams = Hyperparameters(seed=0)
  model, _ = warm_retrieval.train(ratings, split, hparams, None, 1.0, None,
                                  fit_train_only=True)
  assert row['validation']['0/0'] == round(retrieval_model.held_out_recall(
      model, split.train, split.validation, hparams.retrieval_liked_rating,
      seed=0), 4)


def test_the_served_share_is_what_the_grid_adds(tmp_path):
  """The bench's log share at a half-life is the one the Trainer serves
  (retrieval_model.served_probability) for the same ratings."""
  ratings = warm_retrieval.numbered(small_ratings(tmp_path))
  rows = np.arange(0, len(ratings['movie']), 2)
  num_movies = int(ratings['movie'].max()) + 2  # with the OOV id
  shares = popularity_prior.log_shares(ratings, rows, num_movies, [0.0, 7.0])
  served = retrieval_model.served_probability(
      ratings['movie'][rows], ratings['timestamp'][rows], num_movies,
      Hyperparameters(retrieval_popularity_half_life_days=7.0))
  np.testing.assert_allclose(shares[7.0], np.log(served[:-1]), rtol=1e-6)
  np.testing.assert_allclose(shares[0.0], np.log(
      retrieval_model.movie_probability(ratings['movie'][rows],
                                        num_movies)[:-1]), rtol=1e-6)
  assert not np.allclose(shares[0.0], shares[7.0])


@pytest.mark.parametrize('flags, message', [
    (['--spans', '2,3'], '--spans: [2] outside 3..'),
    (['--spans', '3', '--weights=-1,0'],
     '--weights: [-1.0, 0.0] has a negative weight'),
    (['--spans', '3', '--half-lives=0,-7'],
     '--half-lives: [0.0, -7.0] has a negative half-life')])
def test_bad_spans_weights_or_half_lives_are_refused_by_name(flags, message, tmp_path,
                                                  monkeypatch):
  monkeypatch.setattr(popularity_prior.synthetic, 'movielens_100k',
                      lambda _: small_ratings(tmp_path))
  with pytest.raises(SystemExit, match=re.escape(message)):
    popularity_prior.main([*flags, '--results', str(tmp_path / 'r.json')])
  assert not (tmp_path / 'r.json').exists()


def test_next_week_scores_only_people_who_rated_in_the_window(tmp_path):
  """People whose first rating is in the span have untrained embeddings:
  they are new people, not returning ones."""
  data = small_ratings(tmp_path)
  ratings = warm_retrieval.numbered(data)
  week = warm_retrieval.weeks_of(ratings['timestamp'], 8)
  newcomers = set(ratings['user'][week == 10]) - set(ratings['user'][week < 10])
  assert newcomers  # the small data has people arriving in that week
  row = popularity_prior.span_figures(
      ratings, week, warm_retrieval.in_validation(ratings), 10, [0.0], [0.0],
      seed=0)
  liked = set(ratings['user'][(week == 10) & (ratings['rating'] >= 4)])
  assert liked & newcomers
  assert row['returning_people'] == len(liked - newcomers) > 0


def test_new_people_are_those_whose_first_rating_is_in_the_span(tmp_path):
  ratings = warm_retrieval.numbered(small_ratings(tmp_path))
  week = warm_retrieval.weeks_of(ratings['timestamp'], 8)
  people = popularity_prior.new_people(ratings, week, 10)
  newcomers = set(ratings['user'][week == 10]) - set(
      ratings['user'][week < 10])
  assert people and {case.user for case in people} <= newcomers
  for case in people:
    assert len(case.given_titles) <= 10
    assert not set(case.given_titles) & case.relevant
