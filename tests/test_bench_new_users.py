"""bench/new_users.py: its tables against the Trainer's, and the cuts it
chooses settings on."""

import dataclasses

import numpy as np
import tensorflow as tf

from bench import new_users as bench_new_users
from bench import synthetic
from components import movielens_example_gen
from components import new_users
from components import recommender_evaluator
from components.ratings_source import RatingsSource
from pipeline import artifacts
from tests import example_gen_run
from trainer_module import features
from trainer_module import hyperparameters
from trainer_module import item_neighbors
from trainer_module import splits
from trainer_module import trainer


def random_ratings(seed: int, num_users: int, num_movies: int, count: int):
  """(user ids, movie ids, timestamps, ratings) drawn at random."""
  rng = np.random.default_rng(seed)
  return (rng.integers(0, num_users, count),
          rng.integers(0, num_movies, count), rng.integers(0, 5_000, count),
          rng.integers(1, 6, count).astype(np.float32))


def assert_same_table(actual, expected):
  """The same similarities row by row, and the same movies wherever a
  similarity is above the row's last kept one (at the edge, which of
  equally similar movies is kept is the sort's choice)."""
  (ids, sims), (expected_ids, expected_sims) = actual, expected
  np.testing.assert_allclose(sims, expected_sims, rtol=1e-6)
  for row in range(len(sims)):
    above = sims[row] > sims[row, -1]
    assert set(ids[row][above]) == set(expected_ids[row][above])


def test_the_bench_next_table_is_the_trainers():
  users, movies, timestamps, ratings = random_ratings(0, 30, 20, 800)
  hparams = hyperparameters.Hyperparameters(new_user_knn_neighbors=6)
  both = {splits.USER_KEY: tf.constant(users, tf.int64),
          splits.MOVIE_KEY: tf.constant(movies, tf.int64),
          features.TIMESTAMP_KEY: tf.constant(timestamps, tf.int64),
          features.LABEL_KEY: tf.constant(ratings)}
  served_ids, served_sims, _ = trainer.next_table(both, 30, 20, hparams)
  catalog = bench_new_users.Catalog([b'movie %02d' % m for m in range(20)])
  # The bench reads the same ratings by name: users numbered anew.
  training = new_users.TimedRatings(
      np.array([b'person %d' % (29 - u) for u in users]),
      np.array([catalog.titles[m] for m in movies]), ratings, timestamps)
  assert_same_table(bench_new_users.next_of(training, catalog, 6),
                    (served_ids, served_sims))


def test_a_narrower_table_is_the_first_columns_of_a_wider_one():
  """What the bench's choice of widths rests on."""
  users, movies, timestamps, ratings = random_ratings(1, 40, 30, 900)
  wide = item_neighbors.neighbor_table(users, movies, 40, 30, 12, 5.0)
  narrow = item_neighbors.neighbor_table(users, movies, 40, 30, 4, 5.0)
  assert_same_table((wide[0][:, :4], wide[1][:, :4]), narrow)
  wide = item_neighbors.next_table(users, movies, timestamps, ratings, 30,
                                   12, (1, 3), 4.0)
  narrow = item_neighbors.next_table(users, movies, timestamps, ratings, 30,
                                     4, (1, 3), 4.0)
  assert_same_table((wide[0][:, :4], wide[1][:, :4]), narrow)


def test_a_setting_scores_the_mean_over_the_cuts():
  """Each setting's rows of the cuts become one, its figures their mean
  (what choose ranks by), each cut's Recall@10 kept beside it."""
  def row(weight, recall, ndcg):
    return {'knn_weight': weight, 'recall@10': recall, 'ndcg@10': ndcg,
            'recall_by_history': {'10': recall}}
  first = [row(1.0, 0.30, 0.31), row(2.0, 0.32, 0.30)]
  second = [row(1.0, 0.28, 0.29), row(2.0, 0.24, 0.26)]
  combined = bench_new_users.across_cuts([first, second])
  assert combined == [
      {'knn_weight': 1.0, 'recall@10': 0.29, 'ndcg@10': 0.3,
       'recall@10_by_cut': [0.30, 0.28]},
      {'knn_weight': 2.0, 'recall@10': 0.28, 'ndcg@10': 0.28,
       'recall@10_by_cut': [0.32, 0.24]}]


def test_the_next_cut_runs_on_every_rating_but_the_new_users(tmp_path):
  """train, validation and eval: not train and validation alone, which a
  run on them would hash to an empty eval split again."""
  ratings = synthetic.write_small_ratings_csv(str(tmp_path / 'ratings.csv'))
  component = movielens_example_gen.MovieLensExampleGen(
      RatingsSource.csv(ratings), new_user_percent=20)
  examples = example_gen_run.execute(component, str(tmp_path / 'examples'))
  counts = {split: len(example_gen_run.read_split(examples.uri, split))
            for split in ('train', 'validation', 'eval', 'new_users')}
  assert all(counts.values()), counts
  known = bench_new_users.known_users_data(examples.uri)
  assert len(known.users) == sum(counts.values()) - counts['new_users']
  new = recommender_evaluator.read_timed_ratings(
      artifacts.examples_artifact(examples.uri), 'new_users')
  assert not set(known.users.tolist()) & set(new.users.tolist())


def test_the_spread_scores_as_the_twin_does():
  """Spread.lists gives each setting's lists as from_ratings_lists does
  (the grid's fast path), with unknown, repeated and no given titles."""
  rng = np.random.default_rng(3)
  num_movies, width = 25, 6
  catalog = bench_new_users.Catalog([b'movie %02d' % m
                                     for m in range(num_movies)])
  tables = {
      name: np.vstack([rng.integers(0, num_movies, (num_movies, width)),
                       np.zeros((1, width))]).astype(np.int32)
      for name in ('neighbor_ids', 'next_ids')}
  tables.update({
      name: np.vstack([rng.random((num_movies, width)),
                       np.zeros((1, width))]).astype(np.float32)
      for name in ('neighbor_sims', 'next_sims')})
  stage = bench_new_users.Stage(rng.normal(size=num_movies), **tables,
                                knn_weight=1.0, rating_center=0.0,
                                next_weight=1.0)
  people = [new_users.Case(person, [catalog.titles[m] for m in movies],
                           rng.integers(1, 6, len(movies)).tolist(), set())
            for person, movies in enumerate(
                rng.integers(0, num_movies, n) for n in (1, 3, 5, 8))]
  people += [new_users.Case('unknown and repeated', [b'not a movie',
                                                     b'movie 03',
                                                     b'movie 03'],
                            [5.0, 4.0, 2.0], set()),
             new_users.Case('none given', [], [], set())]
  spread = bench_new_users.Spread.of(stage, catalog.index, people)
  for weight, center, next_weight in ((1.0, 0.0, 0.0), (4.0, 2.5, 3.0),
                                      (0.5, 3.5, 10.0)):
    setting = dataclasses.replace(stage, knn_weight=weight,
                                  rating_center=center,
                                  next_weight=next_weight)
    expected = bench_new_users.from_ratings_lists(setting, catalog, people,
                                                  10)
    assert spread.lists(setting, catalog, 10) == expected
    assert expected[0] != expected[1]
