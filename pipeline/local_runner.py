"""Runs the pipeline on this machine with LocalDagRunner.

  python -m pipeline.local_runner [--output-dir runs/local] [--dataset ...]

Everything of a run lives under --output-dir: the pipeline root, the SQLite
ML Metadata store, the pushed serving models and run_summary.json.
"""

import pipeline  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)

import argparse
import json
import os
import shlex
import sys
import time
import traceback
import warnings
from typing import List, Optional

from pipeline import configs


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  """Command-line flags; defaults reproduce the TFRS tutorial."""
  parser = argparse.ArgumentParser(
      prog='python -m pipeline.local_runner', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--output-dir', default=configs.DEFAULT_OUTPUT_DIR,
                      help='holds the whole run (default: %(default)s)')
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
                      'repeatable or one quoted string')
  parser.add_argument('--no-cache', action='store_true',
                      help='re-run every component')
  args = parser.parse_args(argv)
  if args.ratings_csv:
    args.dataset = None
  for name in ('epochs', 'batch_size', 'embedding_dim'):
    if getattr(args, name) < 1:
      parser.error(f'--{name.replace("_", "-")} must be >= 1')
  if not args.learning_rate > 0:
    parser.error('--learning-rate must be > 0')
  if args.manual_dir and not os.path.isdir(args.manual_dir):
    parser.error(f'--manual-dir {args.manual_dir} is not a directory')
  return args


def beam_args(values: List[str]) -> List[str]:
  """Flattens --beam-pipeline-args; adds the local DirectRunner defaults."""
  flat = [arg for value in values for arg in shlex.split(value)]
  for default in configs.default_beam_pipeline_args():
    option = default.split('=', 1)[0]
    if not any(arg.split('=', 1)[0] == option for arg in flat):
      flat.append(default)
  return flat


def build(args: argparse.Namespace):
  """The pipeline object for these flags."""
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from pipeline.pipeline import create_pipeline  # pylint: disable=g-import-not-at-top
  paths = configs.output_paths(args.output_dir)
  return create_pipeline(
      pipeline_name=configs.PIPELINE_NAME,
      pipeline_root=paths['pipeline_root'],
      serving_model_dir=paths['serving_model_dir'],
      dataset=args.dataset,
      ratings_csv=os.path.abspath(args.ratings_csv) if args.ratings_csv
      else None,
      manual_dir=os.path.abspath(args.manual_dir) if args.manual_dir else None,
      tfds_data_dir=args.tfds_data_dir,
      epochs=args.epochs,
      batch_size=args.batch_size,
      learning_rate=args.learning_rate,
      embedding_dim=args.embedding_dim,
      rmse_threshold=args.rmse_threshold,
      metadata_connection_config=tfx.orchestration.metadata
      .sqlite_metadata_connection_config(paths['metadata_path']),
      beam_pipeline_args=beam_args(args.beam_pipeline_args),
      enable_cache=not args.no_cache)


def print_summary(summary: dict) -> None:
  """A few lines a person reads at the end of a run."""
  rmse = summary['rmse']
  print(f"examples: {summary['examples']}")
  print(f"eval RMSE: {rmse:.4f}" if rmse is not None else 'eval RMSE: n/a')
  print(f"blessed: {summary['blessed']}")
  print(f"pushed model: {summary['pushed_model'] or 'none (not blessed)'}")
  seconds = ', '.join(f'{n} {s:.1f}s' for n, s in
                      summary['component_seconds'].items())
  print(f'component seconds: {seconds}')
  print(f"wall seconds: {summary['wall_seconds']:.1f}")


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  warnings.filterwarnings('ignore', category=FutureWarning)
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  paths = configs.output_paths(args.output_dir)
  os.makedirs(os.path.dirname(paths['metadata_path']), exist_ok=True)
  start = time.monotonic()
  try:
    tfx.orchestration.LocalDagRunner().run(build(args))
  except Exception as error:  # pylint: disable=broad-except
    traceback.print_exc()
    failed = run_summary.failed_components(paths['metadata_path']) if (
        os.path.exists(paths['metadata_path'])) else {}
    where = ', '.join(failed) or 'pipeline construction'
    print(f'error: the run failed in {where}: '
          f'{type(error).__name__}: {error}', file=sys.stderr)
    return 1
  summary = run_summary.summarize(paths['metadata_path'])
  summary['wall_seconds'] = round(time.monotonic() - start, 1)
  with open(paths['run_summary'], 'w') as f:
    json.dump(summary, f, indent=2)
  print_summary(summary)
  print(f"run summary: {paths['run_summary']}")
  return 0


if __name__ == '__main__':
  sys.exit(main())
