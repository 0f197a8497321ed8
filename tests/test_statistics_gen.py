"""StatisticsGen samples the splits too large to read whole, describes
small ones in memory (the same statistics as TFX's Beam executor) and keeps
their exact counts."""

import json
import os

import pytest
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tfx.components.statistics_gen import stats_artifact_utils
from tfx import types
from tfx.types import standard_artifacts

from components import movielens_example_gen as example_gen
from components import statistics_gen
from pipeline import artifacts
from trainer_module import splits
from tests.example_gen_run import small_examples


def test_only_splits_above_the_limit_are_sampled():
  assert statistics_gen.sample_rates({'train': 4000, 'eval': 500}, 1000) == {
      'train': 0.25}
  assert statistics_gen.sample_rates({'train': 4000}, None) == {}


@pytest.fixture(scope='module')
def examples(tmp_path_factory):
  return small_examples(str(tmp_path_factory.mktemp('statistics')), 5000)


@pytest.fixture(params=['in memory', 'beam'])
def describer(request, monkeypatch):
  """Which way the executor describes the small test splits."""
  if request.param == 'beam':
    monkeypatch.setattr(statistics_gen, 'IN_MEMORY_MAX_EXAMPLES', 0)
  return request.param


@pytest.fixture(scope='module')
def whole(examples, tmp_path_factory) -> dict:
  """Each way's statistics of every example (no limit), computed once."""
  statistics = {}
  for way, limit in (('in memory', statistics_gen.IN_MEMORY_MAX_EXAMPLES),
                     ('beam', 0)):
    with pytest.MonkeyPatch.context() as patch:
      patch.setattr(statistics_gen, 'IN_MEMORY_MAX_EXAMPLES', limit)
      statistics[way] = run(examples, str(tmp_path_factory.mktemp('whole')),
                            max_examples=None)
  return statistics


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


def test_a_large_split_is_sampled_at_its_rate_and_counted_exactly(
    examples, tmp_path, describer):
  counts = json.loads(examples.get_string_custom_property(
      example_gen.SPLIT_EXAMPLE_COUNTS_PROPERTY))
  assert counts['train'] > 3000 and counts['eval'] < 1500
  statistics = run(examples, str(tmp_path), max_examples=1500)
  rates = json.loads(statistics.get_string_custom_property(
      'sample_rate_by_split'))
  assert rates['train'] == pytest.approx(1500 / counts['train'])
  assert rates['eval'] == rates['validation'] == 1.0
  # The sample is the records' hash's: the same every run, about the size.
  train_files = splits.split_files(
      [example_gen.split_pattern(examples, 'train')])
  expected = statistics_gen.sample_split(train_files, rates['train'],
                                         str(tmp_path / 'again.gz'))
  assert described(statistics, 'train') == expected
  assert abs(expected - 1500) < 5 * (1500 ** 0.5)
  assert described(statistics, 'eval') == counts['eval']
  assert described(statistics, 'validation') == counts['validation']
  assert artifacts.split_example_counts(statistics.mlmd_artifact) == counts
  assert sorted(os.listdir(tmp_path)) == [
      'Split-eval', 'Split-train', 'Split-validation', 'again.gz']


def test_sample_split_keeps_whole_records_at_its_rate(examples, tmp_path):
  files = splits.split_files([example_gen.split_pattern(examples, 'train')])
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


@pytest.mark.parametrize('way', ['in memory', 'beam'])
def test_with_no_limit_every_example_is_described(examples, whole, way):
  statistics = whole[way]
  counts = json.loads(examples.get_string_custom_property(
      example_gen.SPLIT_EXAMPLE_COUNTS_PROPERTY))
  assert {split: described(statistics, split) for split in counts} == counts


def test_in_memory_statistics_are_tfx_beam_executors(whole):
  in_memory, beam = whole['in memory'], whole['beam']
  for key in ('sample_rate_by_split', 'stats_dashboard_link'):
    assert in_memory.get_string_custom_property(key) == (
        beam.get_string_custom_property(key))
  assert in_memory.split_names == beam.split_names
  for split in ('train', 'validation', 'eval'):
    ours, theirs = (stats_artifact_utils.load_statistics(a, split).proto()
                    .datasets[0] for a in (in_memory, beam))
    assert ours.num_examples == theirs.num_examples > 0
    by_path = {f.path.step[0]: f for f in theirs.features}
    assert sorted(by_path) == sorted(f.path.step[0] for f in ours.features)
    for feature in ours.features:
      other = by_path[feature.path.step[0]]
      assert feature.type == other.type
      kind = feature.WhichOneof('stats')
      assert kind == other.WhichOneof('stats')
      mine, yours = getattr(feature, kind), getattr(other, kind)
      assert mine.common_stats == yours.common_stats
      if kind == 'num_stats':
        for field in ('mean', 'std_dev', 'min', 'max', 'median'):
          assert getattr(mine, field) == pytest.approx(getattr(yours, field))
      if kind == 'string_stats':
        assert mine.unique == yours.unique
        assert sorted((v.value, v.frequency) for v in mine.top_values) == (
            sorted((v.value, v.frequency) for v in yours.top_values))


def test_only_small_tf_example_splits_without_slicing_go_in_memory(examples):
  counts = {'train': 800, 'validation': 100, 'eval': 200}
  names = list(counts)
  options = tfdv.StatsOptions()
  assert statistics_gen.in_memory_rates(
      examples, names, counts, {'train': 0.5}, options) == {
          'train': 0.5, 'validation': 1.0, 'eval': 1.0}
  options.sample_rate = 0.5
  assert statistics_gen.in_memory_rates(
      examples, names, counts, {}, options)['eval'] == 0.5
  large = {**counts, 'train': statistics_gen.IN_MEMORY_MAX_EXAMPLES + 1}
  assert statistics_gen.in_memory_rates(
      examples, names, large, {}, tfdv.StatsOptions()) is None
  assert statistics_gen.in_memory_rates(
      examples, names, {'train': 800}, {}, tfdv.StatsOptions()) is None
  sliced = tfdv.StatsOptions(
      experimental_slice_functions=[lambda batch: iter([])])
  assert statistics_gen.in_memory_rates(
      examples, names, counts, {}, sliced) is None
