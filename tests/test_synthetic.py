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
  synthetic.main(['--ratings', '20000', '--out', out, '--format', 'parquet'])
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
    assert json.load(f)['ratings'] == 4500
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
