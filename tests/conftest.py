"""Shared fixtures: small generated data, and Transform run on it."""

import trainer_module  # noqa: F401  (Keras 2 before TensorFlow)

import dataclasses
import gc
import sys

import pytest

from bench import synthetic

# The tests build and drop many TensorFlow graphs, Beam pipelines and
# models, so Python's default first-generation threshold (700 allocations)
# runs thousands of collections; collecting less often takes less time.
gc.set_threshold(20_000, 20, 20)


@pytest.fixture(scope='session')
def ratings_csv(tmp_path_factory) -> str:
  """3,000 generated ratings with every column ExampleGen knows."""
  path = tmp_path_factory.mktemp('data') / 'ratings.csv'
  return synthetic.write_small_ratings_csv(str(path))


@dataclasses.dataclass
class TransformedData:
  transform_output: str  # TFTransformOutput dir
  examples_uri: str  # Examples-artifact-like dir with Split-train, Split-eval
  raw_train: list  # the raw rows the vocabularies were computed on
  raw_eval: list  # the raw rows of the eval split


def _raw_rows(path: str):
  import csv  # pylint: disable=g-import-not-at-top
  with open(path) as f:
    return [{'user_id': r['user_id'], 'movie_title': r['movie_title'],
             'user_rating': float(r['user_rating']),
             'raw_user_age': float(r['raw_user_age']),
             'user_gender': int(r['user_gender']),
             'user_occupation_text': r['user_occupation_text'],
             'user_zip_code': r['user_zip_code'],
             'movie_genres': r['movie_genres'].split('|')}
            for r in csv.DictReader(f)]


@pytest.fixture(scope='session')
def transformed_data(ratings_csv, tmp_path_factory) -> TransformedData:
  """Our preprocessing_fn run by tft_beam on the generated ratings.

  Analyzes the first 80% of the rows and writes like Transform and
  ExampleGen do: a transform graph, and the raw rows as gzipped tf.Examples
  per split (Transform writes no transformed copy; the Trainer maps the raw
  examples through the graph).
  """
  import apache_beam as beam  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_transform as tft  # pylint: disable=g-import-not-at-top
  import tensorflow_transform.beam as tft_beam  # pylint: disable=g-import-not-at-top
  from tensorflow_transform.tf_metadata import dataset_metadata  # pylint: disable=g-import-not-at-top
  from tensorflow_transform.tf_metadata import schema_utils  # pylint: disable=g-import-not-at-top
  from trainer_module import preprocessing  # pylint: disable=g-import-not-at-top

  base = tmp_path_factory.mktemp('transformed')
  rows = _raw_rows(ratings_csv)
  cut = int(len(rows) * 0.8)
  splits = {'train': rows[:cut], 'eval': rows[cut:]}
  raw_metadata = dataset_metadata.DatasetMetadata(
      schema_utils.schema_from_feature_spec({
          'user_id': tf.io.FixedLenFeature([1], tf.string),
          'movie_title': tf.io.FixedLenFeature([1], tf.string),
          'user_rating': tf.io.FixedLenFeature([1], tf.float32),
          'raw_user_age': tf.io.FixedLenFeature([1], tf.float32),
          'user_gender': tf.io.FixedLenFeature([1], tf.int64),
          'user_occupation_text': tf.io.FixedLenFeature([1], tf.string),
          'user_zip_code': tf.io.FixedLenFeature([1], tf.string),
          'movie_genres': tf.io.VarLenFeature(tf.string),
      }))

  def instances(split_rows):
    return [{'user_id': np.array([r['user_id'].encode()]),
             'movie_title': np.array([r['movie_title'].encode()]),
             'user_rating': np.array([r['user_rating']], np.float32),
             'raw_user_age': np.array([r['raw_user_age']], np.float32),
             'user_gender': np.array([r['user_gender']], np.int64),
             'user_occupation_text': np.array(
                 [r['user_occupation_text'].encode()]),
             'user_zip_code': np.array([r['user_zip_code'].encode()]),
             'movie_genres': np.array([g.encode() for g in r['movie_genres']])}
            for r in split_rows]

  transform_output = str(base / 'transform_graph')
  coder = tft.coders.ExampleProtoCoder(raw_metadata.schema)
  with beam.Pipeline() as p, tft_beam.Context(temp_dir=str(base / 'tmp')):
    data = {name: p | f'Create{name}' >> beam.Create(instances(split_rows))
            for name, split_rows in splits.items()}
    transform_fn = ((data['train'], raw_metadata)
                    | tft_beam.AnalyzeDataset(preprocessing.preprocessing_fn))
    _ = transform_fn | tft_beam.WriteTransformFn(transform_output)
    _ = raw_metadata | 'WriteRawMetadata' >> tft_beam.WriteMetadata(
        f'{transform_output}/{tft.TFTransformOutput.RAW_METADATA_DIR}', p)
    for name in splits:
      _ = (data[name]
           | f'Encode{name}' >> beam.Map(coder.encode)
           | f'Write{name}' >> beam.io.WriteToTFRecord(
               str(base / 'examples' / f'Split-{name}' / 'data'),
               file_name_suffix='.gz'))
  return TransformedData(transform_output, str(base / 'examples'),
                         splits['train'], splits['eval'])


@pytest.fixture(scope='session')
def python() -> str:
  """The interpreter running the tests (the project's environment)."""
  return sys.executable


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # pylint: disable=unused-argument
  """Moves the faults a test (or its fixture) recorded into its report, so
  the totals reach the process that prints them under pytest-xdist too."""
  from tests import faults  # pylint: disable=g-import-not-at-top
  outcome = yield
  outcome.get_result().user_properties.extend(
      ('fault', entry) for entry in faults.take_unreported())


def pytest_runtest_logreport(report):
  """Collects the faults of every test's report (tests/faults.py)."""
  from tests import faults  # pylint: disable=g-import-not-at-top
  faults.REPORTED.extend(value for key, value in report.user_properties
                         if key == 'fault')


def pytest_terminal_summary(terminalreporter):
  """Prints the fault-injection totals (tests/faults.py), if any ran."""
  from tests import faults  # pylint: disable=g-import-not-at-top
  if faults.REPORTED:
    terminalreporter.write_sep('=', 'fault injection')
    for entry in faults.REPORTED:
      terminalreporter.write_line(
          f"{entry['fault']}: pushed {entry['pushed'] or 'nothing'}, "
          f"changed {entry['changed'] or 'nothing'}")
    terminalreporter.write_line(faults.summary_line(faults.REPORTED))


def pytest_unconfigure(config):  # pylint: disable=unused-argument
  """Spares the interpreter's last collection, as pipeline.local_runner
  does: the objects TensorFlow, Beam and TFX left are freed with the
  process anyway."""
  gc.freeze()
