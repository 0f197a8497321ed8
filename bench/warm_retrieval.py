"""Warm retrieval week by week, as the pipeline's weekly runs train it.

  python -m bench.warm_retrieval [--movielens-dir ../shared/data/ml-100k]
      [--first-weeks 8] [--weeks N] [--seed 42]

How a warm run's retrieval model is trained (trainer.train_retrieval),
against a cold retrain. The ratings are cut into weeks as bench.replay cuts
them; each step's window (the weeks before the new one) is split by a hash
of (user, movie) into train and a 10% validation split, as ExampleGen
splits a span. Each variant is trained as a run of the pipeline trains it:

- cold: a fresh model, retrieval_epochs on train + validation;
- continue: last week's model of this variant, warm_retrieval_epochs more
  on train + validation (no choice);
- shrink+select, all validation: last week's weights multiplied by
  warm_retrieval_shrink, trained on train, the whole validation split
  choosing the epochs (none included): the rule until the base model's
  training data was known to cover most of that split;
- shrink+select: the same, the epochs chosen only on the validation
  ratings newer than the carried model's window
  (trainer.unseen_validation: the window's newest week), as a warm run
  does.

Each is scored by the towers' Recall@10 on the new week's returning people
(their window ratings left out): the future the replay's Evaluator scores,
reported and never chosen on. Ids are the whole data's, so carrying a row
over is keeping it (warm runs carry rows by key:
trainer_module/warm_start.py). Writes bench/results/warm_retrieval.json and
prints the table.
"""

import argparse
import json
import os
import statistics
import sys
import zlib
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

import numpy as np
import tensorflow as tf

from bench import spans as span_cutter
from bench import synthetic
from trainer_module import features
from trainer_module import retrieval_model
from trainer_module import splits
from trainer_module import trainer
from trainer_module.hyperparameters import Hyperparameters

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(PROJECT_ROOT, 'bench', 'results',
                       'warm_retrieval.json')
DEFAULT_MOVIELENS_DIR = os.path.join(PROJECT_ROOT, '..', 'shared', 'data',
                                     'ml-100k')
VALIDATION_BUCKETS = 10  # one in ten (user, movie) pairs is validation
# name: (weights carried multiplied by (None: warm_retrieval_shrink), the
# validation ratings that choose the epochs: none, all, the newer ones)
VARIANTS = {'continue': (1.0, None),
            'shrink+select, all validation': (None, 'all'),
            'shrink+select': (None, 'newer')}


def numbered(data: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """bench.synthetic's rating arrays with users and movies numbered from 0
  over the whole data."""
  return {'user': np.unique(data['users'], return_inverse=True)[1],
          'movie': np.unique(data['movies'], return_inverse=True)[1],
          'rating': data['ratings'].astype(np.float32),
          'timestamp': data['timestamps'].astype(np.int64)}


def weeks_of(timestamps: np.ndarray, first_weeks: int) -> np.ndarray:
  """Each rating's span number as bench.replay cuts them (1: the first
  `first_weeks` weeks)."""
  start = int(timestamps.min())
  periods = np.array([span_cutter.period_of(int(t), start, 7,
                                            7 * first_weeks)
                      for t in timestamps])
  return np.searchsorted(np.unique(periods), periods) + 1


def in_validation(ratings: Dict[str, np.ndarray]) -> np.ndarray:
  """The hold-out: a hash of (user, movie), the same every week."""
  return np.array([zlib.crc32(f'{u},{m}'.encode()) % VALIDATION_BUCKETS == 0
                   for u, m in zip(ratings['user'], ratings['movie'])])


def tensors(ratings: Dict[str, np.ndarray], rows: np.ndarray
            ) -> Dict[str, tf.Tensor]:
  """The rows as the Trainer holds a split (with the ratings' times)."""
  return {splits.USER_KEY: tf.constant(ratings['user'][rows]),
          splits.MOVIE_KEY: tf.constant(ratings['movie'][rows]),
          features.LABEL_KEY: tf.constant(ratings['rating'][rows]),
          features.TIMESTAMP_KEY: tf.constant(ratings['timestamp'][rows])}


def window_split(ratings: Dict[str, np.ndarray], window: np.ndarray,
                 held_out: np.ndarray) -> splits.TrainingData:
  """The window's ratings as the Trainer's train and validation splits
  (validation: the hash hold-out)."""
  return splits.TrainingData(
      [splits.USER_KEY, splits.MOVIE_KEY],
      tensors(ratings, np.flatnonzero(window & ~held_out)),
      tensors(ratings, np.flatnonzero(window & held_out)))


class Carried(NamedTuple):
  """A variant's last model, as a warm run's base: its weights and the time
  of the latest rating it trained on."""
  weights: List[np.ndarray]
  latest_timestamp: Optional[int]


def train(ratings: Dict[str, np.ndarray], data: splits.TrainingData,
          hparams: Hyperparameters, carried: Optional[Carried],
          shrink: float, select: Optional[str], fit_train_only: bool = False
          ) -> Tuple[retrieval_model.RetrievalModel, int]:
  """One week's model of a variant and the epochs it kept: cold when
  nothing is carried (on train + validation, or train with
  `fit_train_only`), else from the carried weights times `shrink`, the
  epochs chosen on the validation ratings `select` names (None: no choice,
  train + validation)."""
  tf.keras.utils.set_random_seed(hparams.seed)
  num_users, num_movies = (int(ratings[key].max()) + 1 +
                           features.NUM_OOV_BUCKETS
                           for key in ('user', 'movie'))
  fit = data.train if fit_train_only else data.both
  model = retrieval_model.build_retrieval_model(
      num_users, num_movies, fit[splits.MOVIE_KEY].numpy(), hparams)
  model.build_towers()
  epochs, best = hparams.retrieval_epochs, None
  if carried is not None:
    model.set_weights([w * shrink for w in carried.weights])
    epochs = hparams.warm_retrieval_epochs
    validation = (data.validation if select == 'all' else
                  trainer.unseen_validation(data, carried)
                  if select == 'newer' else None)
    if validation is not None:
      best = trainer.retrieval_validation(model, data.train, validation,
                                          hparams)
    if best:
      fit = data.train
  model.fit(splits.batches(fit, [splits.USER_KEY, splits.MOVIE_KEY],
                           hparams.retrieval_batch_size, shuffle=True,
                           seed=hparams.seed),
            epochs=epochs, callbacks=[best] if best else [], verbose=0)
  return model, best.epoch if best else epochs


def run(data: Dict[str, np.ndarray], first_weeks: int,
        weeks: Optional[int], seed: int) -> Dict[str, Any]:
  """Every step's next-week Recall@10 per variant over `data` (bench.
  synthetic's arrays) and the summary."""
  hparams = Hyperparameters(seed=seed)
  ratings = numbered(data)
  week = weeks_of(ratings['timestamp'], first_weeks)
  held_out = in_validation(ratings)
  last = int(week.max()) if not weeks else min(int(week.max()), 1 + weeks)
  carried: Dict[str, Optional[Carried]] = dict.fromkeys(VARIANTS)
  steps = []
  for span in range(2, last + 1):
    window = week < span
    data = window_split(ratings, window, held_out)
    returning = (week == span) & np.isin(ratings['user'],
                                         ratings['user'][window])
    seen, next_week = (tensors(ratings, np.flatnonzero(rows))
                       for rows in (window, returning))
    latest = trainer.latest_timestamp(data)
    step = {'span': span, 'train_ratings': data.train_examples}
    for name, (shrink, select) in {'cold': (1.0, None),
                                   **VARIANTS}.items():
      model, epochs = train(
          ratings, data, hparams, carried.get(name),
          hparams.warm_retrieval_shrink if shrink is None else shrink,
          select)
      if name in VARIANTS:
        carried[name] = Carried(model.get_weights(), latest)
      step[name] = {'recall_at_10': round(retrieval_model.held_out_recall(
          model, seen, next_week, hparams.retrieval_liked_rating,
          seed=seed), 4), 'epochs': epochs}
    steps.append(step)
    print(json.dumps(step), flush=True)
  warm = [step for step in steps[1:]  # the first step has nothing carried
          if not np.isnan(step['cold']['recall_at_10'])]
  summary = {name: {
      'mean_recall_at_10': round(statistics.mean(
          step[name]['recall_at_10'] for step in warm), 4),
      'weeks_at_least_cold': sum(step[name]['recall_at_10'] >=
                                 step['cold']['recall_at_10']
                                 for step in warm)}
             for name in ('cold', *VARIANTS)} if warm else {}
  return {'steps': steps, 'summary': summary}


def table(result: Dict[str, Any]) -> str:
  """Next-week Recall@10 per step and variant (kept epochs in brackets)."""
  names = ['cold', *VARIANTS]
  lines = ['| span | ' + ' | '.join(names) + ' |',
           '|---' * (len(names) + 1) + '|']
  for step in result['steps']:
    lines.append(f"| {step['span']} | " + ' | '.join(
        f"{step[n]['recall_at_10']:.4f} ({step[n]['epochs']})"
        for n in names) + ' |')
  return '\n'.join(lines)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog='python -m bench.warm_retrieval', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--movielens-dir', default=DEFAULT_MOVIELENS_DIR)
  parser.add_argument('--first-weeks', type=int, default=8)
  parser.add_argument('--weeks', type=int, default=None,
                      help='only this many weeks after the first span')
  parser.add_argument('--seed', type=int, default=42)
  parser.add_argument('--results', default=RESULTS)
  return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  result = {'movielens_dir': os.path.abspath(args.movielens_dir),
            'first_weeks': args.first_weeks, 'seed': args.seed,
            **run(synthetic.movielens_100k(args.movielens_dir),
                  args.first_weeks, args.weeks, args.seed)}
  with open(args.results, 'w') as f:
    json.dump(result, f, indent=1)
  print(table(result))
  print(json.dumps(result['summary'], indent=1))
  print(f'wrote {args.results}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
