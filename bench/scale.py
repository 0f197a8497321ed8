"""How the pipeline's cost grows with the data: 100k to 25M ratings.

  python -m bench.scale [--sizes 100k,1m,5m] [--with-25m]   (make bench-scale)

For each size: generates synthetic MovieLens-shaped ratings
(bench/synthetic.py, Parquet by default), runs the whole pipeline cold in
its own process with Beam multi-processing, samples the memory of the
runner and its Beam workers every SAMPLE_SECONDS, and reads the run's
figures back from ML Metadata. Prints a table per size, writes
bench/results/scale.json and scale.png (log-log: seconds and peak memory
against ratings).

Goals (issue 5): cost per rating within COST_RATIO_GOAL from 1M to 5M;
peak memory growing sub-linearly; issue 30's: 25M in at most
GOAL_25M_SECONDS and GOAL_25M_PEAK_MIB.
"""

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

import psutil

from bench import compare
from bench import synthetic
from bench import top_n
from components import beam_runner
from flink import cluster

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(PROJECT_ROOT, 'bench', 'results')
DEFAULT_WORK_DIR = os.path.join(PROJECT_ROOT, 'runs', 'bench-scale')
SIZES = {'100k': 100_000, '1m': 1_000_000, '5m': 5_000_000,
         '25m': 25_000_000}
DEFAULT_SIZES = '100k,1m'
SAMPLE_SECONDS = 0.5
# EASE inverts a dense catalog x catalog matrix (5M synthetic ratings know
# ~18k movies: 2.5 GB); above this only the sparse item-kNN runs (25M).
EASE_MAX_MOVIES = 20_000
BEAM_ARGS = '--direct_running_mode=multi_processing --direct_num_workers={}'

COST_RATIO_GOAL = 1.5  # seconds per rating at 5M <= 1.5x that at 1M
GOAL_25M_SECONDS = 700
GOAL_25M_PEAK_MIB = 8192


class MemorySampler(threading.Thread):
  """Samples the RSS of processes and their descendants: each root's tree
  apart (`peaks`), and their sum over time (`samples`)."""

  def __init__(self, roots: Dict[str, int]):
    super().__init__(daemon=True)
    self._roots = {name: psutil.Process(pid) for name, pid in roots.items()}
    self._done = threading.Event()
    self.samples: List[Tuple[float, float]] = []  # (epoch s, MiB)
    self.peaks: Dict[str, float] = {name: 0.0 for name in roots}

  @staticmethod
  def _tree_rss(root: psutil.Process) -> float:
    total = 0
    for process in [root] + root.children(recursive=True):
      try:
        total += process.memory_info().rss
      except psutil.Error:  # exited between listing and reading
        pass
    return total / 2**20

  def run(self):
    while not self._done.is_set():
      try:
        trees = {name: self._tree_rss(root)
                 for name, root in self._roots.items()}
      except psutil.Error:  # the runner (or a cluster process) exited
        return
      self.samples.append((time.time(), sum(trees.values())))
      for name, mib in trees.items():
        self.peaks[name] = max(self.peaks[name], mib)
      self._done.wait(SAMPLE_SECONDS)

  def stop(self) -> None:
    self._done.set()
    self.join()


def run_pipeline(data_path: str, output_dir: str, workers: int,
                 log_path: str, engine: str = beam_runner.DIRECT
                 ) -> Dict[str, Any]:
  """Runs the local runner on `data_path` cold, its Beam components on
  `engine` (flink: the cluster `make flink-up` started); wall seconds,
  memory samples of the runner and every cluster process, and each one's
  peak. Raises with the end of its log if it fails."""
  flag = ('--ratings-parquet' if data_path.endswith('.parquet')
          else '--ratings-csv')
  beam = (['--beam-engine', engine] if engine == beam_runner.FLINK
          else [f'--beam-pipeline-args={BEAM_ARGS.format(workers)}'])
  args = [sys.executable, '-m', 'pipeline.local_runner',
          '--output-dir', output_dir, flag, data_path, '--no-report', *beam]
  env = dict(os.environ, PYTHONWARNINGS='ignore::FutureWarning')
  cluster_pids = (cluster.read_pids(cluster.DEFAULT_STATE_DIR)
                  if engine == beam_runner.FLINK else {})
  start = time.monotonic()
  with open(log_path, 'w') as log:
    process = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    sampler = MemorySampler({'runner': process.pid, **cluster_pids})
    sampler.start()
    returncode = process.wait()
    sampler.stop()
  wall = time.monotonic() - start
  if returncode != 0:
    with open(log_path) as log:
      raise RuntimeError(f'the pipeline failed ({returncode}) on '
                         f'{data_path}:\n{log.read()[-4000:]}')
  return {'wall_seconds': wall, 'samples': sampler.samples,
          'process_peaks': {name: round(mib, 1)
                            for name, mib in sampler.peaks.items()}}


def component_figures(metadata_path: str,
                      samples: List[Tuple[float, float]]
                      ) -> Dict[str, Dict[str, float]]:
  """{component: seconds, peak MiB while it ran} of the latest run."""
  from pipeline import run_summary  # pylint: disable=g-import-not-at-top
  store = run_summary.open_store(metadata_path)
  runs = run_summary.component_runs(store, run_summary.latest_run_id(store))
  figures = {}
  for name, run in runs.items():
    during = [mib for t, mib in samples
              if run.started <= t <= run.started + run.seconds]
    figures[name] = {'seconds': run.seconds,
                     'peak_rss_mib': round(max(during), 1) if during else None}
  return figures


def measure_size(label: str, ratings: int, work_dir: str, file_format: str,
                 workers: int, seed: int, engine: str = beam_runner.DIRECT
                 ) -> Dict[str, Any]:
  """Generates the data (once per size, format and seed) and runs the
  pipeline on it; the size's figures."""
  data_dir = os.path.join(work_dir, 'data', f'{label}-{file_format}-{seed}')
  manifest_path = os.path.join(data_dir, synthetic.MANIFEST)
  manifest = compare.read_json(manifest_path) if os.path.exists(
      manifest_path) else {}
  if manifest.get('generator') != json.loads(json.dumps(
      synthetic.generator_settings())):  # not generated, or by other code
    print(f'[{label}] generating {ratings:,} ratings ({file_format})',
          flush=True)
    manifest = synthetic.write(synthetic.Sizes.for_ratings(ratings),
                               data_dir, seed, file_format)
  output_dir = os.path.join(work_dir, 'runs', label + (
      '' if engine == beam_runner.DIRECT else f'-{engine}'))
  shutil.rmtree(output_dir, ignore_errors=True)  # a cold run
  os.makedirs(output_dir)
  print(f'[{label}] running the pipeline (' + (
      f'{workers} Beam workers' if engine == beam_runner.DIRECT else
      'Beam on the Flink cluster') + f'); log: {output_dir}/runner.log',
        flush=True)
  run = run_pipeline(manifest['path'], output_dir, workers,
                     os.path.join(output_dir, 'runner.log'), engine)
  summary = compare.read_json(os.path.join(output_dir, 'run_summary.json'))
  components = component_figures(
      os.path.join(output_dir, 'metadata.db'), run['samples'])
  peak = max((mib for _, mib in run['samples']), default=None)
  anchors = None  # the DirectRunner's run of the same data has them
  if engine == beam_runner.DIRECT:
    print(f'[{label}] top-N anchors on the run\'s eval users', flush=True)
    anchors = top_n.reference_lists(compare.examples_dir(output_dir),
                                    ease_max_movies=EASE_MAX_MOVIES)
  result = {
      'label': label, 'ratings': ratings, 'beam_engine': engine,
      'users': manifest['users'], 'movies': manifest['movies'],
      'data_format': file_format, 'data_bytes': manifest['bytes'],
      'generate_seconds': manifest['seconds'],
      'wall_seconds': round(run['wall_seconds'], 1),
      'seconds_per_million': round(run['wall_seconds'] / ratings * 1e6, 2),
      'examples_per_second': round(ratings / run['wall_seconds'], 1),
      'peak_rss_mib': round(peak, 1) if peak else None,
      'process_peak_rss_mib': run['process_peaks'],
      'components': components,
      'examples': summary.get('examples'),
      'vocabulary_sizes': summary.get('vocabulary_sizes'),
      'rmse': summary.get('rmse'),
      'blessed': summary.get('blessed'),
      'training': summary.get('training'),
      'top_n': summary.get('top_n'),
      'anchors': anchors,
  }
  print(size_table(result), flush=True)
  return result


def size_table(result: Dict[str, Any]) -> str:
  """One size's figures, a line per component."""
  lines = [
      f"== {result['ratings']:,} ratings ({result['users']:,} users, "
      f"{result['movies']:,} movies; {result['data_format']} "
      f"{result['data_bytes'] / 2**20:,.0f} MiB)",
      f"{'component':<36}{'seconds':>10}{'ratings/s':>12}{'peak MiB':>10}",
  ]
  for name, figures in result['components'].items():
    seconds = figures['seconds']
    rate = f"{result['ratings'] / seconds:,.0f}" if seconds >= 1 else '-'
    peak = figures['peak_rss_mib']
    lines.append(f'{name:<36}{seconds:>10.1f}{rate:>12}'
                 f"{peak if peak is not None else '-':>10}")
  rmse = result['rmse']
  lines += [
      f"{'whole run':<36}{result['wall_seconds']:>10.1f}"
      f"{result['examples_per_second']:>12,.0f}"
      f"{result['peak_rss_mib'] or '-':>10}",
      f"vocabulary sizes: {result['vocabulary_sizes']}; eval RMSE: "
      + (f'{rmse:.4f}' if rmse is not None else 'n/a')
      + f"; blessed: {result['blessed']}",
      f"ratings in the splits: {written(result):,} of {result['ratings']:,}"
      + ('' if written(result) == result['ratings'] else ' (LOST SOME)'),
      'Recall@10 on the eval users: ' + '; '.join(
          f'{name} {recall:.4f}' for name, recall in top_n_recalls(result)),
  ]
  return '\n'.join(lines)


def written(result: Dict[str, Any]) -> int:
  """The ratings ExampleGen wrote to its splits (all of them, unless some
  were lost)."""
  return sum((result.get('examples') or {}).values())


def top_n_recalls(result: Dict[str, Any]) -> List[Tuple[str, float]]:
  """(list, Recall@10) of the bundle and each anchor a size measured."""
  bundle = ((result.get('top_n') or {}).get('bundle') or {}).get('recall@10')
  return ([('bundle', bundle)] if bundle is not None else []) + [
      (name, metrics['recall@10'])
      for name, metrics in (result.get('anchors') or {}).items()]


def growth(results: List[Dict[str, Any]]) -> Dict[str, Any]:
  """Cost per rating and memory between consecutive sizes, and the goals
  the measured sizes can speak to."""
  steps = []
  for small, large in zip(results, results[1:]):
    size_ratio = large['ratings'] / small['ratings']
    steps.append({
        'from': small['label'], 'to': large['label'],
        'cost_per_rating_ratio': round(
            large['seconds_per_million'] / small['seconds_per_million'], 3),
        # memory ~ ratings ** exponent: below 1 is sub-linear
        'peak_rss_exponent': round(
            math.log(large['peak_rss_mib'] / small['peak_rss_mib'])
            / math.log(size_ratio), 3),
    })
  goals = {}
  by_label = {r['label']: r for r in results}
  if '1m' in by_label and '5m' in by_label:
    ratio = (by_label['5m']['seconds_per_million'] /
             by_label['1m']['seconds_per_million'])
    goals[f'cost per rating 5M / 1M <= {COST_RATIO_GOAL}'] = (
        ratio <= COST_RATIO_GOAL)
  if steps:
    goals['peak memory sub-linear'] = all(
        s['peak_rss_exponent'] < 1 for s in steps)
  if '25m' in by_label:
    goals[f'25M in at most {GOAL_25M_SECONDS} s'] = (
        by_label['25m']['wall_seconds'] <= GOAL_25M_SECONDS)
    goals[f'25M peak memory at most {GOAL_25M_PEAK_MIB} MiB'] = (
        by_label['25m']['peak_rss_mib'] <= GOAL_25M_PEAK_MIB)
  return {'steps': steps, 'goals': goals}


def growth_table(summary: Dict[str, Any]) -> str:
  lines = ['== growth']
  for step in summary['steps']:
    lines.append(f"{step['from']} -> {step['to']}: cost per rating x"
                 f"{step['cost_per_rating_ratio']}, peak memory ~ ratings^"
                 f"{step['peak_rss_exponent']}")
  for goal, met in summary['goals'].items():
    lines.append(f"goal {goal}: {'met' if met else 'NOT met'}")
  return '\n'.join(lines)


def plot(results: List[Dict[str, Any]], path: str) -> None:
  """Log-log: seconds per component and in all, and peak memory."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  ratings = [r['ratings'] for r in results]
  fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
  left.loglog(ratings, [r['wall_seconds'] for r in results], 'k-o',
              linewidth=2, label='whole run')
  for name in results[-1]['components']:
    seconds = [r['components'].get(name, {}).get('seconds', 0)
               for r in results]
    if max(seconds) >= 5:
      left.loglog(ratings, [max(s, 0.1) for s in seconds], '-o', label=name)
  linear = [results[0]['wall_seconds'] * n / ratings[0] for n in ratings]
  left.loglog(ratings, linear, 'k:', label='linear from the first size')
  left.set(xlabel='ratings', ylabel='wall seconds', title='Cost')
  left.legend(fontsize=8)
  right.loglog(ratings, [r['peak_rss_mib'] for r in results], 'k-o',
               label='whole run (runner + Beam workers)')
  right.loglog(ratings, [results[0]['peak_rss_mib'] * n / ratings[0]
                         for n in ratings], 'k:', label='linear')
  right.set(xlabel='ratings', ylabel='peak RSS (MiB)', title='Memory')
  right.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def engine_table(direct: Dict[str, Any], flink: Dict[str, Any]) -> str:
  """One size on the DirectRunner beside the same on Flink: seconds per
  component, the whole run, and each process's peak memory."""
  lines = [f"== {direct['ratings']:,} ratings: DirectRunner "
           f"({direct['beam_engine']}) against Flink",
           f"{'component':<36}{'direct s':>10}{'flink s':>10}{'ratio':>8}"]
  for name, figures in direct['components'].items():
    theirs = flink['components'].get(name, {}).get('seconds')
    ours = figures['seconds']
    ratio = f'{theirs / ours:.2f}' if theirs and ours >= 1 else '-'
    lines.append(f"{name:<36}{ours:>10.1f}"
                 f"{theirs if theirs is not None else '-':>10}{ratio:>8}")
  lines.append(f"{'whole run':<36}{direct['wall_seconds']:>10.1f}"
               f"{flink['wall_seconds']:>10.1f}"
               f"{flink['wall_seconds'] / direct['wall_seconds']:>8.2f}")
  lines.append('peak MiB per process: direct ' + ', '.join(
      f'{k} {v:,.0f}' for k, v in direct['process_peak_rss_mib'].items())
               + '; flink ' + ', '.join(
                   f'{k} {v:,.0f}'
                   for k, v in flink['process_peak_rss_mib'].items()))
  return '\n'.join(lines)


def merged(path: str, results: List[Dict[str, Any]]
           ) -> List[Dict[str, Any]]:
  """`results` plus the sizes of an earlier results file they lack."""
  kept = []
  if os.path.exists(path):
    measured = {r['label'] for r in results}
    kept = [r for r in compare.read_json(path)['sizes']
            if r['label'] not in measured]
  return sorted(kept + results, key=lambda r: r['ratings'])


def parse_sizes(text: str, with_25m: bool) -> List[Tuple[str, int]]:
  """'100k,1m' -> [('100k', 100000), ('1m', 1000000)], smallest first."""
  labels = [s.strip().lower() for s in text.split(',') if s.strip()]
  unknown = [s for s in labels if s not in SIZES]
  if unknown:
    raise ValueError(f'unknown size(s) {unknown}; choose from {list(SIZES)}')
  if with_25m and '25m' not in labels:
    labels.append('25m')
  return sorted(((s, SIZES[s]) for s in set(labels)), key=lambda s: s[1])


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog='python -m bench.scale', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--sizes', default=DEFAULT_SIZES,
                      help=f'comma-separated, of {list(SIZES)} (default: '
                      '%(default)s)')
  parser.add_argument('--with-25m', action='store_true',
                      help='also 25M ratings (about an hour on 2 cores)')
  parser.add_argument('--format', choices=synthetic.FORMATS,
                      default='parquet', help='data format (default: '
                      '%(default)s)')
  parser.add_argument('--workers', type=int, default=os.cpu_count() or 1,
                      help='Beam worker processes (default: the cores, '
                      '%(default)s)')
  parser.add_argument('--beam-engine', choices=beam_runner.ENGINES,
                      default=beam_runner.DIRECT,
                      help='flink: each size also on the Flink cluster '
                      '`make flink-up` started, beside the DirectRunner '
                      '(default: %(default)s)')
  parser.add_argument('--seed', type=int, default=0)
  parser.add_argument('--work-dir', default=DEFAULT_WORK_DIR,
                      help='data and runs (default: %(default)s)')
  parser.add_argument('--results', default=os.path.join(RESULTS_DIR,
                                                        'scale'),
                      help='writes RESULTS.json and RESULTS.png '
                      '(default: %(default)s)')
  parser.add_argument('--merge', action='store_true',
                      help='keep the sizes RESULTS.json already has and are '
                      'not measured again (e.g. add --sizes 25m later)')
  args = parser.parse_args(argv)
  try:
    args.sizes = parse_sizes(args.sizes, args.with_25m)
  except ValueError as error:
    parser.error(str(error))
  if args.workers < 1:
    parser.error('--workers must be >= 1')
  return args


def write_results(args: argparse.Namespace, results: List[Dict[str, Any]],
                  on_flink: List[Dict[str, Any]]
                  ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]],
                             Dict[str, Any]]:
  """Writes RESULTS.json and .png (merged with the file's other sizes with
  --merge); returns the sizes and Flink runs written, and their growth."""
  path = args.results + '.json'
  if args.merge:
    on_flink = on_flink or (compare.read_json(path).get('flink', [])
                            if os.path.exists(path) else [])
    results = merged(path, results)
  summary = growth(results)
  os.makedirs(os.path.dirname(os.path.abspath(args.results)), exist_ok=True)
  with open(path, 'w') as f:
    json.dump({'machine': {'cpus': os.cpu_count(),
                           'memory_gib': round(
                               psutil.virtual_memory().total / 2**30, 1)},
               'beam_workers': args.workers, 'sizes': results, **summary,
               'flink': on_flink},
              f, indent=2)
  plot(results, args.results + '.png')
  return results, on_flink, summary


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  from pipeline import logs  # pylint: disable=g-import-not-at-top
  logs.before_tensorflow(verbose=False)  # run_summary imports TensorFlow
  results = []
  for label, ratings in args.sizes:
    results.append(measure_size(label, ratings, args.work_dir, args.format,
                                args.workers, args.seed))
    # Each size as it is measured: a run stopped later keeps it.
    write_results(args, results, [])
  on_flink = [measure_size(label, ratings, args.work_dir, args.format,
                           args.workers, args.seed, beam_runner.FLINK)
              for label, ratings in args.sizes
              if args.beam_engine == beam_runner.FLINK]
  for flink_result in on_flink:
    print(engine_table(next(r for r in results
                            if r['label'] == flink_result['label']),
                       flink_result))
  # Only the runs measured now: --merge keeps older ones, which may
  # predate the split counts.
  lost = [r['label'] for r in results + on_flink
          if written(r) != r['ratings']]
  _, _, summary = write_results(args, results, on_flink)
  print(growth_table(summary))
  print(f'wrote {args.results}.json and {args.results}.png')
  if lost:
    print(f'error: ExampleGen did not write every rating at {lost}')
  return 1 if lost else 0


if __name__ == '__main__':
  sys.exit(main())
