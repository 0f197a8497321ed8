"""The key of a local run: what changes it, what does not, and when the
last run's record lets the runner skip a run."""

import argparse
import os

import pytest

from pipeline import cli
from pipeline import run_key


def parse(argv):
  parser = argparse.ArgumentParser()
  parser.add_argument('--output-dir', default='out')
  parser.add_argument('--verbose', action='store_true')
  parser.add_argument('--no-report', action='store_true')
  cli.add_pipeline_flags(parser)
  return parser.parse_args(argv)


@pytest.fixture
def ratings(tmp_path):
  path = tmp_path / 'ratings.csv'
  path.write_text('user_id,movie_title,user_rating\n1,A (1990),4\n')
  return str(path)


def test_what_runs_changes_the_key_and_what_is_printed_does_not(ratings):
  key = run_key.run_key(parse(['--ratings-csv', ratings]))
  assert key == run_key.run_key(parse(['--ratings-csv', ratings]))
  assert key == run_key.run_key(parse([
      '--ratings-csv', ratings, '--verbose', '--no-report',
      '--output-dir', 'elsewhere']))
  assert key != run_key.run_key(parse(['--ratings-csv', ratings,
                                       '--epochs', '4']))
  assert key != run_key.run_key(parse(['--ratings-csv', ratings,
                                       '--beam-pipeline-args=--foo=bar']))


def test_an_input_file_touched_or_rewritten_changes_the_key(ratings):
  args = parse(['--ratings-csv', ratings])
  key = run_key.run_key(args)
  stat = os.stat(ratings)
  os.utime(ratings, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
  touched = run_key.run_key(args)
  assert touched != key
  with open(ratings, 'a') as f:
    f.write('2,B (1991),3\n')
  assert run_key.run_key(args) not in (key, touched)


def test_a_folder_counts_every_file_in_it(tmp_path):
  folder = tmp_path / 'manual'
  (folder / 'ml-100k').mkdir(parents=True)
  (folder / 'ml-100k' / 'u.data').write_text('1\t2\t3\t4\n')
  args = parse(['--manual-dir', str(folder)])
  key = run_key.run_key(args)
  (folder / 'ml-100k' / 'u.item').write_text('x')
  assert run_key.run_key(args) != key


def test_the_code_is_part_of_the_key(ratings, tmp_path, monkeypatch):
  (tmp_path / 'pipeline').mkdir()
  module = tmp_path / 'pipeline' / 'configs.py'
  module.write_text('X = 1\n')
  monkeypatch.setattr(run_key, 'PROJECT_ROOT', str(tmp_path))
  args = parse(['--ratings-csv', ratings])
  key = run_key.run_key(args)
  module.write_text('X = 2\n')
  assert run_key.run_key(args) != key


@pytest.mark.parametrize('argv', [
    ['--no-cache'], ['--ratings-csv', 'gs://bucket/ratings.csv']])
def test_no_key_where_the_run_must_happen(argv):
  assert run_key.run_key(parse(argv)) is None


def test_unchanged_needs_the_same_key_and_an_untouched_store(tmp_path):
  output_dir = str(tmp_path)
  metadata = tmp_path / 'metadata.db'
  metadata.write_bytes(b'store')
  assert not run_key.unchanged(output_dir, str(metadata), 'k')
  run_key.record(output_dir, str(metadata), 'k')
  assert run_key.unchanged(output_dir, str(metadata), 'k')
  assert not run_key.unchanged(output_dir, str(metadata), 'other')
  assert not run_key.unchanged(output_dir, str(metadata), None)
  metadata.write_bytes(b'store, written since')
  assert not run_key.unchanged(output_dir, str(metadata), 'k')
  run_key.record(output_dir, str(metadata), 'k')
  run_key.record(output_dir, str(metadata), None)  # a run that executed
  assert not run_key.unchanged(output_dir, str(metadata), 'k')


def test_a_new_path_flag_is_keyed_without_editing_run_key(ratings, tmp_path):
  """Path flags are found by their type (cli.InputPath), not a list."""
  parser = argparse.ArgumentParser()
  parser.add_argument('--output-dir', default='out')
  cli.add_pipeline_flags(parser)
  parser.add_argument('--extra-file', type=cli.InputPath)
  extra = tmp_path / 'extra.txt'
  extra.write_text('a')
  args = parser.parse_args(['--ratings-csv', ratings,
                            '--extra-file', str(extra)])
  key = run_key.run_key(args)
  extra.write_text('ab')
  assert run_key.run_key(args) != key
