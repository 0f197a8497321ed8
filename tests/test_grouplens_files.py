"""Unpacked GroupLens folders (components/grouplens_files.py): small folders
the tests write in each release's format, and the real MovieLens 100k
folder (when MOVIELENS_MANUAL_DIR holds it) against the TFDS path."""

import os

import pytest
import tensorflow as tf

from components import grouplens_files
from components import movielens_example_gen as example_gen
from components import tfds_source
from components.ratings_source import RatingsSource
from pipeline import cli
from pipeline import configs
from tests import e2e
from tests.example_gen_run import driver_fingerprint
from tests.example_gen_run import exec_properties
from tests.example_gen_run import read_every_split
from tests.example_gen_run import read_split
from tests.example_gen_run import run_executor


def flags(*genres: str) -> str:
  """u.item's 19 genre columns with `genres` set."""
  return '|'.join('1' if g in genres else '0'
                  for g in grouplens_files.GENRES_100K)


def write(path, text: str, encoding: str) -> str:
  path.write_bytes(text.encode(encoding))
  return str(path)


def write_100k(folder, ratings='1\t10\t4\t881250949\n2\t20\t2\t891717742\n'):
  folder.mkdir(exist_ok=True)
  write(folder / 'u.data', ratings, 'latin-1')
  write(folder / 'u.item',
        f'10|Misérables, Les (1995)|01-Jan-1995||http://x|{flags("Drama")}\n'
        f'20|Speed (1994)|01-Jan-1994||http://y|'
        f'{flags("Action", "Children", "Thriller")}\n', 'latin-1')
  write(folder / 'u.user', '1|24|M|technician|85711\n'
        '2|53|F|other|94043\n', 'latin-1')
  return str(folder)


def write_1m(folder):
  folder.mkdir()
  write(folder / 'ratings.dat', '1::10::5::978300760\n2::20::3::978302109\n',
        'latin-1')
  write(folder / 'movies.dat', "10::Misérables, Les (1995)::Drama\n"
        "20::Toy Story (1995)::Animation|Children's|Comedy\n", 'latin-1')
  write(folder / 'users.dat', '1::F::1::10::48067\n2::M::56::16::70072\n',
        'latin-1')
  return str(folder)


def write_25m(folder):
  folder.mkdir()
  write(folder / 'ratings.csv', 'userId,movieId,rating,timestamp\n'
        '1,10,3.5,1112486027\n2,20,5.0,1112484676\n', 'utf-8')
  write(folder / 'movies.csv', 'movieId,title,genres\n'
        '10,"Misérables, Les (1995)",Drama\n'
        '20,"City of Lost Children, The (Cité des enfants perdus, La) '
        '(1995)",Adventure|Drama|Fantasy\n', 'utf-8')
  return str(folder)


def values(example: tf.train.Example) -> dict:
  """{feature: its values, strings decoded}."""
  out = {}
  for name, feature in example.features.feature.items():
    kind = feature.WhichOneof('kind')
    vals = list(getattr(feature, kind).value)
    out[name] = [v.decode() if isinstance(v, bytes) else v for v in vals]
  return out


def all_examples(uri: str) -> dict:
  """{user id: the example's values} over every split."""
  return {v['user_id'][0]: v for v in map(values, read_every_split(uri))}


def test_100k_folder_joins_movies_and_users_as_tfds_does(tmp_path):
  folder = write_100k(tmp_path / 'ml-100k')
  uri = run_executor(example_gen.MovieLensExampleGen(RatingsSource.grouplens(folder)),
                     str(tmp_path / 'out'))
  examples = all_examples(uri)
  assert examples['1'] == {
      'user_id': ['1'], 'movie_id': ['10'],
      'movie_title': ['Misérables, Les (1995)'], 'movie_genres': ['Drama'],
      'user_rating': [4.0], 'timestamp': [881250949],
      'user_gender': [1], 'raw_user_age': [24.0],
      'bucketized_user_age': [18.0], 'user_occupation_text': ['technician'],
      'user_occupation_label': ['technician/engineer'],
      'user_zip_code': ['85711']}
  assert examples['2']['movie_genres'] == ['Action', 'Children', 'Thriller']
  assert examples['2']['user_occupation_label'] == ['other/not specified']
  assert examples['2']['bucketized_user_age'] == [50.0]


def test_1m_folder(tmp_path):
  uri = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.grouplens(write_1m(tmp_path / 'ml-1m'))), str(tmp_path / 'out'))
  examples = all_examples(uri)
  assert examples['1']['movie_title'] == ['Misérables, Les (1995)']
  assert examples['1']['user_occupation_text'] == ['K-12 student']
  assert examples['1']['user_occupation_label'] == ['student']
  assert examples['1']['bucketized_user_age'] == [1.0]
  assert examples['1']['user_gender'] == [0]
  assert examples['2']['movie_genres'] == ['Animation', 'Children', 'Comedy']
  assert examples['2']['user_occupation_label'] == ['self-employed']
  assert 'raw_user_age' not in examples['2']


def test_25m_folder_has_no_user_features(tmp_path):
  uri = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.grouplens(write_25m(tmp_path / 'ml-25m'))), str(tmp_path / 'out'))
  examples = all_examples(uri)
  assert examples['2'] == {
      'user_id': ['2'], 'movie_id': ['20'],
      'movie_title': ['City of Lost Children, The (Cité des enfants perdus, '
                      'La) (1995)'],
      'movie_genres': ['Adventure', 'Drama', 'Fantasy'],
      'user_rating': [5.0], 'timestamp': [1112484676]}
  assert examples['1']['user_rating'] == [3.5]


def test_shipped_split_is_train_and_eval(tmp_path):
  folder = write_100k(tmp_path / 'ml-100k')
  write(tmp_path / 'ml-100k' / 'u1.base', '1\t10\t4\t881250949\n', 'latin-1')
  write(tmp_path / 'ml-100k' / 'u1.test', '2\t20\t2\t891717742\n', 'latin-1')
  uri = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.grouplens(folder, 'u1')), str(tmp_path / 'out'))
  training = read_split(uri, 'train') + read_split(uri, 'validation')
  assert [values(e)['user_id'] for e in training] == [['1']]
  assert [values(e)['user_id'] for e in read_split(uri, 'eval')] == [['2']]


@pytest.mark.parametrize('write_folder, schema', [
    (write_100k, configs.SCHEMA_PATH),
    (write_1m, configs.DATASET_SCHEMAS['movielens/1m-ratings']),
    (write_25m, configs.DATASET_SCHEMAS['movielens/25m-ratings'])])
def test_each_release_gets_its_reviewed_schema(tmp_path, write_folder,
                                               schema):
  folder = write_folder(tmp_path / 'ml')
  parser = cli.argparse.ArgumentParser()
  cli.add_pipeline_flags(parser)
  args = parser.parse_args(['--movielens-dir', folder])
  cli.check_pipeline_flags(parser, args)
  kwargs = cli.pipeline_kwargs(args)
  assert kwargs['schema_path'] == schema
  assert kwargs['source'] == RatingsSource.grouplens(folder)


def test_a_changed_movies_file_changes_the_fingerprint(tmp_path):
  folder = write_100k(tmp_path / 'ml-100k')
  compiled = exec_properties(example_gen.MovieLensExampleGen(
      RatingsSource.grouplens(folder)))
  before = driver_fingerprint(compiled)
  write(tmp_path / 'ml-100k' / 'u.item',
        f'10|Other title (1995)|01-Jan-1995||http://x|{flags("Drama")}\n'
        f'20|Speed (1994)|01-Jan-1994||http://y|{flags("Action")}\n',
        'latin-1')
  assert driver_fingerprint(compiled) != before


# ------------------------------------------------------------- bad folders


def test_a_folder_without_ratings_names_what_it_looked_for(tmp_path):
  (tmp_path / 'empty').mkdir()
  with pytest.raises(example_gen.RatingsSourceError,
                     match='u.data, ratings.dat, ratings.csv'):
    example_gen.MovieLensExampleGen(RatingsSource.grouplens(str(tmp_path / 'empty')))


def test_a_missing_folder_is_named(tmp_path):
  with pytest.raises(example_gen.RatingsSourceError, match='no such folder'):
    example_gen.MovieLensExampleGen(RatingsSource.grouplens(str(tmp_path / 'nope')))


def test_a_missing_movies_file_is_named(tmp_path):
  folder = write_100k(tmp_path / 'ml-100k')
  os.remove(os.path.join(folder, 'u.item'))
  with pytest.raises(example_gen.RatingsSourceError, match='u.item is missing'):
    example_gen.MovieLensExampleGen(RatingsSource.grouplens(folder))


def test_split_of_a_release_without_splits_is_refused(tmp_path):
  with pytest.raises(example_gen.RatingsSourceError,
                     match='only MovieLens 100k ships'):
    example_gen.MovieLensExampleGen(
        RatingsSource.grouplens(write_1m(tmp_path / 'ml-1m'), 'u1'))


def test_unknown_split_is_refused(tmp_path):
  with pytest.raises(example_gen.RatingsSourceError, match='u1, u2'):
    example_gen.MovieLensExampleGen(
        RatingsSource.grouplens(write_100k(tmp_path / 'ml-100k'), 'u9'))


def test_a_rating_of_an_unknown_movie_fails_naming_the_line(tmp_path):
  folder = write_100k(tmp_path / 'ml-100k', ratings='1\t99\t4\t881250949\n')
  with pytest.raises(Exception, match=r"u.data: line '1\\t99\\t4.*rates "
                     'movie 99, which u.item does not have'):
    run_executor(example_gen.MovieLensExampleGen(RatingsSource.grouplens(folder)),
                 str(tmp_path / 'out'))


def test_a_short_rating_line_fails_naming_the_line(tmp_path):
  folder = write_100k(tmp_path / 'ml-100k', ratings='1\t10\t4\n')
  with pytest.raises(Exception, match='has 3 fields; a rating has 4'):
    run_executor(example_gen.MovieLensExampleGen(RatingsSource.grouplens(folder)),
                 str(tmp_path / 'out'))


def test_a_bad_users_line_names_file_and_line(tmp_path):
  folder = write_100k(tmp_path / 'ml-100k')
  write(tmp_path / 'ml-100k' / 'u.user', '1|24|M|technician|85711\n'
        '2|53|F|astronaut|94043\n', 'latin-1')
  with pytest.raises(example_gen.RatingsSourceError,
                     match=r'u.user line 2: cannot read .*astronaut'):
    grouplens_files.read_users(folder, grouplens_files.FORMATS[0])


@pytest.mark.e2e
def test_the_runner_says_when_a_folder_has_no_ratings(tmp_path):
  result = e2e.run_module('pipeline.local_runner', [
      '--output-dir', str(tmp_path / 'out'), '--movielens-dir', str(tmp_path)])
  assert result.returncode == 1
  assert result.stderr.strip().splitlines()[-1] == (
      'error: the run failed in pipeline construction: RatingsSourceError: '
      f'--movielens-dir {tmp_path}: no MovieLens ratings file; expected one '
      'of u.data, ratings.dat, ratings.csv (an unpacked GroupLens zip: '
      'ml-100k, ml-1m, ml-20m, ml-25m, ml-latest-small)')


# ---------------------------------------------------- the real MovieLens 100k


MANUAL_DIR = os.environ.get('MOVIELENS_MANUAL_DIR')
REAL_100K = os.path.join(MANUAL_DIR or '', 'ml-100k')


@pytest.mark.e2e
@pytest.mark.skipif(not os.path.isfile(os.path.join(REAL_100K, 'u.data')),
                    reason='set MOVIELENS_MANUAL_DIR to a folder holding '
                    'ml-100k.zip and the unpacked ml-100k/')
def test_real_100k_folder_gives_the_tfds_examples(tmp_path):
  """Every rating of u1.base + u1.test (all of u.data) becomes the same
  tf.Example as through TFDS."""
  uri = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.grouplens(REAL_100K, 'u1')), str(tmp_path / 'out'))
  ours = sorted(e.SerializeToString(deterministic=True)
                for e in read_every_split(uri))
  builder = tfds_source.prepare_tfds_builder(
      'movielens/100k-ratings', str(tmp_path / 'tfds'), MANUAL_DIR)
  rename = tfds_source.RenameTfdsExample(tfds_source.class_names(builder))
  theirs = sorted(
      example for record in tf.data.TFRecordDataset(
          tfds_source.tfds_record_files(builder))
      for example in rename.process(record.numpy()))
  assert len(ours) == 100_000
  assert ours == theirs
