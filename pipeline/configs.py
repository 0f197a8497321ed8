"""Every tunable value of the pipeline, in one place."""

import dataclasses
import os
from typing import Any, Mapping, Optional, Sequence, Tuple

from components import ratings_source
from components import split_names
from trainer_module import features
from trainer_module import hyperparameters
from trainer_module.hyperparameters import Hyperparameters

PIPELINE_NAME = 'movielens-ranking'
DEFAULT_DATASET = ratings_source.DEFAULT_DATASET
DEFAULT_OUTPUT_DIR = os.path.join('runs', 'local')
MANUAL_DIR_ENV = 'MOVIELENS_MANUAL_DIR'

# Module paths of user code (installed with this package).
PREPROCESSING_FN = 'trainer_module.preprocessing.preprocessing_fn'
RUN_FN = 'trainer_module.trainer.run_fn'
TUNER_FN = 'trainer_module.tuner.tuner_fn'
DEFAULT_TUNE_TRIALS = hyperparameters.DEFAULT_TUNE_TRIALS  # --tune

RMSE_CHANGE_TOLERANCE = 1e-10  # change gate: no worse than the baseline

# The recommender's top-N evaluation and gates
# (components/recommender_evaluator.py): Recall@K of each eval user's top K
# unrated movies, relevant = eval ratings >= TOP_N_MIN_RATING. A bundle is
# blessed only if its Recall@K is at least the most popular list's and at
# most RECALL_CHANGE_TOLERANCE below the last blessed bundle's.
TOP_N_K = 10
TOP_N_MIN_RATING = 4.0
RECALL_CHANGE_TOLERANCE = 0.01

# The reviewed schemas ImportSchemaGen imports (README: "The schema"):
# MovieLens 100k's columns (also for --ratings-csv / --ratings-parquet and
# the synthetic data), and those of the TFDS configs with other columns.
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          'schema')
SCHEMA_PATH = os.path.join(SCHEMA_DIR, 'schema.pbtxt')
DATASET_SCHEMAS = {
    'movielens/1m-ratings': os.path.join(SCHEMA_DIR, 'movielens_1m.pbtxt'),
    **{f'movielens/{name}-ratings': os.path.join(SCHEMA_DIR,
                                                 'movielens_20m.pbtxt')
       for name in ('20m', '25m', 'latest-small')},
}


RATINGS_ONLY_SCHEMA_PATH = os.path.join(SCHEMA_DIR, 'ratings_only.pbtxt')
RATINGS_ONLY_COLUMNS = (features.USER_ID_KEY, features.MOVIE_TITLE_KEY,
                        features.LABEL_KEY, features.TIMESTAMP_KEY)


def default_schema(dataset: Optional[str] = None) -> str:
  """The reviewed schema of a TFDS config; schema.pbtxt for any other data."""
  return DATASET_SCHEMAS.get(dataset, SCHEMA_PATH)


class NoReviewedSchemaError(ValueError):
  """Your own ratings file has columns no reviewed schema describes."""


def schema_for_columns(columns: Sequence[str], all_columns: Sequence[str]
                       ) -> str:
  """The reviewed schema of your own ratings file, by its columns: ratings
  only (3 or 4 columns), MovieLens 100k's (`all_columns`, every column
  ExampleGen knows) or 20M's; raises saying what to do for any other set."""
  given = set(columns)
  if given <= set(RATINGS_ONLY_COLUMNS):
    return RATINGS_ONLY_SCHEMA_PATH
  if given == set(all_columns):
    return SCHEMA_PATH
  if given == set(RATINGS_ONLY_COLUMNS) | {features.MOVIE_ID_KEY,
                                           features.GENRE_KEY}:
    return DATASET_SCHEMAS['movielens/20m-ratings']
  raise NoReviewedSchemaError(
      f'no reviewed schema has exactly the columns {list(columns)}: the '
      f'reviewed ones are {list(RATINGS_ONLY_COLUMNS[:3])} (+ timestamp), '
      "20M's (+ movie_id, movie_genres) and MovieLens 100k's (all of "
      f'{list(all_columns)}). Drop or add columns to match one, or pass '
      '--schema infer (SchemaGen infers one on every run) or --schema FILE '
      '(README: "The schema").')


SCHEMA_INFER = 'infer'  # --schema infer: SchemaGen infers one each run

# Data checks beyond the schema (components/anomalies_gate.py): no split may
# be dominated by one user (MovieLens 100k's busiest user has
# 0.7% of the ratings).
MAX_ONE_USER_SHARE = 0.25
# Drift against the data of the model being served (DistributionValidator):
# {feature: (comparator, threshold)}. MovieLens 100k's train and eval splits
# differ by JSD 0.00007 on ratings, L-inf 0.0012 on titles and 0.0016 on
# users.
DRIFT_COMPARATORS = {
    features.LABEL_KEY: ('jensen_shannon_divergence', 0.05),
    features.MOVIE_TITLE_KEY: ('infinity_norm', 0.05),
    features.USER_ID_KEY: ('infinity_norm', 0.05),
}
# With a folder of spans a run is checked and evaluated on one period, the
# newest span (README "Weekly runs"), so three checks made for a hash split
# of all the data change (spans_config):
# - the drift check compares the newest span's train split with the span
#   the served model was evaluated on (a span's validation split is too
#   small to compare), without user ids: each period brings its own people;
SPAN_DRIFT_FEATURES_LEFT_OUT = (features.USER_ID_KEY,)
# - one person may have much of a week's ratings: in MovieLens 100k's weeks
#   the busiest person has up to 31% (user 405: 737 ratings in one week),
#   over 20% in 2 of its 24 spans; a bot or a bad join gives more;
SPAN_MAX_ONE_USER_SHARE = 0.5
# - the candidate and the last blessed bundle are compared on a week's
#   ratings (1k-9k in MovieLens 100k), whose RMSE differs by more than
#   1e-10 between two equally good models: RMSE may rise by this much.
SPAN_RMSE_CHANGE_TOLERANCE = 0.01
# And the served retrieval score weighs recent popularity: next week's
# people watch what is being watched now. Chosen on the window's newest week
# (never the week evaluated) by bench.popularity_prior; a hash split's eval
# is spread over all time, where the defaults (all ratings alike) won. The
# same bench chose recommend_from_ratings' base for a week's new people:
# the unknown user's towers without popularity added.
SPAN_POPULARITY_WEIGHT = 2.0
SPAN_POPULARITY_HALF_LIFE_DAYS = 3.0
SPAN_NEW_USER_POPULARITY_WEIGHT = 0.0
# The Evaluator refuses an eval split in which more than this share of the
# ratings are by users the training data does not have: the model could
# only score them through the out-of-vocabulary bucket.
MAX_UNSEEN_EVAL_USER_SHARE = 0.5

# The share of the training data ExampleGen writes as the `validation`
# split: the Trainer validates, early-stops and selects on it; the
# Evaluator alone reads `eval`.
VALIDATION_PERCENT = split_names.DEFAULT_VALIDATION_PERCENT

# New users (components/new_users.py): where the data has timestamps,
# ExampleGen sets apart every rating of the newest NEW_USER_PERCENT% of the
# users by sign-up (their first rating) as the `new_users` split; the
# Evaluator gives each of them their first NEW_USER_HISTORY ratings to
# `recommend_from_ratings` (and NEW_USER_HISTORIES for the report) and
# blocks the push when its Recall@K is below the most popular list's on the
# same people.
NEW_USER_PERCENT = 20
NEW_USER_HISTORY = 10
NEW_USER_HISTORIES = (1, 3, 5, 10, 20)
# Past this many new users the Evaluator measures a sample of them (the
# same people in every run: new_users.sample_people), as the eval split is
# capped: each one costs a request at every history length.
NEW_USER_EVAL_MAX_PEOPLE = 10_000


# The eval split is 20% of the ratings (as in the tutorial) up to this many;
# past 500k ratings it keeps about this many and the rest trains: the
# Evaluator's cost grows with its split (TFMA: 113 s for 200k eval ratings
# on 2 cores), and 100k ratings measure RMSE to ~0.003.
EVAL_MAX_RATINGS = 100_000

# StatisticsGen describes a split of more examples than this from a random
# sample of about this many (components/statistics_gen.py): TFDV's cost is
# per example described (40-60 us on one core), and the shares the checks
# read (drift thresholds 0.05, the one-user share 0.25) are measured to
# ~0.001 by 200k examples. The run summary still counts every example.
STATS_MAX_EXAMPLES = 200_000

# Beam defaults, used when --beam-pipeline-args names no other runner.
# Locally, one in-memory worker: on MovieLens 100k and 2 cores it beat
# multi_processing with 2 workers (README, "Beam").
# The DirectRunner's workers are this process (or its subprocesses), so they
# have every dependency already. Unless the Beam args name the workers'
# dependencies, TFX packs its own installation for every Beam component; a
# named setup.py makes Beam build an sdist of this project for every Beam
# pipeline instead. A worker image is the one dependency flag that neither
# builds nor stages anything (TFX skips its packing for it, tensorflow/tfx
# #3022), and the DirectRunner never starts it.
DIRECT_RUNNER_WORKER_IMAGE = 'direct-runner-workers:this-python-environment'
LOCAL_BEAM_PIPELINE_ARGS = [
    '--direct_running_mode=in_memory',
    '--direct_num_workers=1',
    f'--sdk_container_image={DIRECT_RUNNER_WORKER_IMAGE}',
]
# In a Kubeflow / Vertex pod: every core of the pod.
CLUSTER_BEAM_PIPELINE_ARGS = [
    '--direct_running_mode=multi_processing',
    '--direct_num_workers=0',
]


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """What `create_pipeline` decides with besides the data and where things
  go: the Trainer's hyperparameters and every gate, cap and check. A preset
  is one of these, so a model always comes with its own gate."""
  hyperparameters: Hyperparameters = Hyperparameters()
  rmse_threshold: float = 1.2  # value gate: bless only if eval RMSE <= this
  rmse_change_tolerance: float = RMSE_CHANGE_TOLERANCE
  recall_change_tolerance: float = RECALL_CHANGE_TOLERANCE
  top_n_k: int = TOP_N_K
  top_n_min_rating: float = TOP_N_MIN_RATING
  max_one_user_share: float = MAX_ONE_USER_SHARE
  max_unseen_eval_user_share: float = MAX_UNSEEN_EVAL_USER_SHARE
  drift_comparators: Mapping[str, Tuple[str, float]] = dataclasses.field(
      default_factory=lambda: dict(DRIFT_COMPARATORS))
  eval_max_ratings: int = EVAL_MAX_RATINGS
  validation_percent: int = VALIDATION_PERCENT
  new_user_percent: int = NEW_USER_PERCENT  # 0: no new-user split
  new_user_history: int = NEW_USER_HISTORY
  tune_trials: Optional[int] = None  # a Tuner trying this many sets; None: none
  # With a folder of spans: the spans before the newest that Transform and
  # the Trainer read (components/span_window.py); 0: every earlier span.
  window_spans: int = 0
  # With a folder of spans: the Trainer starts from the latest blessed model
  # trained on an earlier window, when there is one.
  warm_start: bool = True
  # With a folder of spans: Transform reads the vocabularies' partial
  # results of the spans an earlier window's analysis cache has from it
  # (components/analyzer_cache.py; every span is still read, one dataset
  # each); False analyzes the window in one pass, all its spans read as
  # one dataset, and keeps no cache (README "Weekly runs": what each costs).
  analyzer_cache: bool = False

  def __post_init__(self):
    """Refuses settings no run could use."""
    # The Trainer validates on the validation split: it must exist.
    split_names.check_percent(
        'validation_percent', self.validation_percent, minimum=1)
    split_names.check_percent('new_user_percent', self.new_user_percent)
    if self.new_user_history < 1:
      raise ValueError('new_user_history must be >= 1, not '
                       f'{self.new_user_history}')
    if self.tune_trials is not None and self.tune_trials < 1:
      raise ValueError(f'tune_trials must be >= 1, not {self.tune_trials}')
    if self.window_spans < 0:
      raise ValueError(f'window_spans must be >= 0, not {self.window_spans}')
    if not self.rmse_threshold > 0:
      raise ValueError(f'rmse_threshold must be > 0, not {self.rmse_threshold}')


def spans_config(config: 'PipelineConfig') -> 'PipelineConfig':
  """`config` for a run on the newest span of a folder of spans (the
  SPAN_ settings above; a looser setting given is kept, and a popularity
  setting given other than the default)."""
  hparams, default = config.hyperparameters, Hyperparameters()
  span_popularity = {
      'retrieval_popularity_weight': SPAN_POPULARITY_WEIGHT,
      'retrieval_popularity_half_life_days': SPAN_POPULARITY_HALF_LIFE_DAYS,
      'new_user_popularity_weight': SPAN_NEW_USER_POPULARITY_WEIGHT}
  return dataclasses.replace(
      config,
      hyperparameters=dataclasses.replace(hparams, **{
          name: value for name, value in span_popularity.items()
          if getattr(hparams, name) == getattr(default, name)}),
      drift_comparators={key: comparator for key, comparator
                         in config.drift_comparators.items()
                         if key not in SPAN_DRIFT_FEATURES_LEFT_OUT},
      max_one_user_share=max(config.max_one_user_share,
                             SPAN_MAX_ONE_USER_SHARE),
      rmse_change_tolerance=max(config.rmse_change_tolerance,
                                SPAN_RMSE_CHANGE_TOLERANCE))


# Model presets: the Trainer's hyperparameters with the Evaluator's value
# gate (eval RMSE <= rmse_threshold) that goes with them.
PRESETS = {
    # The TFRS tutorial, unchanged: eval RMSE ~1.11 on MovieLens 100k.
    'tutorial': PipelineConfig(),
    # Biased MF + side features + SVD++ implicit feedback, blended with an
    # I-AutoRec by weights fitted on the validation split, both refitted on
    # train + validation (trainer_module/ranking_models.py; README "The
    # tuned preset"); early stopping on the validation split. recommend's re-rank weight of each preset was chosen on a
    # validation set carved from MovieLens 100k's train split (README:
    # "Recommending"); this model's predicted ratings spread ~10x wider than
    # the tutorial model's.
    'tuned': PipelineConfig(
        hyperparameters=Hyperparameters(
            model='tuned', epochs=40, batch_size=512, learning_rate=0.002,
            embedding_dim=32, optimizer='adam', l2=1e-4,
            early_stopping_patience=3, rerank_weight=0.25,
            autorec_units=500, refit=1),
        rmse_threshold=0.95),
}
DEFAULT_PRESET = 'tutorial'


def preset(name: str = DEFAULT_PRESET, **hyperparameters: Any
           ) -> PipelineConfig:
  """A preset with some of its hyperparameters changed."""
  config = PRESETS[name]
  return dataclasses.replace(config, hyperparameters=dataclasses.replace(
      config.hyperparameters, **hyperparameters))


def output_paths(output_dir: str) -> dict:
  """Where a run keeps its pieces, all under `output_dir`."""
  output_dir = os.path.abspath(output_dir)
  return {
      'pipeline_root': os.path.join(output_dir, 'pipeline_root'),
      'metadata_path': os.path.join(output_dir, 'metadata.db'),
      'serving_model_dir': os.path.join(output_dir, 'serving_model'),
      'run_summary': os.path.join(output_dir, 'run_summary.json'),
      'report': os.path.join(output_dir, 'report', 'index.html'),
  }
