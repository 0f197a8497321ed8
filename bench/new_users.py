"""New users: the bundle's recommend_from_ratings against the anchors, and
the settings it serves with, chosen one step earlier.

  python -m bench.new_users --run-dir DIR [--work-dir W] [--output F]

DIR is a finished pipeline run on data with timestamps (its ExampleGen
wrote a `new_users` split; components/new_users.py has the protocol). On
that run's new users, at every H of configs.NEW_USER_HISTORIES:
- the bundle: the Evaluator's figures (recommend_from_ratings);
- most popular in the training data (train + validation);
- item-kNN (cosine, shrunk; trainer_module/item_neighbors.py) over the
  same training data: the given titles' neighbours summed;
- the unknown user's list: what the bundle gives without the given ratings
  (the retrieval model's out-of-vocabulary user), given titles left out.

Settings (the bundle's new_user_* hyperparameters and the item-kNN
anchor's shrink) are chosen one step earlier, never on the run's new
users: the run's training data is written as a ratings CSV and the
pipeline runs on it (W/cut1/earlier), so its own newest users are set apart
the same way; each setting is scored on them with `from_ratings_lists` (the
NumPy twin of the served graph, tested equal to it) and the bundle that run
trained. A second cut (W/cut2) does the same to the first's known users'
ratings; a setting's figure is the mean over the cuts. Prints the tables;
writes F (default bench/results/new_users.json).
"""

import argparse
import csv
import dataclasses
import itertools
import json
import os
import subprocess
import sys
import tempfile
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
from tfx.types import artifact_utils

from components import new_users
from components import recommender_evaluator
from components import split_names
from pipeline import artifacts
from pipeline import configs
from trainer_module import hyperparameters
from trainer_module import item_neighbors

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(PROJECT_ROOT, 'bench', 'results',
                              'new_users.json')
K = configs.TOP_N_K
MIN_RATING = configs.TOP_N_MIN_RATING
# What is tried one step earlier.
KNN_WEIGHTS = (0.5, 1.0, 2.0, 4.0, 8.0)
KNN_SHRINKS = (0.0, 10.0, 50.0, 100.0)
NEXT_WEIGHTS = (0.0, 1.0, 3.0, 10.0)
RATING_CENTERS = (0.0, 2.5, 3.0, 3.5)  # 0.0: every rating counts for
# Both tables' widths (neighbours kept per movie): each the first columns
# of the widest (tables are best first).
NEIGHBOR_WIDTHS = (100, 200, 400)
ANCHOR_NEIGHBORS = 100_000  # the anchor keeps every neighbour
# The earlier runs (cuts) settings are chosen on: the first on the run's
# training data, each next on the one before's known users (one cut's ~150
# people tie settings that differ by 0.01 on other people).
CUTS = 2
# Each chosen setting's hyperparameter (what the bundle serves with).
SERVED = {'knn_weight': 'new_user_knn_weight',
          'shrink': 'new_user_knn_shrink',
          'neighbors': 'new_user_knn_neighbors',
          'rating_center': 'new_user_rating_center',
          'next_weight': 'new_user_next_weight'}


@dataclasses.dataclass
class Catalog:
  """A bundle's movie vocabulary (bytes, id order) and an index of it."""
  titles: List[bytes]

  @property
  def index(self) -> Dict[bytes, int]:
    return {title: i for i, title in enumerate(self.titles)}


@dataclasses.dataclass
class Stage:
  """serving.FromRatings' tables and weights, in NumPy: the twin the bench
  chooses settings with (tested equal to the served graph)."""
  generic: np.ndarray
  neighbor_ids: np.ndarray
  neighbor_sims: np.ndarray
  knn_weight: float
  rating_center: float
  next_ids: np.ndarray
  next_sims: np.ndarray
  next_weight: float

  @classmethod
  def of(cls, bundle, hparams: hyperparameters.Hyperparameters
         ) -> 'Stage':
    """A loaded bundle's tables, with the weights of `hparams` (those it
    was trained with: a SavedModel keeps no Python attribute)."""
    return cls.of_module(bundle.from_ratings, hparams)

  @classmethod
  def of_module(cls, module, hparams: hyperparameters.Hyperparameters
                ) -> 'Stage':
    """The tables of a serving.FromRatings (built or loaded), with the
    weights of `hparams`."""
    tables = {name: getattr(module, name).numpy() for name in TABLES}
    return cls(**tables, knn_weight=hparams.new_user_knn_weight,
               rating_center=hparams.new_user_rating_center,
               next_weight=hparams.new_user_next_weight)

  def scores(self, index: Dict[Any, int], titles: Sequence,
             ratings: Sequence[float]) -> np.ndarray:
    """One person's score of every movie as serving.FromRatings computes
    it; given movies -inf (titles not in `index` are ignored)."""
    given = [(index[t], r) for t, r in zip(titles, ratings) if t in index]
    spread = np.zeros(len(self.generic))
    for movie, rating in given:
      np.add.at(spread, self.neighbor_ids[movie], self.knn_weight *
                self.neighbor_sims[movie] * (rating - self.rating_center))
      np.add.at(spread, self.next_ids[movie],
                self.next_weight * self.next_sims[movie])
    scores = self.generic + spread / np.sqrt(max(len(given), 1))
    scores[[movie for movie, _ in given]] = -np.inf
    return scores


TABLES = ('generic', 'neighbor_ids', 'neighbor_sims', 'next_ids',
          'next_sims')


@dataclasses.dataclass
class Spread:
  """People's given ratings spread over a stage's tables, apart from the
  weights, each [people, num_movies]: Stage.scores for any knn_weight w,
  rating_center c and next_weight v is generic + (w x (rated - c x
  counted) + v x liked_next) / root, for all people at once (the grid has
  about a thousand settings)."""
  rated: np.ndarray  # sum over the given of rating x sim
  counted: np.ndarray  # sum over the given of sim
  liked_next: np.ndarray  # sum over the given of next
  root: np.ndarray  # [people, 1]: sqrt(given), at least 1
  given: np.ndarray  # bool: the given movies

  @classmethod
  def of(cls, stage: Stage, index: Dict[Any, int],
         people: Sequence[new_users.Case]) -> 'Spread':
    """The spread of each person's given titles (those in `index`)."""
    shape = (len(people), len(stage.generic))
    spread = cls(np.zeros(shape), np.zeros(shape), np.zeros(shape),
                 np.ones((len(people), 1)), np.zeros(shape, bool))
    for row, case in enumerate(people):
      given = [(index[t], r) for t, r in
               zip(case.given_titles, case.given_ratings) if t in index]
      for movie, rating in given:
        np.add.at(spread.rated[row], stage.neighbor_ids[movie],
                  stage.neighbor_sims[movie] * rating)
        np.add.at(spread.counted[row], stage.neighbor_ids[movie],
                  stage.neighbor_sims[movie])
        np.add.at(spread.liked_next[row], stage.next_ids[movie],
                  stage.next_sims[movie])
        spread.given[row, movie] = True
      spread.root[row] = np.sqrt(max(len(given), 1))
    return spread

  def lists(self, stage: Stage, catalog: Catalog, k: int) -> List[list]:
    """Each person's top k titles with the stage's weights (its tables
    those the spread was made of), as from_ratings_lists gives them."""
    scores = stage.generic[None, :] + (
        stage.knn_weight * (self.rated - stage.rating_center * self.counted)
        + stage.next_weight * self.liked_next) / self.root
    scores[self.given] = -np.inf
    return top_titles(scores, catalog, k)


def top_titles(scores: np.ndarray, catalog: Catalog, k: int) -> List[list]:
  """Each row's k best titles of `scores` [people, num_movies] (ties: the
  lower id), those scoring -inf (given) left out."""
  best = np.argsort(-scores, axis=1, kind='stable')[:, :k]
  return [[catalog.titles[i] for i in row if np.isfinite(person[i])]
          for row, person in zip(best, scores)]


def from_ratings_lists(stage: Stage, catalog: Catalog,
                       people: Sequence[new_users.Case], k: int
                       ) -> List[list]:
  """Each person's top k titles by the stage's scores."""
  index = catalog.index
  return top_titles(np.array(
      [stage.scores(index, case.given_titles, case.given_ratings)
       for case in people]).reshape(len(people), len(stage.generic)),
                    catalog, k)


def only(generic: np.ndarray, ids: np.ndarray, sims: np.ndarray) -> Stage:
  """A stage of one table (weight 1), on top of `generic`."""
  none = np.zeros((len(generic) + 1, 1))
  return Stage(generic, ids, sims, 1.0, 0.0, none.astype(np.int32), none,
               0.0)


def training_data(examples_uri: str) -> new_users.TimedRatings:
  """The run's training ratings (train and validation), with timestamps."""
  examples = artifacts.examples_artifact(examples_uri)
  parts = [recommender_evaluator.read_timed_ratings(examples, split)
           for split in recommender_evaluator.training_splits(examples)]
  return new_users.TimedRatings.concatenate(parts)


def known_users_data(examples_uri: str) -> new_users.TimedRatings:
  """Every rating of a run but its new users': train, validation and eval.
  The next cut runs on them (only the first cut leaves out the eval split,
  the measured run's; to run again on a run's train and validation alone
  would find its eval split empty: the same hash)."""
  examples = artifacts.examples_artifact(examples_uri)
  return new_users.TimedRatings.concatenate([
      recommender_evaluator.read_timed_ratings(examples, split)
      for split in artifact_utils.decode_split_names(examples.split_names)
      if split != split_names.NEW_USERS_SPLIT])


def in_catalog(ratings: new_users.TimedRatings, catalog: Catalog
               ) -> new_users.TimedRatings:
  """The ratings of catalog titles."""
  index = catalog.index
  return ratings.where(np.array([t in index for t in ratings.titles.tolist()],
                                bool))


def ids_of(ratings: new_users.TimedRatings, catalog: Catalog):
  """(user ids, movie ids, users) of the ratings of catalog titles."""
  rated = in_catalog(ratings, catalog)
  index = catalog.index
  users, user_ids = np.unique(rated.users, return_inverse=True)
  movies = np.array([index[t] for t in rated.titles.tolist()])
  return user_ids, movies, len(users)


def next_of(training: new_users.TimedRatings, catalog: Catalog, width: int
            ) -> Tuple[np.ndarray, np.ndarray]:
  """The next table (item_neighbors.next_table) as the Trainer builds it
  from the same ratings (trainer.next_table), `width` wide."""
  rated = in_catalog(training, catalog)
  users, movies, _ = ids_of(rated, catalog)
  return item_neighbors.next_table(
      users, movies, rated.timestamps, rated.ratings, len(catalog.titles),
      width, item_neighbors.PREFIXES,
      hyperparameters.Hyperparameters().retrieval_liked_rating)


def knn_lists(training: new_users.TimedRatings, shrink: float,
              people: Sequence[new_users.Case], k: int) -> List[list]:
  """The item-kNN anchor: each person's given titles' similarities summed
  (every neighbour kept), given titles out."""
  catalog = Catalog(sorted(set(training.titles.tolist())))
  users, movies, num_users = ids_of(training, catalog)
  ids, sims = item_neighbors.neighbor_table(
      users, movies, num_users, len(catalog.titles), ANCHOR_NEIGHBORS, shrink)
  return from_ratings_lists(only(np.zeros(len(catalog.titles)), ids, sims),
                            catalog, people, k)


def title_counts(training: new_users.TimedRatings) -> Dict[bytes, int]:
  titles, counts = np.unique(training.titles, return_counts=True)
  return dict(zip(titles.tolist(), counts.tolist()))


def anchors(training: new_users.TimedRatings, new: new_users.TimedRatings,
            shrink: float, bundle) -> Dict[str, Dict[str, Any]]:
  """{H: {'most_popular', 'item_knn', 'unknown_user'}} on the new users
  (`bundle`: the run's, for its unknown user's list)."""
  counts = title_counts(training)
  catalog = Catalog(bundle.vocabularies()['movie_title'].numpy().tolist())
  generic = bundle.from_ratings.generic.numpy()
  no_neighbors = np.zeros((len(generic) + 1, 1), np.int32)
  unknown_user = dataclasses.replace(
      only(generic, no_neighbors, no_neighbors), knn_weight=0.0)
  result = {}
  for history in configs.NEW_USER_HISTORIES:
    people = new_users.cases(new, history, MIN_RATING)
    result[str(history)] = {
        'most_popular': new_users.score(
            new_users.most_popular(counts, people, K), people, K),
        'item_knn': new_users.score(
            knn_lists(training, shrink, people, K), people, K),
        'unknown_user': new_users.score(from_ratings_lists(
            unknown_user, catalog, people, K), people, K)}
  return result


def write_csv(ratings: new_users.TimedRatings, path: str) -> None:
  """The ratings as a --ratings-csv file (user, title, rating, time)."""
  with open(path, 'w', newline='', encoding='utf-8') as f:
    writer = csv.writer(f)
    writer.writerow(configs.RATINGS_ONLY_COLUMNS)
    for user, title, rating, timestamp in zip(
        ratings.users.tolist(), ratings.titles.tolist(),
        ratings.ratings.tolist(), ratings.timestamps.tolist()):
      writer.writerow([user.decode(), title.decode(), rating, timestamp])


def examples_dir(output_dir: str) -> str:
  """The newest ExampleGen output of a pipeline run's output dir."""
  from bench import compare  # pylint: disable=g-import-not-at-top
  return compare.examples_dir(output_dir)


def run_earlier(training: new_users.TimedRatings, work_dir: str,
                extra: Sequence[str]) -> str:
  """The pipeline on the run's training data (its output dir)."""
  os.makedirs(work_dir, exist_ok=True)
  data = os.path.join(work_dir, 'earlier_ratings.csv')
  write_csv(training, data)
  output_dir = os.path.join(work_dir, 'earlier')
  subprocess.run([sys.executable, '-m', 'pipeline.local_runner',
                  '--output-dir', output_dir, '--ratings-csv', data,
                  '--no-report', *extra], check=True, cwd=PROJECT_ROOT)
  return output_dir


def run_cuts(training: new_users.TimedRatings, work_dir: str,
             extra: Sequence[str]) -> List[str]:
  """CUTS earlier runs (their output dirs): the first on `training`, each
  next on the known users' ratings of the one before (known_users_data)."""
  cut_dirs = []
  for cut in range(CUTS):
    if cut_dirs:
      training = known_users_data(examples_dir(cut_dirs[-1]))
    cut_dirs.append(run_earlier(training, os.path.join(
        work_dir, f'cut{cut + 1}'), extra))
  return cut_dirs


def newest_bundle(output_dir: str):
  """The bundle the run's Trainer wrote last (pushed or not)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from bench import compare  # pylint: disable=g-import-not-at-top
  return tf.saved_model.load(compare.trained_model_dir(output_dir))


def mean_score(lists_for, people_by_history: Dict[int, list]
               ) -> Dict[str, Any]:
  """Recall@K and NDCG@K averaged over the histories (each H's people;
  `lists_for(H, people)` their lists), and Recall@K at each."""
  scores = {h: new_users.score(lists_for(h, people), people, K)
            for h, people in people_by_history.items()}
  return {f'recall@{K}': round(float(np.mean(
      [s[f'recall@{K}'] for s in scores.values()])), 4),
          f'ndcg@{K}': round(float(np.mean(
              [s[f'ndcg@{K}'] for s in scores.values()])), 4),
          'recall_by_history': {str(h): s[f'recall@{K}']
                                for h, s in scores.items()}}


def score_cut(cut_dir: str) -> Dict[str, Any]:
  """Every setting (in the grid's order) and the anchors scored on the new
  users of one earlier run, each averaged over the histories H (one H's
  ~150 people alone choose by noise)."""
  examples = examples_dir(cut_dir)
  training = training_data(examples)
  new = recommender_evaluator.read_timed_ratings(
      artifacts.examples_artifact(examples), 'new_users')
  people = {h: new_users.cases(new, h, MIN_RATING)
            for h in configs.NEW_USER_HISTORIES}
  bundle = newest_bundle(cut_dir)
  catalog = Catalog(bundle.vocabularies()['movie_title'].numpy().tolist())
  stage = Stage.of(bundle, hyperparameters.Hyperparameters())
  users, movies, num_users = ids_of(training, catalog)
  widest = max(NEIGHBOR_WIDTHS)
  next_ids, next_sims = next_of(training, catalog, widest)
  tried = []
  for shrink in KNN_SHRINKS:
    ids, sims = item_neighbors.neighbor_table(
        users, movies, num_users, len(catalog.titles), widest, shrink)
    for width in NEIGHBOR_WIDTHS:
      tables = dataclasses.replace(
          stage, neighbor_ids=ids[:, :width], neighbor_sims=sims[:, :width],
          next_ids=next_ids[:, :width], next_sims=next_sims[:, :width])
      spreads = {h: Spread.of(tables, catalog.index, p)
                 for h, p in people.items()}
      for weight, center, next_weight in itertools.product(
          KNN_WEIGHTS, RATING_CENTERS, NEXT_WEIGHTS):
        setting = dataclasses.replace(
            tables, knn_weight=weight, rating_center=center,
            next_weight=next_weight)
        tried.append({'knn_weight': weight, 'shrink': shrink,
                      'neighbors': width, 'rating_center': center,
                      'next_weight': next_weight,
                      **mean_score(lambda h, p: spreads[h].lists(
                          setting, catalog, K), people)})
  counts = title_counts(training)
  return {'users': len(people[configs.NEW_USER_HISTORY]),
          'tried': tried,
          'item_knn_tried': [{'shrink': shrink, **mean_score(
              lambda h, p: knn_lists(training, shrink, p, K), people)}
                             for shrink in KNN_SHRINKS],
          'unknown_user_list': mean_score(lambda h, p: from_ratings_lists(
              dataclasses.replace(stage, knn_weight=0.0, next_weight=0.0),
              catalog, p, K), people),
          'most_popular': mean_score(
              lambda h, p: new_users.most_popular(counts, p, K), people)}


def across_cuts(rows_by_cut: Sequence[Sequence[Dict[str, Any]]]
                ) -> List[Dict[str, Any]]:
  """The same settings' rows of each cut, one row each: Recall@K and
  NDCG@K the cuts' mean, each cut's Recall@K beside them."""
  metrics = (f'recall@{K}', f'ndcg@{K}')
  combined = []
  for rows in zip(*rows_by_cut):
    settings = {key: value for key, value in rows[0].items()
                if key not in metrics and key != 'recall_by_history'}
    combined.append({**settings, **{
        metric: round(float(np.mean([row[metric] for row in rows])), 4)
        for metric in metrics}, f'recall@{K}_by_cut': [
            row[f'recall@{K}'] for row in rows]})
  return combined


def choose(cut_dirs: Sequence[str]) -> Dict[str, Any]:
  """The best setting of the bundle's and of the anchor's (mean Recall@K
  over the cuts, then NDCG@K), each cut an earlier run whose own new users
  score it (score_cut)."""
  cuts = [score_cut(cut_dir) for cut_dir in cut_dirs]
  tried = across_cuts([cut['tried'] for cut in cuts])
  anchor = across_cuts([cut['item_knn_tried'] for cut in cuts])
  key = lambda row: (row[f'recall@{K}'], row[f'ndcg@{K}'])
  return {'users': [cut['users'] for cut in cuts],
          'bundle': max(tried, key=key), 'item_knn': max(anchor, key=key),
          **{name: across_cuts([[cut[name]] for cut in cuts])[0]
             for name in ('unknown_user_list', 'most_popular')},
          'tried': tried, 'item_knn_tried': anchor}


def table(run_top_n: Dict[str, Any], anchor: Dict[str, Any]) -> str:
  """Recall@K (NDCG@K) per H: bundle, most popular, item-kNN, the unknown
  user's list."""
  metric, ndcg = f'recall@{K}', f'ndcg@{K}'
  new = run_top_n['new_users']
  lines = [f"new users: {new['users']}; Recall@{K} (NDCG@{K}), people with a "
           'later liked movie',
           f"{'H':>3}  {'bundle':>15}  {'most popular':>15}  "
           f"{'item-kNN':>15}  {'unknown user':>15}  {'people':>6}"]
  for history in sorted(new['by_history'], key=int):
    row = new['by_history'][history]
    cells = [row['bundle'], anchor[history]['most_popular'],
             anchor[history]['item_knn'], anchor[history]['unknown_user']]
    lines.append(f'{history:>3}  ' + '  '.join(
        f'{c[metric]:.4f} ({c[ndcg]:.4f})' for c in cells) +
                 f"  {row['bundle']['users']:>6}")
  return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m bench.new_users', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--run-dir', required=True,
                      help='a finished pipeline run (its --output-dir)')
  parser.add_argument('--work-dir', default=None,
                      help='where the earlier run goes (default: a new '
                      'temporary folder)')
  parser.add_argument('--output', default=DEFAULT_OUTPUT)
  parser.add_argument('--earlier-args', default='',
                      help="extra local_runner flags for the earlier run "
                      "(e.g. the run's --preset)")
  args = parser.parse_args(argv)
  with open(os.path.join(args.run_dir, 'run_summary.json')) as f:
    top_n = json.load(f)['top_n']
  # The run dir's last run is the one measured: its Evaluator's figures,
  # its Trainer's bundle.
  if 'by_history' not in (top_n or {}).get('new_users', {}):
    parser.error(f'{args.run_dir} has no new-user figures (its data has no '
                 'timestamps, or it ran with --new-user-percent 0)')
  examples = examples_dir(args.run_dir)
  training = training_data(examples)
  work_dir = args.work_dir or tempfile.mkdtemp(prefix='new_users_')
  earlier = choose(run_cuts(training, work_dir, args.earlier_args.split()))
  new = recommender_evaluator.read_timed_ratings(
      artifacts.examples_artifact(examples), 'new_users')
  anchor = anchors(training, new, earlier['item_knn']['shrink'],
                   newest_bundle(args.run_dir))
  chosen = earlier['bundle']
  print(f"chosen on {CUTS} earlier cuts ({earlier['users']} people; mean "
        f"Recall@{K} over H = {configs.NEW_USER_HISTORIES} and the cuts): "
        f"knn_weight {chosen['knn_weight']}, shrink {chosen['shrink']}, "
        f"neighbors {chosen['neighbors']}, rating_center "
        f"{chosen['rating_center']}, next_weight {chosen['next_weight']} "
        f"(Recall@{K} {chosen[f'recall@{K}']:.4f}; unknown-user list "
        f"{earlier['unknown_user_list'][f'recall@{K}']:.4f}, item-kNN "
        f"{earlier['item_knn'][f'recall@{K}']:.4f} at shrink "
        f"{earlier['item_knn']['shrink']}, most popular "
        f"{earlier['most_popular'][f'recall@{K}']:.4f})")
  served = {name: getattr(hyperparameters.Hyperparameters(), name)
            for name in SERVED.values()}
  differ = {setting: (chosen[setting], served[name])
            for setting, name in SERVED.items()
            if chosen[setting] != served[name]}
  if differ:
    print('the defaults serve other settings than the chosen ones '
          '(chosen, served): ' + ', '.join(
              f'{setting} {pair}' for setting, pair in differ.items()))
  print(table(top_n, anchor))
  result = {'run_dir': os.path.abspath(args.run_dir),
            'table': table(top_n, anchor),
            'bundle': top_n['new_users'], 'anchors': anchor,
            'earlier': earlier, 'served_settings': served,
            'served_is_chosen': not differ}
  os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
  with open(args.output, 'w') as f:
    json.dump(result, f, indent=2)
  return 0


if __name__ == '__main__':
  sys.exit(main())
