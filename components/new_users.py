"""The new-user protocol: people the model has never seen, served from the
first ratings they give.

Users are ordered by their first rating (their sign-up); the newest
`percent`% of them are new, and T is the first new user's sign-up. Each new
user gives their first H ratings (by time) at request time; relevant = the
rest of their ratings >= min_rating; the H given titles are never
recommended. Recall@k and NDCG@k as for known users
(top_n_metrics.per_user); users with nothing relevant are not counted.

ExampleGen sets the new users' ratings apart in the `new_users` split
(`newest_users`); the Evaluator scores the bundle's
`recommend_from_ratings` and the most popular list on them. bench/ applies
the protocol strictly (training = the ratings before T of users who signed
up before T) and once more inside that training data, where settings are
chosen.

Pure NumPy, as top_n_metrics.
"""

import collections
import dataclasses
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from components import top_n_metrics

# H: the ratings a new user gives at request time; the gate's and the
# ones the report shows.
DEFAULT_HISTORY = 10
HISTORIES = (1, 3, 5, 10, 20)
DEFAULT_PERCENT = 20  # of the users, by sign-up


def newest_users(first_ratings: Iterable[Tuple[bytes, Optional[int]]],
                 percent: float) -> FrozenSet:
  """The newest `percent`% of the users by their first rating's time
  ((user, first timestamp) pairs; ties by user). Users without a timestamp
  are never new."""
  timed = sorted((first, user) for user, first in first_ratings
                 if first is not None)
  count = int(round(len(timed) * percent / 100))
  return frozenset(user for _, user in timed[len(timed) - count:])


@dataclasses.dataclass
class TimedRatings:
  """Ratings as parallel arrays, with when each was given."""
  users: np.ndarray
  titles: np.ndarray
  ratings: np.ndarray
  timestamps: np.ndarray

  def where(self, mask: np.ndarray) -> 'TimedRatings':
    return TimedRatings(*(getattr(self, f.name)[mask]
                          for f in dataclasses.fields(self)))

  def as_ratings(self) -> top_n_metrics.Ratings:
    return top_n_metrics.Ratings(self.users, self.titles, self.ratings)


def first_ratings(ratings: TimedRatings) -> Dict:
  """{user: the time of their first rating}."""
  first: Dict = {}
  for user, timestamp in zip(ratings.users.tolist(),
                             ratings.timestamps.tolist()):
    if user not in first or timestamp < first[user]:
      first[user] = timestamp
  return first


def signup_cut(ratings: TimedRatings, percent: float = DEFAULT_PERCENT
               ) -> Tuple[TimedRatings, TimedRatings]:
  """(training, new): the ratings given before T by the users who signed up
  before T, and every rating of the new users (the protocol, strictly)."""
  first = first_ratings(ratings)
  new = newest_users(first.items(), percent)
  cut = min(first[user] for user in new)
  is_new = np.array([user in new for user in ratings.users.tolist()], bool)
  return (ratings.where(~is_new & (ratings.timestamps < cut)),
          ratings.where(is_new))


@dataclasses.dataclass
class Case:
  """One new user: the titles and ratings given, and what is relevant."""
  user: object
  given_titles: List
  given_ratings: List[float]
  relevant: set


def cases(new: TimedRatings, history: int, min_rating: float
          ) -> List[Case]:
  """Each new user's first `history` ratings (by time, then title) given,
  the rest's titles rated >= min_rating relevant; users with nothing
  relevant left out; by user."""
  by_user = collections.defaultdict(list)
  for row in zip(new.users.tolist(), new.timestamps.tolist(),
                 new.titles.tolist(), new.ratings.tolist()):
    by_user[row[0]].append(row[1:])
  result = []
  for user in sorted(by_user):
    rows = sorted(by_user[user])
    given = rows[:history]
    given_titles = {title for _, title, _ in given}
    relevant = {title for _, title, rating in rows[history:]
                if rating >= min_rating and title not in given_titles}
    if relevant:
      result.append(Case(user, [title for _, title, _ in given],
                         [rating for _, _, rating in given], relevant))
  return result


def most_popular(title_counts: Dict, people: Sequence[Case], k: int
                 ) -> List[list]:
  """The k titles rated most often in the training data (ties by title),
  each person's given titles left out."""
  ranked = sorted(title_counts, key=lambda title: (-title_counts[title],
                                                   title))
  lists = []
  for case in people:
    given = set(case.given_titles)
    lists.append([t for t in ranked[:k + len(given)] if t not in given][:k])
  return lists


def score(lists: Sequence[Sequence], people: Sequence[Case], k: int
          ) -> Dict:
  """{'recall@k', 'ndcg@k', 'users'} of the lists (one per person)."""
  scores = top_n_metrics.per_user(lists, [c.relevant for c in people], k)
  return {f'recall@{k}': round(float(scores['recall'].mean()), 4)
          if people else None,
          f'ndcg@{k}': round(float(scores['ndcg'].mean()), 4)
          if people else None,
          'users': len(people)}
