"""Replays MovieLens 100k week by week: warm runs against cold retrains.

  python -m bench.replay [--movielens-dir ../shared/data/ml-100k]
      [--first-weeks 8] [--weeks N] [--plant-bad-week K]
  python -m bench.replay --ratings-csv RATINGS.csv --span-days 365
      --first-weeks 16 --from-span 6 --results bench/results/replay_scale

The ratings (every 100k column, from the GroupLens files) are cut into
spans by their timestamps: span 1 holds the first `--first-weeks` weeks,
then one span a week (bench/spans.py). The replay starts with span 1 and
adds one span at a time; each step, with the new span the eval data (the
future) and the spans before it the training window:

- a warm run: the local runner on one output directory that lives across
  the replay, so each span is ingested once and the Trainer starts from the
  latest blessed model (the default with --ratings-dir);
- a cold retrain: the same window in a fresh output directory with
  --no-warm-start (every span ingested, every component run).

`--ratings-csv` replays a ratings CSV instead (bench.synthetic's, at
scale), cut into spans of `--span-days` (the first `--first-weeks` periods
long); `--from-span K` starts the warm chain with one run on spans 1..K-1
and compares from span K.

Each step records both runs' wall seconds, Recall@10 of the bundle and of
the most popular list on the new span's returning people, the new people's
Recall@10 (given their first 10 ratings), and whether the warm run pushed.
`--plant-bad-week K` replaces week K's ratings by a constant 1 star (a
drifted span): its gates stop the run and the served model stays the last
blessed one. Writes bench/results/replay.json and replay.png.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional

from bench import spans as span_cutter
from bench import synthetic
from components import grouplens_files
from components import names
from pipeline import configs
from pipeline import run_summary

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(PROJECT_ROOT, 'bench', 'results', 'replay')
DEFAULT_WORK_DIR = os.path.join(PROJECT_ROOT, 'runs', 'bench-replay')
DEFAULT_MOVIELENS_DIR = os.path.join(PROJECT_ROOT, '..', 'shared', 'data',
                                     'ml-100k')
WEEK_DAYS = 7
# Goals (issue 31): a warm run's wall time at most this share of the cold
# retrain's (median over the replay); its Recall@10 within this (relative)
# of the cold retrain's.
WARM_SECONDS_GOAL = 0.4
WARM_RECALL_GOAL = 0.03


def write_ratings_csv(movielens_dir: str, path: str) -> int:
  """Every rating of a GroupLens folder as a ratings CSV with the columns
  ExampleGen knows (bench/synthetic.COLUMNS); returns the ratings."""
  fmt, (ratings_path,) = grouplens_files.ratings_files(movielens_dir)
  movies = grouplens_files.read_movies(movielens_dir, fmt)
  users = grouplens_files.read_users(movielens_dir, fmt)
  written = 0
  with open(path, 'w', newline='', encoding='utf-8') as out, open(
      ratings_path, encoding=fmt.encoding) as lines:
    writer = csv.writer(out)
    writer.writerow(synthetic.COLUMNS)
    for line in lines:
      if not line.strip():
        continue
      record = grouplens_files.rating_to_record(line, fmt, movies, users,
                                                ratings_path)
      writer.writerow(['|'.join(str(v) for v in record.get(column, []))
                       for column in synthetic.COLUMNS])
      written += 1
  return written


def plant_bad_span(span_dir: str) -> None:
  """Every rating of a span made 1 star: a drifted span."""
  path = os.path.join(span_dir, 'ratings.csv')
  with open(path, newline='') as f:
    header, *rows = list(csv.reader(f))
  column = header.index('user_rating')
  for row in rows:
    row[column] = '1.0'
  with open(path, 'w', newline='') as f:
    csv.writer(f).writerows([header, *rows])


def run(output_dir: str, spans_dir: str, extra: List[str], log_path: str
        ) -> Dict[str, Any]:
  """One local-runner run; its wall seconds, exit status and summary."""
  command = [sys.executable, '-m', 'pipeline.local_runner', '--output-dir',
             output_dir, '--ratings-dir', spans_dir, '--no-report', *extra]
  start = time.monotonic()
  with open(log_path, 'w') as log:
    returncode = subprocess.call(
        command, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONWARNINGS='ignore::FutureWarning'))
  wall = time.monotonic() - start
  with open(configs.output_paths(output_dir)['run_summary']) as f:
    summary = json.load(f)
  return {'seconds': round(wall, 1), 'returncode': returncode,
          'summary': summary}


def figures(result: Dict[str, Any]) -> Dict[str, Any]:
  """What a step records of one run."""
  summary = result['summary']
  top_n = summary.get('top_n') or {}
  new = (top_n.get('new_users') or {})
  gated = (new.get('by_history') or {}).get(str(new.get('history'))) or {}
  recall = f"recall@{top_n.get('k', configs.TOP_N_K)}"
  return {
      'seconds': result['seconds'],
      'failed_in': summary.get('failed_in'),
      'recall': (top_n.get('bundle') or {}).get(recall),
      'most_popular': (top_n.get('most_popular') or {}).get(recall),
      'new_users': (gated.get('bundle') or {}).get(recall),
      'new_users_most_popular': (gated.get('most_popular') or {}).get(recall),
      'rmse': summary.get('rmse'),
      'blessed': summary.get('blessed', False),
      'pushed': bool(summary.get('pushed_model')),
      'epochs_run': (summary.get('training') or {}).get('epochs_run'),
      'base_model': bool((summary.get('training') or {}).get('base_model')),
      'component_seconds': summary.get('component_seconds'),
  }


def served_version(output_dir: str) -> Optional[str]:
  """The newest version the Pusher wrote (what is served)."""
  serving = configs.output_paths(output_dir)['serving_model_dir']
  versions = sorted(os.listdir(serving), key=int) if os.path.isdir(
      serving) else []
  return versions[-1] if versions else None


def replay(args: argparse.Namespace) -> Dict[str, Any]:
  """Runs the replay; returns what replay.json holds."""
  work = os.path.abspath(args.work_dir)
  shutil.rmtree(work, ignore_errors=True)
  os.makedirs(work)
  ratings = args.ratings_csv
  if not ratings:
    ratings = os.path.join(work, 'ratings.csv')
    write_ratings_csv(args.movielens_dir, ratings)
  all_spans = os.path.join(work, 'all-spans')
  cut = span_cutter.cut(ratings, all_spans, days=args.span_days,
                        first_days=args.first_weeks * args.span_days)
  if not 2 <= args.from_span <= len(cut):
    raise ValueError(f'--from-span {args.from_span}: the ratings cut into '
                     f'{len(cut)} spans')
  last = len(cut) if not args.weeks else min(
      len(cut), args.from_span - 1 + args.weeks)
  spans_dir, warm_dir = (os.path.join(work, name)
                         for name in ('spans', 'warm'))
  os.makedirs(spans_dir)
  for span in range(1, args.from_span):
    shutil.copytree(os.path.join(all_spans, f'span-{span}'),
                    os.path.join(spans_dir, f'span-{span}'))
  start = None  # the warm chain's first run, before any comparison
  if args.from_span > 2:
    start = figures(run(warm_dir, spans_dir, args.pipeline_args,
                        os.path.join(work, f'warm-{args.from_span - 1}.log')))
    print(f'spans 1-{args.from_span - 1}: the warm chain starts in '
          f"{start['seconds']:.1f}s", flush=True)
  steps = []
  for span in range(args.from_span, last + 1):
    shutil.copytree(os.path.join(all_spans, f'span-{span}'),
                    os.path.join(spans_dir, f'span-{span}'))
    planted = span == args.plant_bad_week
    if planted:
      plant_bad_span(os.path.join(spans_dir, f'span-{span}'))
    served_before = served_version(warm_dir)
    warm = figures(run(warm_dir, spans_dir, args.pipeline_args,
                       os.path.join(work, f'warm-{span}.log')))
    cold_dir = os.path.join(work, f'cold-{span}')
    cold = figures(run(cold_dir, spans_dir,
                       ['--no-warm-start', *args.pipeline_args],
                       os.path.join(work, f'cold-{span}.log')))
    shutil.rmtree(cold_dir, ignore_errors=True)
    step = {'span': span, 'ratings': cut[span - 1]['ratings'],
            'window_ratings': sum(c['ratings'] for c in cut[:span - 1]),
            'planted_bad': planted, 'warm': warm, 'cold': cold,
            'served_before': served_before,
            'served_after': served_version(warm_dir)}
    steps.append(step)
    print(step_line(step), flush=True)
  ingests = run_summary.span_ingests(
      configs.output_paths(warm_dir)['metadata_path'])
  return {'ratings': os.path.abspath(args.ratings_csv) if args.ratings_csv
          else os.path.abspath(args.movielens_dir),
          'span_days': args.span_days, 'first_weeks': args.first_weeks,
          'from_span': args.from_span, 'start': start, 'steps': steps,
          'span_reads': {str(k): v for k, v in ingests.items()},
          'summary': summarize(steps, ingests)}


def step_line(step: Dict[str, Any]) -> str:
  """One line a person reads per step."""
  warm, cold = step['warm'], step['cold']

  def recall(value):
    return f'{value:.4f}' if value is not None else 'n/a'
  return (f"span {step['span']:2d} ({step['ratings']:5d} ratings): warm "
          f"{warm['seconds']:6.1f}s recall {recall(warm['recall'])} "
          f"{'pushed' if warm['pushed'] else 'NOT pushed'}"
          f"{' (failed in ' + warm['failed_in'] + ')' if warm['failed_in'] else ''}"
          f" | cold {cold['seconds']:6.1f}s recall {recall(cold['recall'])}"
          f" | most popular {recall(warm['most_popular'])}"
          f" | new people {recall(warm['new_users'])}"
          f"{' [planted bad span]' if step['planted_bad'] else ''}")


def trainer_seconds(run: Dict[str, Any]) -> Optional[float]:
  """The Trainer's seconds in a run (None when it did not run)."""
  return (run.get('component_seconds') or {}).get(names.TRAINER)


def summarize(steps: List[Dict[str, Any]], ingests: Dict[int, int]
              ) -> Dict[str, Any]:
  """The goals' figures over the steps both runs completed."""
  done = [s for s in steps if not s['warm']['failed_in']
          and not s['cold']['failed_in'] and s['warm']['recall'] is not None]
  ratios = [s['warm']['seconds'] / s['cold']['seconds'] for s in done]
  # What the ratio would be with a warm Trainer of 0 seconds: the floor the
  # rest of a warm run (process start, ingest, statistics, Transform, the
  # Evaluator) sets whatever training costs.
  floors = [(s['warm']['seconds'] - trainer_seconds(s['warm']))
            / s['cold']['seconds'] for s in done
            if trainer_seconds(s['warm']) is not None]
  recall_gaps = [(s['warm']['recall'] - s['cold']['recall'])
                 / s['cold']['recall'] for s in done if s['cold']['recall']]
  return {
      'steps': len(steps), 'compared': len(done),
      'median_warm_over_cold_seconds': round(statistics.median(ratios), 3)
      if ratios else None,
      'median_warm_over_cold_seconds_without_trainer': round(
          statistics.median(floors), 3) if floors else None,
      'median_warm_recall_gap': round(statistics.median(recall_gaps), 4)
      if recall_gaps else None,
      'worst_warm_recall_gap': round(min(recall_gaps), 4)
      if recall_gaps else None,
      'weeks_warm_above_most_popular': sum(
          s['warm']['recall'] > s['warm']['most_popular'] for s in done),
      'every_span_read_once': all(count == 1 for count in ingests.values()),
      'planted_bad_kept_served_model': all(
          s['served_after'] == s['served_before'] and not s['warm']['pushed']
          for s in steps if s['planted_bad']) if any(
              s['planted_bad'] for s in steps) else None,
  }


def table(result: Dict[str, Any]) -> str:
  """The replay as a Markdown table (README, closing notes)."""
  def number(value, digits=4):
    return f'{value:.{digits}f}' if value is not None else 'n/a'
  lines = ['| span | ratings | seconds warm / cold | Recall@10 warm / cold '
           '/ most popular | new people warm | pushed |',
           '|---|---|---|---|---|---|']
  for step in result['steps']:
    warm, cold = step['warm'], step['cold']
    pushed = 'yes' if warm['pushed'] else (
        f"no ({warm['failed_in']} stopped it)" if warm['failed_in']
        else 'no (not blessed)')
    lines.append(
        f"| {step['span']}{' (planted bad)' if step['planted_bad'] else ''} "
        f"| {step['ratings']:,} | {warm['seconds']:.1f} / "
        f"{cold['seconds']:.1f} | {number(warm['recall'])} / "
        f"{number(cold['recall'])} / {number(warm['most_popular'])} | "
        f"{number(warm['new_users'])} | {pushed} |")
  return '\n'.join(lines)


def plot(result: Dict[str, Any], path: str) -> None:
  """Recall@10 and seconds per week: warm, cold, most popular."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  steps = result['steps']
  spans = [s['span'] for s in steps]
  figure, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
  for key, label in (('warm', 'warm'), ('cold', 'cold retrain')):
    top.plot(spans, [s[key]['recall'] for s in steps], marker='o',
             label=label)
    bottom.plot(spans, [s[key]['seconds'] for s in steps], marker='o',
                label=label)
  top.plot(spans, [s['warm']['most_popular'] for s in steps], marker='.',
           linestyle='--', label='most popular')
  top.set_ylabel('Recall@10 on the new span')
  bottom.set_ylabel('wall seconds')
  bottom.set_xlabel('span (the new week)')
  top.legend()
  bottom.legend()
  figure.tight_layout()
  figure.savefig(path)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog='python -m bench.replay', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--movielens-dir', default=DEFAULT_MOVIELENS_DIR)
  parser.add_argument('--ratings-csv', default=None,
                      help='a ratings CSV to replay instead of the '
                      'GroupLens folder (bench.synthetic --format csv)')
  parser.add_argument('--span-days', type=int, default=WEEK_DAYS,
                      help='days a span covers')
  parser.add_argument('--first-weeks', type=int, default=8,
                      help='span 1 covers this many spans\' days')
  parser.add_argument('--from-span', type=int, default=2,
                      help='compare from this span; the warm chain starts '
                      'with one run on the spans before it')
  parser.add_argument('--weeks', type=int, default=None,
                      help='replay only this many spans from --from-span')
  parser.add_argument('--plant-bad-week', type=int, default=None,
                      help='span number whose ratings are made all 1 star')
  parser.add_argument('--work-dir', default=DEFAULT_WORK_DIR)
  parser.add_argument('--results', default=RESULTS,
                      help='writes RESULTS.json and RESULTS.png')
  parser.add_argument('pipeline_args', nargs='*',
                      help='more local-runner flags (after --)')
  return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  result = replay(args)
  with open(args.results + '.json', 'w') as f:
    json.dump(result, f, indent=1)
  plot(result, args.results + '.png')
  print(table(result))
  print(json.dumps(result['summary'], indent=1))
  print(f'wrote {args.results}.json and {args.results}.png')
  return 0


if __name__ == '__main__':
  sys.exit(main())
