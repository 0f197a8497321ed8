"""The run report: DIR/report/index.html with PNG charts, no server needed.

  python -m pipeline.report --output-dir runs/local

The local runner writes it at the end of every run. It shows the numbers of
run_summary.json, training and validation curves (from the Trainer's
TensorBoard logs), RMSE by slice for the new and the baseline model,
predicted against actual ratings, the recommender's top-N metrics, the
`recommend` lists of sample users, and the lineage of the model (read from ML Metadata).
"""

import argparse
import glob
import html
import json
import os
import sys
from typing import Any, Callable, Dict, List, Optional

from components import names
from components import split_names
from pipeline import artifacts
from pipeline import configs
from pipeline import run_summary

MAX_EVAL_EXAMPLES = 20_000
TOP_K = 5
SAMPLE_USERS = 3
LIKED_TITLES = 3  # of each sample user's highest-rated training titles


# ------------------------------------------------------------------- data


def _latest_runs(metadata_path: str) -> Dict[str, run_summary.ComponentRun]:
  store = run_summary.open_store(metadata_path)
  return run_summary.component_runs(store, run_summary.latest_run_id(store))


def _uri(runs, node: str, key: str) -> Optional[str]:
  artifact = run_summary.output(runs, node, key)
  return artifact.uri if artifact else None


def _serving_model_path(summary: dict, runs) -> Optional[str]:
  """The pushed model, else the Trainer's candidate."""
  if summary.get('pushed_model'):
    return summary['pushed_model']
  model_uri = _uri(runs, names.TRAINER, names.MODEL)
  return os.path.join(model_uri, names.SERVING_MODEL_FOLDER) if model_uri else None


def _eval_batches(examples_uri: str, limit: int):
  """Up to `limit` serialized eval examples, in batches of 4096."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer_module import splits  # pylint: disable=g-import-not-at-top
  files = splits.split_files([os.path.join(
      examples_uri, names.split_folder(split_names.EVAL_SPLIT), '*')],
                             required=False)
  return tf.data.TFRecordDataset(files, compression_type='GZIP').take(
      limit).batch(4096)


def predictions_and_labels(model, examples_uri: str,
                           limit: int = MAX_EVAL_EXAMPLES):
  """Predicted and actual ratings of up to `limit` eval examples, from a
  loaded serving model."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  from trainer_module import features  # pylint: disable=g-import-not-at-top
  predict = model.signatures['serving_tf_example']
  label_spec = {features.LABEL_KEY: tf.io.FixedLenFeature([1], tf.float32)}
  predicted, labels = [], []
  for batch in _eval_batches(examples_uri, limit):
    predicted.append(predict(examples=batch)[features.PREDICTION_KEY].numpy())
    labels.append(tf.io.parse_example(batch, label_spec)[
        features.LABEL_KEY].numpy())
  if not predicted:
    return np.zeros(0), np.zeros(0)
  return (np.concatenate(predicted).reshape(-1),
          np.concatenate(labels).reshape(-1))


def top_k_for_sample_users(model, k: int = TOP_K,
                           users: int = SAMPLE_USERS) -> List[dict]:
  """What the bundle's `recommend` gives the most, a median and the least
  active users: [{'user_id', 'activity_rank', 'top': [(title, score,
  predicted rating)]}]."""
  from pipeline import predict  # pylint: disable=g-import-not-at-top
  user_ids = [u.decode() for u in model.vocabularies()['user_id'].numpy()]
  picks = sorted({0, len(user_ids) // 2, len(user_ids) - 1})[:users]
  lists = []
  for index in picks:
    ranking, _ = predict.recommend(model, user_ids[index], k,
                                   include_rated=False)
    lists.append({'user_id': user_ids[index],
                  'activity_rank': index + 1,
                  'top': [(r['movie_title'], r['score'],
                           r['predicted_rating']) for r in ranking]})
  return lists


TOP_N_LISTS = (('bundle', 'bundle (recommend)'),
               ('retrieval', 'retrieval alone'),
               ('most_popular', 'most popular in train'),
               ('baseline', 'last blessed bundle'))


def top_n_tables(top_n: Optional[dict]) -> str:
  """The Evaluator's top-N metrics: every list, then the bundle's by user
  activity."""
  if not top_n:
    return '<p>No top-N metrics in this evaluation.</p>'
  k = top_n['k']
  names = [f'recall@{k}', f'ndcg@{k}', f'map@{k}']
  lists = _table(['list', *names, 'users'], [
      [label, *(_fmt(top_n[key][n]) for n in names), top_n[key]['users']]
      for key, label in TOP_N_LISTS if top_n.get(key)], 'top-n')
  by_activity = _table(['train ratings', *names, 'users'], [
      [bucket, *(_fmt(m[n]) for n in names), m['users']]
      for bucket, m in top_n['bundle']['by_activity'].items()],
                       'top-n-by-activity')
  return (f'<p>Each eval user\'s top {k} over the catalog, their train '
          f'movies left out; relevant: eval ratings &gt;= '
          f"{top_n['min_rating']:g}.</p>{lists}"
          f'<h3>The bundle by user activity</h3>{by_activity}'
          f"{new_user_table(top_n.get('new_users'), k)}")


def new_user_table(new: Optional[dict], k: int) -> str:
  """New users' Recall and NDCG at each H, bundle and most popular."""
  if not new:
    return ''
  if 'skipped' in new:
    return f'<h3>New users</h3><p id="new-users-skipped">' \
           f"{html.escape(new['skipped'])}</p>"
  names = [f'recall@{k}', f'ndcg@{k}']
  rows = [[history, label, *(_fmt(new['by_history'][history][key][n])
                             for n in names),
           new['by_history'][history][key]['users']]
          for history in sorted(new['by_history'], key=int)
          for key, label in (('bundle', 'bundle (recommend_from_ratings)'),
                             ('most_popular', 'most popular'))]
  measured = new.get('users_measured', new['users'])
  sample = (f' ({measured} of them measured: a sample, the same people in '
            'every run)' if measured < new['users'] else '')
  return (f"<h3>New users</h3><p>{new['users']} people the model never saw "
          f'(the newest by sign-up){sample} give their first H ratings; '
          'relevant: their later ratings &gt;= the same threshold; the push '
          f"is gated at H = {new['history']}.</p>" +
          _table(['H', 'list', *names, 'users'], rows, 'new-users'))


def lineage(metadata_path: str, runs) -> List[dict]:
  """Every artifact upstream of the model, newest first: type, id, uri and
  the component that produced it."""
  model = run_summary.output(runs, names.TRAINER, names.MODEL)
  if not model:
    return []
  store = run_summary.open_store(metadata_path)
  types = {t.id: t.name for t in store.get_artifact_types()}
  rows, seen, frontier = [], set(), [model.id]
  while frontier:
    artifact_id = frontier.pop(0)
    if artifact_id in seen:
      continue
    seen.add(artifact_id)
    artifact = store.get_artifacts_by_id([artifact_id])[0]
    producers = [e.execution_id for e in
                 store.get_events_by_artifact_ids([artifact_id])
                 if e.type == e.OUTPUT]
    producer = ''
    if producers:
      execution = store.get_executions_by_id(producers[:1])[0]
      producer = run_summary.node_id(store, execution)
      frontier += [e.artifact_id for e in
                   store.get_events_by_execution_ids([execution.id])
                   if e.type == e.INPUT]
    rows.append({'type': types.get(artifact.type_id, '?'), 'id': artifact.id,
                 'uri': artifact.uri, 'producer': producer})
  return rows


# ----------------------------------------------------------------- charts


def _plt():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  return plt


def plot_training_curves(curves: dict, path: str) -> None:
  """RMSE per epoch, train and validation. (TFRS logs the train loss of an
  epoch's last batch only, so the loss is not drawn: RMSE is the epoch's
  running value.)"""
  from matplotlib.ticker import MaxNLocator  # pylint: disable=g-import-not-at-top
  plt = _plt()
  fig, ax = plt.subplots(figsize=(7, 3.5))
  for phase in ('train', 'validation'):
    values = curves.get(phase, {}).get('rmse', [])
    ax.plot(range(1, len(values) + 1), values, marker='o', label=phase)
  ax.set_title('RMSE per epoch')
  ax.set_xlabel('epoch')
  ax.xaxis.set_major_locator(MaxNLocator(integer=True))
  ax.legend()
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def plot_rmse_by_slice(rows: List[dict], path: str) -> None:
  plt = _plt()
  by_feature: Dict[str, List[dict]] = {}
  for row in rows:
    if row['feature']:
      by_feature.setdefault(row['feature'], []).append(row)
  features_ = sorted(by_feature) or ['']
  fig, axes = plt.subplots(len(features_), 1,
                           figsize=(10, 2.6 * len(features_)), squeeze=False)
  for ax, feature in zip(axes[:, 0], features_):
    slice_rows = by_feature.get(feature, [])
    names = [r['value'] for r in slice_rows]
    xs = range(len(names))
    baseline = [r['baseline_rmse'] for r in slice_rows]
    has_baseline = any(b is not None for b in baseline)
    shift = 0.2 if has_baseline else 0.0
    ax.bar([x - shift for x in xs], [r['rmse'] for r in slice_rows], 0.4,
           label='new model')
    if has_baseline:
      ax.bar([x + shift for x in xs], [b or 0 for b in baseline], 0.4,
             label='baseline model')
    ax.set_xticks(list(xs))
    ax.set_xticklabels(names, rotation=30, ha='right', fontsize=8)
    ax.set_ylabel('RMSE')
    ax.set_title(f'RMSE by {feature}')
    ax.legend(fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def plot_rating_distribution(predicted, labels, path: str) -> None:
  plt = _plt()
  fig, ax = plt.subplots(figsize=(7, 3.5))
  bins = [x / 4 for x in range(0, 25)]
  ax.hist(labels, bins=bins, alpha=0.6, label='actual rating')
  ax.hist(predicted, bins=bins, alpha=0.6, label='predicted rating')
  ax.set_xlabel('rating')
  ax.set_ylabel('eval examples')
  ax.set_title(f'Predicted vs actual ratings ({len(labels):,} eval examples)')
  ax.legend()
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


def plot_new_users(new: dict, path: str) -> None:
  """New users' Recall@k against the ratings they gave (H), the bundle's
  recommend_from_ratings beside the most popular list."""
  plt = _plt()
  metric = f"recall@{new['k']}"
  histories = sorted(new['by_history'], key=int)
  fig, ax = plt.subplots(figsize=(7, 3.5))
  for key, label in (('bundle', 'bundle (recommend_from_ratings)'),
                     ('most_popular', 'most popular')):
    ax.plot([int(h) for h in histories],
            [new['by_history'][h][key][metric] for h in histories],
            marker='o', label=label)
  ax.set_xticks([int(h) for h in histories])
  ax.set_xlabel('ratings given (H)')
  ax.set_ylabel(f"Recall@{new['k']}")
  ax.set_title(f"New users ({new['users']}): Recall@{new['k']} from their "
               'first H ratings')
  ax.legend()
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=90)
  plt.close(fig)


# ------------------------------------------------------------------- html


def _table(header: List[str], rows: List[List], table_id: str) -> str:
  head = ''.join(f'<th>{html.escape(str(h))}</th>' for h in header)
  body = ''.join(
      '<tr>' + ''.join(f'<td>{html.escape(str(c))}</td>' for c in row) +
      '</tr>' for row in rows)
  return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def _fmt(value, digits: int = 4) -> str:
  return '' if value is None else f'{value:.{digits}f}'


def render(summary: dict, images: Dict[str, str], top_k: List[dict],
           lineage_rows: List[dict]) -> str:
  """The report page; every number with an id the tests can read."""
  top_n = summary.get('top_n') or {}
  k = top_n.get('k')
  numbers = [
      (f'recall-{key}', f'Recall@{k}, {label}',
       _fmt(top_n[key][f'recall@{k}']))
      for key, label in (('bundle', 'bundle'),
                         ('most_popular', 'most popular'))
      if top_n.get(key)] + [
      ('rmse', 'Eval RMSE', _fmt(summary['rmse'])),
      ('blessed', 'Blessed', str(summary['blessed']).lower()),
      ('pushed-model', 'Pushed model', summary['pushed_model'] or 'none'),
      ('wall-seconds', 'Wall seconds', _fmt(summary.get('wall_seconds'), 1)),
  ] + [(f'examples-{split}', f'{split} examples', str(n))
       for split, n in summary['examples'].items()] + [
      (f'vocabulary-{key}', f'{key} vocabulary', str(n))
      for key, n in summary.get('vocabulary_sizes', {}).items()]
  number_rows = ''.join(
      f'<tr><th>{html.escape(label)}</th><td id="{key}">'
      f'{html.escape(value)}</td></tr>' for key, label, value in numbers)
  seconds = _table(['component', 'state', 'seconds'], [
      [n, summary['component_states'].get(n, ''), f'{s:.2f}']
      for n, s in summary['component_seconds'].items()], 'component-seconds')
  slices = _table(['slice', 'examples', 'RMSE', 'baseline RMSE', 'change'], [
      [r['slice'], r['examples'], _fmt(r['rmse']), _fmt(r['baseline_rmse']),
       _fmt(r['rmse_change'])] for r in summary.get('slices', [])], 'slices')
  top = ''.join(
      f'<h3>User {html.escape(u["user_id"])} (activity rank '
      f'{u["activity_rank"]})</h3>' + liked_line(u) + _table(
          ['title', 'score', 'predicted rating'],
          [[t, f'{s:.3f}', f'{r:.3f}'] for t, s, r in u['top']],
          f'top-k-{u["user_id"]}')
      for u in top_k)
  reasons = ''.join(f'<li>{html.escape(r)}</li>'
                    for r in summary.get('not_blessed_because', []))
  lineage_table = _table(['artifact', 'id', 'produced by', 'uri'], [
      [r['type'], r['id'], r['producer'], r['uri']] for r in lineage_rows],
                         'lineage')
  figures = ''.join(
      f'<figure><img src="{html.escape(name)}" alt="{html.escape(title)}">'
      f'<figcaption>{html.escape(title)}</figcaption></figure>'
      for title, name in images.items())
  return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>MovieLens ranking run {html.escape(summary['run_id'])}</title>
{_PAGE_STYLE}</head><body>
<h1>MovieLens ranking run <span id="run-id">{html.escape(summary['run_id'])}</span></h1>
{trained_in_line(summary)}
<h2>Summary</h2><table id="summary">{number_rows}</table>
{f'<h3>Not blessed because</h3><ul id="not-blessed-because">{reasons}</ul>' if reasons else ''}
<h2>Recommending: top-N metrics</h2>{top_n_tables(summary.get('top_n'))}
<h2>Recommendations for sample users</h2>{top}
<h2>Charts</h2>{figures}
<h2>RMSE by slice</h2>{slices}
<h2>Components</h2>{seconds}
<h2>Lineage of the model</h2>{lineage_table}
</body></html>
"""


def liked_line(user: dict) -> str:
  """What a sample user rated highest in the training data."""
  liked = user.get('liked') or []
  if not liked:
    return ''
  titles = ', '.join(f'{title} ({rating:g})' for title, rating in liked)
  return (f'<p id="liked-{html.escape(user["user_id"])}">Rated highest: '
          f'{html.escape(titles)}</p>')


def trained_in_line(summary: dict) -> str:
  """Which run trained the model shown, when it is not this run (a re-run
  that took it from the cache)."""
  trained_in = summary.get('model_trained_in_run')
  if not trained_in or trained_in == summary['run_id']:
    return ''
  return (f'<p id="model-trained-in">The model was trained in run '
          f'{html.escape(trained_in)}; this run took it from the cache.</p>')


_PAGE_STYLE = """<style>
body { font-family: sans-serif; margin: 2em; max-width: 70em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
td, th { border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left; }
img { max-width: 100%; }
</style>"""


def render_failure(summary: dict,
                   runs: Dict[str, run_summary.ComponentRun]) -> str:
  """The page of a failed run: where it failed, the error, and each
  component's state (run_summary.json of a failed run has nothing else)."""
  rows = ''.join(
      f'<tr><th>{html.escape(label)}</th><td id="{key}">'
      f'{html.escape(str(value))}</td></tr>' for key, label, value in (
          ('failed-in', 'Failed in', summary['failed_in']),
          ('error', 'Error', summary['error']),
          ('wall-seconds', 'Wall seconds',
           _fmt(summary.get('wall_seconds'), 1))))
  components = _table(['component', 'state', 'seconds', 'error'], [
      [r.node_id, r.state, f'{r.seconds:.2f}', r.error or '']
      for r in runs.values()], 'component-seconds')
  return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>MovieLens ranking run failed</title>
{_PAGE_STYLE}</head><body>
<h1>The run failed</h1>
<table id="summary">{rows}</table>
<p>Nothing was pushed: the served model, if any, is the last blessed one.</p>
<h2>Components</h2>{components}
</body></html>
"""


def model_views(model_path: str, examples_uri: str, path: str
                ) -> List[dict]:
  """Draws the served model's predicted against actual eval ratings to
  `path`; returns its top-k lists of the sample users, each with the
  titles they rated highest in the training data."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  model = tf.saved_model.load(model_path)
  predicted, labels = predictions_and_labels(model, examples_uri)
  plot_rating_distribution(predicted, labels, path)
  lists = top_k_for_sample_users(model)
  liked = liked_titles(examples_uri, [u['user_id'] for u in lists])
  return [{**u, 'liked': liked.get(u['user_id'], [])} for u in lists]


def liked_titles(examples_uri: str, user_ids: List[str],
                 count: int = LIKED_TITLES) -> Dict[str, List[list]]:
  """{user id: [[title, rating]] of their `count` highest-rated training
  ratings}: why the model recommends what it does to them."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from components import recommender_evaluator  # pylint: disable=g-import-not-at-top
  examples = artifacts.examples_artifact(examples_uri)
  wanted = np.array([u.encode() for u in user_ids], dtype=object)
  rated: Dict[str, List[list]] = {}
  for split in recommender_evaluator.training_splits(examples):
    for batch in recommender_evaluator.rating_batches(examples, split):
      for i in np.flatnonzero(np.isin(batch.users, wanted)):
        rated.setdefault(batch.users[i].decode(), []).append(
            [batch.titles[i].decode(), float(batch.ratings[i])])
  return {user: sorted(rows, key=lambda r: (-r[1], r[0]))[:count]
          for user, rows in rated.items()}


class Charts:
  """The report's charts and what each was drawn from (charts.json): a
  chart whose inputs have not changed since it was drawn is kept, so a
  run that changed nothing neither loads the model nor draws again."""

  def __init__(self, report_dir: str):
    self.report_dir = report_dir
    self.index = os.path.join(report_dir, 'charts.json')
    self.drawn = {}
    if os.path.exists(self.index):
      with open(self.index) as f:
        self.drawn = json.load(f)

  def draw(self, name: str, inputs, draw: Callable[[str], Any]) -> Any:
    """Calls draw(path of `name`) unless `name` is on disk and was drawn
    from the same (JSON) inputs; returns what draw returned, then or now."""
    path = os.path.join(self.report_dir, name)
    key = json.dumps(inputs, sort_keys=True)
    last = self.drawn.get(name)
    if last and last['inputs'] == key and os.path.exists(path):
      return last['returned']
    # Through JSON, so a kept chart's value equals a new one's.
    returned = json.loads(json.dumps(draw(path)))
    self.drawn[name] = {'inputs': key, 'returned': returned}
    return returned

  def save(self) -> None:
    with open(self.index, 'w') as f:
      json.dump(self.drawn, f, indent=1)


def write_report(output_dir: str) -> str:
  """Writes DIR/report/index.html and its charts; returns the page path."""
  paths = configs.output_paths(output_dir)
  if os.path.exists(paths['run_summary']):
    with open(paths['run_summary']) as f:
      summary = json.load(f)
  else:
    summary = run_summary.summarize(paths['metadata_path'])
  index = paths['report']
  report_dir = os.path.dirname(index)
  os.makedirs(report_dir, exist_ok=True)
  if 'failed_in' in summary:
    runs = (_latest_runs(paths['metadata_path'])
            if os.path.exists(paths['metadata_path']) else {})
    with open(index, 'w') as f:
      f.write(render_failure(summary, runs))
    return index
  runs = _latest_runs(paths['metadata_path'])

  charts = Charts(report_dir)
  images = {}
  model_run = _uri(runs, names.TRAINER, names.MODEL_RUN)
  if model_run:
    charts.draw('training_curves.png', model_run, lambda path: (
        plot_training_curves(artifacts.training_curves(model_run), path)))
    images['Training and validation curves'] = 'training_curves.png'
  if summary.get('slices'):
    charts.draw('rmse_by_slice.png', summary['slices'],
                lambda path: plot_rmse_by_slice(summary['slices'], path))
    images['RMSE by slice, new and baseline model'] = 'rmse_by_slice.png'
  new = (summary.get('top_n') or {}).get('new_users') or {}
  if new.get('by_history'):
    charts.draw('new_users.png', new, lambda path: plot_new_users(new, path))
    images['New users: Recall against ratings given'] = 'new_users.png'
  model_path = _serving_model_path(summary, runs)
  examples_uri = _uri(runs, names.EXAMPLE_GEN, names.EXAMPLES)
  top_k = []
  if model_path and examples_uri:
    top_k = charts.draw(
        'ratings.png',
        [model_path, examples_uri, MAX_EVAL_EXAMPLES, TOP_K, SAMPLE_USERS],
        lambda path: model_views(model_path, examples_uri, path))
    images['Predicted vs actual ratings'] = 'ratings.png'
  charts.save()
  page = render(summary, images, top_k, lineage(paths['metadata_path'], runs))
  with open(index, 'w') as f:
    f.write(page)
  return index


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(prog='python -m pipeline.report',
                                   description=__doc__)
  parser.add_argument('--output-dir', default=configs.DEFAULT_OUTPUT_DIR,
                      help='the run folder (default: %(default)s)')
  args = parser.parse_args(argv)
  paths = configs.output_paths(args.output_dir)
  if not any(os.path.exists(paths[key])
             for key in ('metadata_path', 'run_summary')):
    parser.error(f'{args.output_dir} holds no run (no metadata.db)')
  print(write_report(args.output_dir))
  return 0


if __name__ == '__main__':
  sys.exit(main())
