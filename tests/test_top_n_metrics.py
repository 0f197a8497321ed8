"""Top-N metrics and the protocol, on lists whose answers are known."""

import numpy as np
import pytest

from components import top_n_metrics


def ratings(rows):
  users, titles, values = zip(*rows)
  return top_n_metrics.Ratings(np.array(users, dtype=object),
                               np.array(titles, dtype=object),
                               np.array(values, dtype=float))


TRAIN_ROWS = [('u1', 'A', 5), ('u1', 'B', 1), ('u2', 'A', 3),
              ('u2', 'C', 4), ('u3', 'A', 2), ('u3', 'C', 4)]
TRAIN = ratings(TRAIN_ROWS)
EVALS = ratings([('u1', 'C', 5), ('u1', 'D', 4), ('u1', 'E', 2),
                 ('u2', 'B', 4), ('u3', 'B', 3), ('u4', 'A', 5)])


def test_protocol_keeps_users_with_a_relevant_movie_and_their_train_movies():
  evaluated = top_n_metrics.protocol(TRAIN, EVALS, min_rating=4)
  assert evaluated.users == ['u1', 'u2', 'u4']  # u3's only eval rating is 3
  assert evaluated.relevant == [{'C', 'D'}, {'B'}, {'A'}]
  assert evaluated.rated == {'u1': {'A', 'B'}, 'u2': {'A', 'C'}, 'u4': set()}
  assert evaluated.activity.tolist() == [2, 2, 0]


def test_training_gathered_in_batches_gives_the_same_protocol():
  relevant = top_n_metrics.relevant_titles(EVALS, min_rating=4)
  batches = [ratings(TRAIN_ROWS[:1]), ratings(TRAIN_ROWS[1:4]),
             ratings(TRAIN_ROWS[4:])]
  training = top_n_metrics.Training.gather(batches, relevant)
  assert training.users == {'u1', 'u2', 'u3'}
  assert training.title_counts == {'A': 3, 'B': 1, 'C': 2}
  assert set(training.rated) == {'u1', 'u2', 'u4'}  # only those asked for
  whole = top_n_metrics.protocol(TRAIN, EVALS, min_rating=4)
  batched = top_n_metrics.protocol_of(training, relevant)
  assert (batched.users, batched.relevant, batched.rated,
          batched.activity.tolist(), batched.title_counts) == (
              whole.users, whole.relevant, whole.rated,
              whole.activity.tolist(), whole.title_counts)


def test_most_popular_leaves_out_each_users_train_movies():
  evaluated = top_n_metrics.protocol(TRAIN, EVALS, min_rating=4)
  lists = top_n_metrics.most_popular(evaluated, k=2)
  # Train counts: A 3, C 2, B 1.
  assert lists == [['C'], ['B'], ['A', 'C']]


def test_most_popular_breaks_ties_by_title():
  train = ratings([('u1', 'C', 5), ('u2', 'B', 5), ('u3', 'A', 5),
                   ('u4', 'B', 5)])
  evaluated = top_n_metrics.protocol(train, ratings([('u9', 'D', 5)]),
                                     min_rating=4)
  assert top_n_metrics.most_popular(evaluated, k=3) == [
      ['B', 'A', 'C']]


def test_recall_ndcg_and_map_by_hand():
  relevant = [{'x', 'y'}, {'z'}]
  scores = top_n_metrics.per_user([['a', 'x', 'y'], ['z']], relevant, k=3)
  assert scores['recall'].tolist() == [1.0, 1.0]
  discounts = 1 / np.log2(np.arange(2, 5))
  assert scores['ndcg'][0] == pytest.approx(
      (discounts[1] + discounts[2]) / (discounts[0] + discounts[1]))
  assert scores['ndcg'][1] == pytest.approx(1.0)
  assert scores['map'][0] == pytest.approx((1 / 2 + 2 / 3) / 2)
  # R = min(k, relevant): with k=1 one hit of two relevant is a full recall.
  assert top_n_metrics.per_user([['x']], [{'x', 'y'}], k=1)[
      'recall'].tolist() == [1.0]
  assert top_n_metrics.per_user([['a', 'b']], [{'x'}], k=2)[
      'recall'].tolist() == [0.0]


def test_summary_has_overall_and_activity_buckets():
  evaluated = top_n_metrics.protocol(TRAIN, EVALS, min_rating=4)
  lists = [['C', 'E'], ['Z', 'Y'], ['A', 'B']]
  summary = top_n_metrics.summarize(lists, evaluated, k=2)
  assert summary['users'] == 3
  assert summary['recall@2'] == pytest.approx((0.5 + 0 + 1) / 3, abs=1e-4)
  assert set(summary) >= {'recall@2', 'ndcg@2', 'map@2', 'by_activity'}
  assert summary['by_activity'] == {'<20': {
      'recall@2': summary['recall@2'], 'ndcg@2': summary['ndcg@2'],
      'map@2': summary['map@2'], 'users': 3}}


def test_lists_from_asks_in_batches_and_keeps_the_order():
  calls = []

  def recommend(users, k):
    calls.append(list(users))
    return [[f'{u}-{i}' for i in range(k)] for u in users]

  lists = top_n_metrics.lists_from(recommend, ['a', 'b', 'c'], 2,
                                   batch_size=2)
  assert calls == [['a', 'b'], ['c']]
  assert lists == [['a-0', 'a-1'], ['b-0', 'b-1'], ['c-0', 'c-1']]
