"""Warm start: weights carried over by key into new vocabularies."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tfx.components.trainer.fn_args_utils import FnArgs

from trainer_module import ensemble
from trainer_module import features
from trainer_module import ranking_models
from trainer_module import retrieval_model
from trainer_module import splits
from trainer_module import trainer
from trainer_module import warm_start
from trainer_module.hyperparameters import Hyperparameters
from trainer_module.splits import MOVIE_KEY
from trainer_module.splits import USER_KEY
from tests.test_model import HPARAMS
from tests.test_model import make_fn_args

USER, MOVIE = features.USER_ID_KEY, features.MOVIE_TITLE_KEY


class Vocabularies:
  """What warm start reads of a TFTransformOutput: its vocabularies."""

  def __init__(self, users, movies):
    self.terms = {features.vocabulary_name(USER): users,
                  features.vocabulary_name(MOVIE): movies}

  def vocabulary_by_name(self, name):
    return self.terms[name]


OLD = Vocabularies([b'u1', b'u2', b'u3'], [b'A', b'B'])
# Reordered, one user gone (u2), keys added (u4, C).
NEW = Vocabularies([b'u3', b'u4', b'u1'], [b'C', b'B', b'A'])


def tutorial_model(vocabularies: Vocabularies) -> tf.keras.Model:
  """The tutorial's rating model for the vocabularies (+1 OOV row), built."""
  users, movies = (len(vocabularies.vocabulary_by_name(
      features.vocabulary_name(key))) + features.NUM_OOV_BUCKETS
                   for key in (USER, MOVIE))
  model = ranking_models.MovieLensModel(
      ranking_models.RankingModel(users, movies, 4))
  model({USER_KEY: tf.constant([0, 1]), MOVIE_KEY: tf.constant([0, 1])})
  return model


def rows(model, vocabularies, key):
  """{term: embedding row} of a tutorial model (the OOV row as b'')."""
  table = {USER: model.ranking_model.user_embeddings,
           MOVIE: model.ranking_model.movie_embeddings}[key].embeddings.numpy()
  terms = vocabularies.vocabulary_by_name(features.vocabulary_name(key))
  return {**dict(zip(terms, table)), b'': table[len(terms)]}


def test_remap_rows_moves_each_row_to_its_keys_new_id():
  old = np.arange(4 * 2, dtype=np.float32).reshape(4, 2)  # a b c OOV
  fresh = -np.ones((5, 2), np.float32)  # c d a e OOV
  value, kept = warm_start.remap_rows(
      old, [b'a', b'b', b'c'], {b'c': 0, b'd': 1, b'a': 2, b'e': 3}, fresh)
  np.testing.assert_array_equal(value, [[4, 5], [-1, -1], [0, 1], [-1, -1],
                                        [6, 7]])
  assert kept == 3  # a, c and the OOV row
  with pytest.raises(ValueError, match='does not fit'):
    warm_start.remap_rows(old, [b'a', b'b', b'c'], {b'a': 0}, fresh)


def test_a_keys_rows_are_the_same_after_a_warm_start_that_reorders_and_adds(
    tmp_path):
  before = tutorial_model(OLD)
  warm_start.save(str(tmp_path), {'ranking-tutorial': before}, OLD)
  after = tutorial_model(NEW)
  fresh_rows = rows(after, NEW, USER)
  carried = warm_start.WarmStart(str(tmp_path)).restore(
      'ranking-tutorial', after, NEW)
  for key in (USER, MOVIE):
    old_rows, new_rows = rows(before, OLD, key), rows(after, NEW, key)
    shared = set(old_rows) & set(new_rows)
    assert shared >= {b''} and len(shared) > 1
    for term in shared:
      np.testing.assert_array_equal(new_rows[term], old_rows[term])
  # A new user starts from the fresh model's own row.
  np.testing.assert_array_equal(rows(after, NEW, USER)[b'u4'],
                                fresh_rows[b'u4'])
  # The MLP continues as it was.
  for old, new in zip(before.ranking_model.ratings.weights,
                      after.ranking_model.ratings.weights):
    np.testing.assert_array_equal(new.numpy(), old.numpy())
  assert (carried.tables, carried.copied, carried.fresh) == (2, 6, [])
  assert carried.rows_kept == 3 + 3  # u1 u3 OOV; A B OOV
  assert carried.rows_new == 1 + 1  # u4; C


def test_the_retrieval_towers_carry_over_by_key(tmp_path):
  def towers(vocabularies):
    model = retrieval_model.build_retrieval_model(
        4, len(vocabularies.vocabulary_by_name(
            features.vocabulary_name(MOVIE))) + 1,
        np.array([0, 1]), Hyperparameters(retrieval_embedding_dim=3))
    model.build_towers()
    return model
  before = towers(OLD)
  warm_start.save(str(tmp_path), {'retrieval': before}, OLD)
  after = towers(NEW)
  warm_start.WarmStart(str(tmp_path)).restore('retrieval', after, NEW)
  movies_before = before.movie_tower.embeddings.numpy()
  movies_after = after.movie_tower.embeddings.numpy()
  np.testing.assert_array_equal(movies_after[2], movies_before[0])  # A
  np.testing.assert_array_equal(movies_after[1], movies_before[1])  # B
  np.testing.assert_array_equal(movies_after[3], movies_before[2])  # OOV
  np.testing.assert_array_equal(after.user_tower.embeddings.numpy()[[2, 0]],
                                before.user_tower.embeddings.numpy()[[0, 2]])
  # Shrunk: the carried rows scaled, a new key's row as fresh as ever.
  shrunk = towers(NEW)
  fresh_c = shrunk.movie_tower.embeddings.numpy()[0]
  carried = warm_start.WarmStart(str(tmp_path)).restore(
      'retrieval', shrunk, NEW, shrink=0.5)
  assert carried.shrink == 0.5
  np.testing.assert_allclose(shrunk.movie_tower.embeddings.numpy()[[2, 1, 3]],
                             0.5 * movies_before[[0, 1, 2]])
  np.testing.assert_array_equal(shrunk.movie_tower.embeddings.numpy()[0],
                                fresh_c)  # C is new


def test_a_table_of_another_vocabulary_starts_fresh(tmp_path):
  """An embedding warm start cannot key (a side feature's) is never copied
  by position, even with the same shape."""

  class WithSide(tf.keras.Model):

    def __init__(self):
      super().__init__()
      self.side = tf.keras.layers.Embedding(3, 2, name='occupation_embedding')

    def call(self, ids):
      return self.side(ids)

  before, after = WithSide(), WithSide()
  before(tf.constant([0]))
  after(tf.constant([0]))
  fresh = after.side.embeddings.numpy()
  warm_start.save(str(tmp_path), {'side': before}, OLD)
  carried = warm_start.WarmStart(str(tmp_path)).restore('side', after, NEW)
  assert carried.fresh == ['side/embeddings']
  np.testing.assert_array_equal(after.side.embeddings.numpy(), fresh)


def test_a_base_model_without_warm_start_weights_is_named(tmp_path):
  with pytest.raises(ValueError, match='no warm_start folder'):
    warm_start.WarmStart(str(tmp_path / 'warm_start'))


def test_run_fn_continues_from_the_base_model(transformed_data, tmp_path):
  """A second run_fn given the first's model starts from its weights.
  These ratings have no times, so no validation rating is known to be
  unseen by the base model: the warm run trains its maximum epochs and
  chooses none (unseen_validation; the spans e2e test covers the choice)."""
  base_args = make_fn_args(transformed_data, str(tmp_path / 'base'), HPARAMS)
  trainer.run_fn(base_args)
  fn_args = make_fn_args(transformed_data, str(tmp_path / 'warm'), HPARAMS)
  fn_args.base_model = base_args.serving_model_dir
  trainer.run_fn(fn_args)
  with open(os.path.join(fn_args.model_run_dir,
                         trainer.TRAINING_STATS_FILE)) as f:
    stats = json.load(f)
  hparams = Hyperparameters()
  assert stats['base_model'] == base_args.serving_model_dir
  assert stats['epochs_run'] == hparams.warm_epochs
  assert 'best_val_rmse' not in stats or stats['best_val_rmse'] is None
  assert stats['retrieval_epochs_run'] == hparams.warm_retrieval_epochs
  assert stats['retrieval_best_epoch'] is None
  assert stats['warm_validation_examples'] is None
  assert stats['retrieval_train_examples'] == (
      stats['train_examples'] + stats['validation_examples'])
  with open(os.path.join(base_args.model_run_dir,
                         trainer.TRAINING_STATS_FILE)) as f:
    base_stats = json.load(f)
  assert base_stats['retrieval_best_epoch'] is None
  assert base_stats['retrieval_train_examples'] == (
      stats['retrieval_train_examples'])
  for carried in (stats['warm_start'], stats['retrieval_warm_start']):
    assert carried['tables'] == 2 and not carried['fresh']
    assert carried['rows_new'] == 0  # the same vocabularies
  assert stats['retrieval_warm_start']['shrink'] == (
      hparams.warm_retrieval_shrink)
  assert tf.io.gfile.exists(os.path.join(
      warm_start.warm_start_dir(fn_args.serving_model_dir), 'retrieval.npz'))
  assert warm_start.WarmStart(warm_start.warm_start_dir(
      fn_args.serving_model_dir)).latest_timestamp is None


def timed_data(train_times, validation_times):
  """TrainingData of one rating per time (user i, movie i)."""
  def split(times):
    n = len(times)
    return {USER_KEY: tf.range(n, dtype=tf.int64),
            MOVIE_KEY: tf.range(n, dtype=tf.int64),
            features.LABEL_KEY: tf.fill([n], 4.0),
            features.TIMESTAMP_KEY: tf.constant(times, tf.int64)}
  return splits.TrainingData([USER_KEY, MOVIE_KEY], split(train_times),
                             split(validation_times))


class Base:
  """What unseen_validation reads of a WarmStart."""

  def __init__(self, latest_timestamp):
    self.latest_timestamp = latest_timestamp


def test_a_warm_run_chooses_on_validation_ratings_newer_than_its_base():
  data = timed_data([10, 20, 50], [15, 30, 40, 25])
  unseen = trainer.unseen_validation(data, Base(25))
  assert unseen[features.TIMESTAMP_KEY].numpy().tolist() == [30, 40]
  assert unseen[USER_KEY].numpy().tolist() == [1, 2]  # the rows kept whole
  assert trainer.unseen_validation(data, Base(40)) is None  # none newer
  assert trainer.unseen_validation(data, Base(None)) is None  # base untimed
  untimed = timed_data([1], [2])
  del untimed.validation[features.TIMESTAMP_KEY]
  assert trainer.unseen_validation(untimed, Base(0)) is None


def test_a_warm_run_fits_every_newer_rating_and_a_share_of_older_ones():
  times = list(range(1000)) + [2000, 2001, 2002]  # the base trained to 999
  train = timed_data(times, [2003]).train
  sample = trainer.warm_sample(train, Base(999), 0.25, seed=7)
  kept = sample[features.TIMESTAMP_KEY].numpy().tolist()
  assert {2000, 2001, 2002} <= set(kept)  # every newer rating
  assert 200 < sum(t <= 999 for t in kept) < 300  # about a quarter of 1,000
  # Whole rows (user i rated at times[i]).
  assert [times[i] for i in sample[USER_KEY].numpy()] == kept
  # The same seed, the same sample; a share of 1, an untimed base or
  # untimed data: the whole split.
  assert trainer.warm_sample(train, Base(999), 0.25, seed=7)[
      features.TIMESTAMP_KEY].numpy().tolist() == kept
  assert trainer.warm_sample(train, Base(999), 1.0, seed=7) is train
  assert trainer.warm_sample(train, Base(None), 0.25, seed=7) is train
  untimed = {key: column for key, column in train.items()
             if key != features.TIMESTAMP_KEY}
  assert trainer.warm_sample(untimed, Base(0), 0.25, seed=7) is untimed


def test_the_latest_rating_time_is_saved_for_the_next_warm_run(tmp_path):
  data = timed_data([10, 50, -1], [15, 30])  # -1: a rating without a time
  assert trainer.latest_timestamp(data) == 50
  assert trainer.latest_timestamp(timed_data([-1], [-1])) is None
  model = tutorial_model(OLD)
  warm_start.save(str(tmp_path), {'ranking-tutorial': model}, OLD,
                  trainer.latest_timestamp(data))
  assert warm_start.WarmStart(str(tmp_path)).latest_timestamp == 50
  # A base saved before the time was recorded: unknown, not an error.
  os.remove(tmp_path / warm_start.TRAINED_ON_FILE)
  assert warm_start.WarmStart(str(tmp_path)).latest_timestamp is None


def test_validation_keeps_the_carried_weights_when_training_hurts():
  """Epoch 0 (the carried weights) competes with the warm epochs."""
  model = tutorial_model(OLD)
  model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=50.0))
  carried = [w.copy() for w in model.get_weights()]
  features_ = {USER_KEY: tf.constant([0, 1, 2, 3]),
               MOVIE_KEY: tf.constant([0, 1, 2, 0])}
  labels = tf.constant([4.0, 3.0, 5.0, 1.0])
  rmse = float(tf.sqrt(tf.reduce_mean(
      (tf.reshape(model(features_), [-1]) - labels) ** 2)))
  best = trainer.BestOnValidation(rmse, trainer.logged_val_rmse)
  history = model.fit(features_, labels, validation_data=(features_, labels),
                      epochs=2, callbacks=[best], verbose=0)
  assert min(history.history['val_rmse']) > rmse  # the steps were too big
  assert best.epoch == 0 and best.best == rmse
  assert best.figures == history.history['val_rmse']
  for kept, before in zip(model.get_weights(), carried):
    np.testing.assert_array_equal(kept, before)


def test_validation_keeps_the_best_epoch_and_stops_after_patience():
  """Higher is better here; two epochs in a row below the best stop it."""
  model = tutorial_model(OLD)
  model.compile(optimizer=tf.keras.optimizers.SGD(learning_rate=0.01))
  figures = iter([0.2, 0.5, 0.4, 0.45, 0.9])
  kept = {}

  def measure(trained, logs):
    figure = next(figures)
    kept[figure] = [w.copy() for w in trained.get_weights()]
    return figure

  best = trainer.BestOnValidation(0.3, measure, higher_is_better=True,
                                  patience=2)
  features_ = {USER_KEY: tf.constant([0, 1]), MOVIE_KEY: tf.constant([0, 1])}
  history = model.fit(features_, tf.constant([4.0, 3.0]), epochs=5,
                      callbacks=[best], verbose=0)
  assert len(history.epoch) == 4  # 0.4 and 0.45 after 0.5 stop it
  assert (best.epoch, best.best, best.figures) == (2, 0.5,
                                                   [0.2, 0.5, 0.4, 0.45])
  for weights, expected in zip(model.get_weights(), kept[0.5]):
    np.testing.assert_array_equal(weights, expected)


def test_held_out_recall_is_the_protocols_recall_at_k():
  """Against a brute force over users: seen movies never count, OOV ids
  and ratings below the liked rating are not scored, the mean is over
  users with a liked held-out movie."""
  rng = np.random.default_rng(3)
  model = retrieval_model.build_retrieval_model(
      7, 13, np.arange(12), Hyperparameters(retrieval_embedding_dim=4))
  model.build_towers()

  def ratings(n):
    return {USER_KEY: tf.constant(rng.integers(0, 7, n)),
            MOVIE_KEY: tf.constant(rng.integers(0, 13, n)),
            features.LABEL_KEY: tf.constant(rng.integers(1, 6, n)
                                             .astype(np.float32))}
  seen, held_out = ratings(40), ratings(30)
  users = model.user_tower.embeddings.numpy()
  movies = model.movie_tower.embeddings.numpy()[:12]
  recalls = []
  for user in range(6):  # 6: the OOV id
    liked = {int(m) for u, m, r in zip(*(held_out[k].numpy() for k in (
        USER_KEY, MOVIE_KEY, features.LABEL_KEY))) if u == user and r >= 4
             and m < 12}
    if not liked:
      continue
    rated = {int(m) for u, m in zip(seen[USER_KEY].numpy(),
                                    seen[MOVIE_KEY].numpy()) if u == user}
    scores = movies @ users[user]
    top = [m for m in np.argsort(-scores, kind='stable')
           if m not in rated][:3]
    recalls.append(len(liked & set(top)) / len(liked))
  assert recalls
  assert retrieval_model.held_out_recall(
      model, seen, held_out, 4.0, k=3) == pytest.approx(np.mean(recalls))
  one = retrieval_model.held_out_recall(model, seen, held_out, 4.0, k=3,
                                        max_users=1)
  assert one in recalls
  nobody = {key: value[:0] for key, value in held_out.items()}
  assert np.isnan(retrieval_model.held_out_recall(model, seen, nobody, 4.0))


class MovieTable(tf.keras.Model):
  """A rating model that rates each movie id from a fixed table."""

  def __init__(self, ratings):
    super().__init__()
    self.ratings = tf.constant(ratings, tf.float32)

  def call(self, inputs):
    return tf.gather(self.ratings, inputs[MOVIE_KEY])[:, tf.newaxis]


class VocabularySizes:
  """What the blend reads of a TFTransformOutput: vocabulary sizes."""

  def vocabulary_size_by_name(self, name):
    del name
    return 8


def test_a_warm_blend_fits_the_validation_ratings_it_is_given():
  """A warm run blends its members on the validation ratings newer than
  its base (trainer.unseen_validation), not on the whole split: there
  member A is right, on the older ratings member B is."""
  a = [1.0, 5.0, 2.0, 4.0, 3.0, 1.0, 5.0, 2.0]
  b = [3.0, 3.0, 4.0, 2.0, 1.0, 5.0, 3.0, 4.0]
  data = timed_data([1, 2, 3, 4, 5, 6, 7, 8], [10, 11, 12, 13, 30, 31, 32, 33])
  movies = data.validation[MOVIE_KEY].numpy()
  newer = data.validation[features.TIMESTAMP_KEY].numpy() > 20
  data.validation[features.LABEL_KEY] = tf.constant(
      np.where(newer, np.take(a, movies), np.take(b, movies)), tf.float32)
  data.train[features.LABEL_KEY] = tf.constant(
      np.where(np.arange(8) % 2, 5.0, 1.0), tf.float32)  # the rating range
  models = [MovieTable(a), MovieTable(b)]
  warm = trainer.unseen_validation(data, Base(20))
  _, warm_rmse = ensemble.fit_blend_on_validation(VocabularySizes(), data,
                                                  models, warm)
  _, whole_rmse = ensemble.fit_blend_on_validation(VocabularySizes(), data,
                                                   models)
  assert warm_rmse < 1e-4 < whole_rmse


class Captured(Exception):
  """What a stubbed fit_blend_on_validation was given."""


def test_train_ranking_blends_a_warm_run_on_its_unseen_validation(
    monkeypatch):
  """train_ranking hands the blend the warm validation ratings it was
  given (the members' training stubbed)."""
  data = timed_data([1, 2], [3, 30])
  warm = trainer.unseen_validation(data, Base(20))

  def fit_blend_on_validation(tf_transform_output, data, models,
                              validation=None):
    del tf_transform_output, data, models
    raise Captured(validation)

  monkeypatch.setattr(trainer, 'train_member', lambda *args: (None, {}))
  monkeypatch.setattr(ensemble, 'fit_blend_on_validation',
                      fit_blend_on_validation)
  hparams = Hyperparameters(model='tuned', autorec_units=8)
  assert len(ensemble.rating_members(hparams)) == 2
  for given in (warm, None):
    with pytest.raises(Captured) as captured:
      trainer.train_ranking(FnArgs(model_run_dir='logs'), None, hparams,
                            data, None, given)
    assert captured.value.args[0] is given
