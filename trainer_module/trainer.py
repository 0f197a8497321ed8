"""`run_fn`, the Trainer's entry point: trains the rating model
(ranking_models.py) and the retrieval model (retrieval_model.py) on
Transform's output and exports both as one served bundle (serving.py).
"""

import dataclasses
import json
import os
import time
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs

from trainer_module import code_fingerprint
from trainer_module import ensemble
from trainer_module import features
from trainer_module import hyperparameters
from trainer_module import item_neighbors
from trainer_module import ranking_models
from trainer_module import retrieval_model
from trainer_module import serving
from trainer_module import splits
from trainer_module import warm_start
from trainer_module.hyperparameters import Hyperparameters
from trainer_module.hyperparameters import tuned_values


class TrainingClock(tf.keras.callbacks.Callback):
  """Seconds spent training (each epoch up to its validation pass)."""

  def __init__(self):
    super().__init__()
    self.train_seconds = 0.0
    self.epochs = 0
    self._epoch_start = None

  def on_epoch_begin(self, epoch, logs=None):
    self._epoch_start = time.monotonic()

  def _stop(self):
    if self._epoch_start is not None:
      self.train_seconds += time.monotonic() - self._epoch_start
      self.epochs += 1
      self._epoch_start = None

  def on_test_begin(self, logs=None):
    self._stop()

  def on_epoch_end(self, epoch, logs=None):
    self._stop()


class BestOnValidation(tf.keras.callbacks.Callback):
  """Keeps the weights of the epoch with the best validation figure,
  epoch 0 (the weights carried from the base model) included, and leaves
  the model with them: validation chooses a warm run's epochs, none
  included. The figure is `measure(model, logs)` after each epoch (lower
  is better unless `higher_is_better`); with `patience`, training stops
  after that many epochs in a row without a better one."""

  def __init__(self, carried: float,
               measure: Callable[[tf.keras.Model, Dict[str, float]], float],
               higher_is_better: bool = False,
               patience: Optional[int] = None):
    super().__init__()
    self.carried = self.best = carried
    self.measure, self.higher_is_better = measure, higher_is_better
    self.patience = patience
    self.epoch = 0
    self.figures: List[float] = []
    self._weights = None

  def on_train_begin(self, logs=None):
    self._weights = self.model.get_weights()

  def on_epoch_end(self, epoch, logs=None):
    figure = float(self.measure(self.model, logs))
    self.figures.append(figure)
    if (figure > self.best) if self.higher_is_better else (
        figure < self.best):
      self.best, self.epoch = figure, epoch + 1
      self._weights = self.model.get_weights()
    elif self.patience and epoch + 1 - self.epoch >= self.patience:
      self.model.stop_training = True

  def on_train_end(self, logs=None):
    self.model.set_weights(self._weights)


def logged_val_rmse(model: tf.keras.Model, logs: Dict[str, float]) -> float:
  """The epoch's validation RMSE as Keras logged it."""
  del model
  return logs['val_rmse']


TRAINING_STATS_FILE = 'training_stats.json'


def write_training_stats(model_run_dir: str, stats: Dict[str, Any]) -> None:
  """Writes TRAINING_STATS_FILE next to the TensorBoard logs."""
  tf.io.gfile.makedirs(model_run_dir)
  with tf.io.gfile.GFile(
      os.path.join(model_run_dir, TRAINING_STATS_FILE), 'w') as f:
    json.dump(stats, f, indent=2)


def read_splits(fn_args: FnArgs,
                tf_transform_output: tft.TFTransformOutput,
                hparams: Hyperparameters) -> splits.TrainingData:
  """Loads the train and validation splits (FnArgs' train and eval files):
  the features the model reads, transformed, the label, and the ratings'
  times where the data has them and training reads them."""
  keys = ranking_models.model_feature_keys(tf_transform_output, hparams)
  # The ratings' times, for recommend_from_ratings' what-people-like-next
  # table and the served popularity's recency, where the data has them.
  # A warm run's validation: the ratings newer than its base model's.
  timed = ((hparams.new_user_next_weight > 0 or
            hparams.retrieval_popularity_half_life_days > 0 or
            bool(fn_args.base_model)) and
           features.TIMESTAMP_KEY in tf_transform_output.raw_feature_spec())
  parser = splits.SplitParser(tf_transform_output, keys,
                              [features.TIMESTAMP_KEY] if timed else [])
  return splits.TrainingData(keys, *(
      splits.load_split(splits.split_files(patterns), parser)
      for patterns in (fn_args.train_files, fn_args.eval_files)))


def epoch_logger(name: str, epochs: int) -> tf.keras.callbacks.Callback:
  """Logs each epoch's metrics."""
  return tf.keras.callbacks.LambdaCallback(
      on_epoch_end=lambda epoch, logs: logging.info(
          '%s epoch %d/%d: %s', name, epoch + 1, epochs,
          ', '.join(f'{k} {v:.4f}' for k, v in logs.items())))


def ranking_fit_args(fn_args: FnArgs,
                     hparams: Hyperparameters, data: splits.TrainingData
                     ) -> Dict[str, Any]:
  """The rating model's `fit` arguments (the Trainer's and every Tuner
  trial's): shuffled train batches, the validation split, and early
  stopping on validation RMSE that keeps the best epoch's weights."""
  callbacks = []
  if hparams.early_stopping_patience:
    callbacks.append(tf.keras.callbacks.EarlyStopping(
        monitor='val_rmse', mode='min',
        patience=hparams.early_stopping_patience, restore_best_weights=True))
  return {
      'x': splits.batches(data.train, data.keys, hparams.batch_size,
                          shuffle=True, seed=hparams.seed),
      'epochs': hparams.epochs, 'steps_per_epoch': fn_args.train_steps,
      'validation_data': splits.batches(data.validation, data.keys,
                                        hparams.batch_size),
      'validation_steps': fn_args.eval_steps, 'callbacks': callbacks,
      'verbose': 0,
  }


def load_tables(hparams: Hyperparameters, split: Dict[str, tf.Tensor]
                ) -> Optional[Dict[str, tf.Tensor]]:
  """`split`, for the tables of a model built from its data
  (ranking_models.RATING_MODELS); None for a model that needs none."""
  return split if ranking_models.RATING_MODELS[
      hparams.model].built_from_data else None


def load_train_split(hparams: Hyperparameters, data: splits.TrainingData
                     ) -> Optional[Dict[str, tf.Tensor]]:
  """The train split in memory, for the tables of the tuned model and the
  I-AutoRec (None for a model that needs none)."""
  return load_tables(hparams, data.train)


def fit_stats(history: tf.keras.callbacks.History, clock: TrainingClock,
              examples: int) -> Dict[str, Any]:
  """A fit's epochs, best validation epoch and RMSE, and speed."""
  val_rmse = history.history.get('val_rmse', [])
  return {
      'epochs_run': clock.epochs,
      'best_epoch': int(np.argmin(val_rmse)) + 1 if val_rmse else None,
      'best_val_rmse': float(min(val_rmse)) if val_rmse else None,
      'train_seconds': round(clock.train_seconds, 3),
      'train_examples_per_second': round(
          clock.epochs * examples / clock.train_seconds, 1)
                                   if clock.train_seconds else None,
  }


def member_key(model: str) -> str:
  """The name a rating model's weights are saved under for warm start (by
  its kind, Hyperparameters.model)."""
  return f'ranking-{model}'


def warm_hparams(hparams: Hyperparameters,
                 base: Optional[warm_start.WarmStart], key: str
                 ) -> Optional[Hyperparameters]:
  """The settings a model continues from the base run's weights `key`
  with: warm_epochs (rating models: at most) and warm_retrieval_epochs, the
  rating models' learning rates scaled by warm_learning_rate_scale (a fresh
  optimizer's first steps are its largest, and RMSE suffers from them);
  None when there is no base or no such weights."""
  if base is None or not base.has(key):
    return None
  scale = hparams.warm_learning_rate_scale
  return dataclasses.replace(
      hparams, epochs=hparams.warm_epochs,
      retrieval_epochs=hparams.warm_retrieval_epochs,
      learning_rate=hparams.learning_rate * scale,
      autorec_learning_rate=hparams.autorec_learning_rate * scale)


def warm(model: tf.keras.Model, inputs: Dict[str, tf.Tensor],
         base: warm_start.WarmStart, key: str,
         tf_transform_output: tft.TFTransformOutput) -> warm_start.Carried:
  """Builds `model` on two rows of `inputs` and carries the base run's
  weights `key` into it."""
  model({name: values[:2] for name, values in inputs.items()})
  return base.restore(key, model, tf_transform_output)


def train_member(fn_args: FnArgs,
                 tf_transform_output: tft.TFTransformOutput,
                 hparams: Hyperparameters, data: splits.TrainingData, name: str,
                 log_dir: str, base: Optional[warm_start.WarmStart] = None,
                 warm_validation: Optional[Dict[str, tf.Tensor]] = None
                 ) -> Tuple[ranking_models.MovieLensModel, Dict[str, Any]]:
  """One rating model (`hparams` from member_hparams), fitted on train
  and validated (early stopping, best epoch kept) on validation; its
  TensorBoard logs in `log_dir`. From `base`'s weights, when given, for at
  most `warm_epochs`, validated on `warm_validation` (unseen_validation;
  without it, warm_epochs and no choice)."""
  warm_settings = warm_hparams(hparams, base, member_key(hparams.model))
  hparams = warm_settings or hparams
  model = ranking_models.build_model(tf_transform_output, hparams,
                                     load_train_split(hparams, data))
  carried, best = None, None
  clock = TrainingClock()
  fit_args = ranking_fit_args(fn_args, hparams, data)
  if warm_settings:
    carried = warm(model, {k: data.train[k] for k in data.keys}, base,
                   member_key(hparams.model), tf_transform_output)
    if warm_validation is None:  # nothing to choose on: warm_epochs
      for key in ('validation_data', 'validation_steps'):
        fit_args.pop(key)
      fit_args['callbacks'] = []
    else:
      fit_args.update(
          validation_data=splits.batches(warm_validation, data.keys,
                                         hparams.batch_size),
          validation_steps=None)
      best = BestOnValidation(validation_rmse(model, hparams, warm_validation,
                                              data.keys), logged_val_rmse)
      fit_args['callbacks'].append(best)
  fit_args['callbacks'] += [
      tf.keras.callbacks.TensorBoard(log_dir=log_dir, update_freq='epoch'),
      epoch_logger(name, hparams.epochs), clock,
  ]
  history = model.fit(**fit_args)
  stats = fit_stats(history, clock, data.train_examples)
  if best:
    stats.update(best_epoch=best.epoch, best_val_rmse=best.best,
                 carried_val_rmse=best.carried)
  return model, {**stats,
                 'warm_start': dataclasses.asdict(carried) if carried else None}


def validation_rmse(model: tf.keras.Model, hparams: Hyperparameters,
                    validation: Dict[str, tf.Tensor], keys: List[str]
                    ) -> float:
  """The model's RMSE on `validation` (ratings as the splits hold them;
  `keys`: the model's features)."""
  return float(model.evaluate(
      splits.batches(validation, keys, hparams.batch_size),
      return_dict=True, verbose=0)['rmse'])


def unseen_validation(data: splits.TrainingData, base: warm_start.WarmStart
                      ) -> Optional[Dict[str, tf.Tensor]]:
  """The validation ratings given after the latest rating `base` trained
  on: what a warm run chooses its epochs on. A cold run trains retrieval
  (and, with refit, the rating models) on train + validation, so the rest
  of the validation split may be the base's training data, which the
  carried weights would win on. None (logged) when the data or the base
  has no times, or no validation rating is newer."""
  newer = newer_than_base(data.validation, base)
  if newer is None:
    logging.warning('the data or the base model has no rating times: a warm '
                    'run trains its maximum epochs, none chosen')
    return None
  if not bool(tf.reduce_any(newer)):
    logging.warning('no validation rating is newer than the base model\'s '
                    'latest (%d): a warm run trains its maximum epochs, '
                    'none chosen', base.latest_timestamp)
    return None
  return splits.rows_where(data.validation, newer)


def newer_than_base(split: Dict[str, tf.Tensor], base: warm_start.WarmStart
                    ) -> Optional[tf.Tensor]:
  """Which ratings of `split` were given after the latest one `base`
  trained on ([n] bools); None when the split or the base has no times."""
  times = split.get(features.TIMESTAMP_KEY)
  if times is None or base.latest_timestamp is None:
    return None
  return times > base.latest_timestamp


def warm_sample(split: Dict[str, tf.Tensor], base: warm_start.WarmStart,
                older_share: float, seed: Optional[int]
                ) -> Dict[str, tf.Tensor]:
  """The ratings of `split` a warm run fits on: every rating newer than the
  latest one `base` trained on, and a random `older_share` of the others
  (which the carried weights have fitted already). The whole split when
  the share is 1 or the data or the base has no times."""
  newer = newer_than_base(split, base) if older_share < 1 else None
  if newer is None:
    return split
  draw = tf.random.stateless_uniform(tf.shape(newer), [seed or 0, 1])
  return splits.rows_where(split, newer | (draw < older_share))


def latest_timestamp(data: splits.TrainingData) -> Optional[int]:
  """The time of the latest rating of train + validation; None when the
  splits have no times."""
  times = data.both.get(features.TIMESTAMP_KEY)
  if times is None or not int(tf.size(times)):
    return None
  latest = int(tf.reduce_max(times))
  return latest if latest >= 0 else None


def refit_member(tf_transform_output: tft.TFTransformOutput,
                 hparams: Hyperparameters, data: splits.TrainingData, epochs: int,
                 name: str, base: Optional[warm_start.WarmStart] = None
                 ) -> ranking_models.MovieLensModel:
  """Rating model `hparams` trained again on train + validation for the
  `epochs` validation chose (its tables from both splits too), from
  `base`'s weights when given."""
  if hparams.seed is not None:
    tf.keras.utils.set_random_seed(hparams.seed)
  warm_settings = warm_hparams(hparams, base, member_key(hparams.model))
  model = ranking_models.build_model(tf_transform_output,
                                     warm_settings or hparams,
                                     load_tables(hparams, data.both))
  if warm_settings:
    warm(model, {k: data.both[k] for k in data.keys}, base,
         member_key(hparams.model), tf_transform_output)
  model.fit(splits.batches(data.both, data.keys, hparams.batch_size,
                           shuffle=True, seed=hparams.seed),
            epochs=epochs, callbacks=[epoch_logger(f'{name} refit', epochs)],
            verbose=0)
  return model


def freeze(ranking_model: tf.keras.Model) -> None:
  """Fixes what a trained rating model can compute once for serving (the
  I-AutoRec's movie codes); other models have nothing to fix."""
  if isinstance(ranking_model, ranking_models.ItemAutoRec):
    ranking_model.freeze()


def train_ranking(fn_args: FnArgs,
                  tf_transform_output: tft.TFTransformOutput,
                  hparams: Hyperparameters, data: splits.TrainingData,
                  base: Optional[warm_start.WarmStart] = None,
                  warm_validation: Optional[Dict[str, tf.Tensor]] = None
                  ) -> Tuple[ranking_models.MovieLensModel, Dict[str, Any],
                             Dict[str, tf.keras.Model]]:
  """The rating model, trained (from `base`'s weights when given, its
  epochs chosen on `warm_validation`: train_member); its
  stats (the first member's at the top level, every member's under
  'members'); and each member as exported, by its warm-start name.

  Each member is fitted on train and selected on validation; the members
  are blended by least-squares weights on validation (a warm run's:
  `warm_validation` where it has one; BlendedRankingModel;
  a lone member too when refitted); with `refit` each is then trained again
  on train + validation for its chosen epochs, and the blend keeps its
  weights.
  """
  names = ensemble.rating_members(hparams)
  # The first member's logs are the run's (the report's curves); the
  # others' in a folder each.
  trained = [train_member(
      fn_args, tf_transform_output,
      ensemble.member_hparams(hparams, name), data,
      'ranking' if len(names) == 1 else name,
      fn_args.model_run_dir if i == 0 else os.path.join(
          fn_args.model_run_dir, name), base, warm_validation)
             for i, name in enumerate(names)]
  stats = {**trained[0][1], 'members': {
      name: member_stats for name, (_, member_stats) in zip(names, trained)}}
  if len(names) == 1 and not hparams.refit:
    freeze(trained[0][0].ranking_model)
    return trained[0][0], stats, {member_key(names[0]): trained[0][0]}
  # A warm run blends on what its base never trained on, as it chose.
  weights, blend_rmse = ensemble.fit_blend_on_validation(
      tf_transform_output, data, [model for model, _ in trained],
      warm_validation)
  stats.update(blend_weights=[round(float(w), 4) for w in weights],
               blend_val_rmse=round(blend_rmse, 4), refit=hparams.refit)
  models = [model.ranking_model for model, _ in trained]
  pairs = data.train
  if hparams.refit:
    start = time.monotonic()
    models = [refit_member(
        tf_transform_output, ensemble.member_hparams(hparams, name),
        data, member_stats['best_epoch'] or member_stats['epochs_run'],
        name, base).ranking_model
              for name, (_, member_stats) in zip(names, trained)]
    pairs = data.both
    stats['refit_seconds'] = round(time.monotonic() - start, 3)
  for model in models:
    freeze(model)
  members = {member_key(name): ranking_models.MovieLensModel(model)
             for name, model in zip(names, models)}
  return ranking_models.MovieLensModel(ensemble.BlendedRankingModel(
      models, weights, ensemble.rating_range(data), *ensemble.rating_counts(
          pairs, *ranking_models.embedding_rows(tf_transform_output)))), (
              stats), members


def rated_movies(tf_transform_output: tft.TFTransformOutput,
                 *pairs: Dict[str, tf.Tensor]) -> tf.RaggedTensor:
  """Row u: the movie ids user u rated in `pairs` (splits' user and movie
  ids), one row per user in the vocabulary; the out-of-vocabulary id's
  (unknown users) empty, and out-of-vocabulary movies left out."""
  known_users, known_movies = (
      tf_transform_output.vocabulary_size_by_name(features.vocabulary_name(key))
      for key in (features.USER_ID_KEY, features.MOVIE_TITLE_KEY))
  users = tf.concat([p[splits.USER_KEY] for p in pairs], axis=0)
  movies = tf.concat([p[splits.MOVIE_KEY] for p in pairs], axis=0)
  known = (users < known_users) & (movies < known_movies)
  return ranking_models.rated_movies_per_user(
      {splits.USER_KEY: users[known], splits.MOVIE_KEY: movies[known]},
      ranking_models.embedding_rows_of(tf_transform_output,
                                       features.USER_ID_KEY))


class RetrievalSchedule(NamedTuple):
  """How the retrieval model goes through its training ratings."""
  epochs: int
  batch_size: int


def retrieval_schedule(examples: int, hparams: Hyperparameters
                       ) -> RetrievalSchedule:
  """The retrieval model's epochs and batch size over `examples` ratings:
  `retrieval_epochs`, fewer (one at least) when they would go through
  more than `retrieval_max_examples`; the large batch on large data."""
  budget = hparams.retrieval_max_examples
  epochs = hparams.retrieval_epochs
  if budget and epochs * examples > budget:
    epochs = max(1, budget // examples)
  return RetrievalSchedule(epochs, (
      hparams.retrieval_large_batch_size
      if examples > hyperparameters.LARGE_RETRIEVAL_DATA
      else hparams.retrieval_batch_size))


def new_retrieval_model(tf_transform_output: tft.TFTransformOutput,
                        train_movies: np.ndarray, hparams: Hyperparameters,
                        timed: Optional[Dict[str, tf.Tensor]] = None
                        ) -> retrieval_model.RetrievalModel:
  """The compiled, untrained retrieval model for Transform's vocabularies;
  `train_movies`: the movie id of every rating it will train on; `timed`:
  ratings whose times weigh the served popularity, where they have them."""
  num_movies = ranking_models.embedding_rows_of(tf_transform_output,
                                                features.MOVIE_TITLE_KEY)
  timestamps = (timed or {}).get(features.TIMESTAMP_KEY)
  served = None if timestamps is None else (
      retrieval_model.served_probability(
          timed[splits.MOVIE_KEY].numpy(), timestamps.numpy(), num_movies,
          hparams))
  return retrieval_model.build_retrieval_model(
      ranking_models.embedding_rows_of(tf_transform_output,
                                       features.USER_ID_KEY),
      num_movies, train_movies, hparams, served)


RETRIEVAL_KEY = 'retrieval'  # the retrieval model's warm-start name


def train_retrieval(tf_transform_output: tft.TFTransformOutput,
                    hparams: Hyperparameters, data: splits.TrainingData,
                    rated: tf.RaggedTensor,
                    base: Optional[warm_start.WarmStart] = None,
                    warm_validation: Optional[Dict[str, tf.Tensor]] = None
                    ) -> Tuple[retrieval_model.RetrievalModel, Dict[str, Any]]:
  """The retrieval model, trained on every rating of the training data
  (train and validation; `rated`: their movies per user) as a positive.

  A cold run selects nothing at run time (fixed epochs, capped on large
  data by retrieval_schedule; its settings were chosen by hand on a
  hold-out of train, README "Recommending"), so validation is not held
  out from it: the user's whole known history is what retrieval learns
  from, and what `recommend` leaves out. A warm run (`base`) trains on
  train and lets `warm_validation` (the validation ratings newer than the
  base's: unseen_validation) choose its epochs (retrieval_validation);
  without it, it trains warm_retrieval_epochs on train and validation.
  With warm_retrieval_older_share below 1 a warm run's train is a sample
  (warm_sample): the newer ratings and that share of the older ones.
  """
  if hparams.seed is not None:  # the same whatever the rating model did
    tf.keras.utils.set_random_seed(hparams.seed)
  warm_settings = warm_hparams(hparams, base, RETRIEVAL_KEY)
  hparams = warm_settings or hparams
  model = new_retrieval_model(tf_transform_output, rated.values.numpy(),
                              hparams, data.both)
  carried, best, fit_data = None, None, data.both
  if warm_settings:
    model.build_towers()
    carried = base.restore(RETRIEVAL_KEY, model, tf_transform_output,
                           shrink=hparams.warm_retrieval_shrink)
    if warm_validation is not None:
      best = retrieval_validation(model, data.train, warm_validation,
                                  hparams)
    train = warm_sample(data.train, base,
                        hparams.warm_retrieval_older_share, hparams.seed)
    # Validation chooses the epochs, so it is held out of them.
    if best:
      fit_data = train
    elif train is not data.train:  # a sample (data.both is the whole)
      fit_data = splits.concat(train, data.validation)
  examples = int(tf.size(fit_data[features.LABEL_KEY]))
  epochs, batch_size = retrieval_schedule(examples, hparams)
  clock = TrainingClock()
  model.fit(
      splits.batches(fit_data,
                     [splits.USER_KEY, splits.MOVIE_KEY],
                     batch_size, shuffle=True, seed=hparams.seed),
      epochs=epochs,
      callbacks=[epoch_logger('retrieval', epochs), clock,
                 *([best] if best else [])],
      verbose=0)
  return model, {
      'retrieval_train_examples': examples,
      'retrieval_epochs_run': clock.epochs,
      'retrieval_examples_seen': clock.epochs * examples,
      'retrieval_batch_size': batch_size,
      'retrieval_train_seconds': round(clock.train_seconds, 3),
      'retrieval_warm_start': dataclasses.asdict(carried) if carried else None,
      'warm_validation_examples': (
          int(tf.size(warm_validation[features.LABEL_KEY]))
          if warm_settings and warm_validation is not None else None),
      'retrieval_best_epoch': best.epoch if best else None,
      'retrieval_val_recall_at_10': (
          [best.carried, *best.figures] if best else None),
  }


def retrieval_validation(model: retrieval_model.RetrievalModel,
                         train: Dict[str, tf.Tensor],
                         validation: Dict[str, tf.Tensor],
                         hparams: Hyperparameters
                         ) -> Optional[BestOnValidation]:
  """The callback that keeps a warm retrieval model's epoch (none
  included) with the best Recall@10 on `validation` (each user's `train`
  movies left out), and stops training after two epochs in a row that do
  not improve it; None when `validation` has no liked rating of a known
  user to score."""
  held = retrieval_model.held_out_users(
      train, validation, hparams.retrieval_liked_rating,
      model.num_users, model.movie_tower.input_dim, seed=hparams.seed or 0)
  if held is None:
    logging.warning('the validation ratings have no liked rating of a known '
                    'user: the warm retrieval model trains its '
                    'warm_retrieval_epochs on train and validation')
    return None

  def recall(trained: tf.keras.Model, logs: Optional[Dict[str, float]] = None
             ) -> float:
    del logs
    return retrieval_model.recall_at_k(trained, held)
  return BestOnValidation(recall(model), recall, higher_is_better=True,
                          patience=2)


def from_ratings(retrieval: retrieval_model.RetrievalModel,
                 rated: tf.RaggedTensor, both: Dict[str, tf.Tensor],
                 hparams: Hyperparameters) -> serving.FromRatings:
  """`recommend_from_ratings`' stage: the retrieval model's scores of every
  known movie for the out-of-vocabulary user, the item-kNN table of the
  training data (`rated`: each known user's known movies) and, where
  `both` (train and validation) has the ratings' times, the
  what-people-like-next table."""
  num_movies = retrieval.movie_tower.input_dim - features.NUM_OOV_BUCKETS
  unknown_user = retrieval.num_users - features.NUM_OOV_BUCKETS
  movies = retrieval.movie_tower(tf.range(num_movies, dtype=tf.int64))
  # The unknown user's towers and popularity, every rating alike (on a
  # hash split with the default weights, what `retrieve` scores for an
  # unknown id).
  generic = (tf.linalg.matvec(movies, retrieval.user_tower(
      tf.constant([unknown_user], tf.int64))[0]) + retrieval.popularity_prior(
          hparams.new_user_popularity_weight, num_movies,
          recent=False)).numpy()
  ids, sims = item_neighbors.neighbor_table(
      rated.value_rowids().numpy(), rated.values.numpy(),
      int(rated.nrows()), num_movies, hparams.new_user_knn_neighbors,
      hparams.new_user_knn_shrink, seed=hparams.seed or 0)
  return serving.FromRatings(generic, ids, sims, hparams.new_user_knn_weight,
                             hparams.new_user_rating_center,
                             *next_table(both, unknown_user, num_movies,
                                         hparams))


def next_table(both: Dict[str, tf.Tensor], unknown_user: int,
               num_movies: int, hparams: Hyperparameters
               ) -> Tuple[np.ndarray, np.ndarray, float]:
  """(ids, sims, weight) of item_neighbors.next_table over the known users'
  timed ratings of known movies; an empty table and weight 0 where the
  data has no times (or the weight is 0)."""
  timestamps = both.get(features.TIMESTAMP_KEY)
  if timestamps is None:
    empty = np.zeros((num_movies + 1, 1))
    return empty.astype(np.int32), empty.astype(np.float32), 0.0
  users, movies = (both[key].numpy() for key in (splits.USER_KEY,
                                                 splits.MOVIE_KEY))
  timestamps = timestamps.numpy()
  keep = (users < unknown_user) & (movies < num_movies) & (timestamps >= 0)
  ids, sims = item_neighbors.next_table(
      users[keep], movies[keep], timestamps[keep],
      both[features.LABEL_KEY].numpy()[keep], num_movies,
      hparams.new_user_knn_neighbors, item_neighbors.PREFIXES,
      hparams.retrieval_liked_rating)
  return ids, sims, hparams.new_user_next_weight


def run_fn(fn_args: FnArgs) -> None:
  """Trains the rating and retrieval models and exports the served bundle
  to `fn_args.serving_model_dir` (the Trainer's entry point).

  Args:
    fn_args: the Trainer's arguments: split files (train; `eval_files` is
      the validation split), Transform output, `custom_config` holding
      Hyperparameters fields, and the Tuner's `hyperparameters` if it ran.
  """
  code_fingerprint.check(fn_args.custom_config,
                         code_fingerprint.trainer_fingerprint())
  # The Tuner's best values, when it ran, over the preset's.
  hparams = Hyperparameters.from_custom_config({
      **(fn_args.custom_config or {}),
      **tuned_values(fn_args.hyperparameters)})
  logging.info('Training with %s', hparams)
  if hparams.seed is not None:
    tf.keras.utils.set_random_seed(hparams.seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  # The last blessed model, when the pipeline gives one (a folder of
  # spans: components/warm_start_model.py).
  base = warm_start.WarmStart(warm_start.warm_start_dir(
      fn_args.base_model)) if fn_args.base_model else None

  start = time.monotonic()
  data = read_splits(fn_args, tf_transform_output, hparams)
  load_seconds = time.monotonic() - start
  # What a warm run chooses its epochs on, once for every model.
  warm_validation = unseen_validation(data, base) if base else None
  ranking, ranking_stats, members = train_ranking(
      fn_args, tf_transform_output, hparams, data, base, warm_validation)
  # What each user rated: retrieval's positives, and what `recommend`
  # leaves out.
  rated = rated_movies(tf_transform_output, data.both)
  retrieval, retrieval_stats = train_retrieval(tf_transform_output, hparams,
                                               data, rated, base,
                                               warm_validation)
  warm_start.save(warm_start.warm_start_dir(fn_args.serving_model_dir),
                  {**members, RETRIEVAL_KEY: retrieval}, tf_transform_output,
                  latest_timestamp(data))

  start = time.monotonic()
  recommender = serving.Recommender(
      retrieval, ranking, tf_transform_output.vocabulary_size_by_name(
          features.vocabulary_name(features.MOVIE_TITLE_KEY)),
      rated, hparams.retrieval_candidates, hparams.rerank_weight,
      hparams.retrieval_popularity_weight)
  serving.export_serving_model(ranking, tf_transform_output, recommender,
                               from_ratings(retrieval, rated, data.both,
                                            hparams),
                               fn_args.serving_model_dir)
  stats = {
      'model': hparams.model,
      'from_tuner': tuned_values(fn_args.hyperparameters),
      'base_model': fn_args.base_model,
      'train_examples': data.train_examples,
      'validation_examples': data.validation_examples,
      'load_seconds': round(load_seconds, 3),
      **ranking_stats,
      **retrieval_stats,
      'export_seconds': round(time.monotonic() - start, 3),
  }
  logging.info('training stats: %s', stats)
  write_training_stats(fn_args.model_run_dir, stats)
