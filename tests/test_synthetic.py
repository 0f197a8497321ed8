"""bench.synthetic: MovieLens-shaped ratings, deterministic and streamed."""

import csv
import json
import os

import numpy as np
import pyarrow.parquet as pq
import pytest

from bench import synthetic
from components import csv_source
from trainer_module import features


@pytest.fixture(scope='module')
def parquet_ratings(tmp_path_factory):
  out = str(tmp_path_factory.mktemp('synthetic'))
  # MovieLens 100k's shape (each user rates a few % of the catalog), smaller.
  synthetic.main(['--ratings', '30000', '--users', '400', '--movies', '1000',
                  '--out', out, '--format', 'parquet'])
  return pq.read_table(os.path.join(out, 'ratings.parquet'))


def test_sizes_grow_like_movielens():
  small, large = (synthetic.Sizes.for_ratings(n) for n in (100_000,
                                                           25_000_000))
  assert 500 < small.users < 1500 and 1000 < small.movies < 3000
  assert 100_000 < large.users < 250_000 and 30_000 < large.movies < 80_000


def test_every_movielens_100k_column_with_the_schema_types(parquet_ratings):
  assert parquet_ratings.column_names == synthetic.COLUMNS
  assert set(synthetic.COLUMNS) == set(features.FEATURE_KINDS)
  ratings = parquet_ratings['user_rating'].to_numpy()
  assert set(np.unique(ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
  assert 3.2 < ratings.mean() < 3.9 and 0.9 < ratings.std() < 1.3
  assert all(len(g) >= 1 for g in parquet_ratings['movie_genres'].to_pylist())
  assert str(parquet_ratings['user_id'][0]).isdigit()  # ids stay strings


def test_ratings_have_structure_a_model_can_learn(parquet_ratings):
  """Per-movie means differ far more than noise alone would make them."""
  ratings = parquet_ratings['user_rating'].to_numpy()
  movies = np.unique(parquet_ratings['movie_title'].to_numpy(), return_inverse=True)[1]
  counts = np.bincount(movies)
  means = np.bincount(movies, weights=ratings) / counts
  busy = counts >= 30
  assert np.std(means[busy]) > 2 * ratings.std() / np.sqrt(30)


def test_popularity_is_long_tailed(parquet_ratings):
  counts = np.sort(np.unique(parquet_ratings['movie_title'].to_numpy(), return_counts=True)[1])[::-1]
  top_tenth = counts[:max(1, len(counts) // 10)].sum() / counts.sum()
  assert top_tenth > 0.3  # the top 10% of movies get > 30% of ratings


def test_taste_lets_an_item_model_beat_the_most_popular_list(parquet_ratings):
  found = synthetic.recalls(synthetic.as_arrays(parquet_ratings))
  assert found['ease'] > 1.4 * found['most_popular'] > 0


def test_without_taste_nothing_beats_the_most_popular_list(monkeypatch):
  """The check above can fail: popularity alone gives no such margin."""
  monkeypatch.setattr(synthetic, 'TASTE_STRENGTH', 0.0)
  monkeypatch.setattr(synthetic, 'OFF_TASTE', 1.0)
  found = synthetic.recalls(synthetic.generated(
      synthetic.Sizes(30_000, 400, 1000)))
  assert found['ease'] < 1.2 * found['most_popular']


def test_a_user_rates_a_movie_once(parquet_ratings):
  pairs = set(zip(parquet_ratings['user_id'].to_pylist(),
                  parquet_ratings['movie_title'].to_pylist()))
  assert len(pairs) == parquet_ratings.num_rows


def test_users_arrive_over_time_and_rate_in_one_sitting(parquet_ratings):
  data = synthetic.as_arrays(parquet_ratings)
  users, inverse = np.unique(data['users'], return_inverse=True)
  first = np.full(len(users), np.iinfo(np.int64).max)
  np.minimum.at(first, inverse, data['timestamps'])
  span = synthetic.LAST_TIMESTAMP - synthetic.FIRST_TIMESTAMP
  # Sign-ups spread over the years, not all at the start.
  assert np.percentile(first, 90) - np.percentile(first, 10) > 0.6 * span
  same_day = np.mean(data['timestamps'] - first[inverse] <
                     synthetic.DAY_SECONDS)
  assert 0.7 < same_day < 0.9
  assert data['timestamps'].max() <= synthetic.LAST_TIMESTAMP


def test_calibration_prints_the_real_data_beside_the_generated(tmp_path,
                                                               capsys):
  """A stand-in for ml-100k's u.data (tab-separated user, movie, rating,
  time) gives one line per measure, real then generated."""
  data = synthetic.generated(synthetic.Sizes(3000, 60, 200), seed=5)
  movie_ids = np.unique(data['movies'], return_inverse=True)[1] + 1
  with open(tmp_path / 'u.data', 'w') as f:
    for row in zip(data['users'], movie_ids, data['ratings'],
                   data['timestamps']):
      f.write('\t'.join(str(int(float(value))) for value in row) + '\n')
  assert synthetic.main(['--calibrate', str(tmp_path)]) == 0
  lines = capsys.readouterr().out.splitlines()
  assert lines[0].split() == ['MovieLens', '100k', 'generated']
  by_name = {line[:46].strip(): line[46:].split() for line in lines[1:]}
  assert by_name['ratings'] == ['3,000', '3,000']
  assert by_name['users'] == ['60', '60']
  assert set(by_name) == set(synthetic.profile(data))


def test_users_without_ratings_are_skipped():
  """More users than ratings: some give none, the rest one each."""
  data = synthetic.generated(synthetic.Sizes(30, 50, 40))
  assert len(data['users']) == 30 == len(set(data['users']))


def test_users_who_rate_almost_every_movie_rate_each_once():
  data = synthetic.generated(synthetic.Sizes(58, 3, 20))
  pairs = set(zip(data['users'].tolist(), data['movies'].tolist()))
  assert len(pairs) == 58 and len(set(data['movies'])) == 20


def test_same_bytes_whatever_the_chunk_size(tmp_path, monkeypatch):
  def written(name):
    manifest = synthetic.write(synthetic.Sizes.for_ratings(3000),
                               str(tmp_path / name))
    with open(manifest['path'], 'rb') as f:
      return f.read()
  whole = written('whole')
  monkeypatch.setattr(synthetic, 'CHUNK_SIZE', 700)
  assert written('chunked') == whole


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
  def digest(seed, name):
    out = str(tmp_path / name)
    synthetic.main(['--ratings', '3000', '--out', out, '--seed', str(seed)])
    with open(os.path.join(out, 'ratings.csv'), 'rb') as f:
      return f.read()
  assert digest(1, 'a') == digest(1, 'b')
  assert digest(1, 'a') != digest(2, 'c')


def test_written_in_chunks_with_a_manifest(tmp_path, monkeypatch):
  monkeypatch.setattr(synthetic, 'CHUNK_SIZE', 1000)
  generated = []
  real_ratings = synthetic.World.ratings
  def spy(self, start, count, seed):
    generated.append(count)
    return real_ratings(self, start, count, seed)
  monkeypatch.setattr(synthetic.World, 'ratings', spy)
  manifest = synthetic.write(synthetic.Sizes.for_ratings(4500),
                             str(tmp_path), file_format='csv')
  assert generated == [1000, 1000, 1000, 1000, 500]  # never all at once
  with open(manifest['path']) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 4500
  with open(tmp_path / synthetic.MANIFEST) as f:
    written = json.load(f)
  assert written['ratings'] == 4500
  assert written['generator'] == json.loads(json.dumps(
      synthetic.generator_settings()))
  assert not any(name.endswith('.partial') for name in os.listdir(tmp_path))


def test_csv_is_what_example_gen_reads(tmp_path):
  manifest = synthetic.write(synthetic.Sizes.for_ratings(500), str(tmp_path))
  columns = csv_source.check_csv(manifest['path'])
  with open(manifest['path']) as f:
    f.readline()
    example = csv_source.csv_line_to_example(f.readline(), columns)
  assert set(example.features.feature) == set(features.FEATURE_KINDS)
  assert len(example.features.feature['movie_genres'].bytes_list.value) >= 1


@pytest.mark.parametrize('argv, message', [
    (['--ratings', '0', '--out', 'x'], '--ratings must be >= 1'),
    (['--ratings', '10', '--out', 'x', '--users', '0'], '--users must be'),
    (['--out', 'x'], '--ratings and --out are required'),
    (['--calibrate', '/nonexistent'], '--calibrate: no u.data in'),
    (['--ratings', '50', '--out', 'x', '--users', '2', '--movies', '20'],
     '--ratings 50 is more than 2 users can give to 20 movies'),
])
def test_bad_flags_are_refused(argv, message, capsys):
  with pytest.raises(SystemExit):
    synthetic.parse_args(argv)
  assert message in capsys.readouterr().err


def test_the_tests_small_data_covers_every_user_and_movie(tmp_path):
  path = synthetic.write_small_ratings_csv(str(tmp_path / 'r.csv'),
                                           num_ratings=500, num_users=40,
                                           num_movies=60)
  with open(path) as f:
    rows = list(csv.DictReader(f))
  assert len(rows) == 500 and list(rows[0]) == synthetic.COLUMNS
  assert len({r['user_id'] for r in rows}) == 40
  assert {r['movie_title'] for r in rows} == set(synthetic.movie_titles(60))
  with pytest.raises(ValueError, match='cannot cover'):
    synthetic.write_small_ratings_csv(str(tmp_path / 'x.csv'), num_ratings=10)
