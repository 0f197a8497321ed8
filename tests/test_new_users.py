"""The new-user protocol (components/new_users.py) and the Evaluator's
new-user figures and gate."""

import numpy as np

from components import new_users
from components import recommender_evaluator


def timed(rows):
  """TimedRatings from (user, title, rating, timestamp) rows."""
  users, titles, ratings, times = zip(*rows)
  return new_users.TimedRatings(np.array(users), np.array(titles),
                                np.array(ratings, np.float32),
                                np.array(times))


def test_newest_users_by_first_rating_ties_by_user_untimed_never():
  firsts = [(b'a', 5), (b'b', 1), (b'c', 9), (b'd', 9), (b'e', None)]
  assert new_users.newest_users(firsts, 50) == {b'c', b'd'}
  assert new_users.newest_users(firsts, 25) == {b'd'}
  assert new_users.newest_users(firsts, 0) == frozenset()


def test_cases_give_the_first_h_by_time_and_relevant_is_the_liked_rest():
  new = timed([('u', 'late', 5, 30), ('u', 'first', 2, 10),
               ('u', 'second', 5, 20), ('u', 'meh', 3, 40),
               ('v', 'only', 5, 1)])
  [case] = new_users.cases(new, 2, 4.0)  # v has nothing left to find
  assert case.user == 'u'
  assert case.given_titles == ['first', 'second']
  assert case.given_ratings == [2.0, 5.0]
  assert case.relevant == {'late'}


def test_most_popular_leaves_out_what_each_person_gave():
  people = [new_users.Case('u', ['A'], [5.0], {'C'})]
  lists = new_users.most_popular({'A': 9, 'B': 5, 'C': 5, 'D': 1}, people, 2)
  assert lists == [['B', 'C']]
  assert new_users.score(lists, people, 2) == {
      'recall@2': 1.0, 'ndcg@2': round(1 / np.log2(3), 4), 'users': 1}


def test_evaluator_scores_each_history_and_gates_below_most_popular():
  new = timed([(u, t, 5.0, i) for u in ('p', 'q')
               for i, t in enumerate(['A', 'B', 'C', 'D'])])
  counts = {'A': 10, 'B': 9, 'C': 1, 'D': 1, 'E': 8}
  config = {'k': 1, 'min_rating': 4.0, 'new_user_history': 2,
            'new_user_histories': [1, 2]}
  seen = []

  def recommend(people, k):
    seen.append([c.given_titles for c in people])
    return [['C'] for _ in people]  # always a relevant title

  good = recommender_evaluator.evaluate_new_users(new, counts, recommend,
                                                  config)
  assert seen == [[['A'], ['A']], [['A', 'B'], ['A', 'B']]]
  assert good['by_history']['2']['bundle']['recall@1'] == 1.0
  assert good['by_history']['2']['most_popular']['recall@1'] == 0.0  # E
  assert good['failures'] == [] and good['users'] == 2
  bad = recommender_evaluator.evaluate_new_users(
      new, {**counts, 'C': 99}, lambda people, k: [['E'] for _ in people],
      config)
  assert bad['failures'] == [
      "new users' recall@1 0.0000 (given 2 ratings) is below the most "
      "popular list's 1.0000"]


def test_past_the_cap_the_same_people_are_measured_every_run():
  new = timed([(f'u{i}'.encode(), t, 5.0, j) for i in range(50)
               for j, t in enumerate(['A', 'B', 'C'])])
  sample = new_users.sample_people(new, 20)
  people = set(sample.users.tolist())
  assert len(people) == 20 and len(sample.users) == 60  # all their ratings
  shuffled = new.where(np.random.default_rng(0).permutation(150))
  assert set(new_users.sample_people(shuffled, 20).users.tolist()) == people
  assert set(new_users.sample_people(new, 30).users.tolist()) > people
  assert new_users.sample_people(new, 50) is new
  config = {'k': 1, 'min_rating': 4.0, 'new_user_history': 2,
            'new_user_histories': [2], 'new_user_max_people': 20}
  result = recommender_evaluator.evaluate_new_users(
      new, {'A': 1}, lambda people, k: [['C'] for _ in people], config)
  assert (result['users'], result['users_measured']) == (50, 20)
  assert result['by_history']['2']['bundle']['users'] == 20
