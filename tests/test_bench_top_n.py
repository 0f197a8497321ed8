"""bench.top_n's EASE and item-kNN anchors: they learn item-item
structure, and leave out what each user rated."""

import functools

import numpy as np
import pytest

from bench import synthetic
from bench import top_n
from components import movielens_example_gen as example_gen
from components import top_n_metrics
from components.ratings_source import RatingsSource
from tests.example_gen_run import run_executor
from tests.test_retrieval_model import as_ratings
from tests.test_retrieval_model import planted_ratings


def example_gen_output(tmp_path) -> str:
  """ExampleGen's output for the tests' small generated ratings."""
  ratings = synthetic.write_small_ratings_csv(str(tmp_path / 'r.csv'))
  return run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.csv(ratings)), str(tmp_path / 'examples'))


@pytest.mark.parametrize('lists_of', [
    functools.partial(top_n.ease_lists, l2=50.0), top_n.item_knn_lists],
                         ids=['ease', 'item_knn'])
def test_anchor_beats_most_popular_and_skips_rated_titles(lists_of):
  train, held_out = planted_ratings()
  train_ratings = as_ratings(train)
  evaluated = top_n_metrics.protocol(train_ratings, as_ratings(held_out),
                                     min_rating=4)
  lists = lists_of(train_ratings, evaluated, 10)
  for user, top in zip(evaluated.users, lists):
    assert len(top) == 10 and not set(top) & evaluated.rated[user]
  found = top_n_metrics.summarize(lists, evaluated, 10)['recall@10']
  popular = top_n_metrics.summarize(
      top_n_metrics.most_popular(evaluated, 10), evaluated,
      10)['recall@10']
  assert found > 1.5 * popular, (found, popular)


def test_item_knn_sums_the_cosines_of_what_the_user_rated():
  """a and b rated x and y, c rated x and z: for d, who rated y, x scores
  2 / (sqrt(3 * 2)) and z 0 (never co-rated with y)."""
  pairs = [('a', 'x'), ('a', 'y'), ('b', 'x'), ('b', 'y'), ('c', 'x'),
           ('c', 'z'), ('d', 'y')]
  train = top_n_metrics.Ratings(*(np.array(column) for column in (
      [u for u, _ in pairs], [t for _, t in pairs], [5.0] * len(pairs))))
  evaluated = top_n_metrics.protocol(train, top_n_metrics.Ratings(
      np.array(['d']), np.array(['z']), np.array([5.0])), min_rating=4)
  assert top_n.item_knn_lists(train, evaluated, 2) == [['x', 'z']]


def test_ease_is_left_out_above_its_catalog_limit(tmp_path):
  """Only where the dense catalog x catalog matrix is small enough."""
  uri = example_gen_output(tmp_path)
  both = top_n.reference_lists(uri)
  assert set(both) == {'most_popular', 'item_knn', 'ease'}
  sparse_only = top_n.reference_lists(uri, ease_max_movies=10)
  assert set(sparse_only) == {'most_popular', 'item_knn'}
  assert sparse_only['item_knn'] == {**both['item_knn'], 'seconds':
                                     sparse_only['item_knn']['seconds']}


def test_ease_in_user_batches_gives_each_user_their_own_list(monkeypatch):
  """Batches of 3 users (the last one short), an unknown user among them:
  each list is that user's scores' top k, their titles left out."""
  train, held_out = planted_ratings()
  train_ratings = as_ratings(train)
  evaluated = top_n_metrics.protocol(train_ratings, as_ratings(held_out),
                                     min_rating=4)
  evaluated.users.append('nobody')
  lists = {}
  for size in (1, 3, 10_000):  # one user a batch; short last batch; one
    monkeypatch.setattr(top_n, 'EASE_USER_BATCH', size)
    lists[size] = top_n.ease_lists(train_ratings, evaluated, 5, l2=50.0)
  assert lists[1] == lists[3] == lists[10_000]
  assert len(lists[1]) == len(evaluated.users)
  # No history: every score 0, so the first titles in order.
  assert lists[1][-1] == sorted(set(train_ratings.titles))[:5]
