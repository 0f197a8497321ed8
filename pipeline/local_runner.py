"""Runs the pipeline on this machine with LocalDagRunner.

  python -m pipeline.local_runner [--output-dir runs/local] [--dataset ...]

Everything of a run lives under --output-dir: the pipeline root, the SQLite
ML Metadata store, the pushed serving models and run_summary.json.
"""

import argparse
import dataclasses
import gc
import json
import os
import sys
import time
import traceback
from typing import List, Optional

from components import beam_runner
from components import names
from components import ratings_source as ratings_sources
from pipeline import cli
from pipeline import configs
from pipeline import logs
from pipeline import run_key
from pipeline import run_lock


EXIT_FAILED = 1  # the run failed; run_summary.json says where
EXIT_BUSY = 3  # another run holds the output directory


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  """Command-line flags; defaults reproduce the TFRS tutorial."""
  parser = argparse.ArgumentParser(
      prog='python -m pipeline.local_runner', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--output-dir', default=configs.DEFAULT_OUTPUT_DIR,
                      help='holds the whole run (default: %(default)s)')
  cli.add_pipeline_flags(parser)
  parser.add_argument('--verbose', action='store_true',
                      help='show TensorFlow, Beam and TFX logs')
  parser.add_argument('--no-report', action='store_true',
                      help='do not write DIR/report/index.html')
  args = parser.parse_args(argv)
  cli.check_pipeline_flags(parser, args)
  if args.manual_dir and not os.path.isdir(args.manual_dir):
    parser.error(f'--manual-dir {args.manual_dir} is not a directory')
  return args


def build(args: argparse.Namespace, span: Optional[int] = None):
  """The pipeline object for these flags; with a folder of spans, one that
  ingests `span` (default: --span, else the newest)."""
  from tfx.orchestration import metadata  # pylint: disable=g-import-not-at-top
  from pipeline.pipeline import create_pipeline  # pylint: disable=g-import-not-at-top
  paths = configs.output_paths(args.output_dir)
  kwargs = cli.pipeline_kwargs(args)
  beam_runner.check_job_server(kwargs['beam_pipeline_args'])
  if span is not None:
    kwargs['source'] = dataclasses.replace(kwargs['source'], span=span)
  return create_pipeline(
      pipeline_name=configs.PIPELINE_NAME,
      pipeline_root=paths['pipeline_root'],
      serving_model_dir=paths['serving_model_dir'],
      metadata_connection_config=metadata.sqlite_metadata_connection_config(
          paths['metadata_path']),
      **kwargs)


def ingest_window(args: argparse.Namespace, metadata_path: str) -> None:
  """With a folder of spans: ExampleGen alone (a TFX partial run, its
  RangeConfig naming the span) on each span of the window before the run's
  that no run has ingested yet, so each span is read once however many
  runs use it."""
  from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # pylint: disable=g-import-not-at-top
  from tfx.orchestration.pipeline import RunOptions  # pylint: disable=g-import-not-at-top
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  source = cli.ratings_source(args)
  if source.format != ratings_sources.SPANS or args.ingest_only:
    return
  window = ratings_sources.span_window(
      source, cli.pipeline_config(args).window_spans)
  ingested = set(run_summary.ingested_spans(metadata_path))
  for span in window[1] if window else ():
    if span not in ingested:
      LocalDagRunner().run(build(args, span), run_options=RunOptions(
          from_nodes=[names.EXAMPLE_GEN], to_nodes=[names.EXAMPLE_GEN]))


def print_summary(summary: dict, timings: bool = True) -> None:
  """A few lines a person reads at the end of a run (`timings`: with its
  seconds per component and in all)."""
  rmse = summary['rmse']
  print(f"examples: {summary['examples']}")
  print(f"eval RMSE: {rmse:.4f}" if rmse is not None else 'eval RMSE: n/a')
  top_n = summary.get('top_n')
  if top_n:
    print(top_n_line(top_n))
    print(new_user_line(top_n.get('new_users')))
  print(f"blessed: {summary['blessed']}")
  for reason in summary['not_blessed_because']:
    print(f'  not blessed: {reason}')
  print(f"pushed model: {summary['pushed_model'] or 'none (not blessed)'}")
  if not timings:
    return
  seconds = ', '.join(f'{n} {s:.1f}s' for n, s in
                      summary['component_seconds'].items())
  print(f'component seconds: {seconds}')
  print(f"wall seconds: {summary['wall_seconds']:.1f}")


def top_n_line(top_n: dict) -> str:
  """'eval Recall@10: bundle 0.31, retrieval alone 0.30, ...'."""
  metric = f"recall@{top_n['k']}"
  names = {'bundle': 'bundle', 'retrieval': 'retrieval alone',
           'most_popular': 'most popular', 'baseline': 'last blessed'}
  return f'eval Recall@{top_n["k"]}: ' + ', '.join(
      f'{label} {top_n[key][metric]:.4f}' for key, label in names.items()
      if top_n.get(key))


def new_user_line(new: Optional[dict]) -> str:
  """'new users (189, given 10 ratings): Recall@10 bundle 0.30, most
  popular 0.26', or why there are no such figures."""
  if not new or 'skipped' in new:
    return (new or {}).get('skipped', 'no new-user figures')
  metric = f"recall@{new['k']}"
  gated = new['by_history'][str(new['history'])]
  if not gated['bundle']['users']:
    return (f"new users ({new['users']}): none has a liked movie after the "
            f"{new['history']} ratings given")
  return (f"new users ({gated['bundle']['users']} with a later liked movie, "
          f"given {new['history']} ratings): Recall@{new['k']} bundle "
          f"{gated['bundle'][metric]:.4f}, most popular "
          f"{gated['most_popular'][metric]:.4f}")


def write_summary(paths: dict, summary: dict) -> None:
  """Writes run_summary.json: what the latest run did, or where it failed."""
  with open(paths['run_summary'], 'w') as f:
    json.dump(summary, f, indent=2)


def report_unchanged(args: argparse.Namespace, paths: dict) -> int:
  """Reports the last run, which a run now would repeat from the cache;
  writes the report only if it is missing."""
  with open(paths['run_summary']) as f:
    summary = json.load(f)
  print(f"nothing changed since run {summary['run_id']}: the same flags, "
        'code, packages and input files, and ML Metadata untouched since, '
        'so every component would come from the cache (--no-cache runs '
        'them again)')
  print_summary(summary, timings=False)
  print(f"run summary: {paths['run_summary']}")
  if not args.no_report:
    if not os.path.exists(paths['report']):
      logs.before_tensorflow(args.verbose)
      logs.configure(args.verbose)
      from pipeline import report  # pylint: disable=g-import-not-at-top
      report.write_report(args.output_dir)
    print(f"report: {paths['report']}")
  return 0


def run(args: argparse.Namespace, paths: dict) -> int:
  """Runs the pipeline, writes run_summary.json and the report; or, when
  nothing changed since the last run, reports that one (run_key) before
  TensorFlow is even imported."""
  key = run_key.run_key(args)
  if run_key.unchanged(args.output_dir, paths['metadata_path'], key) and (
      os.path.exists(paths['run_summary'])):
    return report_unchanged(args, paths)
  run_key.forget(args.output_dir)
  logs.before_tensorflow(args.verbose)
  logs.configure(args.verbose)
  # Not `from tfx import v1` (pipeline/pipeline.py says why).
  from tfx.orchestration.local.local_dag_runner import LocalDagRunner  # pylint: disable=g-import-not-at-top
  from pipeline import progress  # pylint: disable=g-import-not-at-top
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  start = time.monotonic()
  built = None
  try:
    built = build(args)
    with progress.watch(paths['metadata_path']):
      ingest_window(args, paths['metadata_path'])
      LocalDagRunner().run(built)
  except Exception as error:  # pylint: disable=broad-except
    if args.verbose:
      traceback.print_exc()
    # Not built: ML Metadata's latest failures are an earlier run's.
    failed = run_summary.failed_components(paths['metadata_path']) if (
        built and os.path.exists(paths['metadata_path'])) else {}
    where = (', '.join(failed) or 'the orchestrator') if built else (
        'pipeline construction')
    message = (built and beam_runner.flink_failure_cause(
        cli.engine_beam_args(args), str(error))) or (
            f'{type(error).__name__}: {error}')
    print(f'error: the run failed in {where}: {message}', file=sys.stderr)
    write_summary(paths, {'failed_in': where, 'error': message,
                          'wall_seconds': round(time.monotonic() - start, 1)})
    return EXIT_FAILED
  summary = run_summary.summarize(paths['metadata_path'])
  summary['wall_seconds'] = round(time.monotonic() - start, 1)
  write_summary(paths, summary)
  print_summary(summary)
  print(f"run summary: {paths['run_summary']}")
  if not args.no_report:
    from pipeline import report  # pylint: disable=g-import-not-at-top
    print(f'report: {report.write_report(args.output_dir)}')
  # Only a run that executed nothing tells what the same run would do
  # next: one that executed something may have changed what the resolvers
  # find (a first run blesses the data the next run's drift check compares
  # with).
  executed = run_key.executed(summary['component_states'],
                              names.RESOLVERS)
  run_key.record(args.output_dir, paths['metadata_path'],
                 None if executed else key)
  return 0


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  paths = configs.output_paths(args.output_dir)
  try:
    with run_lock.hold(args.output_dir):
      return run(args, paths)
  except run_lock.RunInProgressError as error:
    print(f'error: {error}', file=sys.stderr)
    return EXIT_BUSY


if __name__ == '__main__':
  exit_status = main()
  # TensorFlow, Beam and TFX left millions of objects, which the interpreter's
  # last garbage collection would walk for 1.7-2.4 s before exiting: they
  # are freed with the process anyway.
  gc.freeze()
  sys.exit(exit_status)
