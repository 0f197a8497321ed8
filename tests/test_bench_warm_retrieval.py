"""bench.warm_retrieval: warm retrieval variants chained week by week."""

import csv

import numpy as np
import tensorflow as tf

from bench import synthetic
from bench import warm_retrieval
from trainer_module import features
from trainer_module import trainer
from trainer_module.hyperparameters import Hyperparameters


def small_ratings(tmp_path):
  """The tests' small ratings (about 16 weeks, people arriving) as
  bench.synthetic's arrays."""
  path = synthetic.write_small_ratings_csv(str(tmp_path / 'ratings.csv'),
                                           arrivals=0.5)
  with open(path, newline='', encoding='utf-8') as f:
    rows = list(csv.DictReader(f))
  column = {'users': features.USER_ID_KEY, 'movies': features.MOVIE_TITLE_KEY,
            'ratings': features.LABEL_KEY,
            'timestamps': features.TIMESTAMP_KEY}
  return {name: np.array([row[key] for row in rows]).astype(
      {'ratings': np.float64, 'timestamps': np.int64}.get(name, str))
          for name, key in column.items()}


def test_the_hold_out_is_a_hash_of_the_pair():
  ratings = {'user': np.array([1, 1, 2, 1]), 'movie': np.array([3, 4, 3, 3])}
  held_out = warm_retrieval.in_validation(ratings)
  assert held_out[0] == held_out[3]
  assert 0.05 < warm_retrieval.in_validation(
      {'user': np.arange(2000) % 50, 'movie': np.arange(2000)}).mean() < 0.15


def test_variants_start_cold_then_carry_and_choose(tmp_path):
  result = warm_retrieval.run(small_ratings(tmp_path), first_weeks=8,
                              weeks=2, seed=0)
  first, second = result['steps']
  hparams = Hyperparameters()
  # Nothing is carried into the first step: every variant is the cold model.
  assert {(first[name]['recall_at_10'], first[name]['epochs'])
          for name in ('cold', *warm_retrieval.VARIANTS)} == {
              (first['cold']['recall_at_10'], hparams.retrieval_epochs)}
  assert second['train_ratings'] > first['train_ratings']
  assert second['continue']['epochs'] == hparams.warm_retrieval_epochs
  for name in ('shrink+select, all validation', 'shrink+select'):
    assert 0 <= second[name]['epochs'] <= hparams.warm_retrieval_epochs
  assert set(result['summary']) == {'cold', *warm_retrieval.VARIANTS}
  assert result['summary']['cold']['weeks_at_least_cold'] == 1
  assert len(warm_retrieval.table(result).splitlines()) == 2 + 2


def test_a_warm_model_chooses_only_on_ratings_newer_than_its_own(tmp_path):
  """As a warm run: with nothing newer than the carried model's latest
  rating there is no choice (its maximum epochs on train + validation)."""
  ratings = warm_retrieval.numbered(small_ratings(tmp_path))
  week = warm_retrieval.weeks_of(ratings['timestamp'], 8)
  data = warm_retrieval.window_split(ratings, week < 4,
                                     warm_retrieval.in_validation(ratings))
  hparams = Hyperparameters(seed=0, warm_retrieval_epochs=2)
  cold, _ = warm_retrieval.train(ratings, data, hparams, None, 1.0, None)
  latest = int(ratings['timestamp'][week < 4].max())
  weights = cold.get_weights()
  _, epochs = warm_retrieval.train(
      ratings, data, hparams, warm_retrieval.Carried(weights, latest), 0.5,
      'newer')
  assert epochs == hparams.warm_retrieval_epochs  # nothing newer: no choice
  # Carried from the window without its newest week: that week's
  # validation ratings choose, and only they.
  carried = warm_retrieval.Carried(weights, int(
      ratings['timestamp'][week < 3].max()))
  unseen = trainer.unseen_validation(data, carried)
  held_out = warm_retrieval.in_validation(ratings)
  assert int(tf.size(unseen[features.LABEL_KEY])) == int(
      (held_out & (week == 3)).sum()) > 0
  _, epochs = warm_retrieval.train(ratings, data, hparams, carried, 0.5,
                                   'newer')
  assert 0 <= epochs <= hparams.warm_retrieval_epochs
