"""MovieLensExampleGen's executor on generated data, and its bad-input errors."""

import csv
import glob
import hashlib
import json
import os

import pyarrow.parquet as pq
import pytest
import tensorflow as tf
from tfx.utils import proto_utils

from bench import synthetic
from components import csv_source
from components import movielens_example_gen as example_gen
from components import parquet_source
from components import tf_examples
from components import tfds_source
from components.ratings_source import RatingsSource
from pipeline import configs
from tests.example_gen_run import driver_fingerprint
from tests.example_gen_run import exec_properties
from tests.example_gen_run import execute
from tests.example_gen_run import read_every_split
from tests.example_gen_run import read_split
from tests.example_gen_run import run_executor


@pytest.fixture(scope='module')
def written_examples(ratings_csv, tmp_path_factory):
  """The Examples artifact of the generated CSV with the default settings
  (the executor's Beam args name no runner: the DirectRunner's path)."""
  component = example_gen.MovieLensExampleGen(RatingsSource.csv(ratings_csv))
  return execute(component, str(tmp_path_factory.mktemp('examples')))


@pytest.fixture(scope='module')
def written(written_examples):
  return written_examples.uri


@pytest.fixture(scope='module')
def tfxs_written(ratings_csv, tmp_path_factory):
  """What TFX's own executor writes for the generated CSV: train and eval."""
  from tfx.components.example_gen import base_example_gen_executor  # pylint: disable=g-import-not-at-top
  component = example_gen.MovieLensExampleGen(RatingsSource.csv(ratings_csv),
                                              validation_percent=0)
  return execute(component, str(tmp_path_factory.mktemp('tfx')),
                 base_example_gen_executor.BaseExampleGenExecutor.Do)


def test_splits_are_80_20_and_keep_every_rating(written, ratings_csv):
  with open(ratings_csv) as f:
    rows = sum(1 for _ in csv.DictReader(f))
  train, validation, evals = (read_split(written, split) for split in
                              ('train', 'validation', 'eval'))
  assert len(train) + len(validation) + len(evals) == rows
  assert 0.75 < (len(train) + len(validation)) / rows < 0.85
  # Issue 16: validation is 10% of the training data.
  assert 0.07 < len(validation) / (len(train) + len(validation)) < 0.13


@pytest.mark.parametrize('direct', [True, False])
def test_the_examples_artifact_counts_each_split(ratings_csv, written_examples,
                                                 tmp_path, monkeypatch, direct):
  """Counted as written, on the DirectRunner's path and the others'."""
  assert example_gen.is_direct_runner([])
  if direct:
    examples = written_examples
  else:
    monkeypatch.setattr(example_gen, 'is_direct_runner', lambda _: False)
    examples = execute(example_gen.MovieLensExampleGen(
        RatingsSource.csv(ratings_csv)), str(tmp_path))
  counts = json.loads(examples.get_string_custom_property(
      example_gen.SPLIT_EXAMPLE_COUNTS_PROPERTY))
  assert counts == {split: len(read_split(examples.uri, split))
                    for split in ('train', 'validation', 'eval')}


@pytest.mark.parametrize('direct', [True, False])
def test_new_users_are_written_in_parts_and_counted_whole(
    ratings_csv, tmp_path, monkeypatch, direct):
  """Each split's new users go to the new_users folder as their own files
  (no Flatten before the write: carve_new_users says why), and the
  artifact counts every part; no rating is lost or doubled."""
  monkeypatch.setattr(example_gen, 'is_direct_runner', lambda _: direct)
  examples = execute(example_gen.MovieLensExampleGen(
      RatingsSource.csv(ratings_csv), new_user_percent=20), str(tmp_path))
  splits = ('train', 'validation', 'eval', 'new_users')
  counts = json.loads(examples.get_string_custom_property(
      example_gen.SPLIT_EXAMPLE_COUNTS_PROPERTY))
  assert counts == {split: len(read_split(examples.uri, split))
                    for split in splits}
  assert sum(counts.values()) == 3000 and counts['new_users'] > 0
  parts = {os.path.basename(path).split('-')[1] for path in glob.glob(
      os.path.join(examples.uri, 'Split-new_users', '*'))}
  assert parts <= {'part0', 'part1', 'part2'} and len(parts) >= 2


def test_features_and_types(written):
  example = read_split(written, 'train')[0].features.feature
  kinds = {name: f.WhichOneof('kind') for name, f in example.items()}
  assert kinds == {
      'user_id': 'bytes_list', 'movie_title': 'bytes_list',
      'user_rating': 'float_list', 'timestamp': 'int64_list',
      'movie_genres': 'bytes_list', 'user_gender': 'int64_list',
      'raw_user_age': 'float_list', 'user_occupation_text': 'bytes_list',
      'user_zip_code': 'bytes_list', 'movie_id': 'bytes_list',
      'bucketized_user_age': 'float_list',
      'user_occupation_label': 'bytes_list'}
  assert example['user_id'].bytes_list.value[0].decode().isdigit()
  assert 1 <= len(example['movie_genres'].bytes_list.value) <= 2


def test_titles_with_commas_survive(written):
  titles = {e.features.feature['movie_title'].bytes_list.value[0].decode()
            for e in read_split(written, 'train')}
  assert 'Movie 7, The (1957)' in titles


def test_split_is_deterministic(ratings_csv, written, tmp_path):
  again = run_executor(example_gen.MovieLensExampleGen(RatingsSource.csv(ratings_csv)),
                       str(tmp_path / 'again'))
  ids = lambda uri: sorted(e.SerializeToString()
                           for e in read_split(uri, 'eval'))
  assert ids(again) == ids(written)


def test_tfds_examples_get_class_names_and_lose_unknown_features():
  rename = tfds_source.RenameTfdsExample({
      'movie_genres': ['Action', 'Comedy', 'Drama'],
      'user_occupation_label': ['doctor', 'writer']})
  tfds_example = tf.train.Example()
  tfds_feature = tfds_example.features.feature
  tfds_feature['user_id'].bytes_list.value.append(b'138')
  tfds_feature['movie_title'].bytes_list.value.append(b'Speed (1994)')
  tfds_feature['user_rating'].float_list.value.append(4.0)
  tfds_feature['movie_genres'].int64_list.value.extend([0, 2])
  tfds_feature['user_gender'].int64_list.value.append(1)
  tfds_feature['user_occupation_label'].int64_list.value.append(1)
  tfds_feature['not_a_movielens_feature'].int64_list.value.append(7)
  no_genres = tf.train.Example()
  no_genres.CopyFrom(tfds_example)
  no_genres.features.feature['movie_genres'].int64_list.value[:] = []

  (record,) = list(rename.process(tfds_example.SerializeToString()))
  example = tf.train.Example.FromString(record)
  assert record == example.SerializeToString(deterministic=True)
  feature = example.features.feature
  assert feature['user_id'].bytes_list.value == [b'138']
  assert feature['movie_genres'].bytes_list.value == [b'Action', b'Drama']
  assert feature['user_occupation_label'].bytes_list.value == [b'writer']
  assert feature['user_gender'].int64_list.value == [1]
  assert feature['user_rating'].float_list.value == [4.0]
  assert 'not_a_movielens_feature' not in feature
  (record,) = list(rename.process(no_genres.SerializeToString()))
  assert tf.train.Example.FromString(record).features.feature[
      'movie_genres'].WhichOneof('kind') == 'bytes_list'


def write_csv(path, header, rows):
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(header)
    writer.writerows(rows)
  return str(path)


def test_missing_required_column_is_named_when_the_pipeline_is_built(tmp_path):
  path = write_csv(tmp_path / 'r.csv', ['user', 'movie_title', 'user_rating'],
                   [['1', 'A (1990)', '4']])
  with pytest.raises(example_gen.RatingsSourceError, match=r"\['user_id'\]"):
    example_gen.MovieLensExampleGen(RatingsSource.csv(path))


def test_unknown_column_is_refused(tmp_path):
  path = write_csv(tmp_path / 'r.csv',
                   ['user_id', 'movie_title', 'user_rating', 'mood'],
                   [['1', 'A (1990)', '4', 'happy']])
  with pytest.raises(example_gen.RatingsSourceError, match='mood'):
    example_gen.MovieLensExampleGen(RatingsSource.csv(path))


def test_missing_file_is_named(tmp_path):
  with pytest.raises(example_gen.RatingsSourceError, match='does not exist'):
    example_gen.MovieLensExampleGen(RatingsSource.csv(str(tmp_path / 'nope.csv')))


@pytest.mark.parametrize('line, problem', [
    ('1,A (1990),four', 'bad user_rating'),
    ('1,A (1990),nan', 'bad user_rating'),
    (',A (1990),4', 'empty user_id'),
    ('1,,4', 'empty movie_title'),
    ('1,A (1990)', 'has 2 fields'),
])
def test_bad_lines_are_named(line, problem):
  with pytest.raises(example_gen.RatingsSourceError, match=problem):
    csv_source.csv_line_to_example(
        line, ['user_id', 'movie_title', 'user_rating'])


def test_bad_line_fails_the_executor(tmp_path):
  path = write_csv(tmp_path / 'r.csv', ['user_id', 'movie_title',
                                        'user_rating'],
                   [['1', 'A (1990)', '4'], ['2', 'B (1991)', 'x']])
  component = example_gen.MovieLensExampleGen(RatingsSource.csv(path))
  with pytest.raises(Exception, match='bad user_rating'):
    run_executor(component, str(tmp_path / 'out'))


def test_tfds_user_times_match_the_examples_first_ratings(tmp_path):
  records = []
  for user, time in [(b'7', 50), (b'3', 20), (b'7', 10), (b'9', 30),
                     (b'3', 40)]:
    example = tf.train.Example()
    feature = example.features.feature
    feature['user_id'].bytes_list.value.append(user)
    feature['timestamp'].int64_list.value.append(time)
    feature['user_rating'].float_list.value.append(4.0)
    records.append(example.SerializeToString())
  path = str(tmp_path / 'movielens-train.tfrecord-00000-of-00001')
  with tf.io.TFRecordWriter(path) as writer:
    for record in records:
      writer.write(record)
  from_examples = {}
  for record in records:
    user, time = example_gen.user_and_time(record)
    from_examples[user] = min(from_examples.get(user, time), time)

  assert dict(tfds_source.first_ratings_of_file(path, True)) == (
      from_examples) == {b'7': 10, b'3': 20, b'9': 30}
  assert sorted(tfds_source.first_ratings_of_file(path, False)) == [
      (b'3', None), (b'7', None), (b'9', None)]
  empty = str(tmp_path / 'empty.tfrecord')
  with tf.io.TFRecordWriter(empty):
    pass
  assert tfds_source.first_ratings_of_file(empty, True) == []


def test_non_movielens_tfds_name_is_refused():
  with pytest.raises(example_gen.RatingsSourceError, match='not a MovieLens'):
    tfds_source.prepare_tfds_builder('mnist', None, None)


def test_a_bad_manual_zip_fails_with_what_to_do(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  (manual / 'ml-100k.zip').write_bytes(b'PK\x03\x04 not the real archive')
  with pytest.raises(example_gen.RatingsSourceError,
                     match='(?s)could not prepare movielens/100k-ratings.*'
                     'pass --manual-dir'):
    tfds_source.prepare_tfds_builder('movielens/100k-ratings',
                                     str(tmp_path / 'tfds'), str(manual))


def test_a_file_changed_after_the_build_changes_the_run_time_fingerprint(
    tmp_path):
  """Issue 18, defect 1: the fingerprint was taken when the pipeline was
  built, so a compiled job kept it and a changed file was served from the
  cache. The driver takes it when the component runs, from the same
  component (its exec properties as compiled)."""
  path = synthetic.write_small_ratings_csv(str(tmp_path / 'r.csv'),
                                             num_ratings=200)
  compiled = exec_properties(example_gen.MovieLensExampleGen(RatingsSource.csv(path)))
  assert 'input_fingerprint' not in compiled
  before = driver_fingerprint(compiled)
  assert before == driver_fingerprint(compiled)
  with open(path, 'a') as f:
    f.write('1,Movie 1 (1951),5.0,874000000,Action,1,20.0,student,10000\n')
  assert driver_fingerprint(compiled) != before


def test_the_source_is_a_folder_and_patterns_in_it():
  assert example_gen.input_base_and_patterns(['/d/train.csv', '/d/e/eval.csv'
                                              ]) == ('/d', ['train.csv',
                                                            'e/eval.csv'])
  assert example_gen.input_base_and_patterns(['gs://b/x/r.csv', 'gs://b/y/e.csv'
                                              ]) == ('gs://b', ['x/r.csv',
                                                                'y/e.csv'])
  assert example_gen.input_base_and_patterns(['/r.csv']) == ('/', ['r.csv'])
  base, [pattern] = example_gen.input_base_and_patterns(['data/p-*.parquet'])
  assert os.path.join(base, pattern) == os.path.abspath('data/p-*.parquet')


def test_a_gs_source_is_not_read_while_the_pipeline_is_built():
  """Issue 18, defect 1: compiling with a gs:// input read the bucket."""
  component = example_gen.MovieLensExampleGen(
      RatingsSource.csv('gs://no-such-bucket-here/ratings.csv'))
  assert component.exec_properties['input_base'] == 'gs://no-such-bucket-here'


# ------------------------------------------------------------------- Parquet


def write_parquet(path, columns):
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  import pyarrow.parquet as pq  # pylint: disable=g-import-not-at-top
  pq.write_table(pa.table(columns), str(path))
  return str(path)


def test_parquet_becomes_the_same_examples_as_csv(tmp_path):
  sizes = synthetic.Sizes.for_ratings(2000)
  csv_path = synthetic.write(sizes, str(tmp_path / 'c'), seed=3)['path']
  parquet_path = synthetic.write(sizes, str(tmp_path / 'p'), seed=3,
                                 file_format='parquet')['path']
  # The new users come from the examples for the CSV, from the Parquet
  # files' user and timestamp columns for Parquet: the same people.
  from_csv = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.csv(csv_path), new_user_percent=20),
                          str(tmp_path / 'out_csv'))
  from_parquet = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.parquet(parquet_path), new_user_percent=20),
                              str(tmp_path / 'out_parquet'))
  def split_examples(uri, split):
    return sorted(e.SerializeToString(deterministic=True)
                  for e in read_split(uri, split))
  # The same examples in the same splits: the split hashes canonical bytes
  # (the C++ encoder's own change order from process to process).
  for split in ('train', 'validation', 'eval', 'new_users'):
    assert split_examples(from_csv, split) == split_examples(
        from_parquet, split)
  assert read_split(from_parquet, 'new_users')
  assert sorted(e.SerializeToString(deterministic=True) for e in
                read_every_split(from_csv)) == sorted(
                    parquet_source.parquet_table_to_examples(
                        pq.read_table(parquet_path)))
  known = 2000 - len(read_split(from_parquet, 'new_users'))
  assert 0.75 < len(read_split(from_parquet, 'train') + read_split(
      from_parquet, 'validation')) / known < 0.85


def test_parquet_is_split_a_table_at_a_time_into_files_named_by_place(
    tmp_path, monkeypatch):
  """The Parquet path (no Beam step per rating) over two files, several
  row groups and slices: the CSV path's splits, a file per slice and split
  named by where the slice is, and a re-run writes the same files."""
  sizes = synthetic.Sizes.for_ratings(2000)
  csv_path = synthetic.write(sizes, str(tmp_path / 'c'), seed=3)['path']
  table = pq.read_table(synthetic.write(sizes, str(tmp_path / 'p'), seed=3,
                                        file_format='parquet')['path'])
  (tmp_path / 'two').mkdir()
  pq.write_table(table.slice(0, 1500), tmp_path / 'two' / 'a.parquet',
                 row_group_size=700)  # groups of 700, 700, 100
  pq.write_table(table.slice(1500), tmp_path / 'two' / 'b.parquet')
  monkeypatch.setattr(parquet_source, 'SLICE_ROWS', 300)
  component = example_gen.MovieLensExampleGen(
      RatingsSource.parquet(str(tmp_path / 'two' / '*.parquet')),
      new_user_percent=20)
  written = execute(component, str(tmp_path / 'out'))
  from_parquet = written.uri
  from_csv = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.csv(csv_path), new_user_percent=20),
                          str(tmp_path / 'out_csv'))
  counts = json.loads(written.get_string_custom_property(
      example_gen.SPLIT_EXAMPLE_COUNTS_PROPERTY))
  for split in ('train', 'validation', 'eval', 'new_users'):
    assert sorted(read_split(from_parquet, split, raw=True)) == sorted(
        e.SerializeToString(deterministic=True)
        for e in read_split(from_csv, split))
    assert counts[split] == len(read_split(from_parquet, split))
  files = sorted(os.path.relpath(path, from_parquet) for path in glob.glob(
      os.path.join(from_parquet, 'Split-*', '*')))
  # File 0: groups 0 and 1 in slices 0-2, group 2 in one; file 1 in two;
  # no temporary file left behind.
  assert {name.split('-part0-')[1] for name in files} == {
      f'{place}.gz' for place in (
          '00000-00000-000', '00000-00000-001', '00000-00000-002',
          '00000-00001-000', '00000-00001-001', '00000-00001-002',
          '00000-00002-000', '00001-00000-000', '00001-00000-001')}
  before = {name: (tmp_path / 'out' / name).read_bytes() for name in files}
  execute(component, str(tmp_path / 'out'))  # as a retry would
  assert {os.path.relpath(path, from_parquet): open(path, 'rb').read()
          for path in glob.glob(os.path.join(from_parquet, 'Split-*', '*'))
          } == before


def test_a_parquet_split_without_ratings_is_an_empty_file(tmp_path):
  path = write_parquet(tmp_path / 'r.parquet', {
      'user_id': ['1'], 'movie_title': ['A (1990)'], 'user_rating': [4.0]})
  written = execute(example_gen.MovieLensExampleGen(
      RatingsSource.parquet(path)), str(tmp_path / 'out'))
  uri = written.uri
  sizes = {split: len(read_split(uri, split))
           for split in ('train', 'validation', 'eval')}
  assert sorted(sizes.values()) == [0, 0, 1]
  for split in sizes:
    assert glob.glob(os.path.join(uri, f'Split-{split}', '*.gz'))
  assert json.loads(written.get_string_custom_property(
      example_gen.SPLIT_EXAMPLE_COUNTS_PROPERTY)) == sizes


def test_first_ratings_of_a_table_are_per_user_minima_nulls_skipped():
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  table = pa.table({'user_id': ['a', 'b', 'a', 'c', 'c'],
                    'timestamp': pa.array([5, 3, 2, None, None], pa.int32())})
  assert sorted(tf_examples.first_ratings_of_table(table)) == [
      (b'a', 2), (b'b', 3), (b'c', None)]
  assert sorted(tf_examples.first_ratings_of_table(
      table.drop(['timestamp']))) == [(b'a', None), (b'b', None),
                                      (b'c', None)]


def test_parquet_nulls_in_optional_columns_are_absent_features(tmp_path):
  path = write_parquet(tmp_path / 'r.parquet', {
      'user_id': ['1', '2'], 'movie_title': ['A (1990)', 'B (1991)'],
      'user_rating': [4, 5], 'timestamp': [None, 881250949]})
  [table] = [__import__('pyarrow.parquet').parquet.read_table(path)]
  serialized = parquet_source.parquet_table_to_examples(table)
  examples = [tf.train.Example.FromString(b) for b in serialized]
  # tfx_bsl writes a null as a feature without values; TFX reads it as
  # missing, as it would an absent feature.
  assert examples[0].features.feature['timestamp'].WhichOneof('kind') is None
  from tfx_bsl.coders import example_coder  # pylint: disable=g-import-not-at-top
  decoded = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(
      serialized)
  assert decoded.column(decoded.schema.get_field_index(
      'timestamp')).to_pylist() == [None, [881250949]]
  assert examples[1].features.feature['timestamp'].int64_list.value == [
      881250949]
  assert examples[0].features.feature['user_rating'].float_list.value == [4.0]


@pytest.mark.parametrize('columns, problem', [
    ({'user_id': ['1'], 'movie_title': ['A']}, 'lacks required column'),
    ({'user_id': ['1'], 'movie_title': ['A'], 'user_rating': [4.0],
      'colour': ['red']}, 'unknown column'),
    ({'user_id': ['1'], 'movie_title': ['A'], 'user_rating': ['four']},
     'column user_rating is string'),
    ({'user_id': [1], 'movie_title': ['A'], 'user_rating': [4.0]},
     'column user_id is int64'),
    ({'user_id': [], 'movie_title': [], 'user_rating': []}, 'no ratings'),
])
def test_bad_parquet_is_refused_when_the_pipeline_is_built(tmp_path, columns,
                                                           problem):
  import pyarrow as pa  # pylint: disable=g-import-not-at-top
  if not columns['user_id']:
    columns = {k: pa.array([], pa.string() if k != 'user_rating'
                           else pa.float64()) for k in columns}
  path = write_parquet(tmp_path / 'bad.parquet', columns)
  with pytest.raises(example_gen.RatingsSourceError, match=problem):
    example_gen.MovieLensExampleGen(RatingsSource.parquet(path))


def test_parquet_rows_without_a_rating_fail_with_the_count(tmp_path):
  path = write_parquet(tmp_path / 'r.parquet', {
      'user_id': ['1', '2'], 'movie_title': ['A', 'B'],
      'user_rating': [4.0, None]})
  table = __import__('pyarrow.parquet').parquet.read_table(path)
  with pytest.raises(example_gen.RatingsSourceError,
                     match='1 row.* have no user_rating'):
    parquet_source.parquet_table_to_examples(table, path)


def test_missing_parquet_is_named(tmp_path):
  with pytest.raises(example_gen.RatingsSourceError, match='no such file'):
    example_gen.MovieLensExampleGen(
        RatingsSource.parquet(str(tmp_path / 'none-*.parquet')))


# -------------------------------------------------------------------- splits


def split_buckets(output_config):
  if isinstance(output_config, str):  # as a component holds it
    output_config = proto_utils.json_to_proto(
        output_config, example_gen.example_gen_pb2.Output())
  return {s.name: s.hash_buckets
          for s in output_config.split_config.splits}


@pytest.mark.parametrize('ratings, train_share', [
    (None, 0.8), (100_000, 0.8), (500_000, 0.8), (1_000_000, 0.9),
    (5_000_000, 0.98), (25_000_095, 0.996)])
def test_eval_split_is_20_percent_up_to_its_cap(ratings, train_share):
  buckets = split_buckets(example_gen.split_config(ratings, 100_000))
  assert set(buckets) == {'train', 'eval'}
  total = sum(buckets.values())
  assert buckets['train'] / total == pytest.approx(train_share)
  if ratings:
    assert ratings * buckets['eval'] / total == pytest.approx(
        min(0.2 * ratings, 100_000), rel=0.15)


def test_the_cap_follows_the_source_size_counted_at_run_time(tmp_path):
  sizes = synthetic.Sizes.for_ratings(3000)
  for file_format in synthetic.FORMATS:
    path = synthetic.write(sizes, str(tmp_path / file_format),
                           file_format=file_format)['path']
    source = {'csv': RatingsSource.csv,
              'parquet': RatingsSource.parquet}[file_format](path)
    component = example_gen.MovieLensExampleGen(source,
                                                eval_max_ratings=300)
    assert split_buckets(example_gen.resolved_output_config(
        exec_properties(component))) == {'train': 900, 'eval': 100}
  tfds = example_gen.MovieLensExampleGen(
      RatingsSource.tfds('movielens/25m-ratings'),
        eval_max_ratings=100_000)
  assert split_buckets(example_gen.resolved_output_config(
      exec_properties(tfds))) == {'train': 996, 'eval': 4}


@pytest.mark.parametrize('args, direct', [
    ([], True), (['--direct_num_workers=2'], True),
    (['--runner=DirectRunner'], True),
    (['--runner=DataflowRunner', '--project=p'], False),
    (['--runner', 'DataflowRunner', '--project=p'], False)])
def test_only_the_direct_runner_skips_the_shuffle(args, direct):
  assert example_gen.is_direct_runner(args) == direct


# ------------------------------------------------------------ text encodings


RATINGS_HEADER = 'user_id,movie_title,user_rating\n'
LATIN1_ROWS = '1,"Misérables, Les (1995)",4\n2,Speed (1994),3\n'


def test_a_byte_order_mark_is_accepted(tmp_path):
  path = tmp_path / 'bom.csv'
  path.write_bytes(b'\xef\xbb\xbf' + (RATINGS_HEADER + LATIN1_ROWS).encode())
  component = example_gen.MovieLensExampleGen(RatingsSource.csv(str(path)))
  uri = run_executor(component, str(tmp_path / 'out'))
  titles = sorted(e.features.feature['movie_title'].bytes_list.value[0]
                  .decode() for e in read_every_split(uri))
  assert titles == ['Misérables, Les (1995)', 'Speed (1994)']


def test_a_latin1_csv_is_named_with_its_line_and_the_flag(tmp_path):
  path = tmp_path / 'latin1.csv'
  path.write_bytes((RATINGS_HEADER + LATIN1_ROWS).encode('latin-1'))
  component = example_gen.MovieLensExampleGen(RatingsSource.csv(str(path)))
  with pytest.raises(example_gen.RatingsSourceError) as error:
    run_executor(component, str(tmp_path / 'out'))
  message = str(error.value)
  assert f'{path} line 2' in message
  assert 'byte 0xe9' in message and '--csv-encoding' in message
  assert not os.path.exists(tmp_path / 'out')  # nothing written


def test_a_latin1_eval_csv_is_named_too(tmp_path):
  train = tmp_path / 'train.csv'
  train.write_text(RATINGS_HEADER + '1,Speed (1994),3\n')
  evals = tmp_path / 'eval.csv'
  evals.write_bytes((RATINGS_HEADER + '2,x,1\n' * 3 + LATIN1_ROWS).encode(
      'latin-1'))
  component = example_gen.MovieLensExampleGen(
      RatingsSource.csv(str(train), str(evals)))
  with pytest.raises(example_gen.RatingsSourceError,
                     match=f'{evals} line 5'):
    run_executor(component, str(tmp_path / 'out'))


def test_csv_encoding_reads_latin1(tmp_path):
  path = tmp_path / 'latin1.csv'
  path.write_bytes((RATINGS_HEADER + LATIN1_ROWS).encode('latin-1'))
  component = example_gen.MovieLensExampleGen(
      RatingsSource.csv(str(path), encoding='latin-1'))
  uri = run_executor(component, str(tmp_path / 'out'))
  titles = {e.features.feature['movie_title'].bytes_list.value[0].decode()
            for e in read_every_split(uri)}
  assert titles == {'Misérables, Les (1995)', 'Speed (1994)'}


def test_a_file_that_changes_encoding_after_the_build_fails_clearly():
  with pytest.raises(example_gen.RatingsSourceError,
                     match=r'r\.csv a line: byte 0xe9 .*--csv-encoding'):
    tf_examples.decode_line('Misérables'.encode('latin-1'),
                                        'r.csv', None, 'utf-8')


def test_a_bad_byte_past_the_first_chunk_names_its_line(tmp_path):
  path = tmp_path / 'big.csv'
  rows = ''.join(f'{i},Movie {i} (1990),4\n' for i in range(60_000))
  path.write_bytes((RATINGS_HEADER + rows).encode() +
                   '7,Café (1990),4\n'.encode('latin-1'))
  with pytest.raises(example_gen.RatingsSourceError,
                     match='line 60002: byte 0xe9 at column 6'):
    tf_examples.count_lines(str(path), 'utf-8')


def test_utf_8_sig_is_utf_8():
  assert tf_examples.check_encoding('UTF-8-SIG') == 'utf-8'
  assert tf_examples.check_encoding('Latin-1') == 'iso8859-1'


@pytest.mark.parametrize('encoding, problem', [
    ('klingon', 'unknown encoding'), ('utf-16', 'not supported')])
def test_unusable_encodings_are_refused(tmp_path, encoding, problem):
  path = tmp_path / 'r.csv'
  path.write_text(RATINGS_HEADER + '1,Speed (1994),3\n')
  with pytest.raises(example_gen.RatingsSourceError, match=problem):
    example_gen.MovieLensExampleGen(
        RatingsSource.csv(str(path), encoding=encoding))


def serialized(uri, *splits):
  """The splits' examples, each serialized with its features in key order
  (ours are written so; TFX's in the order they were built)."""
  return sorted(e.SerializeToString(deterministic=True) for split in splits
                for e in read_split(uri, split))


def test_the_direct_runner_path_writes_what_tfxs_executor_writes(
    ratings_csv, tfxs_written, tmp_path):
  """Issue 18, defect 8: the DirectRunner path (no Reshuffle) had drifted
  from TFX's BaseExampleGenExecutor.Do (no file_format property)."""
  ours = execute(example_gen.MovieLensExampleGen(
      RatingsSource.csv(ratings_csv), validation_percent=0),
                 str(tmp_path / 'ours'))
  tfxs = tfxs_written
  assert ours.split_names == tfxs.split_names == '["train", "eval"]'
  # TFX's properties, and the split counts ours adds.
  ours_properties = dict(ours.mlmd_artifact.custom_properties)
  assert ours_properties.pop(example_gen.SPLIT_EXAMPLE_COUNTS_PROPERTY)
  assert ours_properties == dict(tfxs.mlmd_artifact.custom_properties)
  assert ours.get_string_custom_property('file_format') == 'tfrecords_gzip'
  for split in ('train', 'eval'):
    assert sorted(os.listdir(os.path.join(ours.uri, f'Split-{split}'))) == (
        sorted(os.listdir(os.path.join(tfxs.uri, f'Split-{split}'))))
    assert serialized(ours.uri, split) == serialized(tfxs.uri, split)


def test_validation_is_carved_from_train_and_eval_stays_tfxs(
    written, tfxs_written):
  """Issue 16: TFX's hash split gives train and eval; validation is a
  second hash over train, so eval is the same with or without it."""
  tfxs = tfxs_written
  assert serialized(written, 'train', 'validation') == serialized(
      tfxs.uri, 'train')
  assert serialized(written, 'eval') == serialized(tfxs.uri, 'eval')
  assert not set(serialized(written, 'train')) & set(
      serialized(written, 'validation'))


def test_a_given_eval_file_stays_whole_and_validation_comes_from_train(
    tmp_path):
  train = synthetic.write_small_ratings_csv(str(tmp_path / 'train.csv'),
                                             num_ratings=2000)
  evals = synthetic.write_small_ratings_csv(str(tmp_path / 'eval.csv'),
                                             num_ratings=400)
  uri = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.csv(train, evals),
        validation_percent=20),
      str(tmp_path / 'out'))
  assert len(read_split(uri, 'eval')) == 400
  validation = len(read_split(uri, 'validation'))
  assert validation + len(read_split(uri, 'train')) == 2000
  assert 0.15 < validation / 2000 < 0.25


@pytest.mark.parametrize('percent', [-1, 51])
def test_a_validation_share_out_of_range_is_refused(ratings_csv, percent):
  with pytest.raises(ValueError, match='validation_percent'):
    example_gen.MovieLensExampleGen(
        RatingsSource.csv(ratings_csv),
        validation_percent=percent)


@pytest.mark.e2e
def test_the_local_runner_reruns_example_gen_only_when_the_file_changed(
    tmp_path):
  """Issue 18, defect 1, on the orchestrator: one pipeline object (as a
  compiled job or a parsed Airflow DAG keeps it), run three times; the run
  after the file changed is not served from the cache."""
  from ml_metadata import metadata_store  # pylint: disable=g-import-not-at-top
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  path = synthetic.write_small_ratings_csv(str(tmp_path / 'r.csv'),
                                             num_ratings=200)
  metadata = tfx.orchestration.metadata.sqlite_metadata_connection_config(
      str(tmp_path / 'metadata.db'))
  built = tfx.dsl.Pipeline(
      pipeline_name='fingerprint', pipeline_root=str(tmp_path / 'root'),
      components=[example_gen.MovieLensExampleGen(RatingsSource.csv(path))],
      enable_cache=True, metadata_connection_config=metadata,
      beam_pipeline_args=configs.LOCAL_BEAM_PIPELINE_ARGS)
  store = metadata_store.MetadataStore(metadata)
  written = lambda: len(store.get_artifacts_by_type('Examples'))
  tfx.orchestration.LocalDagRunner().run(built)
  tfx.orchestration.LocalDagRunner().run(built)
  assert written() == 1  # unchanged: from the cache
  with open(path) as f:
    last = f.readlines()[-1]
  with open(path, 'a') as f:
    f.write(last)  # one more rating
  tfx.orchestration.LocalDagRunner().run(built)
  assert written() == 2
  [_, latest] = store.get_artifacts_by_type('Examples')
  assert 'num_files:1,total_bytes:' in latest.custom_properties[
      'input_fingerprint'].string_value


def test_new_users_take_every_rating_of_the_newest_users(ratings_csv,
                                                          written, tmp_path):
  """The newest 20% of the users by first rating (over every split) move
  whole to new_users; the other splits keep the rest of theirs, unchanged."""
  from components import new_users  # pylint: disable=g-import-not-at-top
  uri = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.csv(ratings_csv),
        new_user_percent=20), str(tmp_path / 'out'))
  with open(ratings_csv) as f:
    rows = list(csv.DictReader(f))
  first = {}
  for row in rows:
    first[row['user_id']] = min(first.get(row['user_id'], 1 << 62),
                                int(row['timestamp']))
  newest = {u.decode() for u in new_users.newest_users(
      [(u.encode(), t) for u, t in first.items()], 20)}
  assert len(newest) == round(len(first) * 0.2)
  assert min(first[u] for u in newest) >= max(
      first[u] for u in first if u not in newest)
  moved = read_split(uri, 'new_users')
  assert {e.features.feature['user_id'].bytes_list.value[0].decode()
          for e in moved} == newest
  assert len(moved) == sum(row['user_id'] in newest for row in rows)
  for split in ('train', 'validation', 'eval'):
    before = [e for e in read_split(written, split)
              if e.features.feature['user_id'].bytes_list.value[0].decode()
              not in newest]
    assert read_split(uri, split) == before, split


def test_no_new_users_split_without_a_timestamp_column(tmp_path):
  path = tmp_path / 'ratings.csv'
  path.write_text('user_id,movie_title,user_rating\n1,A (1990),4\n')
  component = example_gen.MovieLensExampleGen(
      RatingsSource.csv(str(path)),
        new_user_percent=20)
  assert component.exec_properties[example_gen.NEW_USER_PERCENT_KEY] is None
  with_time = tmp_path / 'timed.csv'
  with_time.write_text('user_id,movie_title,user_rating,timestamp\n'
                       '1,A (1990),4,881250949\n')
  assert example_gen.MovieLensExampleGen(
      RatingsSource.csv(str(with_time)),
        new_user_percent=20).exec_properties[
          example_gen.NEW_USER_PERCENT_KEY] == 20


def test_the_newest_users_are_found_from_a_second_read(ratings_csv):
  """The side input that picks the new users must not come from the
  splits it carves: a split feeding its own side input is held whole in
  memory until it is ready (12 GB at 5M ratings on the DirectRunner)."""
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  from tfx.types import standard_component_specs  # pylint: disable=g-import-not-at-top
  properties = exec_properties(example_gen.MovieLensExampleGen(
      RatingsSource.csv(ratings_csv), new_user_percent=20))
  properties[standard_component_specs.OUTPUT_CONFIG_KEY] = (
      proto_utils.proto_to_json(example_gen.resolved_output_config(
          properties)))
  pipeline = beam.Pipeline()  # built, never run
  splits = example_gen.Executor().GenerateExamplesByBeam(pipeline,
                                                         properties)
  assert example_gen.NEW_USERS_SPLIT in splits

  class Inputs(beam.pipeline.PipelineVisitor):
    producers = None

    def enter_composite_transform(self, node):
      if node.full_label == 'EverySplit':
        self.producers = [pc.producer.full_label for pc in node.inputs]

    def visit_transform(self, node):
      self.enter_composite_transform(node)

  found = Inputs()
  pipeline.visit(found)
  assert found.producers and all(
      label.startswith('ReadForNewUsers[') for label in found.producers)


@pytest.mark.parametrize('percent', [-1, 51])
def test_a_new_user_share_out_of_range_is_refused(ratings_csv, percent):
  with pytest.raises(ValueError, match='new_user_percent must be between 0 '
                     'and 50'):
    example_gen.MovieLensExampleGen(
        RatingsSource.csv(ratings_csv),
        new_user_percent=percent)


def test_examples_are_written_with_their_features_in_key_order(written):
  """Protobuf's default writes a map in an order it keeps per message, and
  the same example took other bytes in Flink's workers than in the
  DirectRunner: ExampleGen writes each example's features in key order."""
  records = read_split(written, 'train', raw=True)
  assert records and all(
      r == tf.train.Example.FromString(r).SerializeToString(deterministic=True)
      for r in records)


def test_hash_buckets_are_tfxs_partition_and_the_validation_hash():
  from tfx.components.example_gen import base_example_gen_executor  # pylint: disable=g-import-not-at-top
  from tfx.proto import example_gen_pb2  # pylint: disable=g-import-not-at-top
  records = [f'example {i}'.encode() * (i % 7 + 1) for i in range(500)]
  config = example_gen_pb2.SplitConfig(splits=[
      example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=97),
      example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=3)])
  tfxs = [base_example_gen_executor._PartitionFn(  # pylint: disable=protected-access
      record, 2, [97, 100], config) for record in records]
  assert [int(bucket >= 97) for bucket in example_gen.hash_buckets(
      records, 100)] == tfxs
  assert list(example_gen.hash_buckets(
      records, 100, example_gen._VALIDATION_SALT) < 10) == [  # pylint: disable=protected-access
          bool(example_gen.validation_partition(record, 2, 10))
          for record in records]
  huge = (1 << 31) - 1
  assert list(example_gen.hash_buckets(records[:20], huge)) == [
      int(hashlib.sha256(record).hexdigest(), 16) % huge
      for record in records[:20]]
  with pytest.raises(ValueError, match='1 to 2'):
    example_gen.hash_buckets(records, 1 << 31)


def test_a_partition_feature_splits_the_table_path_as_the_csv_path(
    tmp_path, monkeypatch):
  from tfx.proto import example_gen_pb2  # pylint: disable=g-import-not-at-top
  sizes = synthetic.Sizes.for_ratings(800)
  csv_path = synthetic.write(sizes, str(tmp_path / 'c'), seed=5)['path']
  parquet_path = synthetic.write(sizes, str(tmp_path / 'p'), seed=5,
                                 file_format='parquet')['path']
  monkeypatch.setattr(parquet_source, 'SLICE_ROWS', 300)
  by_user = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(
      splits=[example_gen_pb2.SplitConfig.Split(name='train', hash_buckets=3),
              example_gen_pb2.SplitConfig.Split(name='eval', hash_buckets=1)],
      partition_feature_name='user_id'))
  from_parquet = execute(example_gen.MovieLensExampleGen(
      RatingsSource.parquet(parquet_path), output_config=by_user),
                         str(tmp_path / 'out')).uri
  from_csv = run_executor(example_gen.MovieLensExampleGen(
      RatingsSource.csv(csv_path), output_config=by_user),
                          str(tmp_path / 'out_csv'))
  for split in ('train', 'validation', 'eval'):
    assert sorted(read_split(from_parquet, split, raw=True)) == sorted(
        e.SerializeToString(deterministic=True)
        for e in read_split(from_csv, split))
  eval_users = {e.features.feature['user_id'].bytes_list.value[0]
                for e in read_split(from_parquet, 'eval')}
  assert eval_users and not eval_users & {
      e.features.feature['user_id'].bytes_list.value[0]
      for e in read_split(from_parquet, 'train')}
