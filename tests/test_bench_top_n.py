"""bench.top_n's EASE anchor: it learns item-item structure, and leaves
out what each user rated."""

from bench import top_n
from components import top_n_metrics
from tests.test_retrieval_model import as_ratings
from tests.test_retrieval_model import planted_ratings


def test_ease_beats_most_popular_and_skips_rated_titles():
  train, held_out = planted_ratings()
  train_ratings = as_ratings(train)
  evaluated = top_n_metrics.protocol(train_ratings, as_ratings(held_out),
                                     min_rating=4)
  lists = top_n.ease_lists(train_ratings, evaluated, 10, l2=50.0)
  for user, top in zip(evaluated.users, lists):
    assert len(top) == 10 and not set(top) & evaluated.rated[user]
  ease = top_n_metrics.summarize(lists, evaluated, 10)['recall@10']
  popular = top_n_metrics.summarize(
      top_n_metrics.most_popular(evaluated, 10), evaluated,
      10)['recall@10']
  assert ease > 1.5 * popular, (ease, popular)
