"""The Evaluator's own checks before TFMA: which ratings count as the
training data, and eval splits of users the training data lacks."""

import glob
import os

import numpy as np
import pytest
from tfx.types import standard_artifacts

from bench import synthetic
from components import movielens_example_gen as example_gen
from components import parquet_source
from components import recommender_evaluator
from components.top_n_metrics import Ratings
from components.ratings_source import RatingsSource
from tests.example_gen_run import execute


def ratings(users, titles=None):
  users = np.array([u.encode() for u in users])
  titles = np.array(titles or [b'M'] * len(users))
  return Ratings(users, titles, np.full(len(users), 4.0, np.float32))


def test_eval_users_the_training_data_has_pass_with_their_share():
  share = recommender_evaluator.check_eval_users(
      {b'1', b'2', b'3'}, ratings(['1', '2', '9', '9']), 0.5)
  assert share == 0.5


def test_an_eval_split_of_unseen_users_is_refused():
  with pytest.raises(recommender_evaluator.EvalSplitError,
                     match='75% of the eval ratings are by users the '
                     'training data does not have'):
    recommender_evaluator.check_eval_users(
        {b'1'}, ratings(['1', '7', '8', '9']), 0.5)
  with pytest.raises(recommender_evaluator.EvalSplitError, match='no examples'):
    recommender_evaluator.check_eval_users({b'1'}, ratings([]), 0.5)


def test_training_data_is_train_and_validation(ratings_csv, tmp_path):
  examples = execute(example_gen.MovieLensExampleGen(RatingsSource.csv(ratings_csv)),
                     str(tmp_path / 'examples'))
  training = recommender_evaluator.training_ratings(examples)
  train = recommender_evaluator.read_ratings(examples, 'train')
  validation = recommender_evaluator.read_ratings(examples, 'validation')
  assert len(validation.users) > 0
  assert len(training.users) == len(train.users) + len(validation.users)
  # Without a validation split (an older ExampleGen output): train alone.
  old = standard_artifacts.Examples()
  old.uri, old.split_names = examples.uri, '["train", "eval"]'
  assert len(recommender_evaluator.training_ratings(old).users) == len(
      train.users)


def test_out_of_file_order_the_same_ratings_are_read(tmp_path):
  sizes = synthetic.Sizes.for_ratings(3000)
  path = synthetic.write(sizes, str(tmp_path / 'p'), seed=2,
                         file_format='parquet')['path']
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(parquet_source, 'SLICE_ROWS', 200)  # many train files
    examples = execute(example_gen.MovieLensExampleGen(
        RatingsSource.parquet(path)), str(tmp_path / 'examples'))
  assert len(glob.glob(os.path.join(examples.uri, 'Split-train', '*'))) > 4

  def rows(file_order):
    return sorted(
        row for batch in recommender_evaluator.rating_batches(
            examples, 'train', file_order)
        for row in zip(batch.users.tolist(), batch.titles.tolist(),
                       batch.ratings.tolist()))
  in_order = rows(True)
  assert len(in_order) > 2000 and rows(False) == in_order
