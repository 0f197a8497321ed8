"""StatisticsGen samples the splits too large to read whole and keeps
their exact counts."""

import glob
import json
import os

import pytest
import tensorflow as tf
from tfx.components.statistics_gen import stats_artifact_utils
from tfx import types
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from bench import synthetic
from components import movielens_example_gen as example_gen
from components import statistics_gen
from pipeline import artifacts
from tests.example_gen_run import execute


def test_only_splits_above_the_limit_are_sampled():
  assert statistics_gen.sample_rates({'train': 4000, 'eval': 500}, 1000) == {
      'train': 0.25}
  assert statistics_gen.sample_rates({'train': 4000}, None) == {}


@pytest.fixture(scope='module')
def examples(tmp_path_factory):
  base = tmp_path_factory.mktemp('statistics')
  ratings = synthetic.write_small_ratings_csv(str(base / 'ratings.csv'),
                                              num_ratings=5000)
  return execute(example_gen.MovieLensExampleGen(ratings_csv=ratings),
                 str(base / 'examples'))


def run(examples, output_dir, max_examples):
  statistics = standard_artifacts.ExampleStatistics()
  statistics.uri = output_dir
  component = statistics_gen.StatisticsGen(
      examples=types.Channel(type=standard_artifacts.Examples),
      max_examples_per_split=max_examples)
  properties = {k: v for k, v in component.exec_properties.items()
                if v is not None}
  statistics_gen.Executor().Do({'examples': [examples]},
                               {'statistics': [statistics]}, properties)
  return statistics


def described(statistics, split: str) -> int:
  return stats_artifact_utils.load_statistics(
      statistics, split).proto().datasets[0].num_examples


def split_files(examples, split):
  return sorted(glob.glob(os.path.join(
      artifact_utils.get_split_uri([examples], split), '*')))


def test_a_large_split_is_sampled_at_its_rate_and_counted_exactly(
    examples, tmp_path):
  counts = json.loads(examples.get_string_custom_property(
      example_gen.SPLIT_EXAMPLE_COUNTS_PROPERTY))
  assert counts['train'] > 3000 and counts['eval'] < 1500
  statistics = run(examples, str(tmp_path), max_examples=1500)
  rates = json.loads(statistics.get_string_custom_property(
      'sample_rate_by_split'))
  assert rates['train'] == pytest.approx(1500 / counts['train'])
  assert rates['eval'] == rates['validation'] == 1.0
  # The sample is the records' hash's: the same every run, about the size.
  expected = statistics_gen.sample_split(
      split_files(examples, 'train'), rates['train'],
      str(tmp_path / 'again.gz'))
  assert described(statistics, 'train') == expected
  assert abs(expected - 1500) < 5 * (1500 ** 0.5)
  assert described(statistics, 'eval') == counts['eval']
  assert described(statistics, 'validation') == counts['validation']
  assert artifacts.split_example_counts(statistics.mlmd_artifact) == counts
  assert sorted(os.listdir(tmp_path)) == [
      'Split-eval', 'Split-train', 'Split-validation', 'again.gz']


def test_sample_split_keeps_whole_records_at_its_rate(examples, tmp_path):
  files = split_files(examples, 'train')
  records = {r.numpy() for r in tf.data.TFRecordDataset(
      files, compression_type='GZIP')}
  kept = {}
  for rate in (0.0, 0.3, 1.0):
    path = str(tmp_path / f'{rate}.gz')
    written = statistics_gen.sample_split(files, rate, path)
    kept[rate] = [r.numpy() for r in tf.data.TFRecordDataset(
        path, compression_type='GZIP')]
    assert written == len(kept[rate])
  assert kept[0.0] == [] and sorted(kept[1.0]) == sorted(records)
  assert set(kept[0.3]) <= records
  assert abs(len(kept[0.3]) - 0.3 * len(records)) < 5 * (
      0.21 * len(records)) ** 0.5


def test_with_no_limit_every_example_is_described(examples, tmp_path):
  statistics = run(examples, str(tmp_path), max_examples=None)
  counts = json.loads(examples.get_string_custom_property(
      example_gen.SPLIT_EXAMPLE_COUNTS_PROPERTY))
  assert {split: described(statistics, split) for split in counts} == counts
