"""run_fn on a tiny transformed dataset: it learns, and its export serves."""

import glob
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
import tensorflow_transform as tft
from tfx.components.trainer import fn_args_utils
from tfx.types import standard_artifacts
from tfx.utils import json_utils

from trainer_module import ensemble as ensemble_lib
from trainer_module import features
from trainer_module import hyperparameters
from trainer_module import ranking_models
from trainer_module import serving
from trainer_module import splits
from trainer_module import trainer

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


def raw_example(**values) -> tf.train.Example:
  """A raw tf.Example with every feature the test data has; `values`
  replace the defaults."""
  row = {'user_id': b'1', 'movie_title': b'Movie 1 (1951)',
         'user_rating': 3.0, 'raw_user_age': 30.0, 'user_gender': 1,
         'user_occupation_text': b'writer', 'user_zip_code': b'10037',
         'movie_genres': [b'Drama'], **values}
  feature = {}
  for name, value in row.items():
    value = value if isinstance(value, list) else [value]
    if isinstance(value[0], bytes):
      feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(
          value=value))
    elif isinstance(value[0], float):
      feature[name] = tf.train.Feature(float_list=tf.train.FloatList(
          value=value))
    else:
      feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(
          value=value))
  return tf.train.Example(features=tf.train.Features(feature=feature))


@pytest.fixture(scope='module')
def trained(transformed_data, tmp_path_factory):
  """run_fn's export dir and the training history it logged."""
  work_dir = str(tmp_path_factory.mktemp('trainer'))
  fn_args = make_fn_args(transformed_data, work_dir, HPARAMS)
  histories = []
  original_fit = ranking_models.MovieLensModel.fit

  def recording_fit(self, *args, **kwargs):
    history = original_fit(self, *args, **kwargs)
    histories.append(history.history)
    return history

  ranking_models.MovieLensModel.fit = recording_fit
  try:
    trainer.run_fn(fn_args)
  finally:
    ranking_models.MovieLensModel.fit = original_fit
  return fn_args, histories[0]


@pytest.fixture(scope='module')
def loaded(trained):
  """The tutorial run's export, loaded once: calling it changes nothing."""
  return tf.saved_model.load(trained[0].serving_model_dir)


def test_model_learns_more_than_the_mean_rating(trained, transformed_data):
  _, history = trained
  # 'rmse' is the epoch's running value (TFRS's 'loss' is the last batch's).
  assert len(history['rmse']) == HPARAMS['epochs']
  assert history['rmse'][-1] < 0.7 * history['rmse'][0]
  # A constant prediction cannot do better than the labels' std.
  label_std = np.std([r['user_rating'] for r in transformed_data.raw_train])
  assert history['rmse'][-1] < 0.9 * label_std
  assert history['val_rmse'][-1] < 0.95 * label_std


def test_export_has_every_signature(loaded):
  assert {'serving_default', 'serving_tf_example', 'transform_features',
          'recommend', 'recommend_including_rated',
          'retrieve'} <= set(loaded.signatures)
  inputs = loaded.signatures['serving_default'].structured_input_signature[1]
  assert {k: (v.dtype, v.shape.as_list()) for k, v in inputs.items()} == {
      'user_id': (tf.string, [None]), 'movie_title': (tf.string, [None])}


def test_tutorial_call_returns_one_rating(loaded, transformed_data):
  row = transformed_data.raw_train[0]
  rating = loaded({'user_id': np.array([row['user_id']]),
                   'movie_title': [row['movie_title']]})
  assert rating.shape == (1, 1) and rating.dtype == tf.float32
  assert 0.0 < float(rating[0, 0]) < 6.0


def test_signatures_agree_with_each_other(loaded, transformed_data):
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


def test_transform_features_signature_gives_the_model_inputs(loaded):
  example = raw_example(user_id=b'1', movie_title=b'Unseen (2099)',
                        user_rating=3.0).SerializeToString()
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


def test_export_holds_variables_not_keras_objects(trained, loaded):
  """Only Transform's layer is a Keras object of the bundle: the models'
  layers (with their traced call functions) and optimizers are not saved,
  their variables are."""
  fn_args, _ = trained
  saved = saved_model_pb2.SavedModel()
  with open(os.path.join(fn_args.serving_model_dir, 'saved_model.pb'),
            'rb') as f:
    saved.ParseFromString(f.read())
  objects = [node.user_object.identifier
             for node in saved.meta_graphs[0].object_graph_def.nodes
             if node.WhichOneof('kind') == 'user_object']
  assert [o for o in objects if 'keras' in o or 'ptimizer' in o] == [
      '_tf_keras_model']  # tft's TransformFeaturesLayer
  trainable = [v for v in loaded.keras_variables if v.trainable]
  # The user tower's and the rating model's; the movie tower's output is
  # in the retrieval index.
  assert {v.name.split('/')[0] for v in trainable} >= {
      'retrieval_user_embedding', 'dense'}


def test_tensorboard_logs_are_written(trained):
  fn_args, _ = trained
  assert glob.glob(os.path.join(fn_args.model_run_dir, '**', 'events.out.*'),
                   recursive=True)


def test_hyperparameters_default_to_the_tutorial():
  hparams = hyperparameters.Hyperparameters.from_custom_config(None)
  assert (hparams.model, hparams.epochs, hparams.batch_size,
          hparams.learning_rate, hparams.embedding_dim,
          hparams.optimizer) == ('tutorial', 3, 8192, 0.1, 32, 'adagrad')


@pytest.mark.parametrize('config, message', [
    ({'model': 'deep'}, 'unknown model'),
    ({'optimizer': 'sgd'}, 'unknown optimizer'),
])
def test_unknown_model_or_optimizer_is_refused(config, message):
  with pytest.raises(ValueError, match=message):
    hyperparameters.Hyperparameters.from_custom_config(config)


def test_model_architecture_is_the_tutorials():
  model = ranking_models.MovieLensModel(ranking_models.RankingModel(10, 20, 32))
  out = model({features.transformed_name('user_id'): tf.constant([1, 2]),
               features.transformed_name('movie_title'): tf.constant([3, 4])})
  assert out.shape == (2, 1)
  ranking = model.ranking_model
  assert ranking.user_embeddings.output_dim == 32
  assert ranking.movie_embeddings.input_dim == 20
  assert [l.units for l in ranking.ratings.layers] == [256, 64, 1]
  assert [l.activation.__name__ for l in ranking.ratings.layers] == [
      'relu', 'relu', 'linear']


TUNED_HPARAMS = {'model': 'tuned', 'epochs': 30, 'batch_size': 128,
                 'learning_rate': 0.01, 'optimizer': 'adam', 'l2': 1e-5,
                 'embedding_dim': 8, 'early_stopping_patience': 3, 'seed': 1,
                 # Less than one pass: one epoch all the same.
                 'retrieval_max_examples': 1000,
                 'retrieval_batch_size': 256}


def run_fn_with_stats(transformed_data, work_dir: str, custom_config: dict):
  """run_fn with `custom_config`: its fn_args and the training stats."""
  fn_args = make_fn_args(transformed_data, work_dir, custom_config)
  trainer.run_fn(fn_args)
  with open(os.path.join(fn_args.model_run_dir,
                         trainer.TRAINING_STATS_FILE)) as f:
    return fn_args, json.load(f)


@pytest.fixture(scope='module')
def tuned(transformed_data, tmp_path_factory):
  """run_fn with the tuned model: its fn_args and training stats."""
  return run_fn_with_stats(transformed_data,
                           str(tmp_path_factory.mktemp('tuned')), TUNED_HPARAMS)


def test_training_stats_are_written(trained, transformed_data):
  fn_args, _ = trained
  with open(os.path.join(fn_args.model_run_dir,
                         trainer.TRAINING_STATS_FILE)) as f:
    stats = json.load(f)
  assert stats['train_examples'] == len(transformed_data.raw_train)
  assert stats['epochs_run'] == HPARAMS['epochs']
  assert stats['train_examples_per_second'] == pytest.approx(
      HPARAMS['epochs'] * stats['train_examples'] / stats['train_seconds'],
      rel=0.01)
  # Far below the retrieval budget: every epoch, whole.
  retrieval_epochs = trainer.Hyperparameters().retrieval_epochs
  assert stats['retrieval_epochs_run'] == retrieval_epochs
  assert stats['retrieval_examples_seen'] == (
      retrieval_epochs * stats['retrieval_train_examples'])


def test_retrieval_stops_at_its_budget(tuned):
  _, stats = tuned
  assert stats['retrieval_train_examples'] > 1000
  assert stats['retrieval_epochs_run'] == 1
  assert stats['retrieval_examples_seen'] == stats['retrieval_train_examples']
  assert stats['retrieval_batch_size'] == 256


@pytest.mark.parametrize('examples, budget, expected', [
    (80_000, 10_000_000, (5, 1024)),  # MovieLens 100k: as asked
    (900_000, 10_000_000, (5, 256)),  # 1M: every epoch, the large batch
    (2_000_000, 10_000_000, (5, 256)),  # exactly the budget
    (4_500_000, 10_000_000, (2, 256)),  # fewer, whole epochs
    (25_000_000, 10_000_000, (1, 256)),  # one at least
    (25_000_000, 0, (5, 256)),  # no cap
    (500_000, 1_000_000, (2, 1024)),  # the small batch up to 500k
])
def test_retrieval_schedule(examples, budget, expected):
  hparams = trainer.Hyperparameters(retrieval_epochs=5,
                                    retrieval_batch_size=1024,
                                    retrieval_large_batch_size=256,
                                    retrieval_max_examples=budget)
  assert trainer.retrieval_schedule(examples, hparams) == expected


def test_tuned_model_learns_more_than_the_mean_rating(tuned, transformed_data):
  _, stats = tuned
  assert stats['model'] == 'tuned'
  label_std = np.std([r['user_rating'] for r in transformed_data.raw_eval])
  assert stats['best_val_rmse'] < 0.9 * label_std


def test_tuned_model_stops_early_and_keeps_its_best_epoch(tuned):
  _, stats = tuned
  assert stats['epochs_run'] < TUNED_HPARAMS['epochs']
  assert stats['best_epoch'] == (
      stats['epochs_run'] - TUNED_HPARAMS['early_stopping_patience'])


def test_tuned_model_serves_the_tutorial_call_and_unknown_users(
    tuned, transformed_data):
  fn_args, stats = tuned
  loaded = tf.saved_model.load(fn_args.serving_model_dir)
  row = transformed_data.raw_train[0]
  rating = loaded({'user_id': np.array([row['user_id'], 'nobody']),
                   'movie_title': [row['movie_title'], 'Unseen (2099)']})
  assert rating.shape == (2, 1) and np.all(np.isfinite(rating.numpy()))
  # The restored best weights are what was exported: the eval split's RMSE
  # through the serving signature equals the best epoch's.
  evals = transformed_data.raw_eval
  predictions = loaded({
      'user_id': np.array([r['user_id'] for r in evals]),
      'movie_title': np.array([r['movie_title'] for r in evals])}).numpy()
  labels = np.array([r['user_rating'] for r in evals])
  rmse = float(np.sqrt(np.mean((predictions[:, 0] - labels) ** 2)))
  assert rmse == pytest.approx(stats['best_val_rmse'], rel=1e-3)


def test_side_tables_map_each_user_and_movie_to_its_features():
  train = {
      splits.USER_KEY: tf.constant([0, 2, 0], tf.int64),
      splits.MOVIE_KEY: tf.constant([1, 1, 0], tf.int64),
      features.USER_OCCUPATION_KEY: tf.constant([4, 0, 4], tf.int64),
      features.MOVIE_GENRE_IDS_KEY: tf.constant(
          [[2, 0], [2, 0], [1, 3]], tf.int64),
  }
  tables = ranking_models.side_tables(
      train, [features.USER_OCCUPATION_KEY, features.MOVIE_GENRE_IDS_KEY],
      num_users=4, num_movies=3)
  # + 1 so that 0 means unknown (users 1 and 3 are not in train).
  assert tables[features.USER_OCCUPATION_KEY].numpy().tolist() == [
      5, 0, 1, 0]
  assert tables[features.MOVIE_GENRE_IDS_KEY].numpy().tolist() == [
      [1, 3], [2, 0], [0, 0]]


def test_serving_ids_equal_transforms_for_every_value_and_unknowns(
    transformed_data):
  tf_transform_output = tft.TFTransformOutput(
      transformed_data.transform_output)
  model = ranking_models.build_model(tf_transform_output,
                                     hyperparameters.Hyperparameters())
  module = serving.ServingModule(model, tf_transform_output, recommender=None,
                                 from_ratings=None)
  users = list(tf_transform_output.vocabulary_by_name(
      features.vocabulary_name(features.USER_ID_KEY)))
  titles = list(tf_transform_output.vocabulary_by_name(
      features.vocabulary_name(features.MOVIE_TITLE_KEY)))
  size = max(len(users), len(titles)) + 2
  users = (users + [b'unknown user', b''] * size)[:size]
  titles = (titles + [b'Unknown (2099)', b'\xff\xfe'] * size)[:size]
  raw = {'user_id': tf.constant(users), 'movie_title': tf.constant(titles)}
  from_tables = module.model_ids(raw)
  from_transform = module.tft_layer(
      {key: tf.reshape(value, [-1, 1]) for key, value in raw.items()})
  for key in from_tables:
    np.testing.assert_array_equal(from_tables[key].numpy(),
                                  from_transform[key].numpy())


def recommend(loaded, users, k, signature='recommend'):
  """A bundle's recommend-like signature on string user ids."""
  return loaded.signatures[signature](user_id=tf.constant(users),
                                      k=tf.constant(k, tf.int32))


def test_recommend_signature_shapes_dtypes_and_order(loaded,
                                                     transformed_data):
  users = [transformed_data.raw_train[0]['user_id'], 'nobody']
  out = recommend(loaded, users, 7)
  assert {key: (value.dtype, value.shape.as_list())
          for key, value in out.items()} == {
              'movie_title': (tf.string, [2, 7]),
              'score': (tf.float32, [2, 7]),
              'predicted_rating': (tf.float32, [2, 7]),
              'user_known': (tf.bool, [2])}
  assert out['user_known'].numpy().tolist() == [True, False]
  scores = out['score'].numpy()
  assert np.all(np.diff(scores, axis=1) <= 0)  # best first
  assert np.all(np.isfinite(scores))
  spec = loaded.signatures['recommend'].structured_input_signature[1]
  assert {k: (v.dtype, v.shape.as_list()) for k, v in spec.items()} == {
      'user_id': (tf.string, [None]), 'k': (tf.int32, [])}


def test_recommend_leaves_out_what_each_user_rated_in_train(
    loaded, transformed_data):
  rated = {}
  for row in transformed_data.raw_train:
    rated.setdefault(row['user_id'], set()).add(row['movie_title'])
  users = sorted(rated)
  titles = recommend(loaded, users, 20)['movie_title'].numpy()
  including = recommend(loaded, users, 20,
                        'recommend_including_rated')['movie_title'].numpy()
  kept_rated = 0
  for user, top, top_all in zip(users, titles, including):
    top = {t.decode() for t in top}
    assert len(top) == 20 and not top & rated[user], user
    kept_rated += len({t.decode() for t in top_all} & rated[user])
  assert kept_rated > 0  # --include-rated brings rated movies back


def test_recommend_rescores_the_retrieved_candidates(loaded,
                                                     transformed_data):
  user = transformed_data.raw_train[0]['user_id']
  out = recommend(loaded, [user], 10)
  # The score is retrieval score + weight * rating; the rating is the
  # ranking model's, as the tutorial's call gives it.
  titles = [t.decode() for t in out['movie_title'].numpy()[0]]
  ratings = loaded({'user_id': np.array([user] * 10),
                    'movie_title': np.array(titles)}).numpy()[:, 0]
  np.testing.assert_allclose(out['predicted_rating'].numpy()[0], ratings,
                             rtol=1e-5)
  retrieved = recommend(loaded, [user], 100, 'retrieve')
  retrieved_titles = [t.decode() for t in retrieved['movie_title'].numpy()[0]]
  assert set(titles) <= set(retrieved_titles)


def test_unknown_users_get_one_list_of_real_titles(loaded):
  out = recommend(loaded, ['nobody', 'no one either', '\xff'], 10)
  assert not out['user_known'].numpy().any()
  titles = out['movie_title'].numpy()
  known_titles = set(loaded.vocabularies()['movie_title'].numpy().tolist())
  assert set(titles.reshape(-1).tolist()) <= known_titles
  assert (titles == titles[0]).all()  # the out-of-vocabulary user's list


@pytest.mark.parametrize('k', [0, -1, 101])
def test_recommend_refuses_k_out_of_range(loaded, k):
  with pytest.raises(tf.errors.InvalidArgumentError,
                     match='k must be between 1 and 100'):
    recommend(loaded, ['1'], k)
  # The same loaded model still answers afterwards.
  assert recommend(loaded, ['1'], 100)['movie_title'].shape == (1, 100)


def test_recommend_answers_an_empty_batch(loaded):
  out = recommend(loaded, tf.constant([], tf.string), 5)
  assert out['movie_title'].shape == (0, 5)


def test_rated_table_keeps_known_ids_of_every_split_given(transformed_data):
  """The served table of rated movies holds train and validation ratings;
  ids outside the vocabularies (users or titles the train split lacks) are
  left out rather than breaking the graph."""
  output = tft.TFTransformOutput(transformed_data.transform_output)
  users, movies = (output.vocabulary_size_by_name(features.vocabulary_name(k))
                   for k in (features.USER_ID_KEY, features.MOVIE_TITLE_KEY))
  pairs = lambda u, m: {splits.USER_KEY: tf.constant(u, tf.int64),
                        splits.MOVIE_KEY: tf.constant(m, tf.int64)}
  rated = trainer.rated_movies(output, pairs([0, 1], [5, 6]),
                               pairs([0, users, 1], [7, 1, movies]))
  assert rated.nrows() == ranking_models.embedding_rows_of(
      output, features.USER_ID_KEY)
  assert rated[0].numpy().tolist() == [5, 7]
  assert rated[1].numpy().tolist() == [6]
  assert rated[users].numpy().tolist() == []


def autorec_inputs(users, movies):
  """Transformed ids for a rating model."""
  return {splits.USER_KEY: tf.constant(users, tf.int64),
          splits.MOVIE_KEY: tf.constant(movies, tf.int64)}


def test_item_autorec_leaves_the_learned_rating_out_of_the_code():
  """Training on (u, i, r) sees movie i coded from its other ratings: what
  a model whose table never had r_ui predicts for the pair."""
  train = {splits.USER_KEY: tf.constant([0, 1, 2, 1], tf.int64),
           splits.MOVIE_KEY: tf.constant([0, 0, 0, 1], tf.int64),
           features.LABEL_KEY: tf.constant([5.0, 3.0, 1.0, 4.0])}
  without = {key: tf.gather(value, [1, 2, 3]) for key, value in train.items()}
  models = []
  for split in (train, without):
    tf.keras.utils.set_random_seed(3)
    models.append(ranking_models.ItemAutoRec(
        *ranking_models.raters_per_movie(split, num_movies=3), num_users=4,
        units=5, l2=0.0, mean_rating=3.0))
    models[-1](autorec_inputs([0], [0]))  # creates the weights: same seed
    encoder = models[-1].encoder.embeddings
    encoder.assign(encoder * 30)  # trained weights are far from the init
  full, held_out = models
  left_out = {**autorec_inputs([0], [0]),
              ranking_models.LEFT_OUT_RATING_KEY: tf.constant([5.0])}
  np.testing.assert_allclose(full(left_out).numpy(),
                             held_out(autorec_inputs([0], [0])).numpy(),
                             rtol=1e-5)
  # Served (nothing left out), the rating is part of the code.
  assert not np.allclose(full(autorec_inputs([0], [0])).numpy(),
                         held_out(autorec_inputs([0], [0])).numpy())
  # A movie nobody rated (and the OOV id) is coded from the bias alone.
  assert np.isfinite(full(autorec_inputs([3, 2], [2, 2])).numpy()).all()



def test_item_autorec_frozen_codes_serve_what_it_computed_per_call():
  train = {splits.USER_KEY: tf.constant([0, 1, 2, 1, 3], tf.int64),
           splits.MOVIE_KEY: tf.constant([0, 0, 0, 1, 3], tf.int64),
           features.LABEL_KEY: tf.constant([5.0, 3.0, 1.0, 4.0, 2.0])}
  model = ranking_models.ItemAutoRec(
      *ranking_models.raters_per_movie(train, num_movies=4), num_users=4,
      units=5, l2=0.0, mean_rating=3.0)
  every_pair = autorec_inputs(np.repeat(np.arange(4), 4),
                              np.tile(np.arange(4), 4))
  model(every_pair)  # creates the weights
  model.encoder.embeddings.assign(model.encoder.embeddings * 30)
  per_call = model(every_pair).numpy()
  model.freeze()
  np.testing.assert_allclose(model(every_pair).numpy(), per_call, rtol=1e-5)
  assert model.frozen_codes.shape == (4, 5)


def test_fit_blend_recovers_support_dependent_weights():
  rng = np.random.default_rng(0)
  ratings = rng.uniform(1, 5, size=(300, 2)).astype(np.float32)
  users, movies = rng.integers(0, 50, 300), rng.integers(0, 50, 300)
  inputs = ensemble_lib.blend_features(
      tf.constant(ratings), tf.constant(users), tf.constant(movies)).numpy()
  assert inputs.shape == (300, 3 + 3 * 2)
  # The second member counts more for users with many ratings.
  labels = (0.3 + 0.6 * ratings[:, 0] +
            0.1 * ratings[:, 1] * np.log1p(users))
  weights = ensemble_lib.fit_blend(inputs, labels)
  np.testing.assert_allclose(weights, [0.3, 0, 0, 0.6, 0, 0, 0.1, 0, 0],
                             atol=1e-5)


def test_rating_counts_count_each_id_of_a_split():
  user_counts, movie_counts = ensemble_lib.rating_counts(
      autorec_inputs([0, 2, 0], [1, 1, 1]), num_users=4, num_movies=3)
  assert user_counts.numpy().tolist() == [2, 0, 1, 0]
  assert movie_counts.numpy().tolist() == [0, 3, 0]


def test_blend_weighs_members_by_support_and_clips_to_the_rating_range():

  class Constant(tf.keras.Model):
    def __init__(self, value):
      super().__init__()
      self.value = value

    def call(self, inputs):
      return tf.fill([tf.size(inputs[splits.USER_KEY]), 1], self.value)

  # rating = 0.5 + 0.5 * p1 + 0.25 * p2 * log(1 + n_u); user 1 has e - 1
  # ratings (a count of 1.718 stands for it), user 0 none.
  blend = ensemble_lib.BlendedRankingModel(
      [Constant(2.0), Constant(4.0)], [0.5, 0, 0, 0.5, 0, 0, 0.25, 0, 0],
      (1.0, 5.0), tf.constant([0.0, np.e - 1, 1e6]), tf.constant([0.0, 0.0]))
  np.testing.assert_allclose(
      blend(autorec_inputs([0, 1], [0, 1])).numpy(), [[1.5], [2.5]],
      rtol=1e-6)
  assert blend(autorec_inputs([2], [0])).numpy().tolist() == [[5.0]]


ENSEMBLE_HPARAMS = {**TUNED_HPARAMS, 'autorec_units': 8, 'refit': 1,
                    'autorec_learning_rate': 0.01, 'autorec_batch_size': 128}


@pytest.fixture(scope='module')
def ensemble_run(transformed_data, tmp_path_factory):
  """run_fn with the tuned model blended with an I-AutoRec and refitted:
  its fn_args, training stats, and the rating model and training data
  train_ranking returned and read."""
  trained = {}
  original = trainer.train_ranking

  def recording_train_ranking(fn_args, tf_transform_output, hparams, data,
                              base, warm_validation):
    trained['model'], _, _ = result = original(
        fn_args, tf_transform_output, hparams, data, base, warm_validation)
    trained['data'] = data
    return result

  trainer.train_ranking = recording_train_ranking
  try:
    fn_args, stats = run_fn_with_stats(
        transformed_data, str(tmp_path_factory.mktemp('ensemble')),
        ENSEMBLE_HPARAMS)
  finally:
    trainer.train_ranking = original
  return fn_args, stats, trained['model'], trained['data']


@pytest.fixture(scope='module')
def ensemble(ensemble_run):
  """The ensemble run's fn_args and training stats."""
  return ensemble_run[:2]


@pytest.mark.e2e  # the tuned preset's whole run_fn: two models, refitted
def test_ensemble_blend_is_no_worse_on_validation_than_a_member(ensemble):
  _, stats = ensemble
  members = stats['members']
  assert set(members) == {'tuned', 'autorec'}
  assert all(m['best_epoch'] <= m['epochs_run'] for m in members.values())
  assert len(stats['blend_weights']) == 3 + 3 * 2
  # Least squares on validation: the blend fits it at least as well as
  # either member alone (weights 1 and 0 are among the blends tried).
  assert stats['blend_val_rmse'] <= min(
      m['best_val_rmse'] for m in members.values()) + 1e-4
  assert stats['refit'] == 1 and stats['refit_seconds'] > 0


@pytest.mark.e2e  # the tuned preset's whole run_fn: two models, refitted
def test_ensemble_serves_the_tutorial_call_within_the_rating_range(
    ensemble, transformed_data):
  fn_args, _ = ensemble
  loaded = tf.saved_model.load(fn_args.serving_model_dir)
  rows = transformed_data.raw_eval
  ratings = loaded({'user_id': np.array([r['user_id'] for r in rows] +
                                        ['nobody']),
                    'movie_title': np.array([r['movie_title'] for r in rows]
                                            + ['Unseen (2099)'])}).numpy()
  labels = [r['user_rating'] for r in transformed_data.raw_train]
  assert ratings.shape == (len(rows) + 1, 1)
  assert min(labels) <= ratings.min() and ratings.max() <= max(labels)
  assert float(np.sqrt(np.mean(
      (ratings[:-1, 0] - [r['user_rating'] for r in rows]) ** 2))) < (
          0.9 * np.std([r['user_rating'] for r in rows]))


@pytest.mark.e2e  # the tuned preset's whole run_fn: two models, refitted
def test_refit_members_are_built_from_train_and_validation(ensemble_run):
  _, stats, model, data = ensemble_run
  tuned, autorec = model.ranking_model.members
  both = data.train_examples + data.validation_examples
  assert autorec.rater_values.shape[0] == both
  assert tuned.rated_values.shape[0] == both
  assert stats['members']['autorec']['epochs_run'] <= (
      ENSEMBLE_HPARAMS['epochs'])


# ---------------------------------------------- recommend_from_ratings


def from_ratings(loaded, titles, ratings, k):
  """The bundle's recommend_from_ratings on lists of lists."""
  return loaded.signatures['recommend_from_ratings'](
      movie_title=tf.constant(titles, tf.string),
      user_rating=tf.constant(ratings, tf.float32),
      k=tf.constant(k, tf.int32))


def expected_from_ratings(loaded, titles, ratings, k):
  """recommend_from_ratings computed in NumPy (bench.new_users, the twin
  the bench chooses settings with) from the bundle's tables: (top titles,
  their scores, known ratings) per person."""
  from bench import new_users  # pylint: disable=g-import-not-at-top
  stage = new_users.Stage.of(loaded, hyperparameters.Hyperparameters())
  vocabulary = [t.decode() for t in
                loaded.vocabularies()['movie_title'].numpy()]
  index = {title: i for i, title in enumerate(vocabulary)}
  results = []
  for person_titles, person_ratings in zip(titles, ratings):
    scores = stage.scores(index, person_titles, person_ratings)
    best = np.argsort(-scores, kind='stable')[:k]
    results.append(([vocabulary[i] for i in best], scores[best],
                    sum(t in index for t in person_titles)))
  return results


def test_from_ratings_signature_shapes_and_dtypes(loaded):
  spec = loaded.signatures[
      'recommend_from_ratings'].structured_input_signature[1]
  assert {k: (v.dtype, v.shape.as_list()) for k, v in spec.items()} == {
      'movie_title': (tf.string, [None, None]),
      'user_rating': (tf.float32, [None, None]), 'k': (tf.int32, [])}
  out = from_ratings(loaded, [['Movie 1 (1951)', ''], ['', '']],
                     [[5.0, 0.0], [0.0, 0.0]], 7)
  assert {key: (value.dtype, value.shape.as_list())
          for key, value in out.items()} == {
              'movie_title': (tf.string, [2, 7]),
              'score': (tf.float32, [2, 7]), 'known_ratings': (tf.int32, [2])}


def test_from_ratings_scores_as_the_numpy_reference(loaded,
                                                    transformed_data):
  """Generic scores plus the rating-weighted neighbours of every known
  given title; unknown titles and '' pads count for nothing; given titles
  never come back."""
  titles = sorted({r['movie_title'] for r in transformed_data.raw_train})
  people = [titles[:3] + ['no such film (2031)', ''],
            [titles[5], '', '', '', ''],
            titles[10:15]]
  ratings = [[5.0, 1.0, 4.5, 5.0, 0.0], [2.0, 0, 0, 0, 0],
             [4.0, 4.0, 0.5, 3.0, 5.0]]
  out = from_ratings(loaded, people, ratings, 20)
  expected = expected_from_ratings(loaded, people, ratings, 20)
  for row, (top, scores, known) in enumerate(expected):
    assert [t.decode() for t in out['movie_title'].numpy()[row]] == top
    np.testing.assert_allclose(out['score'].numpy()[row], scores,
                               rtol=1e-5, atol=1e-5)
    assert out['known_ratings'].numpy()[row] == known
    assert not set(top) & set(people[row])
  assert out['known_ratings'].numpy().tolist() == [3, 1, 5]


def test_from_ratings_follows_what_a_person_liked(loaded, transformed_data):
  """Rating one movie highly lifts its nearest neighbour above where the
  unknown user's list has it."""
  stage = loaded.from_ratings
  vocabulary = loaded.vocabularies()['movie_title'].numpy()
  generic = stage.generic.numpy()
  movie = int(np.argmax(stage.neighbor_sims.numpy()[:-1, 0]))
  neighbour = stage.neighbor_ids.numpy()[movie, 0]
  above = generic > generic[neighbour]
  above[movie] = False  # given: never in the list
  before = int(above.sum())  # its rank in the unknown user's list
  hparams = hyperparameters.Hyperparameters()
  rating = 5.0
  assert rating > hparams.new_user_rating_center
  titles = from_ratings(loaded, [[vocabulary[movie].decode()]], [[rating]],
                        min(serving.MAX_K, len(vocabulary))
                        )['movie_title'].numpy()[0].tolist()
  assert vocabulary[neighbour] in titles
  after = titles.index(vocabulary[neighbour])
  assert after < before or before == 0

def test_from_ratings_without_known_titles_is_the_unknown_users_list(
    loaded):
  unknown = recommend(loaded, ['nobody'], 10, 'retrieve')
  for titles, ratings in (([[]], [[]]), ([['not a film', '']], [[4.0, 0]])):
    out = from_ratings(loaded, titles, ratings, 10)
    assert out['known_ratings'].numpy().tolist() == [0]
    assert (out['movie_title'].numpy() ==
            unknown['movie_title'].numpy()).all()
    np.testing.assert_allclose(out['score'].numpy(),
                               unknown['score'].numpy(), rtol=1e-5)


def test_from_ratings_answers_an_empty_batch(loaded):
  out = loaded.signatures['recommend_from_ratings'](
      movie_title=tf.zeros([0, 3], tf.string),
      user_rating=tf.zeros([0, 3], tf.float32), k=tf.constant(5))
  assert out['movie_title'].shape == (0, 5)


@pytest.mark.parametrize('titles, ratings, k, message', [
    ([['Movie 1 (1951)']], [[5.5]], 5, 'user_rating must be between 0.5'),
    ([['Movie 1 (1951)']], [[0.4]], 5, 'user_rating must be between 0.5'),
    ([['Movie 1 (1951)']], [[float('nan')]], 5,
     'user_rating must be between 0.5'),
    ([['not a film']], [[9.0]], 5, 'user_rating must be between 0.5'),
    ([['Movie 1 (1951)', '']], [[5.0]], 5,
     'movie_title and user_rating must have the same shape'),
    ([['Movie 1 (1951)']], [[5.0]], 0, 'k must be between 1 and'),
    ([['Movie 1 (1951)']], [[5.0]], 101, 'k must be between 1 and'),
    ([[''] * (serving.MAX_GIVEN_RATINGS + 1)],
     [[0.0] * (serving.MAX_GIVEN_RATINGS + 1)], 5,
     'movie_title holds more than 1000 ratings per person'),
])
def test_from_ratings_refuses_bad_input_by_name(loaded, titles, ratings, k,
                                                message):
  with pytest.raises(tf.errors.InvalidArgumentError, match=message):
    from_ratings(loaded, titles, ratings, k)
  # The same loaded model still answers afterwards.
  out = from_ratings(loaded, [['Movie 1 (1951)']], [[5.0]], 5)
  assert out['movie_title'].shape == (1, 5)


def test_every_model_name_has_one_entry_in_the_registry():
  """The preset's model name is looked up in ranking_models.RATING_MODELS
  only: no string checks on it anywhere else."""
  assert tuple(ranking_models.RATING_MODELS) == hyperparameters.MODELS
  folder = os.path.join(os.path.dirname(os.path.dirname(
      os.path.abspath(__file__))), 'trainer_module')
  for name in os.listdir(folder):
    if name.endswith('.py'):
      with open(os.path.join(folder, name)) as f:
        code = f.read()
      assert not re.search(
          r"""[=!]= *['"](tutorial|tuned|autorec)['"]|model in \(""",
          code), name


def test_from_ratings_stage_adds_both_tables_as_the_numpy_twin():
  """serving.FromRatings with an item-kNN and a what-people-like-next
  table, each weighted, against bench.new_users' NumPy twin."""
  from bench import new_users  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  num_movies, width = 40, 5

  def table():
    ids = rng.integers(0, num_movies, (num_movies + 1, width))
    sims = rng.random((num_movies + 1, width))
    sims[-1] = 0.0  # the out-of-vocabulary row
    return ids.astype(np.int32), sims.astype(np.float32)

  stage = new_users.Stage(rng.normal(size=num_movies).astype(np.float32),
                          *table(), 2.0, 3.0, *table(), 0.7)
  module = serving.FromRatings(
      stage.generic, stage.neighbor_ids, stage.neighbor_sims,
      stage.knn_weight, stage.rating_center, stage.next_ids, stage.next_sims,
      stage.next_weight)
  movies = np.array([[3, 17, num_movies, 8], [num_movies] * 4,
                     [1, 2, 3, 4]], np.int32)
  ratings = np.array([[5.0, 1.0, 0.0, 4.0], [0.0] * 4, [2.0, 3.0, 4.5, 5.0]],
                     np.float32)
  out = module.top_k(tf.constant(movies), tf.constant(ratings), 10)
  index = {movie: movie for movie in range(num_movies)}
  for row in range(len(movies)):
    expected = stage.scores(index, movies[row].tolist(), ratings[row])
    best = np.argsort(-expected, kind='stable')[:10]
    np.testing.assert_allclose(out['score'].numpy()[row], expected[best],
                               rtol=1e-5, atol=1e-5)
    assert set(out['ids'].numpy()[row]) == set(best)
  assert out['known_ratings'].numpy().tolist() == [3, 0, 4]
