"""bench.compare's arithmetic and process measurement (not its timings)."""

import pytest

from bench import compare


def figures(notebook_wall=40.0, cold_wall=50.0, warm_wall=10.0,
            tuned_rmse=0.89, serving=1.2e6):
  notebook = {'rmse': 1.11, 'wall_seconds': notebook_wall,
              'peak_rss_mib': 900.0, 'fit_examples_per_second': 10_000.0,
              'seconds': {'fit': 24.0}}
  cold = {'rmse': 1.11, 'wall_seconds': cold_wall, 'peak_rss_mib': 1200.0,
          'training': {'train_examples_per_second': 60_000.0},
          'component_seconds': {'Trainer': 5.0}}
  warm = {**cold, 'wall_seconds': warm_wall,
          'component_seconds': {'Trainer': 0.0}}
  tuned = {**cold, 'rmse': tuned_rmse}
  serving = {name: {'predictions_per_second': serving, 'latency_p50_ms': 0.4,
                    'latency_p99_ms': 0.6}
             for name in ('notebook', 'pipeline', 'tuned')}
  return notebook, cold, warm, tuned, serving


def test_ratios_are_pipeline_over_notebook_and_goals_follow():
  result = compare.compare(*figures())
  assert result['ratios']['cold_wall'] == pytest.approx(1.25)
  assert result['ratios']['fit_throughput'] == pytest.approx(6.0)
  assert all(result['goals'].values())
  result = compare.compare(*figures(cold_wall=53.0, warm_wall=10.5,
                                    tuned_rmse=0.91, serving=9e5))
  assert not any(v for k, v in result['goals'].items()
                 if not k.startswith('fit'))


def test_table_shows_every_run_and_goal():
  notebook, cold, warm, tuned, serving = figures()
  later = lambda wall, executed, reported=False: {
      'wall_seconds': wall, 'executed': executed,
      'reported_from_last_run': reported}
  results = {'notebook': notebook, 'pipeline_cold': cold,
             'pipeline_warm': {**warm, **later(10.0, ['DriftValidator'])},
             'pipeline_warm_cached': later(9.5, []),
             'pipeline_warm_unchanged': later(0.7, [], reported=True),
             'hyperparameter_change': later(
                 31.0, ['Trainer', 'Evaluator', 'Pusher']),
             'tuned': tuned, 'serving': serving,
             **compare.compare(notebook, cold, warm, tuned, serving)}
  text = compare.table(results)
  assert 'test RMSE' in text and '0.8900' in text
  assert 'cold_wall_ratio <= 1.3: met' in text
  assert 'warm_wall_seconds <= 10: met' in text
  assert '2nd run, nothing changed     10.0  DriftValidator' in text
  assert '3rd run, nothing changed      9.5  none (all cached)' in text
  assert '4th run, nothing changed      0.7  none: reported' in text
  assert '--epochs 4 after them        31.0  Trainer, Evaluator, Pusher' in (
      text)


def test_run_process_measures_wall_and_peak_rss():
  measured = compare.run_process(['platform'])
  assert measured['wall_seconds'] > 0
  # A high-water mark since fork: under a large parent (pytest with TF and
  # Airflow loaded) it includes the parent's pages before exec, so only a
  # lower bound holds here; bench.compare's own process is small.
  assert measured['peak_rss_mib'] > 5


def test_a_failing_process_raises_with_its_output():
  with pytest.raises(RuntimeError, match='No module named'):
    compare.run_process(['no_such_module_here'])


def top_n_figures(tutorial=0.36, tuned=0.38, popular=0.18, ease=0.36,
                  knn=0.34, p99=(2.0, 10.0)):
  def lists(recall):
    return {'recall@10': recall, 'ndcg@10': recall, 'map@10': recall / 2}
  cold = {'top_n': {'bundle': lists(tutorial), 'retrieval': lists(0.3)},
          'blessed': True}
  tuned_run = {'top_n': {'bundle': lists(tuned), 'retrieval': lists(0.3)},
               'blessed': False}
  references = {'most_popular': lists(popular), 'ease': lists(ease),
                'item_knn': lists(knn)}
  recommend = {name: {'catalog': 1000, 'latency_p50_ms': 1.0,
                      'latency_p99_ms': ms, 'users_per_second': 5000.0,
                      'batch_size': 256}
               for name, ms in zip(('tutorial 100k', 'large'), p99)}
  return cold, tuned_run, references, recommend


def test_recall_ratios_and_goals():
  result = compare.compare_top_n(*top_n_figures())
  assert result['recall_ratios']['tutorial_vs_popular'] == pytest.approx(2.0)
  assert result['recall_ratios']['tuned_vs_ease'] == pytest.approx(0.38 / 0.36)
  assert all(result['recall_goals'].values()), result
  result = compare.compare_top_n(*top_n_figures(tutorial=0.35, tuned=0.36,
                                                p99=(6.0, 21.0)))
  assert not any(result['recall_goals'].values()), result


def test_top_n_table_names_every_list_and_an_unblessed_tuned_bundle():
  cold, tuned, references, recommend = top_n_figures()
  results = {'pipeline_cold': cold, 'tuned': tuned,
             'top_n_references': references, 'recommend': recommend,
             **compare.compare_top_n(cold, tuned, references, recommend)}
  text = compare.top_n_table(results)
  for name in ('tutorial bundle', 'tuned bundle (not blessed)',
               'retrieval alone', 'most popular', 'item-kNN', 'EASE',
               'p99 10.00 ms'):
    assert name in text, text
  assert '2.00x' in text


def test_u1_table_sets_both_presets_beside_the_published_figures():
  run = lambda rmse: {'rmse': rmse, 'top_n': {'bundle': {'recall@10': 0.4}},
                      'training': {'best_epoch': 5, 'epochs_run': 8}}
  text = compare.u1_table({'tutorial': run(1.13), 'tuned': run(0.901)})
  for expected in ('tutorial', '1.1300', 'tuned', '0.9010', 'GLocal-K',
                   '0.889', 'best epoch 5 of 8', 'validation only'):
    assert expected in text, text


def test_u1_reads_the_unpacked_folder_or_unpacks_the_zip(tmp_path):
  import zipfile  # pylint: disable=g-import-not-at-top
  manual = tmp_path / 'manual'
  (manual / 'ml-100k').mkdir(parents=True)
  (manual / 'ml-100k' / 'u1.base').write_text('1\t1\t5\t0\n')
  assert compare.grouplens_100k_dir(str(tmp_path), str(manual)) == str(
      manual / 'ml-100k')
  zipped = tmp_path / 'zipped'
  zipped.mkdir()
  with zipfile.ZipFile(zipped / 'ml-100k.zip', 'w') as archive:
    archive.writestr('ml-100k/u1.base', '1\t1\t5\t0\n')
  work = tmp_path / 'work'
  assert compare.grouplens_100k_dir(str(work), str(zipped)) == str(
      work / 'ml-100k')
  assert (work / 'ml-100k' / 'u1.base').is_file()
  assert compare.grouplens_100k_dir(str(work), None) is None


def test_the_cold_ratio_is_the_median_of_the_side_by_side_pairs():
  pairs = [compare.wall_seconds({'wall_seconds': notebook},
                                {'wall_seconds': pipeline})
           for notebook, pipeline in ((40.0, 60.0), (50.0, 55.0),
                                      (45.0, 54.0))]
  ratios = compare.cold_pair_ratios(pairs)
  assert ratios == pytest.approx([1.5, 1.1, 1.2])
  notebook, cold, warm, tuned, serving = figures(cold_wall=60.0)
  result = compare.compare(notebook, cold, warm, tuned, serving, ratios)
  assert result['ratios']['cold_wall'] == pytest.approx(1.2)
  assert result['goals']['cold_wall_ratio <= 1.3']
  results = {'notebook': notebook, 'pipeline_cold': cold,
             'pipeline_warm': {**warm, 'executed': [],
                               'reported_from_last_run': False},
             'tuned': tuned, 'serving': serving, 'cold_pairs': pairs,
             **{key: {'wall_seconds': 1.0, 'executed': [],
                      'reported_from_last_run': False}
                for key in ('pipeline_warm_cached', 'pipeline_warm_unchanged',
                            'hyperparameter_change')},
             **result}
  assert ('60.0 / 40.0 (1.50), 55.0 / 50.0 (1.10), 54.0 / 45.0 (1.20)'
          in compare.table(results))


def test_cold_pairs_must_be_at_least_one(tmp_path):
  with pytest.raises(SystemExit):
    compare.parse_args(['--cold-pairs', '0', '--work-dir', str(tmp_path)])
