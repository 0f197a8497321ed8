"""`tuner_fn`, the Tuner's entry point: a KerasTuner random search over the
rating model's hyperparameters, each trial fitted on the train split and
scored by its best epoch's validation RMSE (early stopping as in the
Trainer, which also keeps its best epoch). The eval split is never read.
The best values reach the Trainer through the Tuner's
`best_hyperparameters` artifact (`hyperparameters.tuned_values` reads them
there).
"""

import dataclasses
from typing import Dict, Optional

from absl import logging
import keras_tuner
from keras_tuner.engine import base_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx.components.trainer.fn_args_utils import FnArgs
from tfx.components.tuner.component import TunerFnResult

from trainer_module import code_fingerprint
from trainer_module import ranking_models
from trainer_module import trainer
from trainer_module.hyperparameters import DEFAULT_TUNE_TRIALS
from trainer_module.hyperparameters import Hyperparameters
from trainer_module.hyperparameters import TUNE_TRIALS_KEY

PROJECT_NAME = 'movielens_rating_model'
OBJECTIVE = 'val_rmse'  # the best epoch's validation RMSE, minimised


def search_space(model: str) -> keras_tuner.HyperParameters:
  """The values searched: learning rate and embedding size for every
  rating model, and the L2 penalty for one that has it (its values in
  ranking_models.RATING_MODELS)."""
  kind = ranking_models.RATING_MODELS[model]
  hp = keras_tuner.HyperParameters()
  hp.Choice('learning_rate', list(kind.learning_rates))
  hp.Choice('embedding_dim', [16, 32, 64])
  if kind.l2s:
    hp.Choice('l2', list(kind.l2s))
  return hp


class RatingHyperModel(keras_tuner.HyperModel):
  """Builds the preset's rating model with a trial's values."""

  def __init__(self, tf_transform_output: tft.TFTransformOutput,
               hparams: Hyperparameters,
               train: Optional[Dict[str, tf.Tensor]]):
    super().__init__()
    self._tf_transform_output = tf_transform_output
    self._hparams = hparams
    self._train = train

  def build(self, hp: keras_tuner.HyperParameters) -> tf.keras.Model:
    hparams = dataclasses.replace(self._hparams, **hp.values)
    return ranking_models.build_model(self._tf_transform_output, hparams,
                                      self._train)


class RatingModelTuner(base_tuner.BaseTuner):
  """Fits each trial's model and reports its best validation RMSE.

  KerasTuner's `Tuner` builds and fits through Keras 3 whenever Keras 3 is
  installed, while TFRS needs Keras 2 (tf_keras); its backend-free
  `BaseTuner` runs the trials here with tf_keras' own `fit`.
  """

  def run_trial(self, trial: keras_tuner.engine.trial.Trial,
                **fit_kwargs) -> Dict[str, float]:
    model = self.hypermodel.build(trial.hyperparameters)
    history = model.fit(**fit_kwargs)
    score = float(min(history.history[OBJECTIVE]))
    logging.info('trial %s: %s -> %s %.4f', trial.trial_id,
                 trial.hyperparameters.values, OBJECTIVE, score)
    return {OBJECTIVE: score}

  # TFX's Tuner executor calls these two; KerasTuner prints them to stdout,
  # here they go to the log (shown with --verbose).
  def search_space_summary(self, extended: bool = False) -> None:
    logging.info('search space: %s', self.oracle.get_space().get_config())

  def results_summary(self, num_trials: int = 10) -> None:
    for trial in self.oracle.get_best_trials(num_trials):
      logging.info('trial %s: %s %s', trial.trial_id,
                   trial.hyperparameters.values, trial.score)


def tuner_fn(fn_args: FnArgs) -> TunerFnResult:
  """The Tuner's search: a KerasTuner RandomSearch minimising validation
  RMSE, and the fit arguments of every trial.

  Args:
    fn_args: the Tuner's arguments: split files (train; `eval_files` is the
      validation split), Transform output, and `custom_config` holding
      Hyperparameters fields and `tune_trials`.

  Returns:
    The tuner and the arguments its `search` is called with.
  """
  config = fn_args.custom_config or {}
  code_fingerprint.check(config, code_fingerprint.trainer_fingerprint())
  hparams = Hyperparameters.from_custom_config(config)
  if hparams.seed is not None:
    tf.keras.utils.set_random_seed(hparams.seed)
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_graph_path)
  data = trainer.read_splits(fn_args, tf_transform_output, hparams)
  tuner = RatingModelTuner(
      keras_tuner.oracles.RandomSearchOracle(
          objective=keras_tuner.Objective(OBJECTIVE, direction='min'),
          max_trials=int(config.get(TUNE_TRIALS_KEY, DEFAULT_TUNE_TRIALS)),
          seed=hparams.seed, hyperparameters=search_space(hparams.model)),
      RatingHyperModel(tf_transform_output, hparams,
                       trainer.load_train_split(hparams, data)),
      directory=fn_args.working_dir, project_name=PROJECT_NAME,
      overwrite=True)
  return TunerFnResult(
      tuner=tuner, fit_kwargs=trainer.ranking_fit_args(fn_args, hparams, data))
