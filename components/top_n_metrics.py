"""Top-N metrics of a recommender over a catalog, and the lists they rank.

The protocol: for each eval user, the whole catalog known to the model is
ranked, the movies the user rated in the training data (the train and
validation splits) left out; relevant movies are the user's eval ratings
>= `min_rating`. Users with no relevant movie are not counted. With
R = min(k, number of relevant movies):

  Recall@k = hits in the top k / R
  NDCG@k   = DCG of the top k / DCG of R hits at the top
  MAP@k    = sum of precision@i at each hit i <= k / R

Pure NumPy: no TensorFlow, so it is tested and reused (bench) cheaply.
"""

import collections
import dataclasses
from typing import Callable, Dict, Iterable, List, Sequence

import numpy as np

from trainer_module import features


@dataclasses.dataclass
class Ratings:
  """One split's ratings as parallel arrays (user and title as str)."""
  users: np.ndarray
  titles: np.ndarray
  ratings: np.ndarray

  @classmethod
  def concat(cls, *parts: 'Ratings') -> 'Ratings':
    """The ratings of several splits as one."""
    return cls(*(np.concatenate([getattr(p, field.name) for p in parts])
                 for field in dataclasses.fields(cls)))


@dataclasses.dataclass
class Protocol:
  """Who is evaluated on what: the eval users with a relevant movie, their
  relevant titles, the titles they rated in train, how active they are
  (their number of train ratings), and how often each title was rated in
  train (the most popular list)."""
  users: List[str]
  relevant: List[set]
  rated: Dict[str, set]
  activity: np.ndarray  # train ratings per evaluated user
  title_counts: Dict[str, int]


def relevant_titles(evals: Ratings, min_rating: float) -> Dict[str, set]:
  """Each eval user's titles rated >= min_rating (users with none left
  out)."""
  relevant: Dict[str, set] = {}
  # Over lists: iterating NumPy object arrays boxes every element again.
  for user, title, rating in zip(evals.users.tolist(), evals.titles.tolist(),
                                 evals.ratings.tolist()):
    if rating >= min_rating:
      relevant.setdefault(user, set()).add(title)
  return relevant


@dataclasses.dataclass
class Training:
  """What the protocol reads of the training ratings, gathered a batch at a
  time so they are never all in memory: every user who has one, how often
  each title was rated, and the titles of the users asked for."""
  users: set
  title_counts: Dict[str, int]
  rated: Dict[str, set]

  @classmethod
  def gather(cls, batches: Iterable[Ratings],
             wanted: Iterable[str]) -> 'Training':
    """From batches of the training ratings; `rated` for `wanted` users."""
    users, counts = set(), collections.Counter()
    rated: Dict[str, set] = {user: set() for user in wanted}
    titles: Dict[str, str] = {}  # one object a title, however often rated
    for batch in batches:
      batch_users, batch_titles = batch.users.tolist(), batch.titles.tolist()
      users.update(batch_users)
      counts.update(batch_titles)
      for user, title in zip(batch_users, batch_titles):
        if user in rated:
          rated[user].add(titles.setdefault(title, title))
    return cls(users, dict(counts), rated)


def protocol_of(training: Training, relevant: Dict[str, set]) -> Protocol:
  """The protocol of the users in `relevant` (relevant_titles), from the
  gathered training ratings."""
  users = sorted(relevant)
  return Protocol(users, [relevant[u] for u in users],
                  {u: training.rated.get(u, set()) for u in users},
                  np.array([len(training.rated.get(u, ())) for u in users]),
                  training.title_counts)


def protocol(train: Ratings, evals: Ratings, min_rating: float) -> Protocol:
  """The evaluated users and what counts as a hit for each."""
  relevant = relevant_titles(evals, min_rating)
  return protocol_of(Training.gather([train], relevant), relevant)


def most_popular(evaluated: Protocol, k: int) -> List[list]:
  """The k titles rated most often in train (ties: by title), each user's
  own left out."""
  counts = evaluated.title_counts
  ranked = sorted(counts, key=lambda title: (-counts[title], title))
  lists = []
  for user in evaluated.users:
    seen = evaluated.rated[user]
    top = []
    for title in ranked:
      if title not in seen:
        top.append(title)
        if len(top) == k:
          break
    lists.append(top)
  return lists


def per_user(lists: Sequence[Sequence[str]], relevant: Sequence[set],
             k: int) -> Dict[str, np.ndarray]:
  """Recall, NDCG and AP at k of each user's list (module doc)."""
  discounts = 1.0 / np.log2(np.arange(2, k + 2))
  recall, ndcg, ap = [], [], []
  for top, hits_wanted in zip(lists, relevant):
    hits = np.array([title in hits_wanted for title in list(top)[:k]],
                    dtype=float)
    hits = np.pad(hits, (0, k - len(hits)))
    best = min(k, len(hits_wanted))
    recall.append(hits.sum() / best)
    ndcg.append((hits * discounts).sum() / discounts[:best].sum())
    precision = np.cumsum(hits) / np.arange(1, k + 1)
    ap.append((precision * hits).sum() / best)
  return {'recall': np.array(recall), 'ndcg': np.array(ndcg),
          'map': np.array(ap)}


def summarize(lists: Sequence[Sequence[str]], evaluated: Protocol,
              k: int) -> Dict:
  """{'recall@k', 'ndcg@k', 'map@k', 'users', 'by_activity': {bucket:
  {...}}}; buckets as the Evaluator's user_activity_bucket slices."""
  scores = per_user(lists, evaluated.relevant, k)
  thresholds = np.array(features.USER_ACTIVITY_THRESHOLDS)
  labels = features.bucket_labels(features.USER_ACTIVITY_THRESHOLDS)
  bucket = np.searchsorted(thresholds, evaluated.activity, side='right')

  def means(mask: np.ndarray) -> Dict:
    return {**{f'{name}@{k}': round(float(values[mask].mean()), 4)
               for name, values in scores.items()},
            'users': int(mask.sum())}

  overall = means(np.ones(len(evaluated.users), dtype=bool))
  overall['by_activity'] = {labels[b]: means(bucket == b)
                            for b in range(len(labels)) if (bucket == b).any()}
  return overall


Recommend = Callable[[List[str], int], List[list]]


def lists_from(recommend: Recommend, users: List[str], k: int,
               batch_size: int = 256) -> List[list]:
  """A model's top-k titles for every user, asked in batches."""
  lists: List[list] = []
  for start in range(0, len(users), batch_size):
    lists.extend(recommend(users[start:start + batch_size], k))
  return lists
