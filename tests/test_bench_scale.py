"""bench.scale's arithmetic, size parsing and memory sampling (no timings)."""

import subprocess
import sys
import time

import pytest

from bench import scale


def result(label, ratings, wall, peak, components=None):
  return {'label': label, 'ratings': ratings, 'users': ratings // 150,
          'movies': 100, 'data_format': 'parquet', 'data_bytes': 2**20,
          'wall_seconds': wall, 'seconds_per_million': wall / ratings * 1e6,
          'examples_per_second': ratings / wall, 'peak_rss_mib': peak,
          'components': components or {
              'Trainer': {'seconds': wall / 2, 'peak_rss_mib': peak}},
          'vocabulary_sizes': {'user_id': 6, 'movie_title': 7},
          'rmse': 0.95, 'blessed': True,
          'examples': {'train': ratings * 7 // 10, 'eval': ratings // 10,
                       'new_users': ratings - ratings * 7 // 10 -
                       ratings // 10}}


def test_linear_cost_and_flat_memory_meet_the_goals():
  summary = scale.growth([result('1m', 10**6, 100.0, 3000.0),
                          result('5m', 5 * 10**6, 500.0, 3300.0)])
  [step] = summary['steps']
  assert step['cost_per_rating_ratio'] == pytest.approx(1.0)
  assert 0 < step['peak_rss_exponent'] < 0.1
  assert all(summary['goals'].values())


def test_superlinear_cost_and_linear_memory_miss_them():
  summary = scale.growth([result('1m', 10**6, 100.0, 1000.0),
                          result('5m', 5 * 10**6, 800.0, 5000.0),
                          result('25m', 25 * 10**6, 4000.0, 25000.0)])
  assert summary['steps'][0]['cost_per_rating_ratio'] == pytest.approx(1.6)
  assert summary['steps'][1]['peak_rss_exponent'] == pytest.approx(1.0)
  assert not any(summary['goals'].values())
  assert len(summary['goals']) == 4  # 25M: seconds and peak memory too
  fast = scale.growth([result('25m', 25 * 10**6, scale.GOAL_25M_SECONDS,
                              scale.GOAL_25M_PEAK_MIB)])
  assert list(fast['goals'].values()) == [True, True]


def test_table_names_every_component_and_the_goals():
  text = scale.size_table(result('1m', 10**6, 100.0, 3000.0))
  assert 'Trainer' in text and '1,000,000 ratings' in text
  assert '0.9500' in text
  summary = scale.growth([result('1m', 10**6, 100.0, 3000.0),
                          result('5m', 5 * 10**6, 900.0, 3000.0)])
  assert 'NOT met' in scale.growth_table(summary)


def test_table_says_when_examplegen_lost_ratings():
  whole = result('1m', 10**6, 100.0, 3000.0)
  assert 'ratings in the splits: 1,000,000 of 1,000,000\n' in (
      scale.size_table(whole))
  short = {**whole, 'examples': {**whole['examples'], 'new_users': 1}}
  assert scale.written(short) < 10**6
  assert 'of 1,000,000 (LOST SOME)' in scale.size_table(short)


def test_sizes_are_parsed_and_25m_needs_asking():
  assert scale.parse_sizes('1m,100k', False) == [('100k', 100_000),
                                                 ('1m', 1_000_000)]
  assert scale.parse_sizes(scale.DEFAULT_SIZES, True)[-1] == (
      '25m', 25_000_000)
  with pytest.raises(ValueError, match='unknown size'):
    scale.parse_sizes('2m', False)


def test_plot_is_written(tmp_path):
  path = str(tmp_path / 'scale.png')
  scale.plot([result('100k', 10**5, 60.0, 2000.0),
              result('1m', 10**6, 200.0, 2500.0)], path)
  with open(path, 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_memory_sampler_counts_child_processes_and_each_root_apart():
  """The runner's tree and, with Flink, each cluster process's tree: their
  sum over time and each one's own peak."""
  code = ('import subprocess, sys; subprocess.run([sys.executable, "-c", '
          '"x = bytearray({} * 2**20); import time; time.sleep(2)"])')
  big, small = (subprocess.Popen([sys.executable, '-c', code.format(mib)])
                for mib in (200, 50))
  sampler = scale.MemorySampler({'runner': big.pid, 'pool': small.pid})
  sampler.start()
  big.wait()
  small.wait()
  sampler.stop()
  assert max(mib for _, mib in sampler.samples) > 250
  assert all(t <= time.time() for t, _ in sampler.samples)
  assert sampler.peaks['runner'] > 200 and 50 < sampler.peaks['pool'] < 200


def test_engine_table_sets_flink_beside_the_direct_runner():
  direct = {**result('1m', 10**6, 200.0, 2500.0),
            'beam_engine': 'direct',
            'process_peak_rss_mib': {'runner': 2500.0}}
  flink = {**result('1m', 10**6, 300.0, 1500.0), 'beam_engine': 'flink',
           'process_peak_rss_mib': {'runner': 1500.0, 'taskmanager-1': 900.0}}
  table = scale.engine_table(direct, flink)
  assert '1.50' in table.splitlines()[-2]  # the whole run: 300 / 200
  assert 'taskmanager-1 900' in table


def test_merge_keeps_earlier_sizes_not_measured_again(tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  path = str(tmp_path / 'scale.json')
  with open(path, 'w') as f:
    json.dump({'sizes': [result('1m', 10**6, 100.0, 3000.0),
                         result('5m', 5 * 10**6, 500.0, 3300.0)]}, f)
  new = [result('5m', 5 * 10**6, 450.0, 3200.0),
         result('25m', 25 * 10**6, 2500.0, 3500.0)]
  sizes = scale.merged(path, new)
  assert [r['label'] for r in sizes] == ['1m', '5m', '25m']
  assert sizes[1]['wall_seconds'] == 450.0
  assert scale.merged(str(tmp_path / 'none.json'), new) == new


def test_size_table_shows_the_bundle_beside_its_anchors():
  measured = {**result('1m', 10**6, 100.0, 3000.0),
              'top_n': {'bundle': {'recall@10': 0.31}},
              'anchors': {'most_popular': {'recall@10': 0.15},
                          'item_knn': {'recall@10': 0.3}}}
  assert scale.top_n_recalls(measured) == [
      ('bundle', 0.31), ('most_popular', 0.15), ('item_knn', 0.3)]
  assert ('Recall@10 on the eval users: bundle 0.3100; most_popular '
          '0.1500; item_knn 0.3000') in scale.size_table(measured)
  assert scale.top_n_recalls(result('1m', 10**6, 100.0, 3000.0)) == []


def test_each_size_is_written_as_it_is_measured(tmp_path, monkeypatch):
  """A run stopped during 25M keeps what 1M measured; a finished run with
  a size whose ratings ExampleGen did not all write fails."""
  import json  # pylint: disable=g-import-not-at-top

  def measure_size(label, ratings, *_):
    if label == '25m':
      raise KeyboardInterrupt
    return result(label, ratings, 100.0, 3000.0)

  monkeypatch.setattr(scale, 'measure_size', measure_size)
  monkeypatch.setattr(scale, 'plot', lambda *_: None)
  results = str(tmp_path / 'out')
  with pytest.raises(KeyboardInterrupt):
    scale.main(['--sizes', '1m,25m', '--results', results])
  with open(results + '.json') as f:
    assert [r['label'] for r in json.load(f)['sizes']] == ['1m']
  assert scale.main(['--sizes', '1m', '--results', results]) == 0
  lost = result('1m', 10**6, 100.0, 3000.0)
  lost['examples'] = {'train': 10}
  monkeypatch.setattr(scale, 'measure_size', lambda *_: lost)
  assert scale.main(['--sizes', '1m', '--results', results]) == 1
