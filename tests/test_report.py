"""Progress lines, slices and the HTML report of a run, the report checked
in a real headless Chromium (Debian's chromium and chromium-driver)."""

import os
import re
import shutil

import pytest

from pipeline import report
from tests import e2e

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
CHROMEDRIVER = shutil.which('chromedriver') or '/usr/bin/chromedriver'
HAVE_BROWSER = os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)
# CI sets REQUIRE_BROWSER=1: there a missing browser is a failure, not a skip.
REQUIRE_BROWSER = os.environ.get('REQUIRE_BROWSER') == '1'

COMPONENTS = ('MovieLensExampleGen', 'StatisticsGen', 'ImportSchemaGen',
              'ExampleValidator', 'DriftValidator', 'AnomaliesGate',
              'Transform', 'Trainer', 'Evaluator', 'Pusher')


def run_args(ratings_csv: str) -> list:
  """The runs' flags but --epochs."""
  return ['--ratings-csv', ratings_csv, '--rmse-threshold', '0.95',
          '--batch-size', '64', *e2e.SMALL_DATA_RETRIEVAL]


@pytest.fixture(scope='module')
def two_runs(ratings_csv, tmp_path_factory):
  """A first run, then one with more epochs: the first is its baseline."""
  output_dir = str(tmp_path_factory.mktemp('report') / 'out')
  common = run_args(ratings_csv)
  _, first = e2e.run_pipeline_with_output(output_dir, [*common, '--epochs', '3'])
  summary, second = e2e.run_pipeline_with_output(
      output_dir, [*common, '--epochs', '8'])
  return output_dir, summary, first, second


def test_one_progress_line_per_component_start_and_finish(two_runs):
  _, _, first, _ = two_runs
  lines = first.stdout.splitlines()
  for component in COMPONENTS:
    finished = [l for l in lines if re.match(
        rf'\[\s*[\d.]+s\] {component} complete in [\d.]+s', l)]
    assert len(finished) == 1, (component, first.stdout)
  assert any(re.search(r'StatisticsGen complete .*train [\d,]+ examples, '
                       r'validation [\d,]+ examples, eval [\d,]+ examples', l)
             for l in lines)
  # 24 of the 120 users are the newest by sign-up: the new_users split.
  assert any(re.search(r'StatisticsGen complete .*new_users [\d,]+ examples',
                       l) for l in lines)
  assert any(re.search(r'Transform complete .*vocabularies: user_id 96, '
                       r'movie_title 150', l) for l in lines)
  assert any(re.search(r'Trainer complete .*epochs 1: rmse [\d.]+ val '
                       r'[\d.]+; 2: .*; 3: rmse', l) for l in lines)
  assert any(re.search(r'Evaluator complete .*eval RMSE [\d.]+, blessed.*; '
                       r'new users [\d.]+ \(most popular [\d.]+\)', l)
             for l in lines)
  assert any(re.search(r'Pusher complete .*pushed version \d+', l)
             for l in lines)


def test_quiet_by_default(two_runs):
  _, _, first, _ = two_runs
  noise = [l for l in (first.stdout + first.stderr).splitlines()
           if 'WARNING' in l or 'Warning' in l or re.match(r'^[IWE]\d{4}', l)]
  assert noise == []


def test_second_run_compares_every_slice_with_the_baseline(two_runs):
  _, summary, first, second = two_runs
  assert '(no baseline yet)' in first.stdout
  assert re.search(r'Evaluator complete .*\(against baseline model #\d+\)',
                   second.stdout)
  features = {row['feature'] for row in summary['slices']}
  assert features == {'', 'user_activity_bucket', 'movie_popularity_bucket',
                      'movie_genres', 'user_age_bucket'}
  for row in summary['slices']:
    assert row['baseline_rmse'] is not None, row
    assert row['rmse_change'] == pytest.approx(
        row['rmse'] - row['baseline_rmse'], abs=1e-6)
  genres = {r['value'] for r in summary['slices']
            if r['feature'] == 'movie_genres'}
  assert genres == {'Action', 'Comedy', 'Drama', 'Romance', 'Thriller'}


def test_activity_buckets_are_in_numeric_order(two_runs):
  _, summary, _, _ = two_runs
  values = [r['value'] for r in summary['slices']
            if r['feature'] == 'user_activity_bucket']
  assert values[0] == '<20' and values == sorted(
      values, key=lambda v: -1 if v.startswith('<') else int(v.split('-')[0]
                                                             .rstrip('+')))


def test_an_unchanged_run_redraws_no_chart(two_runs, monkeypatch):
  """A run that changed nothing (all components cached) writes the page
  again but keeps the charts: the served model is not even loaded."""
  output_dir, _, _, _ = two_runs
  index = report.write_report(output_dir)
  before = open(index).read()
  charts = os.path.join(output_dir, 'report', 'ratings.png')
  drawn = os.stat(charts).st_mtime_ns
  monkeypatch.setattr(report, 'model_views', _not_called)
  monkeypatch.setattr(report, 'plot_training_curves', _not_called)
  monkeypatch.setattr(report, 'plot_rmse_by_slice', _not_called)
  assert open(report.write_report(output_dir)).read() == before
  assert os.stat(charts).st_mtime_ns == drawn
  assert 'id="top-k-' in before


def _not_called(*args):
  raise AssertionError(f'drew again: {args}')


def test_report_cli_rewrites_the_page(two_runs):
  output_dir, _, _, _ = two_runs
  result = e2e.run_module('pipeline.report', ['--output-dir', output_dir])
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().endswith(os.path.join('report', 'index.html'))


@pytest.fixture(scope='module')
def browser():
  if not HAVE_BROWSER:
    if REQUIRE_BROWSER:
      pytest.fail(f'no {CHROMIUM} / {CHROMEDRIVER}: apt-get install chromium '
                  'chromium-driver')
    pytest.skip('Debian chromium and chromium-driver are not installed')
  from selenium import webdriver  # pylint: disable=g-import-not-at-top
  from selenium.webdriver.chrome.service import Service  # pylint: disable=g-import-not-at-top
  options = webdriver.ChromeOptions()
  options.binary_location = CHROMIUM
  for flag in ('--headless', '--no-sandbox', '--disable-gpu',
               '--disable-quic', '--no-first-run', '--disable-sync',
               '--disable-background-networking',
               '--disable-component-update', '--window-size=1280,2000'):
    options.add_argument(flag)
  driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
  yield driver
  driver.quit()


@pytest.fixture(scope='module')
def page(two_runs, browser):
  output_dir, summary, _, _ = two_runs
  browser.get('file://' + os.path.join(output_dir, 'report', 'index.html'))
  return browser, summary


def test_page_loads_and_every_image_renders(page, tmp_path):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  driver, _ = page
  assert driver.title.startswith('MovieLens ranking run')
  images = driver.find_elements(By.TAG_NAME, 'img')
  assert len(images) == 4  # curves, slices, ratings, new users
  for image in images:
    width = driver.execute_script(
        'return arguments[0].complete ? arguments[0].naturalWidth : 0', image)
    assert width > 0, image.get_attribute('src')
    assert image.size['height'] > 0
  shot = tmp_path / 'report.png'
  assert driver.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


def test_numbers_on_the_page_equal_the_run_summary(page):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  driver, summary = page
  text = lambda element_id: driver.find_element(By.ID, element_id).text
  assert float(text('rmse')) == pytest.approx(summary['rmse'], abs=5e-5)
  assert text('blessed') == str(summary['blessed']).lower()
  assert text('pushed-model') == (summary['pushed_model'] or 'none')
  assert float(text('wall-seconds')) == pytest.approx(
      summary['wall_seconds'], abs=0.05)
  for split, count in summary['examples'].items():
    assert int(text(f'examples-{split}')) == count
  for key, size in summary['vocabulary_sizes'].items():
    assert int(text(f'vocabulary-{key}')) == size
  rows = driver.find_elements(By.CSS_SELECTOR, '#slices tr')
  assert len(rows) == len(summary['slices']) + 1  # header


def test_page_shows_top_k_and_lineage(page):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  driver, _ = page
  top_tables = driver.find_elements(By.CSS_SELECTOR, 'table[id^="top-k-"]')
  assert len(top_tables) == report.SAMPLE_USERS
  for table in top_tables:
    assert len(table.find_elements(By.TAG_NAME, 'tr')) == report.TOP_K + 1
  lineage = driver.find_element(By.ID, 'lineage').text
  for producer in ('Trainer', 'Transform', 'ImportSchemaGen',
                   'MovieLensExampleGen'):
    assert producer in lineage


def test_page_shows_the_top_n_metrics_of_every_list(page):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  driver, summary = page
  top_n = summary['top_n']
  rows = driver.find_elements(By.CSS_SELECTOR, '#top-n tr')[1:]
  listed = [key for key, _ in report.TOP_N_LISTS if top_n.get(key)]
  assert len(rows) == len(listed) == 4  # the second run has a baseline
  for row, key in zip(rows, listed):
    recall = row.find_elements(By.TAG_NAME, 'td')[1].text
    assert float(recall) == pytest.approx(top_n[key]['recall@10'], abs=5e-5)
  buckets = driver.find_elements(By.CSS_SELECTOR, '#top-n-by-activity tr')
  assert len(buckets) == len(top_n['bundle']['by_activity']) + 1


def test_page_shows_new_users_at_every_history(page):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  driver, summary = page
  new = summary['top_n']['new_users']
  rows = driver.find_elements(By.CSS_SELECTOR, '#new-users tr')[1:]
  assert len(rows) == 2 * len(new['by_history'])  # bundle, most popular
  for row in rows:
    history, name, recall = (c.text for c in
                             row.find_elements(By.TAG_NAME, 'td')[:3])
    key = 'bundle' if name.startswith('bundle') else 'most_popular'
    assert float(recall) == pytest.approx(
        new['by_history'][history][key]['recall@10'], abs=5e-5)


def test_report_of_a_run_that_failed_before_any_component(tmp_path):
  """Issue 18, defect 5: a failed run's run_summary.json has no RMSE (the
  report of a component's failure: test_local_runner_e2e)."""
  output_dir = tmp_path / 'out'
  output_dir.mkdir()
  (output_dir / 'run_summary.json').write_text(
      '{"failed_in": "pipeline construction", "error": "RatingsSourceError: '
      'x.csv line 2: byte 0xe9", "wall_seconds": 0.4}')
  page = open(report.write_report(str(output_dir))).read()
  assert 'id="failed-in">pipeline construction<' in page
  assert 'byte 0xe9' in page


def test_the_page_leads_with_recommending(page):
  """The product is a recommender: Recall@10 first, and the top-N section
  and sample users before the RMSE-by-slice table."""
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  driver, summary = page
  cells = driver.find_elements(By.CSS_SELECTOR, '#summary td')
  assert [c.get_attribute('id') for c in cells[:3]] == [
      'recall-bundle', 'recall-most_popular', 'rmse']
  for cell, key in zip(cells, ('bundle', 'most_popular')):
    assert float(cell.text) == pytest.approx(
        summary['top_n'][key]['recall@10'], abs=5e-5)
  headings = [h.text for h in driver.find_elements(By.TAG_NAME, 'h2')]
  slices = headings.index('RMSE by slice')
  assert headings.index('Recommending: top-N metrics') < slices
  assert headings.index('Recommendations for sample users') < slices


def test_each_sample_user_shows_what_they_rated_highest(page, ratings_csv):
  from selenium.webdriver.common.by import By  # pylint: disable=g-import-not-at-top
  import csv  # pylint: disable=g-import-not-at-top
  driver, _ = page
  with open(ratings_csv) as f:
    given = {(r['user_id'], r['movie_title'], float(r['user_rating']))
             for r in csv.DictReader(f)}
  tables = driver.find_elements(By.CSS_SELECTOR, 'table[id^="top-k-"]')
  for table in tables:
    user = table.get_attribute('id')[len('top-k-'):]
    text = driver.find_element(By.ID, f'liked-{user}').text
    liked = re.findall(r'(.+?) \(([\d.]+)\)(?:, |$)',
                       text[len('Rated highest: '):])
    assert 1 <= len(liked) <= report.LIKED_TITLES, text
    ratings = [float(r) for _, r in liked]
    assert ratings == sorted(ratings, reverse=True)
    for title, rating in liked:
      assert (user, title, float(rating)) in given


def test_a_cached_rerun_names_the_run_that_trained_the_model(
    two_runs, ratings_csv):
  """A re-run that changed nothing takes every component from the cache:
  its report is titled with its own run and names the run that trained
  the model (run last: it rewrites the report the page tests read)."""
  output_dir, second, _, _ = two_runs
  assert second['model_trained_in_run'] == second['run_id']
  third, _ = e2e.run_pipeline_with_output(
      output_dir, [*run_args(ratings_csv), '--epochs', '8'])
  assert third['component_states']['Trainer'] == 'CACHED'
  assert third['run_id'] != second['run_id']
  assert third['model_trained_in_run'] == second['run_id']
  with open(os.path.join(output_dir, 'report', 'index.html')) as f:
    page = f.read()
  assert f'id="run-id">{third["run_id"]}<' in page
  assert (f'id="model-trained-in">The model was trained in run '
          f'{second["run_id"]};') in page


def test_the_new_user_table_says_when_a_sample_was_measured():
  figures = {'recall@10': 0.3, 'ndcg@10': 0.3, 'users': 9}
  new = {'users': 50, 'users_measured': 20, 'history': 10, 'k': 10,
         'by_history': {'10': {'bundle': figures, 'most_popular': figures}}}
  assert '(20 of them measured: a sample' in report.new_user_table(new, 10)
  assert 'measured' not in report.new_user_table({**new, 'users_measured': 50},
                                                 10)
