"""run_fn on a tiny transformed dataset: it learns, and its export serves."""

import glob
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.components.trainer import fn_args_utils
from tfx.types import standard_artifacts
from tfx.utils import json_utils

from trainer_module import features
from trainer_module import model as model_lib

HPARAMS = {'epochs': 20, 'batch_size': 64, 'learning_rate': 0.1,
           'embedding_dim': 8, 'seed': 1}


def make_fn_args(transformed_data, work_dir: str,
                 custom_config: dict) -> fn_args_utils.FnArgs:
  """FnArgs built the way the Trainer executor builds them."""
  examples = standard_artifacts.Examples()
  examples.uri = transformed_data.examples_uri
  examples.split_names = '["train", "eval"]'
  fn_args = fn_args_utils.get_common_fn_args(
      {'examples': [examples]},
      {'train_args': '{"splits": ["train"]}',
       'eval_args': '{"splits": ["eval"]}',
       'custom_config': json_utils.dumps(custom_config)},
      working_dir=work_dir)
  fn_args.transform_output = transformed_data.transform_output
  fn_args.serving_model_dir = os.path.join(work_dir, 'Format-Serving')
  fn_args.model_run_dir = os.path.join(work_dir, 'model_run')
  return fn_args


@pytest.fixture(scope='module')
def trained(transformed_data, tmp_path_factory):
  """run_fn's export dir and the training history it logged."""
  work_dir = str(tmp_path_factory.mktemp('trainer'))
  fn_args = make_fn_args(transformed_data, work_dir, HPARAMS)
  histories = []
  original_fit = model_lib.MovieLensModel.fit

  def recording_fit(self, *args, **kwargs):
    history = original_fit(self, *args, **kwargs)
    histories.append(history.history)
    return history

  model_lib.MovieLensModel.fit = recording_fit
  try:
    model_lib.run_fn(fn_args)
  finally:
    model_lib.MovieLensModel.fit = original_fit
  return fn_args, histories[0]


def test_model_learns_more_than_the_mean_rating(trained, transformed_data):
  _, history = trained
  # 'rmse' is the epoch's running value (TFRS's 'loss' is the last batch's).
  assert len(history['rmse']) == HPARAMS['epochs']
  assert history['rmse'][-1] < 0.7 * history['rmse'][0]
  # A constant prediction cannot do better than the labels' std.
  label_std = np.std([r['user_rating'] for r in transformed_data.raw_train])
  assert history['rmse'][-1] < 0.9 * label_std
  assert history['val_rmse'][-1] < 0.95 * label_std


def test_export_has_every_signature(trained):
  fn_args, _ = trained
  loaded = tf.saved_model.load(fn_args.serving_model_dir)
  assert {'serving_default', 'serving_tf_example',
          'transform_features'} <= set(loaded.signatures)
  inputs = loaded.signatures['serving_default'].structured_input_signature[1]
  assert {k: (v.dtype, v.shape.as_list()) for k, v in inputs.items()} == {
      'user_id': (tf.string, [None]), 'movie_title': (tf.string, [None])}


def test_tutorial_call_returns_one_rating(trained, transformed_data):
  fn_args, _ = trained
  loaded = tf.saved_model.load(fn_args.serving_model_dir)
  row = transformed_data.raw_train[0]
  rating = loaded({'user_id': np.array([row['user_id']]),
                   'movie_title': [row['movie_title']]})
  assert rating.shape == (1, 1) and rating.dtype == tf.float32
  assert 0.0 < float(rating[0, 0]) < 6.0


def test_signatures_agree_with_each_other(trained, transformed_data):
  fn_args, _ = trained
  loaded = tf.saved_model.load(fn_args.serving_model_dir)
  rows = transformed_data.raw_train[:5]
  users = [r['user_id'] for r in rows]
  titles = [r['movie_title'] for r in rows]
  raw = loaded.signatures['serving_default'](
      user_id=tf.constant(users), movie_title=tf.constant(titles))
  examples = [tf.train.Example(features=tf.train.Features(feature={
      'user_id': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[u.encode()])),
      'movie_title': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[t.encode()])),
  })).SerializeToString() for u, t in zip(users, titles)]
  from_examples = loaded.signatures['serving_tf_example'](
      examples=tf.constant(examples))
  np.testing.assert_allclose(raw[features.PREDICTION_KEY].numpy(),
                             from_examples[features.PREDICTION_KEY].numpy(),
                             rtol=1e-6)
  assert raw[features.PREDICTION_KEY].shape == (5, 1)


def test_transform_features_signature_gives_the_model_inputs(trained):
  fn_args, _ = trained
  loaded = tf.saved_model.load(fn_args.serving_model_dir)
  example = tf.train.Example(features=tf.train.Features(feature={
      'user_id': tf.train.Feature(bytes_list=tf.train.BytesList(value=[b'1'])),
      'movie_title': tf.train.Feature(bytes_list=tf.train.BytesList(
          value=[b'Unseen (2099)'])),
      'user_rating': tf.train.Feature(float_list=tf.train.FloatList(
          value=[3.0])),
  })).SerializeToString()
  out = loaded.signatures['transform_features'](examples=tf.constant([example]))
  titles = loaded.vocabularies()['movie_title'].shape[0]
  assert out[features.transformed_name('movie_title')].numpy().tolist() == [
      titles]  # the OOV bucket
  assert out[features.LABEL_KEY].numpy().tolist() == [3.0]


def test_export_carries_the_vocabularies_inside(trained, tmp_path):
  """The SavedModel serves after the Transform output is gone."""
  fn_args, _ = trained
  assert glob.glob(os.path.join(fn_args.serving_model_dir, 'assets', '*'))
  moved = tmp_path / 'moved'
  tf.io.gfile.rename(fn_args.serving_model_dir, str(moved))
  try:
    loaded = tf.saved_model.load(str(moved))
    vocab = loaded.vocabularies()
    assert vocab['user_id'].shape[0] > 0
    assert loaded({'user_id': vocab['user_id'][:2],
                   'movie_title': vocab['movie_title'][:2]}).shape == (2, 1)
  finally:
    tf.io.gfile.rename(str(moved), fn_args.serving_model_dir)


def test_tensorboard_logs_are_written(trained):
  fn_args, _ = trained
  assert glob.glob(os.path.join(fn_args.model_run_dir, '**', 'events.out.*'),
                   recursive=True)


def test_hyperparameters_default_to_the_tutorial():
  hparams = model_lib.Hyperparameters.from_custom_config(None)
  assert (hparams.epochs, hparams.batch_size, hparams.learning_rate,
          hparams.embedding_dim) == (3, 8192, 0.1, 32)


def test_model_architecture_is_the_tutorials():
  model = model_lib.MovieLensModel(10, 20, 32)
  out = model({features.transformed_name('user_id'): tf.constant([1, 2]),
               features.transformed_name('movie_title'): tf.constant([3, 4])})
  assert out.shape == (2, 1)
  ranking = model.ranking_model
  assert ranking.user_embeddings.output_dim == 32
  assert ranking.movie_embeddings.input_dim == 20
  assert [l.units for l in ranking.ratings.layers] == [256, 64, 1]
  assert [l.activation.__name__ for l in ranking.ratings.layers] == [
      'relu', 'relu', 'linear']
