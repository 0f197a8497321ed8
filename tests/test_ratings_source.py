"""RatingsSource: one value for the data source, and each format's module
implementing the same interface."""

import inspect
import os

import pytest

from components import movielens_example_gen as example_gen
from components import ratings_source
from components.ratings_source import RatingsSource


def test_each_constructor_gives_a_value_that_survives_the_component():
  for source in (RatingsSource.tfds('movielens/1m-ratings', '/m', '/d'),
                 RatingsSource.csv('r.csv', 'e.csv', 'latin-1'),
                 RatingsSource.parquet('gs://b/r-*.parquet'),
                 RatingsSource.grouplens('ml-100k', 'u1')):
    assert RatingsSource.from_json(source.to_json()) == source
  assert RatingsSource.csv('r.csv').paths == (os.path.abspath('r.csv'),)
  assert RatingsSource.parquet('gs://b/x').paths == ('gs://b/x',)


@pytest.mark.parametrize('make, problem', [
    (lambda: RatingsSource('xml', ('a',)), "format 'xml'"),
    (lambda: RatingsSource(ratings_source.PARQUET, ('a', 'b')), '1 to 1'),
    (lambda: RatingsSource(ratings_source.CSV, ()), '1 to 2'),
    (lambda: RatingsSource(ratings_source.CSV, ('a',), split='u1'),
     'GroupLens'),
    (lambda: RatingsSource(ratings_source.CSV, ('a',), manual_dir='m'),
     'TFDS'),
])
def test_a_value_no_format_reads_is_refused(make, problem):
  with pytest.raises(ValueError, match=problem):
    make()


@pytest.mark.parametrize('source_format', ratings_source.FORMATS)
def test_each_format_module_implements_the_interface(source_format):
  module = ratings_source.source_module(
      RatingsSource(source_format, ('x',)))
  assert isinstance(module.FILE_BASED, bool)
  for name, wanted in inspect.getmembers(example_gen.SourceModule,
                                         inspect.isfunction):
    if name.startswith('_'):
      continue
    given = getattr(module, name, None)
    assert callable(given), (source_format, name)
    wanted_params = list(inspect.signature(wanted).parameters)[1:]  # self
    assert list(inspect.signature(given).parameters) == wanted_params, (
        source_format, name)


def test_local_inputs_are_what_a_run_reads(tmp_path, monkeypatch):
  monkeypatch.setenv('TFDS_DATA_DIR', str(tmp_path))
  assert RatingsSource.tfds('movielens/100k-ratings').local_inputs() == [
      str(tmp_path / 'movielens' / '100k-ratings')]
  assert RatingsSource.csv('gs://b/r.csv').local_inputs() == []
  assert RatingsSource.grouplens('ml').local_inputs() == [
      os.path.abspath('ml')]
