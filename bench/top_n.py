"""Reference top-N lists for `make bench`, on the pipeline's own split.

  python -m bench.top_n --examples DIR --output result.json

DIR is a MovieLensExampleGen output (Split-train, Split-validation,
Split-eval); train and validation are the training data. The lists are
scored with the Evaluator's protocol and code
(components/top_n_metrics.py), so their figures compare with the bundle's:
- most popular in train (the Evaluator's own reference, computed again);
- item-kNN: the similarities of a user's train titles summed, with the
  Trainer's new-user table (cosine over co-raters, trainer_module/
  item_neighbors.py);
- EASE (Steck, 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"):
  a closed-form item-item linear model, B = I - P diagMat(1 / diag(P)) with
  P = (X^T X + lambda I)^-1 over the train split's user x movie matrix.
"""

import argparse
import json
import time
from typing import Dict, List, Optional

import numpy as np
from scipy import sparse

from components import recommender_evaluator
from components import top_n_metrics
from pipeline import artifacts
from trainer_module import hyperparameters
from trainer_module import item_neighbors

# EASE's L2 weight, chosen among 100 / 300 / 500 on a fifth of MovieLens
# 100k's train split held out (never the eval split).
EASE_LAMBDA = 500.0
EASE_USER_BATCH = 512
K = 10


def ease_lists(train: top_n_metrics.Ratings,
               evaluated: top_n_metrics.Protocol, k: int,
               l2: float = EASE_LAMBDA) -> List[list]:
  """Each evaluated user's top k titles by EASE, train titles left out."""
  titles, movie_ids = np.unique(train.titles, return_inverse=True)
  users, user_ids = np.unique(train.users, return_inverse=True)
  # Who rated what, sparse (a pair rated twice counts once); only the
  # catalog x catalog matrices are dense.
  matrix = sparse.csr_matrix(
      (np.ones(len(user_ids)), (user_ids, movie_ids)),
      shape=(len(users), len(titles)))
  matrix.sum_duplicates()
  matrix.data[:] = 1.0
  gram = (matrix.T @ matrix).toarray()
  gram[np.diag_indices_from(gram)] += l2
  weights = np.linalg.inv(gram)
  del gram
  weights /= -np.diag(weights)
  weights[np.diag_indices_from(weights)] = 0.0
  row_of = {user: row for row, user in enumerate(users)}
  rows = [row_of.get(user) for user in evaluated.users]
  lists = []
  # A batch of users at a time: one matrix product instead of one pass
  # over the catalog x catalog weights per user.
  for start in range(0, len(rows), EASE_USER_BATCH):
    batch = rows[start:start + EASE_USER_BATCH]
    history = np.zeros((len(batch), len(titles)))
    known = [i for i, row in enumerate(batch) if row is not None]
    if known:
      history[known] = matrix[[batch[i] for i in known]].toarray()
    scores = history @ weights
    scores[history > 0] = -np.inf
    lists.extend(list(titles[top]) for top in
                 np.argsort(-scores, axis=1, kind='stable')[:, :k])
  return lists


def item_knn_lists(train: top_n_metrics.Ratings,
                   evaluated: top_n_metrics.Protocol, k: int) -> List[list]:
  """Each evaluated user's top k titles by item-kNN: the similarities of
  their train titles summed, with the table the Trainer builds for new
  users (trainer_module/item_neighbors.py; its settings), train titles out.
  Sparse, so it runs where EASE's dense catalog x catalog matrix does not."""
  settings = hyperparameters.Hyperparameters()
  titles, movie_ids = np.unique(train.titles, return_inverse=True)
  users, user_ids = np.unique(train.users, return_inverse=True)
  ids, sims = item_neighbors.neighbor_table(
      user_ids, movie_ids, len(users), len(titles),
      settings.new_user_knn_neighbors, settings.new_user_knn_shrink)
  order = np.argsort(user_ids, kind='stable')
  bounds = np.searchsorted(user_ids[order], np.arange(len(users) + 1))
  row_of = {user: row for row, user in enumerate(users)}
  lists = []
  for user in evaluated.users:
    row = row_of.get(user)
    history = (movie_ids[order[bounds[row]:bounds[row + 1]]]
               if row is not None else np.zeros(0, np.int64))
    scores = np.zeros(len(titles))
    np.add.at(scores, ids[history].ravel(), sims[history].ravel())
    scores[history] = -np.inf
    lists.append(list(titles[np.argsort(-scores, kind='stable')[:k]]))
  return lists


def reference_lists(examples_uri: str, k: int = K,
                    ease_max_movies: Optional[int] = None
                    ) -> Dict[str, Dict]:
  """{'most_popular', 'item_knn', 'ease'}: each list's metrics on an
  ExampleGen output; EASE only where the train titles are at most
  `ease_max_movies` (its matrix is catalog x catalog, dense)."""
  examples = artifacts.examples_artifact(examples_uri)
  # The pipeline's training data (train and validation), as the Evaluator.
  train = recommender_evaluator.training_ratings(examples)
  evals = recommender_evaluator.read_ratings(examples, 'eval')
  evaluated = top_n_metrics.protocol(train, evals, min_rating=4.0)
  result = {'most_popular': top_n_metrics.summarize(
      top_n_metrics.most_popular(evaluated, k), evaluated, k)}
  makers = {'item_knn': item_knn_lists, 'ease': ease_lists}
  if ease_max_movies is not None and len(
      np.unique(train.titles)) > ease_max_movies:
    del makers['ease']
  for name, lists_of in makers.items():
    start = time.monotonic()
    result[name] = top_n_metrics.summarize(lists_of(train, evaluated, k),
                                           evaluated, k)
    result[name]['seconds'] = round(time.monotonic() - start, 2)
  return result


def main(argv: Optional[List[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--examples', required=True,
                      help='a MovieLensExampleGen examples folder')
  parser.add_argument('--output', required=True)
  args = parser.parse_args(argv)
  result = reference_lists(args.examples)
  with open(args.output, 'w') as f:
    json.dump(result, f, indent=2)
  print(json.dumps({name: m[f'recall@{K}'] for name, m in result.items()}))


if __name__ == '__main__':
  main()
