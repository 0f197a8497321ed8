"""Flags shared by every runner, and how they become create_pipeline's args."""

import argparse
import os
import shlex
from typing import Any, Dict, List, Optional

from pipeline import configs


def add_pipeline_flags(parser: argparse.ArgumentParser) -> None:
  """Data, model and Beam flags; defaults reproduce the TFRS tutorial."""
  source = parser.add_mutually_exclusive_group()
  source.add_argument('--dataset', default=configs.DEFAULT_DATASET,
                      help='TFDS MovieLens ratings config '
                      '(default: %(default)s)')
  source.add_argument('--ratings-csv', default=None,
                      help='your own ratings: user_id,movie_title,'
                      'user_rating[,timestamp,...] instead of --dataset')
  parser.add_argument('--manual-dir',
                      default=os.environ.get(configs.MANUAL_DIR_ENV),
                      help='folder holding the original MovieLens zip, for '
                      f'offline use (default: ${configs.MANUAL_DIR_ENV})')
  parser.add_argument('--tfds-data-dir', default=None,
                      help="where TFDS keeps prepared data (TFDS's default)")
  parser.add_argument('--epochs', type=int, default=configs.EPOCHS)
  parser.add_argument('--batch-size', type=int, default=configs.BATCH_SIZE)
  parser.add_argument('--learning-rate', type=float,
                      default=configs.LEARNING_RATE)
  parser.add_argument('--embedding-dim', type=int,
                      default=configs.EMBEDDING_DIM)
  parser.add_argument('--rmse-threshold', type=float,
                      default=configs.RMSE_THRESHOLD,
                      help='Evaluator value gate: bless only if eval RMSE '
                      '<= this (default: %(default)s)')
  parser.add_argument('--beam-pipeline-args', action='append', default=[],
                      help='Beam options for every Beam component, '
                      'repeatable or one quoted string (default: '
                      f'{" ".join(configs.LOCAL_BEAM_PIPELINE_ARGS)})')
  parser.add_argument('--no-cache', action='store_true',
                      help='re-run every component')


def check_pipeline_flags(parser: argparse.ArgumentParser,
                         args: argparse.Namespace) -> None:
  """Rejects values no run could use, before anything starts."""
  for name in ('epochs', 'batch_size', 'embedding_dim'):
    if getattr(args, name) < 1:
      parser.error(f'--{name.replace("_", "-")} must be >= 1')
  if not args.learning_rate > 0:
    parser.error('--learning-rate must be > 0')
  if not args.rmse_threshold > 0:
    parser.error('--rmse-threshold must be > 0')


def beam_args(values: List[str],
              defaults: Optional[List[str]] = None) -> List[str]:
  """Flattens --beam-pipeline-args; adds each DirectRunner default the
  user did not set, unless another runner was asked for."""
  flat = [arg for value in values for arg in shlex.split(value)]
  options = dict(arg.split('=', 1) if '=' in arg else (arg, '')
                 for arg in flat)
  if options.get('--runner', 'DirectRunner') not in ('DirectRunner',
                                                     'direct'):
    return flat
  if defaults is None:
    defaults = configs.LOCAL_BEAM_PIPELINE_ARGS
  return flat + [d for d in defaults if d.split('=', 1)[0] not in options]


def local_path(path: Optional[str]) -> Optional[str]:
  """Absolute path for local files; URLs such as gs://... stay as given."""
  if not path or '://' in path:
    return path or None
  return os.path.abspath(path)


def pipeline_kwargs(args: argparse.Namespace,
                    beam_defaults: Optional[List[str]] = None
                    ) -> Dict[str, Any]:
  """create_pipeline's data, model and Beam arguments from parsed flags."""
  return dict(
      dataset=None if args.ratings_csv else args.dataset,
      ratings_csv=local_path(args.ratings_csv),
      manual_dir=local_path(args.manual_dir),
      tfds_data_dir=local_path(args.tfds_data_dir),
      epochs=args.epochs,
      batch_size=args.batch_size,
      learning_rate=args.learning_rate,
      embedding_dim=args.embedding_dim,
      rmse_threshold=args.rmse_threshold,
      beam_pipeline_args=beam_args(args.beam_pipeline_args, beam_defaults),
      enable_cache=not args.no_cache)
