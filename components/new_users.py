"""The new-user protocol: people the model has never seen, served from the
first ratings they give.

Users are ordered by their first rating (their sign-up); the newest
`percent`% of them are new. Each new user gives their first H ratings (by
time) at request time; relevant = the rest of their ratings >= min_rating;
the H given titles are never recommended. Recall@k and NDCG@k as for known
users (top_n_metrics.per_user); users with nothing relevant are not
counted.

ExampleGen moves every rating of the new users to the `new_users` split
(`newest_users`), so the run's training data is the other users' ratings;
the Evaluator scores the bundle's `recommend_from_ratings` and the most
popular list on them; bench/new_users.py adds its anchors and chooses
settings on a run over that training data, one step earlier.

Pure NumPy, as top_n_metrics.
"""

import collections
import dataclasses
import hashlib
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from components import top_n_metrics


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

  @classmethod
  def concatenate(cls, parts: Sequence['TimedRatings']) -> 'TimedRatings':
    """The parts' ratings, one after another."""
    return cls(*(np.concatenate([getattr(part, field.name) for part in parts])
                 for field in dataclasses.fields(cls)))

  def where(self, mask: np.ndarray) -> 'TimedRatings':
    """The ratings `mask` selects."""
    return TimedRatings(*(getattr(self, field.name)[mask]
                          for field in dataclasses.fields(self)))


def sample_people(ratings: TimedRatings, max_people: int) -> TimedRatings:
  """Every rating of at most `max_people` of the users: those first by the
  sha256 of their id, so a run, its baseline and the next run measure the
  same people."""
  people = set(ratings.users.tolist())
  if len(people) <= max_people:
    return ratings
  kept = set(sorted(people, key=lambda user: hashlib.sha256(user).digest())[
      :max_people])
  return ratings.where(np.fromiter((user in kept for user in ratings.users),
                                   bool, len(ratings.users)))


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
