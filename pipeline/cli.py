"""Flags shared by every runner, and how they become create_pipeline's args."""

import argparse
import dataclasses
import os
import shlex
from typing import Any, Dict, List, Optional

from components import beam_runner
from components import ratings_source as ratings_sources
from components.ratings_source import local_path
from components.ratings_source import RatingsSource
from pipeline import configs
from trainer_module import features
from trainer_module.hyperparameters import Hyperparameters


class InputPath(str):
  """A flag's value naming a local input (a file, glob or folder; a URI such
  as gs://... stays as given): made absolute, and fingerprinted by a run's
  key (pipeline/run_key.py) by being of this type. Give a new path flag
  `type=InputPath`."""

  def __new__(cls, value: str) -> 'InputPath':
    return super().__new__(cls, local_path(value) or '')


def schema_flag(value: str) -> str:
  """--schema: a file (an InputPath), or SCHEMA_INFER."""
  return value if value == configs.SCHEMA_INFER else InputPath(value)


def add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
  """Data, model and Beam flags; defaults reproduce the TFRS tutorial."""
  source = parser.add_mutually_exclusive_group()
  source.add_argument('--dataset', default=configs.DEFAULT_DATASET,
                      help='TFDS MovieLens ratings config '
                      '(default: %(default)s)')
  source.add_argument('--ratings-csv', default=None, type=InputPath,
                      help='your own ratings: user_id,movie_title,'
                      'user_rating[,timestamp,...] instead of --dataset')
  source.add_argument('--ratings-parquet', default=None, type=InputPath,
                      help='your own ratings as Parquet (a path or glob; '
                      'the CSV\'s columns, typed): the fastest to ingest')
  source.add_argument('--movielens-dir', default=None, type=InputPath,
                      help='an unpacked GroupLens MovieLens zip (ml-100k, '
                      'ml-1m, ml-20m, ml-25m, ml-latest-small), read as it '
                      'comes instead of --dataset')
  source.add_argument('--ratings-dir', default=None, type=InputPath,
                      help='your own ratings by period: a folder of span-1/, '
                      'span-2/, ... each holding that period\'s ratings as '
                      'CSV or Parquet (the columns of --ratings-csv); a run '
                      'ingests the newest span (or --span), evaluates on it '
                      'and trains on the spans before it')
  parser.add_argument('--span', type=int, default=None,
                      help='with --ratings-dir: the span to ingest and '
                      'evaluate on (default: the newest)')
  parser.add_argument('--window-spans', type=int, default=0,
                      help='with --ratings-dir: how many spans before the '
                      'evaluated one Transform and the Trainer read '
                      '(default: all of them)')
  parser.add_argument('--ingest-only', action='store_true',
                      help='with --ratings-dir: run ExampleGen alone on the '
                      'span (--span, else the newest), for later runs\' '
                      'windows: how to backfill spans on Airflow or Kubeflow '
                      '(the local runner ingests the window\'s spans itself)')
  parser.add_argument('--no-warm-start', dest='warm_start',
                      action='store_false',
                      help='with --ratings-dir: train from scratch, not from '
                      'the latest blessed model of an earlier window')
  parser.add_argument('--analyzer-cache', action='store_true',
                      help='with --ratings-dir: Transform keeps tf.Transform\'s '
                      'per-span analysis cache and reads the vocabularies\' '
                      'partial results of earlier spans from it (every span '
                      'is still read, one dataset each; default: the whole '
                      'window in one pass, faster: README "Weekly runs")')
  parser.add_argument('--movielens-split', default=None,
                      help='with a 100k --movielens-dir: its shipped '
                      'train/test pair (u1..u5, ua, ub) as train/eval')
  parser.add_argument('--eval-ratings-csv', default=None, type=InputPath,
                      help='your own eval split (same columns); then '
                      '--ratings-csv is the train split')
  parser.add_argument('--csv-encoding', default='utf-8',
                      help='text encoding of --ratings-csv and '
                      '--eval-ratings-csv, e.g. latin-1 (default: '
                      '%(default)s; a byte-order mark is accepted)')
  parser.add_argument('--validation-percent', type=int,
                      default=configs.VALIDATION_PERCENT,
                      help='share of the training data written as the '
                      'validation split, on which the Trainer validates and '
                      'early-stops (default: %(default)s; the Evaluator '
                      'alone reads eval)')
  parser.add_argument('--new-user-percent', type=int,
                      default=configs.NEW_USER_PERCENT,
                      help='where the data has timestamps, every rating of '
                      'the newest N%% of the users (by their first rating) '
                      'becomes the new_users split: the Evaluator serves '
                      'them from their first ratings as new users and gates '
                      'on it (default: %(default)s; 0: none)')
  parser.add_argument('--new-user-history', type=int,
                      default=configs.NEW_USER_HISTORY,
                      help='H: the ratings each new user gives at request '
                      'time in the Evaluator\'s new-user gate (default: '
                      '%(default)s)')
  parser.add_argument('--manual-dir', type=InputPath,
                      default=os.environ.get(configs.MANUAL_DIR_ENV),
                      help='folder holding the original MovieLens zip, for '
                      f'offline use (default: ${configs.MANUAL_DIR_ENV})')
  parser.add_argument('--tfds-data-dir', default=None, type=InputPath,
                      help="where TFDS keeps prepared data (TFDS's default)")
  parser.add_argument('--schema', default=None, type=schema_flag,
                      help='the reviewed schema the data must match '
                      '(default: the repo\'s for the --dataset, or for '
                      'MovieLens 100k columns); '
                      f"'{configs.SCHEMA_INFER}' infers one with SchemaGen "
                      'on every run (e.g. for 20m/25m or other columns)')
  parser.add_argument('--preset', choices=sorted(configs.PRESETS),
                      default=configs.DEFAULT_PRESET,
                      help="model and gate defaults: 'tutorial' (the TFRS "
                      "tutorial's) or 'tuned' (default: %(default)s)")
  parser.add_argument('--rmse-threshold', type=float, default=None,
                      help='Evaluator value gate: bless only if eval RMSE '
                      '<= this (default: from --preset: '
                      + ', '.join(f'{name} {p.rmse_threshold}' for name, p
                                  in configs.PRESETS.items()) + ')')
  parser.add_argument('--tune', action='store_true',
                      help="add a Tuner: a KerasTuner search over the rating "
                      "model's learning rate, embedding size (and the tuned "
                      "preset's L2) on the validation split; the Trainer "
                      'trains with the best')
  parser.add_argument('--tune-trials', type=int, default=None,
                      help='hyperparameter sets the Tuner tries (default: '
                      f'{configs.DEFAULT_TUNE_TRIALS})')
  parser.add_argument('--recall-tolerance', type=float, default=None,
                      help='top-N change gate: bless only if Recall@'
                      f'{configs.TOP_N_K} is at most this far below the last '
                      'blessed bundle\'s (default: '
                      f'{configs.RECALL_CHANGE_TOLERANCE})')
  add_hyperparameter_flags(parser.add_argument_group(
      'training (defaults: the --preset\'s, from pipeline/configs.py and '
      'trainer_module/hyperparameters.py)'))
  parser.add_argument('--beam-pipeline-args', action='append', default=[],
                      help='Beam options for every Beam component, '
                      'repeatable or one quoted string (default: '
                      f'{" ".join(configs.LOCAL_BEAM_PIPELINE_ARGS)})')
  beam = parser.add_argument_group(
      'where the Beam components run (README, "Flink")')
  beam.add_argument('--beam-engine', choices=beam_runner.ENGINES,
                    default=beam_runner.DIRECT,
                    help='direct: Beam\'s DirectRunner in this process; '
                    'flink: a Flink cluster through Beam\'s Flink job '
                    'server, the Python work in worker pools beside its '
                    'TaskManagers (`make flink-up` starts one here) '
                    '(default: %(default)s)')
  beam.add_argument('--flink-master', default=beam_runner.FLINK_MASTER,
                    help="the Flink cluster's REST address "
                    '(default: %(default)s)')
  beam.add_argument('--job-endpoint', default=beam_runner.FLINK_JOB_ENDPOINT,
                    help="Beam's Flink job server (default: %(default)s)")
  beam.add_argument('--worker-pool', default=beam_runner.WORKER_POOL,
                    help='where each TaskManager reaches the Beam worker '
                    'pool beside it (default: %(default)s)')
  parser.add_argument('--no-cache', action='store_true',
                      help='re-run every component')


# Hyperparameters fields chosen otherwise than by a flag of their own.
NOT_FLAGS = ('model',)  # --preset


def flag_name(field_name: str) -> str:
  """--batch-size for batch_size."""
  return '--' + field_name.replace('_', '-')


def add_hyperparameter_flags(group: argparse._ArgumentGroup) -> None:  # pylint: disable=protected-access
  """One flag per Hyperparameters field (type, help and choices from the
  field), unset by default so that the --preset's value holds."""
  for field in dataclasses.fields(Hyperparameters):
    if field.name in NOT_FLAGS:
      continue
    kind = type(field.default)
    group.add_argument(
        flag_name(field.name), type=kind if kind is not type(None) else int,
        default=None, choices=field.metadata['choices'],
        help=f'{field.metadata["help"]} (tutorial: {field.default})')


def given_hyperparameters(args: argparse.Namespace) -> Dict[str, Any]:
  """The Hyperparameters fields set on the command line."""
  return {field.name: getattr(args, field.name)
          for field in dataclasses.fields(Hyperparameters)
          if field.name not in NOT_FLAGS and
          getattr(args, field.name) is not None}


def pipeline_config(args: argparse.Namespace) -> configs.PipelineConfig:
  """The --preset, changed by the flags given: what create_pipeline gets.
  Raises ValueError for a value no run could use."""
  config = configs.preset(args.preset, **given_hyperparameters(args))
  changes: Dict[str, Any] = dict(
      validation_percent=args.validation_percent,
      new_user_percent=args.new_user_percent,
      new_user_history=args.new_user_history,
      window_spans=args.window_spans,
      warm_start=args.warm_start,
      analyzer_cache=args.analyzer_cache,
      tune_trials=(None if not args.tune else args.tune_trials
                   if args.tune_trials is not None
                   else configs.DEFAULT_TUNE_TRIALS))
  if args.rmse_threshold is not None:
    changes['rmse_threshold'] = args.rmse_threshold
  if args.recall_tolerance is not None:
    changes['recall_change_tolerance'] = args.recall_tolerance
  return dataclasses.replace(config, **changes)


def check_pipeline_flags(parser: argparse.ArgumentParser,
                         args: argparse.Namespace) -> None:
  """Rejects values no run could use, before anything starts."""
  try:
    config = pipeline_config(args)
    source = ratings_source(args)
    if source.format == ratings_sources.SPANS and not args.ingest_only:
      ratings_sources.span_window(source, config.window_spans)
  except ValueError as error:
    parser.error(str(error))
  if args.beam_engine != beam_runner.DIRECT and any(
      arg.startswith('--runner') for value in args.beam_pipeline_args
      for arg in shlex.split(value)):
    parser.error(f'--beam-engine {args.beam_engine} sets the runner; '
                 '--beam-pipeline-args names another')
  if args.tune_trials is not None and not args.tune:
    parser.error('--tune-trials needs --tune')
  if args.schema not in (None, configs.SCHEMA_INFER) and not (
      '://' in args.schema or os.path.isfile(args.schema)):
    parser.error(f'--schema {args.schema}: no such file')


def schema_path(args: argparse.Namespace) -> Optional[str]:
  """--schema, or the reviewed schema of the data the flags name: the TFDS
  config's (or the matching release's for --movielens-dir), or by your own
  file's columns; None infers one. Raises ValueError (RatingsSourceError,
  configs.NoReviewedSchemaError) when the source or its columns are wrong:
  called while the pipeline is built, so the run reports it."""
  if args.schema == configs.SCHEMA_INFER:
    return None
  if args.schema:
    return args.schema
  source = ratings_source(args)
  module = ratings_sources.source_module(source)
  config = module.tfds_config(source)
  if config:
    return configs.default_schema(config)
  return configs.schema_for_columns(module.columns(source),
                                    list(features.FEATURE_KINDS))


def ratings_source(args: argparse.Namespace) -> RatingsSource:
  """The one RatingsSource the flags name; raises ValueError for flags no
  source reads together."""
  if args.eval_ratings_csv and not args.ratings_csv:
    raise ValueError('--eval-ratings-csv needs --ratings-csv (the train '
                     'split)')
  if args.movielens_split and not args.movielens_dir:
    raise ValueError('--movielens-split needs --movielens-dir')
  if (args.span is not None or args.window_spans or not args.warm_start
      or args.analyzer_cache or args.ingest_only) and not args.ratings_dir:
    raise ValueError('--span, --window-spans, --ingest-only, '
                     '--no-warm-start and --analyzer-cache need '
                     '--ratings-dir')
  if args.ratings_dir:
    return RatingsSource.spans(args.ratings_dir, args.span, args.csv_encoding)
  if args.ratings_csv:
    return RatingsSource.csv(args.ratings_csv, args.eval_ratings_csv,
                             args.csv_encoding)
  if args.ratings_parquet:
    return RatingsSource.parquet(args.ratings_parquet)
  if args.movielens_dir:
    return RatingsSource.grouplens(args.movielens_dir, args.movielens_split)
  return RatingsSource.tfds(args.dataset, args.manual_dir, args.tfds_data_dir)


def beam_args(values: List[str],
              defaults: Optional[List[str]] = None) -> List[str]:
  """Flattens --beam-pipeline-args; adds each DirectRunner default the
  user did not set, unless another runner was asked for."""
  flat = [arg for value in values for arg in shlex.split(value)]
  if not beam_runner.is_direct_runner(flat):
    return flat
  if defaults is None:
    defaults = configs.LOCAL_BEAM_PIPELINE_ARGS
  given = {arg.split('=', 1)[0] for arg in flat}
  return flat + [d for d in defaults if d.split('=', 1)[0] not in given]


def engine_beam_args(args: argparse.Namespace,
                     beam_defaults: Optional[List[str]] = None) -> List[str]:
  """Every Beam component's args: --beam-engine's, then
  --beam-pipeline-args (with the DirectRunner's defaults)."""
  if args.beam_engine == beam_runner.FLINK:
    return beam_runner.flink_args(
        args.flink_master, args.job_endpoint, args.worker_pool) + beam_args(
            args.beam_pipeline_args, [])
  return beam_args(args.beam_pipeline_args, beam_defaults)


def pipeline_kwargs(args: argparse.Namespace,
                    beam_defaults: Optional[List[str]] = None
                    ) -> Dict[str, Any]:
  """create_pipeline's data, model and Beam arguments from parsed flags."""
  return dict(
      source=ratings_source(args),
      schema_path=schema_path(args),
      config=pipeline_config(args),
      beam_pipeline_args=engine_beam_args(args, beam_defaults),
      enable_cache=not args.no_cache,
      ingest_only=args.ingest_only)
