"""The reviewed schema agrees with the feature module and with the data."""

import pytest
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2

from bench import synthetic
from components import csv_source
from components import statistics_gen
from components import tfds_source
from pipeline import configs
from trainer_module import features

KINDS = {'bytes': schema_pb2.BYTES, 'float': schema_pb2.FLOAT,
         'int64': schema_pb2.INT}


@pytest.fixture(scope='module')
def schema():
  return tfdv.load_schema_text(configs.SCHEMA_PATH)


def test_every_feature_example_gen_writes_is_in_the_schema_with_its_type(schema):
  types = {f.name: f.type for f in schema.feature}
  assert types == {name: KINDS[kind]
                   for name, kind in features.FEATURE_KINDS.items()}


def test_model_features_are_required_with_one_value(schema):
  by_name = {f.name: f for f in schema.feature}
  for name in features.REQUIRED_FEATURE_KINDS:
    feature = by_name[name]
    assert feature.presence.min_fraction == 1.0
    assert [d.size for d in feature.shape.dim] == [1]


def _statistics(rows, columns, path):
  """TFDV statistics of CSV rows parsed the way ExampleGen parses them,
  described as StatisticsGen describes a small split (in memory)."""
  import csv  # pylint: disable=g-import-not-at-top
  import io  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  with tf.io.TFRecordWriter(path) as writer:
    for row in rows:
      line = io.StringIO()
      csv.writer(line).writerow(row)
      writer.write(csv_source.csv_line_to_example(
          line.getvalue(), columns).SerializeToString())
  return statistics_gen.split_statistics([path], 1.0, tfdv.StatsOptions())


def test_generated_ratings_match_and_out_of_range_ones_do_not(
    schema, ratings_csv, tmp_path):
  import csv  # pylint: disable=g-import-not-at-top
  with open(ratings_csv, newline='') as f:
    reader = csv.reader(f)
    columns = next(reader)
    rows = list(reader)
  assert columns == synthetic.COLUMNS
  clean = tfdv.validate_statistics(_statistics(rows, columns, str(tmp_path / 'clean')), schema)
  assert not clean.anomaly_info
  rows[0][columns.index('user_rating')] = '7.0'
  rows[1][columns.index('user_occupation_text')] = 'astronaut'
  bad = tfdv.validate_statistics(
      _statistics(rows, columns, str(tmp_path / 'bad')), schema)
  assert set(bad.anomaly_info) == {'user_rating', 'user_occupation_text'}


@pytest.mark.parametrize('dataset', sorted(
    tfds_source.TFDS_RATINGS))
def test_each_tfds_config_gets_a_schema_of_exactly_its_features(dataset):
  """TFDS declares each config's features in code (no download needed);
  ExampleGen keeps those the pipeline knows."""
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
  declared = set(tfds.builder(dataset).info.features) & set(
      features.FEATURE_KINDS)
  schema = tfdv.load_schema_text(configs.default_schema(dataset))
  assert {f.name for f in schema.feature} == declared
  assert set(features.REQUIRED_FEATURE_KINDS) <= declared


def test_derived_schemas_keep_the_reviewed_definitions(schema):
  """The 1M and 20M schemas are the 100k one minus absent features, with
  only the documented changes."""
  reviewed = {f.name: f for f in schema.feature}
  changed = {'movielens_1m.pbtxt': set(),
             'movielens_20m.pbtxt': {'user_rating'}}
  for name, allowed in changed.items():
    derived = tfdv.load_schema_text(f'{configs.SCHEMA_DIR}/{name}')
    for feature in derived.feature:
      if feature.name not in allowed:
        assert feature == reviewed[feature.name], (name, feature.name)
    assert derived.dataset_constraints == schema.dataset_constraints
  big = tfdv.load_schema_text(configs.default_schema('movielens/25m-ratings'))
  rating = next(f for f in big.feature if f.name == 'user_rating')
  assert (rating.float_domain.min, rating.float_domain.max) == (0.5, 5.0)
  one_m = tfdv.load_schema_text(configs.default_schema('movielens/1m-ratings'))
  texts = next(d for d in one_m.string_domain
               if d.name == 'user_occupation_text').value
  assert 'K-12 student' in texts and len(texts) == 21


def test_csv_parquet_and_synthetic_data_use_the_100k_schema():
  assert configs.default_schema(None) == configs.SCHEMA_PATH
  assert configs.default_schema('movielens/100k-ratings') == (
      configs.SCHEMA_PATH)


@pytest.mark.parametrize('columns', [3, 4])
def test_ratings_only_schema_validates_3_and_4_columns(
    ratings_csv, tmp_path, columns):
  """Issue 18, defect 7: the minimal schema of `user_id,movie_title,
  user_rating[,timestamp]` files; an out-of-range rating is still caught."""
  import csv  # pylint: disable=g-import-not-at-top
  with open(ratings_csv, newline='') as f:
    reader = csv.reader(f)
    header = next(reader)[:columns]
    rows = [row[:columns] for row in reader]
  schema = tfdv.load_schema_text(configs.RATINGS_ONLY_SCHEMA_PATH)
  clean = tfdv.validate_statistics(
      _statistics(rows, header, str(tmp_path / 'clean')), schema)
  assert not clean.anomaly_info
  rows[0][2] = '7.0'
  bad = tfdv.validate_statistics(
      _statistics(rows, header, str(tmp_path / 'bad')), schema)
  assert set(bad.anomaly_info) == {'user_rating'}
  reviewed = {f.name: f for f in tfdv.load_schema_text(
      configs.DATASET_SCHEMAS['movielens/20m-ratings']).feature}
  for feature in schema.feature:
    if feature.name != 'timestamp':
      assert feature == reviewed[feature.name]
