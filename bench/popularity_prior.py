"""The popularity prior in the served retrieval score, chosen on validation.

  python -m bench.popularity_prior [--movielens-dir ../shared/data/ml-100k]
      [--spans 4,8,12,16,19,20,22,24] [--seeds 42,1]
      [--weights 0,0.1,0.25,0.5,1]

Training's logQ correction takes each movie's popularity out of the towers'
score; `recommend` adds `retrieval_popularity_weight` x log(the movie's
share of the training ratings) back (serving.Recommender). How that weight
was chosen: MovieLens 100k cut into the replay's weeks (bench.
warm_retrieval); for each span, its window (the weeks before it) is split by
a hash of (user, movie) into train and a 10% validation hold-out, a cold
retrieval model trains on train (a cold run's epochs), and every weight is
scored by Recall@10 on the hold-out: the choice. Reported beside it, never
used to choose: the span's own week, its returning people (the future the
replay's Evaluator scores), with the most popular list on them. Writes
bench/results/popularity_prior.json and prints the table.
"""

import argparse
import json
import os
import statistics
import sys
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from bench import synthetic
from bench import warm_retrieval
from trainer_module import retrieval_model
from trainer_module.hyperparameters import Hyperparameters

RESULTS = os.path.join(warm_retrieval.PROJECT_ROOT, 'bench', 'results',
                       'popularity_prior.json')
SPANS = (4, 8, 12, 16, 19, 20, 22, 24)
SEEDS = (42, 1)
WEIGHTS = (0.0, 0.1, 0.25, 0.5, 1.0)


def span_figures(ratings: Dict[str, np.ndarray], week: np.ndarray,
                 held_out: np.ndarray, span: int,
                 weights: Sequence[float], seed: int) -> Dict[str, Any]:
  """Recall@10 at each weight on the window's hold-out and on the span's
  returning people, and most popular's on them."""
  hparams = Hyperparameters(seed=seed)
  window = week < span
  data = warm_retrieval.window_split(ratings, window, held_out)
  model, _ = warm_retrieval.train(ratings, data, hparams, None, 1.0, False)
  num_movies = model.movie_tower.input_dim
  liked = hparams.retrieval_liked_rating
  validation = retrieval_model.held_out_users(
      data.train, data.validation, liked, model.num_users, num_movies,
      seed=seed)
  # Ids are the whole data's: people new in the span have ids too, with
  # embeddings never trained; returning people rated in the window.
  returns = (week == span) & np.isin(ratings['user'],
                                     ratings['user'][window])
  returning = retrieval_model.held_out_users(
      warm_retrieval.tensors(ratings, np.flatnonzero(window)),
      warm_retrieval.tensors(ratings, np.flatnonzero(returns)), liked,
      model.num_users, num_movies, seed=seed)
  figures = {'span': span, 'seed': seed,
             'returning_people': len(returning.people) if returning else 0}
  for name, held in (('validation', validation), ('next_week', returning)):
    figures[name] = {str(w): round(retrieval_model.recall_at_k(
        model, held, popularity_weight=w), 4) for w in weights} if held else {}
  figures['next_week_most_popular'] = None
  if returning:
    prior = model.popularity_prior(1.0, returning.relevant.shape[1]).numpy()
    figures['next_week_most_popular'] = round(retrieval_model.recall_of_scores(
        lambda people: np.tile(prior, (len(people), 1)), returning), 4)
  return figures


def run(data: Dict[str, np.ndarray], first_weeks: int, spans: Sequence[int],
        seeds: Sequence[int], weights: Sequence[float]) -> Dict[str, Any]:
  """Every (seed, span)'s figures and, per seed, their means."""
  ratings = warm_retrieval.numbered(data)
  week = warm_retrieval.weeks_of(ratings['timestamp'], first_weeks)
  held_out = warm_retrieval.in_validation(ratings)
  rows = []
  for seed in seeds:
    for span in spans:
      rows.append(span_figures(ratings, week, held_out, span, weights, seed))
      print(json.dumps(rows[-1]), flush=True)
  means = {}
  for seed in seeds:
    mine = [row for row in rows if row['seed'] == seed]
    means[str(seed)] = {part: {str(w): round(statistics.mean(
        row[part][str(w)] for row in mine if row[part]), 4) for w in weights}
                        for part in ('validation', 'next_week')}
    means[str(seed)]['next_week_most_popular'] = round(statistics.mean(
        row['next_week_most_popular'] for row in mine
        if row['next_week_most_popular'] is not None), 4)
  chosen = max(weights, key=lambda w: statistics.mean(
      means[str(seed)]['validation'][str(w)] for seed in seeds))
  return {'rows': rows, 'means': means, 'chosen_on_validation': chosen}


def table(result: Dict[str, Any]) -> str:
  """Mean Recall@10 per weight (seeds side by side)."""
  seeds = list(result['means'])
  means = result['means']
  lines = ['| weight | validation (hash hold-out) | next week, returning '
           'people (reported only) |', '|---|---|---|']
  for w in means[seeds[0]]['validation']:
    lines.append(f'| {w} | ' + ' / '.join(
        f"{means[s]['validation'][w]:.4f}" for s in seeds) + ' | ' +
                 ' / '.join(f"{means[s]['next_week'][w]:.4f}"
                            for s in seeds) + ' |')
  lines.append('| most popular | | ' + ' / '.join(
      f"{means[s]['next_week_most_popular']:.4f}" for s in seeds) + ' |')
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
  parser.add_argument('--results', default=RESULTS)
  return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  data = synthetic.movielens_100k(args.movielens_dir)
  last = int(warm_retrieval.weeks_of(
      warm_retrieval.numbered(data)['timestamp'], args.first_weeks).max())
  bad = [span for span in args.spans if not 2 <= span <= last]
  if bad:
    sys.exit(f'--spans: {bad} outside 2..{last} (span 1 has no window '
             'before it)')
  if min(args.weights) < 0:
    sys.exit(f'--weights: {args.weights} has a negative weight')
  result = {'movielens_dir': os.path.abspath(args.movielens_dir),
            'first_weeks': args.first_weeks,
            **run(data, args.first_weeks, args.spans, args.seeds,
                  args.weights)}
  with open(args.results, 'w') as f:
    json.dump(result, f, indent=1)
  print(table(result))
  print(f"chosen on validation: {result['chosen_on_validation']}")
  print(f'wrote {args.results}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
