"""The Trainer's hyperparameters (TensorFlow-free: runners and tests read
them without importing TensorFlow)."""

import dataclasses
from typing import Any, Dict, Optional

MODELS = ('tutorial', 'tuned')
OPTIMIZERS = ('adagrad', 'adam')
MAX_RETRIEVAL_CANDIDATES = 1000
# The Tuner's custom_config key: how many hyperparameter sets it tries
# (trainer_module/tuner.py).
TUNE_TRIALS_KEY = 'tune_trials'
DEFAULT_TUNE_TRIALS = 8


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """Training settings; the defaults are the tutorial's."""
  model: str = 'tutorial'  # 'tutorial' or 'tuned' (see TunedRankingModel)
  epochs: int = 3
  batch_size: int = 8192
  learning_rate: float = 0.1
  embedding_dim: int = 32
  optimizer: str = 'adagrad'  # or 'adam'
  l2: float = 0.0  # L2 penalty on the tuned model's embeddings
  early_stopping_patience: int = 0  # epochs without a better eval RMSE; 0=off
  # The retrieval stage (trainer_module/retrieval_model.py) and how the
  # served `recommend` combines it with the rating model (serving.py).
  # Chosen on a validation set carved from MovieLens 100k's train split
  # (never the eval split): see README "Recommending".
  retrieval_epochs: int = 5
  retrieval_batch_size: int = 1024  # in-batch softmax: negatives per user
  retrieval_learning_rate: float = 0.05  # Adagrad
  retrieval_embedding_dim: int = 64
  retrieval_oov_user_rate: float = 0.02  # train users seen as unknown
  # Every train rating is a positive; one below retrieval_liked_rating
  # (the user watched the movie and did not like it) weighs this much.
  retrieval_liked_rating: float = 4.0
  retrieval_disliked_weight: float = 0.3
  retrieval_candidates: int = 100  # N: retrieved, then re-scored
  # recommend's score: retrieval score + rerank_weight * predicted rating
  # (the tutorial preset's; the tuned preset's is 0.25: pipeline/configs.py).
  rerank_weight: float = 0.5
  seed: Optional[int] = 42

  @classmethod
  def from_custom_config(cls, custom_config: Optional[Dict[str, Any]]):
    """Reads the fields present in the Trainer's custom_config."""
    names = {f.name for f in dataclasses.fields(cls)}
    hparams = cls(**{k: v for k, v in (custom_config or {}).items()
                     if k in names})
    if hparams.model not in MODELS:
      raise ValueError(f'unknown model {hparams.model!r}; one of {MODELS}')
    if hparams.optimizer not in OPTIMIZERS:
      raise ValueError(
          f'unknown optimizer {hparams.optimizer!r}; one of {OPTIMIZERS}')
    if not 1 <= hparams.retrieval_candidates <= MAX_RETRIEVAL_CANDIDATES:
      raise ValueError(
          f'retrieval_candidates must be 1..{MAX_RETRIEVAL_CANDIDATES}, got '
          f'{hparams.retrieval_candidates}')
    if not 0.0 <= hparams.retrieval_disliked_weight <= 1.0:
      raise ValueError(
          'retrieval_disliked_weight must be 0..1, got '
          f'{hparams.retrieval_disliked_weight}')
    return hparams


def tuned_values(best_hyperparameters: Optional[Dict[str, Any]]
                 ) -> Dict[str, Any]:
  """The Hyperparameters fields a Tuner chose ({} without a Tuner), from
  the KerasTuner config (`{'space': [...], 'values': {...}}`) the Trainer
  gets as `fn_args.hyperparameters`."""
  names = {f.name for f in dataclasses.fields(Hyperparameters)}
  values = (best_hyperparameters or {}).get('values', {})
  return {k: v for k, v in values.items() if k in names}
