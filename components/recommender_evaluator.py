"""Evaluator: TFMA's RMSE gates and the recommender's top-N gates, one
blessing.

TFMA evaluates example by example (and by query, over the examples a query
has): it fits the rating gates, not a top-N list over a whole catalog, where
the movies a user did not rate matter as much as those they did. So this
component runs TFX's Evaluator executor unchanged (RMSE, slices, value and
change gates against the baseline model), then asks the candidate bundle,
the baseline bundle and a "most popular" list for each eval user's top k
(components/top_n_metrics.py) and writes the metrics next to TFMA's, in
`top_n_metrics.json` of the evaluation artifact.

Before anything else it refuses an eval split mostly made of users the
training data lacks (such a split measures only the out-of-vocabulary user).
The training data is the train and validation splits: the Trainer fits and
selects on them and never sees eval.

Where ExampleGen set apart a `new_users` split (the newest users by
sign-up, whose ratings the model never saw: components/new_users.py), each
of them gives their first H ratings to the bundle's
`recommend_from_ratings`, for H in `new_user_histories`, beside the most
popular list on the same people.

With a folder of spans (`training_examples`: the window the model was
trained on) the eval data is the newest span, every rating of it: people
the window has are evaluated by id as above, everyone else as a new user
from their first ratings in the span, so no user is refused as unseen.

The model is blessed only if TFMA blessed it, its Recall@k is at least
the most popular list's and no more than `recall_change_tolerance` below
the baseline bundle's, and its new-user Recall@k at H = `new_user_history`
is at least the most popular list's. Being one component with one
blessing, every consumer of blessings (the Pusher, the baseline resolver,
the drift baseline) sees the whole verdict.
"""

import json
import os
from typing import (Any, Callable, Dict, Iterable, Iterator, List, Optional,
                    Sequence, Set, Tuple)

from absl import logging
import numpy as np
from tfx import types
from tfx.components.evaluator import constants
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import io_utils
from tfx.utils import json_utils
from tfx.utils import path_utils

from components import new_users
from components import top_n_metrics
from components.movielens_example_gen import EVAL_SPLIT
from components.movielens_example_gen import NEW_USERS_SPLIT
from components.movielens_example_gen import TRAIN_SPLIT
from components.movielens_example_gen import split_pattern
from components.movielens_example_gen import VALIDATION_SPLIT
from trainer_module import features

TOP_N_CONFIG_KEY = 'top_n_config'
# With spans: the window of spans the model was trained on; `examples` is
# then the newest span, the future, read whole.
TRAINING_EXAMPLES_KEY = 'training_examples'
TOP_N_FILE = 'top_n_metrics.json'
RECOMMEND_SIGNATURE = 'recommend'
RETRIEVE_SIGNATURE = 'retrieve'
FROM_RATINGS_SIGNATURE = 'recommend_from_ratings'
_BLESSED = constants.ARTIFACT_PROPERTY_BLESSED_KEY
READ_BATCH_SIZE = 65_536  # examples parsed at a time


class RecommenderEvaluatorSpec(standard_component_specs.EvaluatorSpec):
  """TFX's Evaluator spec, the top-N gate's config (JSON) and, with spans,
  the window the model was trained on."""
  PARAMETERS = {
      **standard_component_specs.EvaluatorSpec.PARAMETERS,
      TOP_N_CONFIG_KEY: ExecutionParameter(type=str),
  }
  INPUTS = {
      **standard_component_specs.EvaluatorSpec.INPUTS,
      TRAINING_EXAMPLES_KEY: ChannelParameter(
          type=standard_artifacts.Examples, optional=True),
  }


def rating_batches(examples: types.Artifact, split: str,
                   file_order: bool = True
                   ) -> Iterator[top_n_metrics.Ratings]:
  """(user, title, rating) of the raw examples of a split, as bytes and
  floats (files_rating_batches)."""
  return files_rating_batches([split_pattern(examples, split)], file_order)


def files_rating_batches(patterns: Sequence[str], file_order: bool = True
                         ) -> Iterator[top_n_metrics.Ratings]:
  """(user, title, rating) of the raw examples of every file `patterns`
  match, READ_BATCH_SIZE examples at a time, parsed in parallel; in the
  files' order, or, without `file_order`, two files decompressed at once
  (faster, for a reader the order does not matter to). One reader for all
  the files: a window of spans is many small splits."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer_module import splits  # pylint: disable=g-import-not-at-top
  from trainer_module import tracing  # pylint: disable=g-import-not-at-top
  files = splits.split_files(list(patterns), required=False)
  if not files:
    raise ValueError(f'no examples in {", ".join(patterns)}')
  spec = {features.USER_ID_KEY: tf.io.FixedLenFeature([], tf.string),
          features.MOVIE_TITLE_KEY: tf.io.FixedLenFeature([], tf.string),
          features.LABEL_KEY: tf.io.FixedLenFeature([], tf.float32)}
  compression = splits.compression_of(files)
  if file_order:
    records = tf.data.TFRecordDataset(files, compression).batch(
        READ_BATCH_SIZE)
  else:  # batches of a file, not records, interleaved
    records = tf.data.Dataset.from_tensor_slices(files).interleave(
        tracing.no_autograph(lambda path: tf.data.TFRecordDataset(
            path, compression).batch(READ_BATCH_SIZE)),
        cycle_length=2, num_parallel_calls=2)
  for batch in records.map(tracing.no_autograph(
      lambda x: tf.io.parse_example(x, spec)),
                           num_parallel_calls=tf.data.AUTOTUNE).prefetch(2):
    yield top_n_metrics.Ratings(*(batch[key].numpy() for key in spec))


def read_ratings(examples: types.Artifact, split: str
                 ) -> top_n_metrics.Ratings:
  """Every rating of a split (rating_batches), in memory."""
  batches = list(rating_batches(examples, split))
  return top_n_metrics.Ratings.concat(*batches) if batches else (
      top_n_metrics.Ratings(np.array([]), np.array([]), np.array([])))


def training_splits(examples: types.Artifact) -> List[str]:
  """The splits the model was trained and selected on: train and, when
  ExampleGen wrote one, validation."""
  splits = artifact_utils.decode_split_names(examples.split_names)
  return [split for split in (TRAIN_SPLIT, VALIDATION_SPLIT)
          if split in splits]


def training_ratings(examples: types.Artifact) -> top_n_metrics.Ratings:
  """Every rating of the training splits, in memory (bench, tests)."""
  return top_n_metrics.Ratings.concat(*(
      read_ratings(examples, split) for split in training_splits(examples)))


def gather_training(examples: Sequence[types.Artifact],
                    wanted: Iterable[str]) -> top_n_metrics.Training:
  """What the top-N protocol needs of the training splits (of each
  artifact: a window of spans has several), read a batch at a time: held
  whole as Python objects, the ratings of large data would not fit in
  memory."""
  return top_n_metrics.Training.gather(files_rating_batches(
      [split_pattern(artifact, split) for artifact in examples
       for split in training_splits(artifact)], file_order=False), wanted)


class EvalSplitError(ValueError):
  """The eval split cannot measure the model."""


def check_eval_users(training_users: Set[bytes],
                     evals: top_n_metrics.Ratings,
                     max_unseen_share: float) -> float:
  """The share of eval ratings by users the training data lacks; raises
  EvalSplitError above `max_unseen_share`."""
  if not len(evals.users):
    raise EvalSplitError('the eval split has no examples')
  share = float(np.mean([user not in training_users
                         for user in evals.users.tolist()]))
  if share > max_unseen_share:
    raise EvalSplitError(
        f'{share:.0%} of the eval ratings are by users the training data '
        f'does not have (at most {max_unseen_share:.0%} allowed): the model '
        'can only score them as unknown users. Split by rating or by time, '
        'so eval users also have ratings in train.')
  return share


def load_bundle(model: types.Artifact) -> Any:
  """The SavedModel a Model artifact holds."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  return tf.saved_model.load(path_utils.serving_model_path(
      model.uri, path_utils.is_old_model_artifact(model)))


def signature_recommender(loaded: Any, signature: str
                          ) -> Optional[top_n_metrics.Recommend]:
  """users, k -> top-k titles (bytes) per user through a loaded bundle's
  signature; None if the bundle has no such signature."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if signature not in loaded.signatures:
    return None
  function = loaded.signatures[signature]

  def recommend(users: List[bytes], k: int) -> List[list]:
    titles = function(user_id=tf.constant(users, tf.string),
                      k=tf.constant(k, tf.int32))[features.MOVIE_TITLE_KEY]
    titles = titles.numpy()
    return [[t for t in row if t] for row in titles]
  return recommend


def evaluate(evaluated: top_n_metrics.Protocol,
             candidate: top_n_metrics.Recommend,
             retrieval: Optional[top_n_metrics.Recommend],
             baseline: Optional[top_n_metrics.Recommend],
             config: Dict[str, Any]) -> Dict[str, Any]:
  """Top-N metrics of every list, and which gates failed."""
  k = config['k']
  users = evaluated.users
  results: Dict[str, Any] = {
      'k': k, 'min_rating': config['min_rating'],
      'bundle': top_n_metrics.summarize(
          top_n_metrics.lists_from(candidate, users, k), evaluated, k),
      'most_popular': top_n_metrics.summarize(
          top_n_metrics.most_popular(evaluated, k), evaluated, k),
  }
  for name, recommend in (('retrieval', retrieval), ('baseline', baseline)):
    results[name] = top_n_metrics.summarize(
        top_n_metrics.lists_from(recommend, users, k), evaluated,
        k) if recommend else None
  metric = f'recall@{k}'
  recall = results['bundle'][metric]
  failures = []
  popular = results['most_popular'][metric]
  if recall < popular:
    failures.append(f'{metric} {recall:.4f} is below the most popular '
                    f"list's {popular:.4f}")
  if results['baseline']:
    allowed = results['baseline'][metric] - config['recall_change_tolerance']
    if recall < allowed:
      failures.append(
          f'{metric} {recall:.4f} against the baseline model\'s '
          f"{results['baseline'][metric]:.4f}; allowed at least "
          f'{allowed:.4f}')
  results['failures'] = failures
  return results


def read_timed_ratings(examples: types.Artifact, split: str
                       ) -> new_users.TimedRatings:
  """Every (user, title, rating, timestamp) of a split (a rating without a
  timestamp counts as given first)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer_module import splits  # pylint: disable=g-import-not-at-top
  files = splits.split_files([split_pattern(examples, split)],
                             required=False)  # none: an empty split
  spec = {features.USER_ID_KEY: tf.io.FixedLenFeature([], tf.string),
          features.MOVIE_TITLE_KEY: tf.io.FixedLenFeature([], tf.string),
          features.LABEL_KEY: tf.io.FixedLenFeature([], tf.float32),
          features.TIMESTAMP_KEY: tf.io.FixedLenFeature(
              [], tf.int64, default_value=0)}
  columns = {key: [] for key in spec}
  for batch in tf.data.TFRecordDataset(
      files, compression_type=splits.compression_of(files) if files else ''
  ).batch(READ_BATCH_SIZE):
    parsed = tf.io.parse_example(batch, spec)
    for key in spec:
      columns[key].append(parsed[key].numpy())
  return new_users.TimedRatings(*(
      np.concatenate(columns[key]) if columns[key] else np.array([])
      for key in spec))


def signature_from_ratings(loaded: Any, max_batch: int = 256
                           ) -> Callable[[List[new_users.Case], int],
                                         List[list]]:
  """people, k -> top-k titles (bytes) per person, each given their
  ratings through a loaded bundle's recommend_from_ratings."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  if FROM_RATINGS_SIGNATURE not in loaded.signatures:
    raise ValueError(f'the model has no {FROM_RATINGS_SIGNATURE!r} '
                     'signature')
  function = loaded.signatures[FROM_RATINGS_SIGNATURE]

  def recommend(people: List[new_users.Case], k: int) -> List[list]:
    lists = []
    for start in range(0, len(people), max_batch):
      batch = people[start:start + max_batch]
      width = max(len(c.given_titles) for c in batch)
      titles = [c.given_titles + [b''] * (width - len(c.given_titles))
                for c in batch]
      ratings = [c.given_ratings + [0.0] * (width - len(c.given_ratings))
                 for c in batch]
      top = function(movie_title=tf.constant(titles, tf.string,
                                             [len(batch), width]),
                     user_rating=tf.constant(ratings, tf.float32,
                                             [len(batch), width]),
                     k=tf.constant(k, tf.int32))[features.MOVIE_TITLE_KEY]
      lists.extend([t for t in row if t] for row in top.numpy())
    return lists
  return recommend


def evaluate_new_users(new: new_users.TimedRatings,
                       title_counts: Dict[bytes, int],
                       recommend: Callable[[List[new_users.Case], int],
                                           List[list]],
                       config: Dict[str, Any]) -> Dict[str, Any]:
  """{'by_history': {H: {'bundle', 'most_popular'}}, 'history', 'users',
  'users_measured', 'failures'}: the new users' top-N metrics at each H
  (on a sample of at most config['new_user_max_people'] of them, when set:
  new_users.sample_people), and the gate at config['new_user_history']."""
  k, gate_history = config['k'], config['new_user_history']
  users = len(set(new.users.tolist()))
  if config.get('new_user_max_people'):
    new = new_users.sample_people(new, config['new_user_max_people'])
  by_history = {}
  for history in config['new_user_histories']:
    people = new_users.cases(new, history, config['min_rating'])
    by_history[str(history)] = {
        'bundle': new_users.score(recommend(people, k), people, k),
        'most_popular': new_users.score(
            new_users.most_popular(title_counts, people, k), people, k)}
  gated = by_history[str(gate_history)]
  metric = f'recall@{k}'
  failures = []
  if gated['bundle']['users'] and (
      gated['bundle'][metric] < gated['most_popular'][metric]):
    failures.append(
        f"new users' {metric} {gated['bundle'][metric]:.4f} (given "
        f'{gate_history} ratings) is below the most popular list\'s '
        f"{gated['most_popular'][metric]:.4f}")
  return {'history': gate_history, 'k': k, 'users': users,
          'users_measured': len(set(new.users.tolist())),
          'by_history': by_history, 'failures': failures}


def read_future(examples: types.Artifact) -> new_users.TimedRatings:
  """Every rating of a span (all its splits), with when it was given."""
  parts = [read_timed_ratings(examples, split) for split in
           artifact_utils.decode_split_names(examples.split_names)]
  return new_users.TimedRatings.concatenate(parts)


def returning_and_new(future: new_users.TimedRatings, known: Set[bytes]
                      ) -> Tuple[top_n_metrics.Ratings,
                                 new_users.TimedRatings]:
  """The newest span's ratings by people the training window has
  (scored by id) and by everyone else (served from their first ratings)."""
  if not len(future.users):
    raise EvalSplitError('the newest span has no ratings')
  returning = np.array([user in known for user in future.users.tolist()],
                       dtype=bool)
  if not returning.any():
    raise EvalSplitError(
        'nobody who rated in the newest span rated in the training window: '
        'there is no returning user to measure the model by id (widen '
        '--window-spans)')
  return (top_n_metrics.Ratings(future.users[returning],
                                future.titles[returning],
                                future.ratings[returning]),
          future.where(~returning))


NO_NEW_USERS = ('no new-user figures: ExampleGen wrote no new_users split '
                '(the data has no timestamp column, or --new-user-percent '
                'is 0)')


NO_NEW_USERS_IN_SPAN = ('no new-user figures: everyone who rated in the '
                        'newest span also rated in the training window')


def withdraw_blessing(blessing: types.Artifact) -> None:
  """Turns a TFMA blessing into a refusal, file and property alike."""
  blessed_file = os.path.join(blessing.uri, constants.BLESSED_FILE_NAME)
  if fileio.exists(blessed_file):
    fileio.remove(blessed_file)
  io_utils.write_string_file(
      os.path.join(blessing.uri, constants.NOT_BLESSED_FILE_NAME), '')
  blessing.set_int_custom_property(_BLESSED, constants.NOT_BLESSED_VALUE)


class Executor(evaluator_executor.Executor):
  """TFX's Evaluator, then the top-N metrics and gates."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    config = json.loads(exec_properties[TOP_N_CONFIG_KEY])
    examples = artifact_utils.get_single_instance(
        input_dict[standard_component_specs.EXAMPLES_KEY])
    window = input_dict.get(TRAINING_EXAMPLES_KEY)
    new = None
    if window:  # the newest span: returning people by id, new ones served
      future = read_future(examples)  # from their first ratings
      training = gather_training(window, set(future.users.tolist()))
      evals, new = returning_and_new(future, training.users)
      relevant = top_n_metrics.relevant_titles(evals, config['min_rating'])
      unseen_share = float(np.mean([user not in training.users for user in
                                    future.users.tolist()]))
    else:
      evals = read_ratings(examples, EVAL_SPLIT)
      relevant = top_n_metrics.relevant_titles(evals, config['min_rating'])
      training = gather_training([examples], relevant)
      unseen_share = check_eval_users(training.users, evals,
                                      config['max_unseen_eval_user_share'])
      if NEW_USERS_SPLIT in artifact_utils.decode_split_names(
          examples.split_names):
        new = read_timed_ratings(examples, NEW_USERS_SPLIT)
    super().Do(input_dict, output_dict, exec_properties)
    model = artifact_utils.get_single_instance(
        input_dict[standard_component_specs.MODEL_KEY])
    baseline = input_dict.get(standard_component_specs.BASELINE_MODEL_KEY)
    bundle = load_bundle(model)
    candidate = signature_recommender(bundle, RECOMMEND_SIGNATURE)
    if candidate is None:
      raise ValueError(f'the model at {model.uri} has no '
                       f'{RECOMMEND_SIGNATURE!r} signature')
    results = evaluate(
        top_n_metrics.protocol_of(training, relevant), candidate,
        signature_recommender(bundle, RETRIEVE_SIGNATURE),
        signature_recommender(load_bundle(baseline[0]), RECOMMEND_SIGNATURE)
        if baseline else None, config)
    results['unseen_eval_user_share'] = round(unseen_share, 4)
    if new is not None and not len(new.users):
      results['new_users'] = {'skipped': NO_NEW_USERS_IN_SPAN}
    elif new is not None:
      results['new_users'] = evaluate_new_users(
          new, training.title_counts, signature_from_ratings(bundle), config)
      results['failures'] += results['new_users']['failures']
    else:
      results['new_users'] = {'skipped': NO_NEW_USERS}
    if 'skipped' in results['new_users']:
      logging.info(results['new_users']['skipped'])
    evaluation = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.EVALUATION_KEY])
    io_utils.write_string_file(os.path.join(evaluation.uri, TOP_N_FILE),
                               json.dumps(results, indent=2))
    logging.info('top-N metrics: %s', results)
    blessing = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.BLESSING_KEY])
    if results['failures'] and blessing.get_int_custom_property(
        _BLESSED) == constants.BLESSED_VALUE:
      withdraw_blessing(blessing)


class RecommenderEvaluator(base_component.BaseComponent):
  """TFX's Evaluator with the recommender's top-N metrics and gates; same
  inputs and outputs (`evaluation`, `blessing`)."""

  SPEC_CLASS = RecommenderEvaluatorSpec
  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)

  def __init__(self, examples: types.BaseChannel, model: types.BaseChannel,
               baseline_model: types.BaseChannel, eval_config: Any,
               top_n_config: Dict[str, Any],
               training_examples: Optional[types.BaseChannel] = None):
    """Args:
      examples: ExampleGen's raw examples (train, validation, eval); with
        `training_examples`, the newest span, whose every rating is eval.
      model: the Trainer's bundle (with the `recommend` signature).
      baseline_model: the latest blessed bundle, if any.
      eval_config: TFMA's EvalConfig (the rating metrics and gates).
      top_n_config: {'k', 'min_rating', 'recall_change_tolerance',
        'max_unseen_eval_user_share', 'new_user_history',
        'new_user_histories', 'new_user_max_people'}.
      training_examples: with spans, the window the model was trained on:
        the newest span's people it has are scored by id, the others as
        new users (so the unseen-user check does not apply).
    """
    super().__init__(spec=RecommenderEvaluatorSpec(
        examples=examples, model=model, baseline_model=baseline_model,
        training_examples=training_examples,
        eval_config=eval_config,
        fairness_indicator_thresholds=json_utils.dumps(None),
        # TFMA reads the newest span whole (all train: ExampleGen carves
        # validation from it as from any span), else the eval split.
        example_splits=json_utils.dumps(
            [TRAIN_SPLIT, VALIDATION_SPLIT] if training_examples else None),
        top_n_config=json.dumps(top_n_config, sort_keys=True),
        evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
        blessing=types.Channel(type=standard_artifacts.ModelBlessing)))
