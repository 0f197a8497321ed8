"""Faults injected for real into a pipeline that already serves a model.

Every test starts from an output directory whose first run pushed a model,
injects one fault (bad data, a bad archive, drift, a worse model, a bad
request), and checks that the run stops before Pusher with a message naming
the problem, and that the served model is byte-for-byte unchanged. Each
outcome goes to tests/faults.py's ledger, printed at the end of the session.
The interrupted-run faults are in test_interrupted_runs.py.
"""

import csv
import json
import os
import random
from typing import Callable, Dict, List

import numpy as np
import pytest
import tensorflow as tf

from bench import synthetic
from pipeline import configs
from pipeline import local_runner
from pipeline import predict
from tests import e2e
from tests import faults
from trainer_module import features

pytestmark = pytest.mark.e2e

# Small data: more, smaller steps than the tutorial so the model learns.
TRAINING = [*e2e.SMALL_DATA_RETRIEVAL, '--batch-size', '64', '--epochs', '10',
            '--rmse-threshold', '0.9']

Rows = List[Dict[str, str]]


@pytest.fixture(scope='module')
def served(ratings_csv, tmp_path_factory):
  """An output dir whose first run pushed a model."""
  output_dir = str(tmp_path_factory.mktemp('faults') / 'out')
  summary = e2e.run_pipeline(
      output_dir, ['--ratings-csv', ratings_csv, '--no-report', *TRAINING])
  assert summary['pushed_model'], summary
  return output_dir


def read_rows(path: str) -> Rows:
  with open(path, newline='') as f:
    return list(csv.DictReader(f))


def write_rows(path: str, rows: Rows, columns: List[str]) -> str:
  with open(path, 'w', newline='') as f:
    writer = csv.DictWriter(f, fieldnames=columns, extrasaction='ignore')
    writer.writeheader()
    writer.writerows(rows)
  return path


def run_with_fault(fault: str, output_dir: str, args: List[str]):
  """Runs the local runner with a fault; records what it did to serving.
  Returns (finished process, run_summary.json)."""
  before = faults.snapshot(e2e.serving_dir(output_dir))
  result = e2e.run_module('pipeline.local_runner',
                          ['--output-dir', output_dir, '--no-report', *args])
  after = faults.snapshot(e2e.serving_dir(output_dir))
  entry = faults.record(fault, before, after)
  assert entry['pushed'] == [] and entry['changed'] == [], entry
  summary_path = configs.output_paths(output_dir)['run_summary']
  with open(summary_path) as f:
    return result, json.load(f)


def assert_stopped(result, summary, *phrases: str) -> None:
  """The run failed before Pusher, and its error says each phrase."""
  assert result.returncode == local_runner.EXIT_FAILED, result.stdout[-2000:]
  for phrase in phrases:
    assert phrase in result.stderr, (phrase, result.stderr[-3000:])
  assert summary['error'] and summary['failed_in'] != 'Pusher'


def assert_not_blessed(result, summary, *phrases: str) -> None:
  """The run completed, blessed and pushed nothing, and one reason in
  run_summary.json says each phrase."""
  assert result.returncode == 0, result.stderr[-3000:]
  assert summary['blessed'] is False and summary['pushed_model'] is None
  assert any(all(p in reason for p in phrases)
             for reason in summary['not_blessed_because']), summary


# ------------------------------------------------------------- bad CSV data

def _set(column: str, value: str, every: int = 50) -> Callable[[Rows], Rows]:
  def mutate(rows):
    for i, row in enumerate(rows):
      if i % every == 7:
        row[column] = value
    return rows
  return mutate


def _one_user(rows: Rows) -> Rows:
  for i, row in enumerate(rows):
    if i % 10:
      row['user_id'] = '7'
  return rows


def _out_of_range(rows: Rows) -> Rows:
  rows[3]['user_rating'] = '6.0'
  rows[11]['user_rating'] = '0.0'
  return rows


# (fault, how to change the rows, columns to drop or rename, what the error
# says)
BAD_DATA = [
    ('ratings outside 1-5', _out_of_range, {},
     ['ExampleValidator', 'user_rating', 'Out-of-range']),
    ('non-numeric rating', _set('user_rating', 'four'), {},
     ['MovieLensExampleGen', "bad user_rating", "'four'"]),
    ('missing user_id', _set('user_id', ''), {},
     ['MovieLensExampleGen', 'empty user_id']),
    ('missing movie_title', _set('movie_title', ''), {},
     ['MovieLensExampleGen', 'empty movie_title']),
    ('blank strings', _set('movie_title', '   '), {},
     ['MovieLensExampleGen', 'empty movie_title']),
    ('required column renamed', None, {'user_rating': 'rating'},
     ['lacks required column', 'user_rating']),
    ('required column missing', None, {'movie_title': None},
     ['lacks required column', 'movie_title']),
    ('optional column missing', None, {'user_zip_code': None},
     ['pipeline construction', 'NoReviewedSchemaError',
      'no reviewed schema has exactly the columns', '--schema infer']),
    ('train split 90% one user', _one_user, {},
     ['AnomaliesGate: one user dominates', 'user_id',
      'one user has more than 25%']),
    ('no rows', lambda rows: [], {},
     ['no ratings after the header']),
]


@pytest.mark.parametrize('fault,mutate,columns,phrases', BAD_DATA,
                         ids=[case[0] for case in BAD_DATA])
def test_bad_data_stops_the_run_and_keeps_the_served_model(
    served, ratings_csv, tmp_path, fault, mutate, columns, phrases):
  rows = read_rows(ratings_csv)
  if mutate:
    rows = mutate(rows)
  header = []
  for column in synthetic.COLUMNS:
    if column in columns and columns[column] is None:
      continue
    header.append(columns.get(column, column))
    if column in columns:
      for row in rows:
        row[columns[column]] = row.pop(column)
  path = write_rows(str(tmp_path / 'bad.csv'), rows, header)
  result, summary = run_with_fault(
      fault, served, ['--ratings-csv', path, *TRAINING])
  assert_stopped(result, summary, *phrases)


def test_eval_split_of_unseen_users_stops_before_pusher(
    served, ratings_csv, tmp_path):
  rows = read_rows(ratings_csv)
  train = write_rows(str(tmp_path / 'train.csv'), rows[600:],
                     synthetic.COLUMNS)
  for row in rows[:600]:
    row['user_id'] = f"new-{row['user_id']}"
  evaluation = write_rows(str(tmp_path / 'eval.csv'), rows[:600],
                          synthetic.COLUMNS)
  # No new_users split: it would move the newest of these unseen users out
  # of eval (and the other splits) before the Evaluator could refuse them.
  result, summary = run_with_fault(
      'eval split of unseen users', served,
      ['--ratings-csv', train, '--eval-ratings-csv', evaluation,
       '--new-user-percent', '0', *TRAINING])
  assert_stopped(result, summary, 'Evaluator', 'EvalSplitError',
                 '100% of the eval ratings are by users the training data')


# ---------------------------------------------------------- bad TFDS archive

def _truncate(data: bytes) -> bytes:
  return data[:len(data) // 2]


def _flip_one_byte(data: bytes) -> bytes:
  middle = len(data) // 2
  return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1:]


@pytest.mark.parametrize('fault,damage', [
    ('truncated zip', _truncate), ('tampered zip', _flip_one_byte)])
def test_damaged_archive_is_refused_with_what_to_do(served, tmp_path, fault,
                                                     damage):
  manual_dir = os.environ.get(configs.MANUAL_DIR_ENV)
  original = os.path.join(manual_dir or '', 'ml-100k.zip')
  if not os.path.isfile(original):
    pytest.skip(f'needs the original ml-100k.zip in ${configs.MANUAL_DIR_ENV}')
  damaged_dir = tmp_path / 'manual'
  damaged_dir.mkdir()
  with open(original, 'rb') as f:
    (damaged_dir / 'ml-100k.zip').write_bytes(damage(f.read()))
  result, summary = run_with_fault(
      fault, served, ['--dataset', 'movielens/100k-ratings',
                      '--manual-dir', str(damaged_dir),
                      '--tfds-data-dir', str(tmp_path / 'tfds'), *TRAINING])
  assert_stopped(result, summary, 'MovieLensExampleGen', 'checksum',
                 'download it again')


# --------------------------------------------------------------------- drift

def test_drifted_data_is_refused_every_time(served, ratings_csv, tmp_path):
  rows = read_rows(ratings_csv)
  for row in rows:  # every user became two stars harsher
    row['user_rating'] = str(max(1.0, float(row['user_rating']) - 2))
  path = write_rows(str(tmp_path / 'drifted.csv'), rows,
                    synthetic.COLUMNS)
  for attempt in ('drift', 'drift, same data again'):
    # Again: the baseline stays the served model's data, so a re-run on the
    # same drifted data is compared with that, not with itself.
    result, summary = run_with_fault(
        attempt, served, ['--ratings-csv', path, *TRAINING])
    assert_stopped(result, summary, 'DriftValidator', 'drifted',
                   'user_rating', 'Jensen-Shannon divergence')


# --------------------------------------------------------------- worse models

def test_model_trained_on_shuffled_labels_is_not_pushed(
    served, ratings_csv, tmp_path):
  rows = read_rows(ratings_csv)
  labels = [row['user_rating'] for row in rows]
  random.Random(0).shuffle(labels)
  for row, label in zip(rows, labels):
    row['user_rating'] = label
  path = write_rows(str(tmp_path / 'shuffled.csv'), rows,
                    synthetic.COLUMNS)
  result, summary = run_with_fault(
      'shuffled labels', served, ['--ratings-csv', path, *TRAINING])
  assert_not_blessed(result, summary, 'root_mean_squared_error',
                     'required <= 0.9')


def test_model_worse_than_the_served_one_is_not_pushed(served, ratings_csv):
  # One epoch instead of ten: passes a lenient value gate, not the change
  # gate against the served model.
  result, summary = run_with_fault(
      'worse than the served model', served,
      ['--ratings-csv', ratings_csv, '--batch-size', '64', '--epochs', '1',
       '--rmse-threshold', '5'])
  assert_not_blessed(result, summary, 'against the baseline model')


def test_retrieval_worse_than_most_popular_is_not_pushed(served, ratings_csv):
  # A retrieval stage that does not learn (its learning rate ~0) and is
  # served without the popularity prior (which alone would rank as most
  # popular does) ranks movies at random; the rating model is as good as
  # the served one's.
  result, summary = run_with_fault(
      'retrieval worse than most popular', served,
      ['--ratings-csv', ratings_csv, *TRAINING,
       '--retrieval-learning-rate', '1e-9',
       '--retrieval-popularity-weight', '0', '--recall-tolerance', '1'])
  assert_not_blessed(result, summary, 'recall@10',
                     "below the most popular list's")
  top_n = summary['top_n']
  assert top_n['bundle']['recall@10'] < top_n['most_popular']['recall@10']


def test_first_model_must_pass_the_absolute_gate(ratings_csv, tmp_path):
  output_dir = str(tmp_path / 'out')
  result, summary = run_with_fault(
      'first model above the RMSE gate', output_dir,
      ['--ratings-csv', ratings_csv, '--batch-size', '64', '--epochs', '10',
       '--rmse-threshold', '0.1'])
  assert_not_blessed(result, summary, 'required <= 0.1')
  assert faults.snapshot(e2e.serving_dir(output_dir)) == {}


# -------------------------------------------------------------- bad requests

def newest_model(output_dir: str):
  return tf.saved_model.load(
      predict.newest_version_dir(e2e.serving_dir(output_dir)))


KNOWN_TITLE = synthetic.movie_titles(150)[3]


def known_user(loaded) -> str:
  """A user the served model knows (the newest users by sign-up are in
  the new_users split, not its vocabulary)."""
  return loaded.vocabularies()['user_id'].numpy()[0].decode()


def _request_errors(loaded) -> Dict[str, Callable[[], object]]:
  """Requests that must raise a clear error, by name."""
  call = loaded
  serve = loaded.signatures['serving_default']
  return {
      'int user ids': lambda: call({'user_id': np.array([42]),
                                    'movie_title': [KNOWN_TITLE]}),
      'float titles': lambda: serve(user_id=tf.constant(['1']),
                                    movie_title=tf.constant([1.5])),
      '2-d batch': lambda: call({'user_id': np.array([['1', '2']] * 2),
                                 'movie_title': np.array([[KNOWN_TITLE] * 2]
                                                         * 2)}),
      'missing feature': lambda: serve(user_id=tf.constant(['1'])),
      'lengths differ': lambda: call({'user_id': np.array(['1', '2']),
                                      'movie_title': [KNOWN_TITLE]}),
  }


def test_bad_requests_get_an_error_and_the_loader_survives(served):
  before = faults.snapshot(e2e.serving_dir(served))
  loaded = newest_model(served)
  for name, request in _request_errors(loaded).items():
    with pytest.raises((ValueError, TypeError,
                        tf.errors.InvalidArgumentError)) as error:
      request()
    assert str(error.value), name
    # The same loaded model still answers the tutorial's call.
    rating = loaded({'user_id': np.array([known_user(loaded)]),
                     'movie_title': [KNOWN_TITLE]})
    assert rating.shape == (1, 1) and np.isfinite(rating.numpy()).all()
    faults.record(f'request: {name}', before,
                  faults.snapshot(e2e.serving_dir(served)))
  lengths = _request_errors(loaded)['lengths differ']
  with pytest.raises(tf.errors.InvalidArgumentError, match='same number'):
    lengths()


def test_odd_values_get_a_defined_answer_flagged_unknown(served):
  before = faults.snapshot(e2e.serving_dir(served))
  loaded = newest_model(served)
  serve = loaded.signatures['serving_default']
  odd_users = {
      'unknown user': b'no-such-user',
      'very long string': b'9' * 1_000_000,
      'non-UTF-8 bytes': b'\xff\xfe\x80user',
  }
  for name, user in odd_users.items():
    out = serve(user_id=tf.constant([user, known_user(loaded).encode()]),
                movie_title=tf.constant([KNOWN_TITLE] * 2))
    ratings = out[features.PREDICTION_KEY].numpy()
    assert ratings.shape == (2, 1) and np.isfinite(ratings).all(), name
    assert out['user_id_known'].numpy().ravel().tolist() == [False, True]
    assert out['movie_title_known'].numpy().ravel().tolist() == [True, True]
    faults.record(f'request: {name}', before,
                  faults.snapshot(e2e.serving_dir(served)))
  out = serve(user_id=tf.constant([known_user(loaded)]),
              movie_title=tf.constant(['Not A Movie (2099)']))
  assert out['movie_title_known'].numpy().ravel().tolist() == [False]
  empty = loaded({'user_id': np.array([], dtype=str),
                  'movie_title': np.array([], dtype=str)})
  assert empty.shape == (0, 1)
  faults.record('request: empty batch', before,
                faults.snapshot(e2e.serving_dir(served)))


def test_the_served_model_survived_every_fault(served):
  """Runs last in this module: after every fault above, the first run's
  model is still the only version served, and still answers."""
  versions = [v for v in os.listdir(e2e.serving_dir(served)) if v.isdigit()]
  assert len(versions) == 1
  e2e.tutorial_call(os.path.join(e2e.serving_dir(served), versions[0]),
                    '42', KNOWN_TITLE)  # any user gets an answer
  assert not [e for e in faults.LEDGER if e['pushed'] or e['changed']]
