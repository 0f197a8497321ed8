"""The popularity prior in the served retrieval score, chosen on validation.

  python -m bench.popularity_prior [--movielens-dir ../shared/data/ml-100k]
      [--spans 4,8,12,16,19,20,22,24] [--seeds 42,1]
      [--weights 0,0.25,0.5,1,2,4] [--half-lives 0,14,7,3,1]

Training's logQ correction takes each movie's popularity out of the towers'
score; `recommend` adds `retrieval_popularity_weight` x log(the movie's
share of the training ratings) back (serving.Recommender), each rating
weighing half as much every `retrieval_popularity_half_life_days` before
the newest (0: all alike). How both were chosen: MovieLens 100k cut into the
replay's weeks (bench.warm_retrieval); for each span, its window (the weeks
before it) is split by a hash of (user, movie) into train and a 10%
validation hold-out, and a cold retrieval model trains on train (a cold
run's epochs). Every (weight, half-life) is scored by Recall@10 on

- the hold-out ("validation"): the choice for a hash split, where eval is
  spread over all time (the default Hyperparameters);
- the window's newest week ("previous week"), returning people, by a second
  model trained on the weeks before it: the choice for a folder of spans,
  whose eval is the next week (pipeline/configs.py SPAN_POPULARITY_*);
- the span's own week ("next week"), returning people, by the first model:
  the future the replay's Evaluator scores, reported and never used to
  choose, with the most popular list on those people;
- the new people of the window's newest week and of the span's week, each
  given their first 10 ratings, by `recommend_from_ratings`' NumPy twin
  (bench.new_users.Stage) with the tables the Trainer builds from the
  window, the setting being its base list's prior: the newest week chooses
  Hyperparameters.new_user_popularity_weight for span runs (every rating
  alike, as that base counts them), the span's week is reported.

Writes bench/results/popularity_prior.json and prints the table.
"""

import argparse
import dataclasses
import json
import os
import statistics
import sys
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from bench import new_users as new_user_bench
from bench import synthetic
from bench import warm_retrieval
from components import new_users
from pipeline import configs
from trainer_module import features
from trainer_module import ranking_models
from trainer_module import retrieval_model
from trainer_module import trainer
from trainer_module.hyperparameters import Hyperparameters

RESULTS = os.path.join(warm_retrieval.PROJECT_ROOT, 'bench', 'results',
                       'popularity_prior.json')
SPANS = (4, 8, 12, 16, 19, 20, 22, 24)
SEEDS = (42, 1)
WEIGHTS = (0.0, 0.25, 0.5, 1.0, 2.0, 4.0)
HALF_LIVES = (0.0, 14.0, 7.0, 3.0, 1.0)  # days; 0: every rating alike
# The parts scored; each choice's part and the half-life it keeps to
# (None: any).
PARTS = ('validation', 'previous_week', 'next_week',
         'new_people_previous_week', 'new_people_next_week')
CHOICES = {'hash_split': ('validation', None),
           'spans': ('previous_week', None),
           'new_people_spans': ('new_people_previous_week', 0.0)}


def setting(weight: float, half_life: float) -> str:
  """A (weight, half-life) pair's key in the results."""
  return f'{weight:g}/{half_life:g}'


def log_shares(ratings: Dict[str, np.ndarray], rows: np.ndarray,
               num_movies: int, half_lives: Sequence[float]
               ) -> Dict[float, np.ndarray]:
  """Per half-life, log of each known movie's share of the `rows` ratings
  as retrieval_model serves it; `num_movies` counts the OOV id."""
  movies, times = ratings['movie'][rows], ratings['timestamp'][rows]
  return {h: np.log(retrieval_model.movie_probability(
      movies, num_movies, retrieval_model.recency_weights(times, h)
      if h else None)[:num_movies - features.NUM_OOV_BUCKETS])
          for h in half_lives}


def grid_recalls(model: retrieval_model.RetrievalModel,
                 held: Optional[retrieval_model.HeldOut],
                 shares: Dict[float, np.ndarray], weights: Sequence[float]
                 ) -> Dict[str, float]:
  """Recall@10 of the towers' score + weight x log share, per setting."""
  if held is None:
    return {}
  num_movies = held.relevant.shape[1]
  towers = tf.matmul(
      model.user_tower(tf.constant(held.people)),
      model.movie_tower(tf.range(num_movies, dtype=tf.int64)),
      transpose_b=True).numpy()
  return {setting(w, h): round(retrieval_model.recall_of_scores(
      lambda people, prior=w * share: towers[
          np.searchsorted(held.people, people)] + prior, held), 4)
          for h, share in shares.items() for w in weights}


def trained(ratings: Dict[str, np.ndarray], window: np.ndarray,
            held_out: np.ndarray, seed: int
            ) -> Tuple[retrieval_model.RetrievalModel, Any]:
  """A cold retrieval model on the window's hash train part, and the
  window's split."""
  data = warm_retrieval.window_split(ratings, window, held_out)
  model, _ = warm_retrieval.train(ratings, data, Hyperparameters(seed=seed),
                                  None, 1.0, None, fit_train_only=True)
  return model, data


def returning_people(ratings: Dict[str, np.ndarray], week: np.ndarray,
                     span: int, num_users: int, num_movies: int, seed: int
                     ) -> Optional[retrieval_model.HeldOut]:
  """The span's people who rated in the weeks before it, with the movies
  they liked in the span (people new in the span have ids, never
  trained: they are new users, not returning ones)."""
  window = week < span
  returns = (week == span) & np.isin(ratings['user'],
                                     ratings['user'][window])
  return retrieval_model.held_out_users(
      warm_retrieval.tensors(ratings, np.flatnonzero(window)),
      warm_retrieval.tensors(ratings, np.flatnonzero(returns)),
      Hyperparameters().retrieval_liked_rating, num_users, num_movies,
      seed=seed)


def new_people(ratings: Dict[str, np.ndarray], week: np.ndarray, span: int
               ) -> List[new_users.Case]:
  """The people whose first rating is in the span, their first
  NEW_USER_HISTORY ratings given (the replay's Evaluator's protocol);
  movies are titled by their ids."""
  rows = (week == span) & ~np.isin(ratings['user'],
                                   ratings['user'][week < span])
  return new_users.cases(new_users.TimedRatings(
      ratings['user'][rows],
      np.array([str(m).encode() for m in ratings['movie'][rows]], object),
      ratings['rating'][rows], ratings['timestamp'][rows]),
                         configs.NEW_USER_HISTORY, configs.TOP_N_MIN_RATING)


def new_people_recalls(model: retrieval_model.RetrievalModel,
                       ratings: Dict[str, np.ndarray], window: np.ndarray,
                       people: List[new_users.Case],
                       shares: Dict[float, np.ndarray],
                       weights: Sequence[float], seed: int
                       ) -> Dict[str, float]:
  """Recall@10 of recommend_from_ratings' twin per setting of its base
  list's prior, its tables the ones trainer.from_ratings builds from the
  window's ratings (its own prior left out: each setting adds its own)."""
  if not people:
    return {}
  rows = np.flatnonzero(window)
  both = warm_retrieval.tensors(ratings, rows)
  hparams = Hyperparameters(seed=seed, new_user_popularity_weight=0.0)
  stage = new_user_bench.Stage.of_module(trainer.from_ratings(
      model, ranking_models.rated_movies_per_user(both, model.num_users),
      both, hparams), hparams)
  catalog = new_user_bench.Catalog([str(m).encode()
                                    for m in range(len(stage.generic))])
  return {setting(w, h): new_users.score(new_user_bench.from_ratings_lists(
      dataclasses.replace(stage, generic=stage.generic + w * share),
      catalog, people, new_user_bench.K), people, new_user_bench.K)[
          f'recall@{new_user_bench.K}']
          for h, share in shares.items() for w in weights}


def span_figures(ratings: Dict[str, np.ndarray], week: np.ndarray,
                 held_out: np.ndarray, span: int, weights: Sequence[float],
                 half_lives: Sequence[float], seed: int) -> Dict[str, Any]:
  """Recall@10 per setting on the window's hold-out, on its newest week
  and on the span's week, and most popular's on the span's week."""
  liked = Hyperparameters().retrieval_liked_rating
  figures: Dict[str, Any] = {'span': span, 'seed': seed}
  for part, end in (('validation', span), ('previous_week', span - 1)):
    model, data = trained(ratings, week < end, held_out, seed)
    num_users, num_movies = model.num_users, model.movie_tower.input_dim
    train_rows = np.flatnonzero((week < end) & ~held_out)
    shares = log_shares(ratings, train_rows, num_movies, half_lives)
    if part == 'validation':
      held = retrieval_model.held_out_users(
          data.train, data.validation, liked, num_users, num_movies,
          seed=seed)
      figures[part] = grid_recalls(model, held, shares, weights)
      returning = returning_people(ratings, week, span, num_users,
                                   num_movies, seed)
      figures['returning_people'] = len(returning.people) if returning else 0
      figures['next_week'] = grid_recalls(model, returning, shares, weights)
      popular = log_shares(ratings, train_rows, num_movies, [0.0])[0.0]
      figures['next_week_most_popular'] = round(
          retrieval_model.recall_of_scores(
              lambda people: np.tile(popular, (len(people), 1)),
              returning), 4) if returning else None
    else:
      figures[part] = grid_recalls(model, returning_people(
          ratings, week, end, num_users, num_movies, seed), shares, weights)
    people = new_people(ratings, week, end)
    figures[f'new_people_{part if end < span else "next_week"}'] = (
        new_people_recalls(model, ratings, week < end, people, shares,
                           weights, seed))
  return figures


def mean_of(values: List[Optional[float]]) -> Optional[float]:
  """The mean of the figures there are, to 4 places; None without any."""
  values = [v for v in values if v is not None]
  return round(statistics.mean(values), 4) if values else None


def run(data: Dict[str, np.ndarray], first_weeks: int, spans: Sequence[int],
        seeds: Sequence[int], weights: Sequence[float],
        half_lives: Sequence[float] = (0.0,)) -> Dict[str, Any]:
  """Every (seed, span)'s figures, per seed their means, and each choice."""
  ratings = warm_retrieval.numbered(data)
  week = warm_retrieval.weeks_of(ratings['timestamp'], first_weeks)
  held_out = warm_retrieval.in_validation(ratings)
  rows = []
  for seed in seeds:
    for span in spans:
      rows.append(span_figures(ratings, week, held_out, span, weights,
                               half_lives, seed))
      print(json.dumps(rows[-1]), flush=True)
  keys = [setting(w, h) for h in half_lives for w in weights]
  means = {}
  for seed in seeds:
    mine = [row for row in rows if row['seed'] == seed]
    means[str(seed)] = {part: {key: mean_of(
        [row[part][key] for row in mine if row[part]]) for key in keys}
                        for part in PARTS}
    means[str(seed)]['next_week_most_popular'] = mean_of(
        [row['next_week_most_popular'] for row in mine
         if row['next_week_most_popular'] is not None])
  chosen = {regime: max(
      [key for key in keys if half_life is None
       or key.endswith(f'/{half_life:g}')] or keys,
      key=lambda key, part=part: mean_of(
          [means[str(seed)][part][key] for seed in seeds]) or 0.0)
            for regime, (part, half_life) in CHOICES.items()}
  return {'rows': rows, 'means': means, 'chosen': chosen}


def figure(value: Optional[float]) -> str:
  return 'n/a' if value is None else f'{value:.4f}'


def table(result: Dict[str, Any]) -> str:
  """Mean Recall@10 per setting (seeds side by side)."""
  seeds = list(result['means'])
  means = result['means']
  lines = ['| weight / half-life (days) | validation (hash hold-out) | '
           "the window's newest week | next week (reported only) | "
           "new people: the window's newest week | new people: next week "
           '(reported only) |', '|---|---|---|---|---|---|']
  for key in means[seeds[0]]['validation']:
    marks = [regime for regime, chosen in result['chosen'].items()
             if chosen == key]
    lines.append(f"| {key}{' (' + ', '.join(marks) + ')' if marks else ''} "
                 '| ' + ' | '.join(' / '.join(
                     figure(means[s][part][key]) for s in seeds)
                                   for part in PARTS) + ' |')
  lines.append('| most popular | | | ' + ' / '.join(
      figure(means[s]['next_week_most_popular']) for s in seeds) + ' | | |')
  return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  def numbers(kind):
    return lambda text: [kind(part) for part in text.split(',')]
  parser = argparse.ArgumentParser(
      prog='python -m bench.popularity_prior', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--movielens-dir',
                      default=warm_retrieval.DEFAULT_MOVIELENS_DIR)
  parser.add_argument('--first-weeks', type=int, default=8)
  parser.add_argument('--spans', type=numbers(int), default=list(SPANS))
  parser.add_argument('--seeds', type=numbers(int), default=list(SEEDS))
  parser.add_argument('--weights', type=numbers(float),
                      default=list(WEIGHTS))
  parser.add_argument('--half-lives', type=numbers(float),
                      default=list(HALF_LIVES))
  parser.add_argument('--results', default=RESULTS)
  return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  data = synthetic.movielens_100k(args.movielens_dir)
  last = int(warm_retrieval.weeks_of(
      warm_retrieval.numbered(data)['timestamp'], args.first_weeks).max())
  bad = [span for span in args.spans if not 3 <= span <= last]
  if bad:
    sys.exit(f'--spans: {bad} outside 3..{last} (a span needs a window of '
             'two spans before it: its newest week validates)')
  if min(args.weights) < 0:
    sys.exit(f'--weights: {args.weights} has a negative weight')
  if min(args.half_lives) < 0:
    sys.exit(f'--half-lives: {args.half_lives} has a negative half-life')
  result = {'movielens_dir': os.path.abspath(args.movielens_dir),
            'first_weeks': args.first_weeks,
            **run(data, args.first_weeks, args.spans, args.seeds,
                  args.weights, args.half_lives)}
  with open(args.results, 'w') as f:
    json.dump(result, f, indent=1)
  print(table(result))
  for regime, key in result['chosen'].items():
    print(f'chosen for {regime} (weight/half-life): {key}')
  print(f'wrote {args.results}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
