"""The pipeline against the TFRS ranking notebook, side by side, in one run.

  python -m bench.compare [--manual-dir DIR] [--work-dir DIR]   (make bench)

Runs, each in its own process, on MovieLens 100k:
  1. the notebook (bench/tutorial_notebook.py), cold: fresh TFDS data dir;
  2. the pipeline, cold: fresh output dir and TFDS data dir (tutorial preset),
     as `make run` runs it (report included);
  3. the pipeline again, warm, nothing changed, three times: the 2nd run
     (its drift check compares with the data run 1 blessed, for the first
     time), the 3rd (every component cached) and the 4th (reported from the
     3rd without running TFX: pipeline/run_key.py);
  4. a hyperparameter change (--epochs 4): only the Trainer, Evaluator and
     Pusher run;
  5. the pipeline with --preset tuned, in the same output dir (data, stats
     and Transform come from cache);
  6. serving speed of the notebook's export and of each pushed model;
  7. the recommender: Recall@10, NDCG@10 and MAP@10 of the tutorial and
     tuned bundles, of their retrieval stage alone and of the most popular
     list (all from the Evaluator), and of EASE (bench/top_n.py) on the
     same split; `recommend` latency on MovieLens 100k's catalog and on a
     ~50k-movie synthetic catalog (its own cold run; --no-large-catalog
     skips it);
  8. new users (bench/new_users.py): the cold run's new_users split served
     by recommend_from_ratings at H = 1..20 beside most popular and
     item-kNN, its settings chosen on a run one step earlier; and
     recommend_from_ratings latency for one person giving 20 ratings (in 7);
  9. MovieLens 100k's canonical split u1.base / u1.test, on which papers
     report RMSE, through --movielens-dir and --movielens-split u1, tutorial
     and tuned presets (validation carved from u1.base; --no-u1 skips it).
Prints a table, writes bench/results/latest.json and latest.png. Ratios are
pipeline / notebook from this run's measurements.
"""

import argparse
import dataclasses
import glob
import json
import os
import subprocess
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

from components import names
from pipeline import run_key

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS_DIR = os.path.join(PROJECT_ROOT, 'bench', 'results')

# The issues' goals.
COLD_RATIO_GOAL = 1.3  # pipeline cold wall <= 1.3x notebook cold wall
WARM_SECONDS_GOAL = 10.0  # the first warm run, report included
FIT_RATIO_GOAL = 5.0  # Trainer fit examples/s >= 5x the notebook's
SERVING_GOAL = 1_000_000  # predictions/s at batch 4096
TUNED_RMSE_GOAL = 0.90
RECALL_VS_POPULAR_GOAL = 2.0  # default bundle's Recall@10 / most popular's
TUNED_RECALL_GOAL = 0.37
RECOMMEND_P99_MS_GOAL = {'100k': 5.0, 'large': 20.0}
# recommend_from_ratings, one person giving 20 ratings: the same budgets.
FROM_RATINGS_P99_MS_GOAL = RECOMMEND_P99_MS_GOAL
NEW_USER_RECALL_GOAL = 0.31  # new users' Recall@10 given 10 ratings
# The large catalog: synthetic ratings whose train split knows ~48k movies,
# as the 25M synthetic data's does (the long tail leaves some never rated).
LARGE_CATALOG_RATINGS = 1_000_000
LARGE_CATALOG_MOVIES = 58_000
# Published u1.test RMSE (lower is better), for the u1 table.
PUBLISHED_U1_RMSE = {'GC-MC': 0.910, 'GC-MC + side features': 0.905,
                     'IGMC': 0.905, 'GLocal-K': 0.889}
TUNED_U1_RMSE_GOAL = 0.890


def run_process(args: List[str]) -> Dict[str, float]:
  """Runs `python -m ...args` from the project root; wall seconds and peak
  RSS (MiB) of the process. Raises with its output if it fails."""
  env = dict(os.environ)
  start = time.monotonic()
  with tempfile.TemporaryFile('w+') as log:
    process = subprocess.Popen([sys.executable, '-m', *args],
                               cwd=PROJECT_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    if process.returncode != 0:
      log.seek(0)
      raise RuntimeError(f'{" ".join(args[:1])} failed '
                         f'({process.returncode}):\n{log.read()[-4000:]}')
  return {'wall_seconds': wall, 'peak_rss_mib': usage.ru_maxrss / 1024}


def read_json(path: str) -> Dict[str, Any]:
  with open(path) as f:
    return json.load(f)


def run_notebook(work_dir: str, manual_dir: Optional[str]) -> Dict[str, Any]:
  """The tutorial script, cold."""
  output = os.path.join(work_dir, 'notebook.json')
  args = ['bench.tutorial_notebook', '--data-dir',
          os.path.join(work_dir, 'notebook_tfds'), '--export-dir',
          os.path.join(work_dir, 'notebook_export'), '--output', output]
  if manual_dir:
    args += ['--manual-dir', manual_dir]
  process = run_process(args)
  return {**read_json(output), **process,
          'export_dir': os.path.join(work_dir, 'notebook_export')}


def run_pipeline(work_dir: str, manual_dir: Optional[str],
                 extra: List[str], name: str = 'pipeline',
                 report: bool = False) -> Dict[str, Any]:
  """One local_runner run in WORK/NAME (with its report, as `make run`,
  if `report`); its run_summary, process, and the components it executed
  (none when it was reported from the last run)."""
  output_dir = os.path.join(work_dir, name)
  args = ['pipeline.local_runner', '--output-dir', output_dir,
          '--tfds-data-dir', os.path.join(work_dir, 'pipeline_tfds'),
          *([] if report else ['--no-report']), *extra]
  if manual_dir:
    args += ['--manual-dir', manual_dir]
  summary_path = os.path.join(output_dir, 'run_summary.json')
  before = os.stat(summary_path).st_mtime_ns if os.path.exists(
      summary_path) else None
  process = run_process(args)
  summary = read_json(summary_path)
  reported = os.stat(summary_path).st_mtime_ns == before
  return {**process,
          'reported_from_last_run': reported,
          'executed': [] if reported else run_key.executed(
              summary['component_states'], names.RESOLVERS), 'rmse': summary['rmse'], 'blessed': summary['blessed'],
          'not_blessed_because': summary['not_blessed_because'],
          'top_n': summary['top_n'],
          'pushed_model': summary['pushed_model'],
          'component_seconds': summary['component_seconds'],
          'component_states': summary['component_states'],
          'training': summary['training'],
          'examples': summary['examples']}


def measure_serving(work_dir: str, model_dir: str, vocab_model: str,
                    name: str) -> Dict[str, Any]:
  """bench.serving on one SavedModel, in its own process."""
  output = os.path.join(work_dir, f'serving_{name}.json')
  run_process(['bench.serving', '--model', model_dir, '--vocab-model',
               vocab_model, '--output', output])
  return read_json(output)


def examples_dir(output_dir: str) -> str:
  """The newest ExampleGen output of a pipeline run's output dir."""
  found = sorted(glob.glob(os.path.join(
      output_dir, 'pipeline_root', names.EXAMPLE_GEN, names.EXAMPLES, '*')),
                 key=lambda path: int(os.path.basename(path)))
  if not found:
    raise FileNotFoundError(f'no ExampleGen output under {output_dir}')
  return found[-1]


def reference_lists(work_dir: str) -> Dict[str, Any]:
  """Most popular and EASE on the cold run's split (bench.top_n)."""
  output = os.path.join(work_dir, 'top_n_references.json')
  run_process(['bench.top_n', '--examples',
               examples_dir(os.path.join(work_dir, 'pipeline')),
               '--output', output])
  return read_json(output)


def measure_recommend(work_dir: str, model_dir: str,
                      name: str) -> Dict[str, Any]:
  """bench.serving --recommend on one bundle, in its own process."""
  output = os.path.join(work_dir, f'recommend_{name}.json')
  run_process(['bench.serving', '--recommend', '--model', model_dir,
               '--output', output])
  return read_json(output)


def run_large_catalog(work_dir: str) -> Dict[str, Any]:
  """A cold run on synthetic ratings with a ~50k-movie catalog, and the
  `recommend` latency of its bundle."""
  from bench import synthetic  # pylint: disable=g-import-not-at-top
  data_dir = os.path.join(work_dir, 'large_catalog_data')
  sizes = dataclasses.replace(
      synthetic.Sizes.for_ratings(LARGE_CATALOG_RATINGS),
      movies=LARGE_CATALOG_MOVIES)
  manifest = synthetic.write(sizes, data_dir, file_format='parquet')
  output_dir = os.path.join(work_dir, 'large_catalog')
  args = ['pipeline.local_runner', '--output-dir', output_dir, '--no-report',
          '--ratings-parquet', manifest['path']]
  process = run_process(args)
  summary = read_json(os.path.join(output_dir, 'run_summary.json'))
  model = summary['pushed_model'] or trained_model_dir(output_dir)
  return {**process, 'pushed_model': summary['pushed_model'],
          'top_n': summary['top_n'],
          'component_seconds': summary['component_seconds'],
          'recommend': measure_recommend(work_dir, model, 'large')}


def grouplens_100k_dir(work_dir: str, manual_dir: Optional[str]
                       ) -> Optional[str]:
  """An unpacked ml-100k folder: MANUAL_DIR/ml-100k, else MANUAL_DIR's zip
  unpacked into the work dir; None without a manual dir."""
  if not manual_dir:
    return None
  folder = os.path.join(manual_dir, 'ml-100k')
  if os.path.isfile(os.path.join(folder, 'u1.base')):
    return folder
  import zipfile  # pylint: disable=g-import-not-at-top
  with zipfile.ZipFile(os.path.join(manual_dir, 'ml-100k.zip')) as archive:
    archive.extractall(work_dir)
  return os.path.join(work_dir, 'ml-100k')


def run_u1(work_dir: str, folder: str) -> Dict[str, Any]:
  """Tutorial and tuned presets on u1.base / u1.test (one output dir, so
  the tuned run reuses the data components)."""
  split = ['--movielens-dir', folder, '--movielens-split', 'u1']
  runs = {}
  for preset in ('tutorial', 'tuned'):
    run = run_pipeline(work_dir, None, [*split, '--preset', preset], 'u1')
    runs[preset] = {key: run[key] for key in (
        'rmse', 'blessed', 'not_blessed_because', 'top_n', 'training',
        'examples', 'wall_seconds')}
  return runs


def u1_table(u1: Dict[str, Any]) -> str:
  """u1.test RMSE of both presets beside the published figures."""
  lines = ['MovieLens 100k u1.test RMSE (selected on validation only):']
  for preset, run in u1.items():
    training = run['training']
    lines.append(
        f"  {preset:<34} {run['rmse']:.4f}   Recall@10 "
        f"{run['top_n']['bundle']['recall@10']:.4f}   best epoch "
        f"{training.get('best_epoch')} of {training.get('epochs_run')}")
  for name, rmse in PUBLISHED_U1_RMSE.items():
    lines.append(f'  {name + " (published)":<34} {rmse:.3f}')
  return '\n'.join(lines)


def trained_model_dir(output_dir: str) -> str:
  """The newest Trainer export of a run (when nothing was pushed)."""
  found = sorted(glob.glob(os.path.join(
      output_dir, 'pipeline_root', names.TRAINER, names.MODEL, '*',
      names.SERVING_MODEL_FOLDER)),
                 key=lambda path: int(path.split(os.sep)[-2]))
  if not found:
    raise FileNotFoundError(f'no Trainer export under {output_dir}')
  return found[-1]


def compare_top_n(cold: Dict, tuned: Dict, references: Dict,
                  recommend: Dict[str, Dict]) -> Dict[str, Any]:
  """The recommender's ratios and goals, from this run's figures."""
  popular = references['most_popular']['recall@10']
  ratios = {
      'tutorial_vs_popular': cold['top_n']['bundle']['recall@10'] / popular,
      'tuned_vs_popular': tuned['top_n']['bundle']['recall@10'] / popular,
      'tutorial_vs_ease': (cold['top_n']['bundle']['recall@10'] /
                           references['ease']['recall@10']),
      'tuned_vs_ease': (tuned['top_n']['bundle']['recall@10'] /
                        references['ease']['recall@10']),
  }
  goals = {
      'tutorial_recall_vs_popular >= 2':
          ratios['tutorial_vs_popular'] >= RECALL_VS_POPULAR_GOAL,
      'tuned_recall >= 0.37':
          tuned['top_n']['bundle']['recall@10'] >= TUNED_RECALL_GOAL,
  }
  for name, latency in recommend.items():
    goal = RECOMMEND_P99_MS_GOAL['large' if name == 'large' else '100k']
    goals[f'recommend_p99_ms {name} <= {goal:g}'] = (
        latency['latency_p99_ms'] <= goal)
    if 'from_ratings_latency_p99_ms' in latency:
      goal = FROM_RATINGS_P99_MS_GOAL['large' if name == 'large' else '100k']
      goals[f'recommend_from_ratings_p99_ms {name} <= {goal:g}'] = (
          latency['from_ratings_latency_p99_ms'] <= goal)
  return {'recall_ratios': ratios, 'recall_goals': goals}


def new_user_goals(new: Dict[str, Any]) -> Dict[str, bool]:
  """The new-user goals, from bench.new_users' figures of the cold run."""
  bundle = new['bundle']['by_history']
  goals = {f'new_user_recall@10 H=10 >= {NEW_USER_RECALL_GOAL}':
               bundle['10']['bundle']['recall@10'] >= NEW_USER_RECALL_GOAL}
  for history, lists in bundle.items():
    for anchor in ('most_popular', 'unknown_user'):
      goals[f'new_user_recall@10 H={history} >= {anchor}'] = (
          lists['bundle']['recall@10'] >=
          new['anchors'][history][anchor]['recall@10'])
  return goals


def run_new_users(work_dir: str) -> Dict[str, Any]:
  """bench.new_users on the cold run, in its own process."""
  output = os.path.join(work_dir, 'new_users.json')
  run_process(['bench.new_users', '--run-dir',
               os.path.join(work_dir, 'pipeline'), '--work-dir',
               os.path.join(work_dir, 'new_users'), '--output', output])
  return read_json(output)


def top_n_table(results: Dict[str, Any]) -> str:
  """Recall@10, NDCG@10, MAP@10 of every list, and recommend latency."""
  cold, tuned = results['pipeline_cold'], results['tuned']
  references = results['top_n_references']
  rows = [('tutorial bundle', cold['top_n']['bundle']),
          ('tutorial retrieval alone', cold['top_n']['retrieval']),
          ('tuned bundle' + ('' if tuned['blessed'] else ' (not blessed)'),
           tuned['top_n']['bundle']),
          ('tuned retrieval alone', tuned['top_n']['retrieval']),
          ('most popular', references['most_popular']),
          ('item-kNN', references['item_knn']),
          ('EASE', references['ease'])]
  lines = [f"{'top-N on the eval split':28s} Recall@10  NDCG@10  MAP@10  "
           'vs popular']
  popular = references['most_popular']['recall@10']
  for name, metrics in rows:
    lines.append(f"{name:28s} {metrics['recall@10']:9.4f} "
                 f"{metrics['ndcg@10']:8.4f} {metrics['map@10']:7.4f} "
                 f"{metrics['recall@10'] / popular:9.2f}x")
  lines.append('recommend (k=10): ' + '; '.join(
      f"{name} catalog {r['catalog']:,}: p50 {r['latency_p50_ms']:.2f} ms, "
      f"p99 {r['latency_p99_ms']:.2f} ms, {r['users_per_second']:,.0f} "
      f"users/s at batch {r['batch_size']}"
      for name, r in results['recommend'].items()))
  lines.append('recommend_from_ratings (20 ratings given, k=10): ' + '; '.join(
      f"{name}: p50 {r['from_ratings_latency_p50_ms']:.2f} ms, p99 "
      f"{r['from_ratings_latency_p99_ms']:.2f} ms"
      for name, r in results['recommend'].items()
      if 'from_ratings_latency_p99_ms' in r))
  lines.append('recall goals: ' + ', '.join(
      f"{k}: {'met' if v else 'NOT met'}"
      for k, v in results['recall_goals'].items()))
  return '\n'.join(lines)


def wall_seconds(notebook: Dict[str, Any], pipeline: Dict[str, Any]
                 ) -> Dict[str, Dict[str, float]]:
  """A side-by-side cold pair, as the results keep it."""
  return {name: {'wall_seconds': run['wall_seconds']}
          for name, run in (('notebook', notebook), ('pipeline', pipeline))}


def cold_pair_ratios(pairs: List[Dict[str, Any]]) -> List[float]:
  """Pipeline cold wall / notebook cold wall of each side-by-side pair."""
  return [pair['pipeline']['wall_seconds'] / pair['notebook']['wall_seconds']
          for pair in pairs]


def compare(notebook: Dict, cold: Dict, warm: Dict, tuned: Dict,
            serving: Dict[str, Dict],
            cold_ratios: Optional[List[float]] = None) -> Dict[str, Any]:
  """Ratios and goals, from this run's figures; the cold ratio is the
  median of `cold_ratios` (each side-by-side pair's) when given, else
  this cold run's over the notebook's."""
  fit_ratio = (cold['training']['train_examples_per_second'] /
               notebook['fit_examples_per_second'])
  cold_ratio = (statistics.median(cold_ratios) if cold_ratios else
                cold['wall_seconds'] / notebook['wall_seconds'])
  serving_ratio = (serving['pipeline']['predictions_per_second'] /
                   serving['notebook']['predictions_per_second'])
  goals = {
      f'cold_wall_ratio <= {COLD_RATIO_GOAL}': cold_ratio <= COLD_RATIO_GOAL,
      f'warm_wall_seconds <= {WARM_SECONDS_GOAL:g}': warm[
          'wall_seconds'] <= WARM_SECONDS_GOAL,
      'fit_throughput_ratio >= 5': fit_ratio >= FIT_RATIO_GOAL,
      'serving_predictions_per_second >= 1M': serving['pipeline'][
          'predictions_per_second'] >= SERVING_GOAL,
      'tuned_rmse <= 0.90': tuned['rmse'] <= TUNED_RMSE_GOAL,
  }
  return {
      'ratios': {
          'cold_wall': cold_ratio,
          'warm_wall': warm['wall_seconds'] / notebook['wall_seconds'],
          'fit_throughput': fit_ratio,
          'serving_throughput': serving_ratio,
          'rmse': cold['rmse'] / notebook['rmse'],
          'peak_rss': cold['peak_rss_mib'] / notebook['peak_rss_mib'],
      },
      'goals': goals,
  }


def table(results: Dict[str, Any]) -> str:
  """The figures as a plain-text table."""
  nb, cold, warm, tuned = (results[k] for k in ('notebook', 'pipeline_cold',
                                                'pipeline_warm', 'tuned'))
  serving = results['serving']
  rows = [
      ('', 'notebook', 'pipeline cold', 'pipeline warm', 'tuned (cached data)'),
      ('test RMSE', f"{nb['rmse']:.4f}", f"{cold['rmse']:.4f}",
       f"{warm['rmse']:.4f}", f"{tuned['rmse']:.4f}"),
      ('wall seconds', f"{nb['wall_seconds']:.1f}",
       f"{cold['wall_seconds']:.1f}", f"{warm['wall_seconds']:.1f}",
       f"{tuned['wall_seconds']:.1f}"),
      ('peak RSS MiB', f"{nb['peak_rss_mib']:.0f}",
       f"{cold['peak_rss_mib']:.0f}", f"{warm['peak_rss_mib']:.0f}",
       f"{tuned['peak_rss_mib']:.0f}"),
      ('fit examples/s', f"{nb['fit_examples_per_second']:,.0f}",
       f"{cold['training']['train_examples_per_second']:,.0f}", '(cached)',
       f"{tuned['training']['train_examples_per_second']:,.0f}"),
      ('serving preds/s @4096',
       f"{serving['notebook']['predictions_per_second']:,.0f}",
       f"{serving['pipeline']['predictions_per_second']:,.0f}", '',
       f"{serving['tuned']['predictions_per_second']:,.0f}"),
      ('latency p50/p99 ms',
       '{latency_p50_ms:.2f}/{latency_p99_ms:.2f}'.format(
           **serving['notebook']),
       '{latency_p50_ms:.2f}/{latency_p99_ms:.2f}'.format(
           **serving['pipeline']), '',
       '{latency_p50_ms:.2f}/{latency_p99_ms:.2f}'.format(**serving['tuned'])),
  ]
  widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
  lines = ['  '.join(cell.ljust(w) for cell, w in zip(row, widths))
           for row in rows]
  lines.append('')
  lines.append('seconds per component (cold / warm / tuned):')
  for name, seconds in cold['component_seconds'].items():
    lines.append(f"  {name:32s} {seconds:6.1f} "
                 f"{warm['component_seconds'].get(name, 0):6.1f} "
                 f"{tuned['component_seconds'].get(name, 0):6.1f}")
  lines.append('')
  lines.append('runs after the cold one (wall seconds, report included; '
               'components executed):')
  for key, label in (
      ('pipeline_warm', '2nd run, nothing changed'),
      ('pipeline_warm_cached', '3rd run, nothing changed'),
      ('pipeline_warm_unchanged', '4th run, nothing changed'),
      ('hyperparameter_change', '--epochs 4 after them')):
    run = results[key]
    executed = ('none: reported from the last run (no TFX)'
                if run['reported_from_last_run'] else
                ', '.join(run['executed']) or 'none (all cached)')
    lines.append(f"  {label:26s} {run['wall_seconds']:6.1f}  {executed}")
  lines.append('notebook seconds: ' + ', '.join(
      f'{k} {v:.1f}' for k, v in nb['seconds'].items()))
  lines.append('')
  pairs = results.get('cold_pairs') or []
  if len(pairs) > 1:
    lines.append('cold pairs, pipeline / notebook wall seconds: ' + ', '.join(
        f"{p['pipeline']['wall_seconds']:.1f} / "
        f"{p['notebook']['wall_seconds']:.1f} ({ratio:.2f})"
        for p, ratio in zip(pairs, cold_pair_ratios(pairs))) +
                 '; cold_wall below is their median')
  lines.append('ratios pipeline/notebook: ' + ', '.join(
      f'{k} {v:.2f}' for k, v in results['ratios'].items()))
  lines.append('goals: ' + ', '.join(
      f"{k}: {'met' if v else 'NOT met'}"
      for k, v in results['goals'].items()))
  return '\n'.join(lines)


def chart(results: Dict[str, Any], path: str) -> None:
  """Wall seconds (the pipeline's by component), RMSE and throughputs."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  nb, cold, warm, tuned = (results[k] for k in ('notebook', 'pipeline_cold',
                                                'pipeline_warm', 'tuned'))
  fig, axes = plt.subplots(1, 4, figsize=(18, 4.5))
  names = ['notebook', 'pipeline\ncold', 'pipeline\nwarm', 'tuned']
  runs = [None, cold, warm, tuned]
  axes[0].bar(names[0], nb['wall_seconds'], color='tab:gray')
  components = list(cold['component_seconds'])
  colors = plt.get_cmap('tab10')
  for i, run in enumerate(runs[1:], start=1):
    bottom = 0.0
    for j, name in enumerate(components):
      seconds = run['component_seconds'].get(name, 0.0)
      axes[0].bar(names[i], seconds, bottom=bottom, color=colors(j % 10),
                  label=name if i == 1 else None)
      bottom += seconds
    axes[0].bar(names[i], run['wall_seconds'] - bottom, bottom=bottom,
                color='lightgray', label='process start/end' if i == 1 else
                None)
  axes[0].set_title('wall seconds')
  axes[0].legend(fontsize=6)
  axes[1].bar(names, [nb['rmse'], cold['rmse'], warm['rmse'], tuned['rmse']])
  axes[1].set_ylim(0.8, 1.2)
  axes[1].set_title('test RMSE')
  axes[2].bar(['notebook', 'pipeline', 'tuned'], [
      nb['fit_examples_per_second'],
      cold['training']['train_examples_per_second'],
      tuned['training']['train_examples_per_second']])
  axes[2].set_title('fit examples/s')
  serving = results['serving']
  axes[3].bar(['notebook', 'pipeline', 'tuned'], [
      serving[k]['predictions_per_second']
      for k in ('notebook', 'pipeline', 'tuned')])
  axes[3].axhline(SERVING_GOAL, color='red', linestyle='--')
  axes[3].set_title('serving predictions/s (batch 4096)')
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
  """The bench's flags; --work-dir must hold no earlier run."""
  parser = argparse.ArgumentParser(
      description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--manual-dir',
                      default=os.environ.get('MOVIELENS_MANUAL_DIR'),
                      help='folder with ml-100k.zip (default: '
                      '$MOVIELENS_MANUAL_DIR; none: TFDS downloads)')
  parser.add_argument('--work-dir', default=None,
                      help='scratch space (default: a new temporary dir)')
  parser.add_argument('--results-dir', default=RESULTS_DIR)
  parser.add_argument('--cold-pairs', type=int, default=3,
                      help='notebook/pipeline cold runs side by side, each '
                      'pair in fresh dirs; the cold ratio is the median of '
                      "the pairs' (default 3; one run moves with the "
                      "machine's load)")
  parser.add_argument('--no-large-catalog', action='store_true',
                      help='skip the ~50k-movie catalog run (about 5 min)')
  parser.add_argument('--no-u1', action='store_true',
                      help='skip the u1.base/u1.test runs (about 7 min)')
  args = parser.parse_args(argv)
  if args.cold_pairs < 1:
    parser.error(f'--cold-pairs must be at least 1, got {args.cold_pairs}')
  args.manual_dir = (os.path.abspath(args.manual_dir) if args.manual_dir
                     else None)
  args.work_dir = args.work_dir or tempfile.mkdtemp(prefix='movielens-bench-')
  if os.path.exists(os.path.join(args.work_dir, 'pipeline')):
    parser.error(f'{args.work_dir} holds an earlier run; give an empty '
                 '--work-dir')
  os.makedirs(args.work_dir, exist_ok=True)
  return args


def pipeline_runs(work_dir: str, manual_dir: Optional[str],
                  cold_pairs: int) -> Dict[str, Any]:
  """The notebook, then the pipeline cold (and `cold_pairs` - 1 more such
  pairs, each in fresh dirs), warm (three times), with a changed
  hyperparameter and with the tuned preset; and the new users of the cold
  run."""
  print('notebook (cold) ...', flush=True)
  runs = {'notebook': run_notebook(work_dir, manual_dir)}
  print('pipeline cold ...', flush=True)
  runs['pipeline_cold'] = run_pipeline(work_dir, manual_dir, [], report=True)
  runs['cold_pairs'] = [wall_seconds(runs['notebook'],
                                     runs['pipeline_cold'])]
  for pair in range(2, cold_pairs + 1):
    print(f'cold pair {pair} of {cold_pairs}: notebook, pipeline ...',
          flush=True)
    pair_dir = os.path.join(work_dir, f'cold_pair_{pair}')
    runs['cold_pairs'].append(wall_seconds(
        run_notebook(pair_dir, manual_dir),
        run_pipeline(pair_dir, manual_dir, [], report=True)))
  print('new users (of the cold run) ...', flush=True)
  runs['new_users'] = run_new_users(work_dir)
  print('pipeline warm (2nd, 3rd and 4th run) ...', flush=True)
  for name in ('pipeline_warm', 'pipeline_warm_cached',
               'pipeline_warm_unchanged'):
    runs[name] = run_pipeline(work_dir, manual_dir, [], report=True)
  print('pipeline --epochs 4 ...', flush=True)
  runs['hyperparameter_change'] = run_pipeline(
      work_dir, manual_dir, ['--epochs', '4'], report=True)
  print('pipeline --preset tuned ...', flush=True)
  runs['tuned'] = run_pipeline(work_dir, manual_dir, ['--preset', 'tuned'])
  return runs


def served_models(work_dir: str, runs: Dict[str, Any]) -> Dict[str, Any]:
  """Serving latency of the notebook's, the pipeline's and the tuned
  models, and top-N of the bundles against the reference lists."""
  cold, notebook = runs['pipeline_cold'], runs['notebook']
  # The tuned run's own export even when it was not pushed.
  tuned_model = runs['tuned']['pushed_model'] or trained_model_dir(
      os.path.join(work_dir, 'pipeline'))
  print('serving ...', flush=True)
  serving = {
      'notebook': measure_serving(work_dir, notebook['export_dir'],
                                  cold['pushed_model'], 'notebook'),
      'pipeline': measure_serving(work_dir, cold['pushed_model'],
                                  cold['pushed_model'], 'pipeline'),
      'tuned': measure_serving(work_dir, tuned_model, cold['pushed_model'],
                               'tuned'),
  }
  print('recommender ...', flush=True)
  recommend = {
      'tutorial 100k': measure_recommend(work_dir, cold['pushed_model'],
                                         'tutorial'),
      'tuned 100k': measure_recommend(work_dir, tuned_model, 'tuned'),
  }
  return {'serving': serving, 'top_n_references': reference_lists(work_dir),
          'recommend': recommend}


def optional_runs(args: argparse.Namespace,
                  recommend: Dict[str, Any]) -> Dict[str, Any]:
  """The large-catalog run (its top-N into `recommend`) and the u1 pair,
  unless skipped."""
  large = None
  if not args.no_large_catalog:
    print('large catalog ...', flush=True)
    large = run_large_catalog(args.work_dir)
    recommend['large'] = large['recommend']
  u1 = None
  folder = None if args.no_u1 else grouplens_100k_dir(args.work_dir,
                                                      args.manual_dir)
  if folder:
    print('u1.base / u1.test ...', flush=True)
    u1 = run_u1(args.work_dir, folder)
  elif not args.no_u1:
    print('u1 skipped: it needs the GroupLens zip (--manual-dir)')
  return {'large_catalog': large, 'u1': u1}


def print_results(results: Dict[str, Any], results_dir: str) -> None:
  """The tables and goals, as the README quotes them."""
  print(table(results))
  print()
  print(top_n_table(results))
  print()
  print(results['new_users']['table'])
  print('new-user goals: ' + ', '.join(
      f"{k}: {'met' if v else 'NOT met'}"
      for k, v in results['new_user_goals'].items()))
  if results['u1']:
    print()
    print(u1_table(results['u1']))
    print(f"goals: {results['u1_goals']}")
  print(f"results: {os.path.join(results_dir, 'latest.json')} and "
        'latest.png')


def main(argv: Optional[List[str]] = None) -> int:
  args = parse_args(argv)
  runs = pipeline_runs(args.work_dir, args.manual_dir, args.cold_pairs)
  served = served_models(args.work_dir, runs)
  results = {**runs, **served,
             **optional_runs(args, served['recommend']),
             'new_user_goals': new_user_goals(runs['new_users']),
             'work_dir': args.work_dir, 'cpu_count': os.cpu_count()}
  results.update(compare(runs['notebook'], runs['pipeline_cold'],
                         runs['pipeline_warm'], runs['tuned'],
                         served['serving'],
                         cold_pair_ratios(runs['cold_pairs'])))
  results.update(compare_top_n(runs['pipeline_cold'], runs['tuned'],
                               served['top_n_references'],
                               served['recommend']))
  if results['u1']:
    results['u1_goals'] = {
        f'tuned_u1_rmse <= {TUNED_U1_RMSE_GOAL}':
            results['u1']['tuned']['rmse'] <= TUNED_U1_RMSE_GOAL}
  os.makedirs(args.results_dir, exist_ok=True)
  with open(os.path.join(args.results_dir, 'latest.json'), 'w') as f:
    json.dump(results, f, indent=2)
  chart(results, os.path.join(args.results_dir, 'latest.png'))
  print_results(results, args.results_dir)
  return 0


if __name__ == '__main__':
  sys.exit(main())
