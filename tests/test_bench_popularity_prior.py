"""bench.popularity_prior: the served retrieval score's popularity weight,
scored on each window's validation hold-out."""

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


def test_weight_zero_is_the_towers_recall_and_every_weight_is_scored(
    tmp_path):
  data = small_ratings(tmp_path)
  result = popularity_prior.run(data, first_weeks=8, spans=[10], seeds=[0],
                                weights=[0.0, 0.5])
  (row,) = result['rows']
  assert set(row['validation']) == set(row['next_week']) == {'0.0', '0.5'}
  assert row['returning_people'] > 0
  assert 0 <= row['next_week_most_popular'] <= 1
  assert result['chosen_on_validation'] in (0.0, 0.5)
  assert len(popularity_prior.table(result).splitlines()) == 2 + 2 + 1

  # The same cold model's towers alone (what a warm run's validation
  # scores) give the weight-0 figure.
  ratings = warm_retrieval.numbered(data)
  week = warm_retrieval.weeks_of(ratings['timestamp'], 8)
  split = warm_retrieval.window_split(
      ratings, week < 10, warm_retrieval.in_validation(ratings))
  hparams = Hyperparameters(seed=0)
  model, _ = warm_retrieval.train(ratings, split, hparams, None, 1.0, False)
  assert row['validation']['0.0'] == round(retrieval_model.held_out_recall(
      model, split.train, split.validation, hparams.retrieval_liked_rating,
      seed=0), 4)


@pytest.mark.parametrize('flags, message', [
    (['--spans', '1,3'], '--spans: [1] outside 2..'),
    (['--spans', '3', '--weights=-1,0'],
     '--weights: [-1.0, 0.0] has a negative weight')])
def test_bad_spans_or_weights_are_refused_by_name(flags, message, tmp_path,
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
      ratings, week, warm_retrieval.in_validation(ratings), 10, [0.0], seed=0)
  liked = set(ratings['user'][(week == 10) & (ratings['rating'] >= 4)])
  assert liked & newcomers
  assert row['returning_people'] == len(liked - newcomers) > 0
