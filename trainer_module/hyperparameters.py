"""The Trainer's hyperparameters (TensorFlow-free: runners and tests read
them without importing TensorFlow)."""

import dataclasses
from typing import Any, Dict, Optional, Tuple

MODELS = ('tutorial', 'tuned', 'autorec')
OPTIMIZERS = ('adagrad', 'adam')
MAX_RETRIEVAL_CANDIDATES = 1000
# Training ratings past which the retrieval model takes its large batch
# (Hyperparameters.retrieval_large_batch_size): MovieLens 100k keeps the
# batch its settings were chosen with.
LARGE_RETRIEVAL_DATA = 500_000
# The Tuner's custom_config key: how many hyperparameter sets it tries
# (trainer_module/tuner.py).
TUNE_TRIALS_KEY = 'tune_trials'
DEFAULT_TUNE_TRIALS = 8


def _field(default: Any, help_text: str, low: Optional[float] = None,
           high: Optional[float] = None, above: Optional[float] = None,
           choices: Optional[Tuple[str, ...]] = None) -> Any:
  """A Hyperparameters field: its default, the help of its command-line
  flag (pipeline/cli.py makes one per field) and the values it allows
  (low <= v <= high, v > above, v in choices)."""
  return dataclasses.field(default=default, metadata=dict(
      help=help_text, low=low, high=high, above=above, choices=choices))


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
  """Training settings; the defaults are the tutorial's. Every field but
  `model` (chosen by --preset) is a command-line flag."""
  model: str = _field('tutorial', "the rating model: 'tutorial', 'tuned' "
                      "(TunedRankingModel) or 'autorec' (ItemAutoRec)",
                      choices=MODELS)
  epochs: int = _field(3, 'maximum epochs of the rating model', low=1)
  batch_size: int = _field(8192, "the rating model's batch size", low=1)
  learning_rate: float = _field(0.1, "the rating model's learning rate",
                                above=0)
  embedding_dim: int = _field(32, 'user and movie embedding size', low=1)
  optimizer: str = _field('adagrad', "the rating model's optimizer",
                          choices=OPTIMIZERS)
  l2: float = _field(0.0, "L2 penalty on the tuned model's embeddings",
                     low=0)
  early_stopping_patience: int = _field(
      0, 'epochs without a better validation RMSE before training stops and '
      'the best epoch is kept; 0: off', low=0)
  # The tuned model's ensemble (ranking_models.BlendedRankingModel): an
  # I-AutoRec beside it, blended by weights fitted on validation.
  autorec_units: int = _field(
      0, "code size of the I-AutoRec blended with the tuned model; 0: none",
      low=0)
  autorec_l2: float = _field(1e-3, "L2 penalty on the I-AutoRec's weights",
                             low=0)
  autorec_learning_rate: float = _field(
      2e-3, "the I-AutoRec's learning rate (Adam)", above=0)
  autorec_batch_size: int = _field(8192, "the I-AutoRec's batch size", low=1)
  refit: int = _field(
      0, '1: once validation has chosen each rating model\'s epochs (and '
      'the blend), train them again on train + validation for that many '
      'epochs; 0: keep the models trained on train', low=0, high=1)
  # The retrieval stage (trainer_module/retrieval_model.py) and how the
  # served `recommend` combines it with the rating model (serving.py).
  # Chosen on a validation set carved from MovieLens 100k's train split
  # (never the eval split): see README "Recommending".
  retrieval_epochs: int = _field(5, 'epochs of the retrieval model', low=1)
  # A warm run (trainer_module/warm_start.py: from the last blessed model,
  # with spans) continues training instead of starting over. The rating
  # model's settings were chosen on warm runs' validation ratings newer
  # than their base's (README "Weekly runs"): rows of people new to the
  # window need the cold learning rate and epochs.
  warm_epochs: int = _field(
      3, 'maximum epochs of the rating model in a warm run', low=1)
  # Recall@10 on the validation ratings newer than the base model's
  # training data chooses a warm run's retrieval epochs (none included;
  # trainer.unseen_validation), and the carried weights are shrunk first:
  # a model that only continues keeps fitting the older spans harder each
  # week and falls behind a fresh one ("shrink and perturb", Ash & Adams
  # 2020; README "Weekly runs" has the comparison).
  warm_retrieval_epochs: int = _field(
      5, 'maximum epochs of the retrieval model in a warm run', low=1)
  warm_retrieval_shrink: float = _field(
      0.5, "the retrieval model's carried weights are multiplied by it in a "
      'warm run', above=0, high=1)
  warm_retrieval_older_share: float = _field(
      1.0, 'the share of the ratings older than the base model\'s latest '
      'that a warm run\'s retrieval model fits on (a random sample; every '
      'newer rating is fitted): 1 fits the whole window', above=0, high=1)
  warm_learning_rate_scale: float = _field(
      1.0, "the rating models' learning rates in a warm run, as a share of "
      'the cold ones', above=0)
  # Chosen on 1M and 5M generated ratings with taste (bench/
  # retrieval_budget.py, the validation split; README "Scale"): recall
  # follows passes over the data, and below one pass it falls fast.
  retrieval_max_examples: int = _field(
      10_000_000, 'ratings the retrieval model goes through at most: fewer '
      'epochs than retrieval_epochs when they would take more, one at '
      'least; 0: no cap', low=0)
  retrieval_batch_size: int = _field(
      1024, "the retrieval model's batch size (in-batch softmax: the "
      'negatives per user)', low=1)
  # In-batch softmax costs batch^2 a batch: at 1M ratings 256 goes through
  # twice the ratings/s of 1024, with the same Recall@10 after each pass.
  retrieval_large_batch_size: int = _field(
      256, f"the retrieval model's batch size on more than "
      f'{LARGE_RETRIEVAL_DATA:,} training ratings', low=1)
  retrieval_learning_rate: float = _field(
      0.05, "the retrieval model's learning rate (Adagrad)", above=0)
  retrieval_embedding_dim: int = _field(64, 'retrieval tower output size',
                                        low=1)
  retrieval_oov_user_rate: float = _field(
      0.02, 'share of train users the retrieval model sees as unknown',
      low=0, high=1)
  # Every train rating is a positive; one below retrieval_liked_rating
  # (the user watched the movie and did not like it) weighs this much.
  retrieval_liked_rating: float = _field(
      4.0, 'a train rating below this is a weak retrieval positive')
  retrieval_disliked_weight: float = _field(
      0.3, "a weak positive's weight", low=0, high=1)
  retrieval_candidates: int = _field(
      100, 'N: movies retrieved, then re-scored by the rating model', low=1,
      high=MAX_RETRIEVAL_CANDIDATES)
  rerank_weight: float = _field(
      0.5, "recommend's score: retrieval score + this * predicted rating")
  # Training's logQ correction takes each movie's popularity out of the
  # retrieval score; serving puts this much of it back (README
  # "Recommending": chosen on validation).
  retrieval_popularity_weight: float = _field(
      0.25, "retrieval score served: the towers' + this * log of the "
      "movie's share of the training ratings", low=0)
  # With time-ordered eval (a folder of spans: pipeline/configs.py
  # spans_config) the newest ratings say most about next week's.
  retrieval_popularity_half_life_days: float = _field(
      0.0, "that share with each rating weighing half as much every this "
      "many days before the newest (0: every rating alike; needs "
      "timestamps)", low=0)
  # `recommend_from_ratings` (serving.FromRatings): a person known only by
  # the ratings they give at request time. Chosen by the new-user protocol
  # one step earlier (bench/new_users.py; never its new users): README
  # "New users". Its base counts every rating alike; span runs add no
  # popularity to it (pipeline/configs.py SPAN_NEW_USER_POPULARITY_WEIGHT).
  new_user_popularity_weight: float = _field(
      0.25, "recommend_from_ratings' base, the unknown user's list: its "
      "retrieval towers' score + this * log of the movie's share of the "
      'training ratings, every rating alike', low=0)
  new_user_knn_weight: float = _field(
      4.0, "recommend_from_ratings' score: the unknown user's retrieval "
      'score + this * the item-kNN score of the given ratings', low=0)
  new_user_knn_shrink: float = _field(
      10.0, 'item-kNN: cosine similarity shrunk by this many co-raters',
      low=0)
  new_user_knn_neighbors: int = _field(
      200, "recommend_from_ratings' tables (item-kNN and next): most "
      'similar movies kept per movie', low=1)
  new_user_next_weight: float = _field(
      3.0, "recommend_from_ratings' score: + this * what known users went "
      'on to like after rating the given titles first (item_neighbors.'
      'next_table; needs timestamps)', low=0)
  new_user_rating_center: float = _field(
      2.5, 'item-kNN: a given rating above this counts for its neighbours, '
      'below it against them')
  seed: Optional[int] = _field(42, 'random seed of training')

  def __post_init__(self):
    """Refuses a value its field does not allow, naming field and range."""
    for field in dataclasses.fields(self):
      value, allowed = getattr(self, field.name), field.metadata
      if value is None:
        continue
      if allowed['choices'] and value not in allowed['choices']:
        raise ValueError(f'unknown {field.name} {value!r}; one of '
                         f'{allowed["choices"]}')
      if allowed['choices']:
        continue
      low, high, above = allowed['low'], allowed['high'], allowed['above']
      if ((low is not None and value < low) or
          (high is not None and value > high) or
          (above is not None and not value > above)):
        bounds = (f'> {above}' if above is not None else
                  f'{low}..{high}' if high is not None else f'>= {low}')
        raise ValueError(f'{field.name} must be {bounds}, got {value}')

  @classmethod
  def from_custom_config(cls, custom_config: Optional[Dict[str, Any]]
                         ) -> 'Hyperparameters':
    """Reads the fields present in the Trainer's custom_config."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in (custom_config or {}).items()
                  if k in names})


def tuned_values(best_hyperparameters: Optional[Dict[str, Any]]
                 ) -> Dict[str, Any]:
  """The Hyperparameters fields a Tuner chose ({} without a Tuner), from
  the KerasTuner config (`{'space': [...], 'values': {...}}`) the Trainer
  gets as `fn_args.hyperparameters`."""
  names = {f.name for f in dataclasses.fields(Hyperparameters)}
  values = (best_hyperparameters or {}).get('values', {})
  return {k: v for k, v in values.items() if k in names}
