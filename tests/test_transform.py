"""Transform reads its examples a batch of records at a time: the same
record batches as tfx_bsl's TFExampleRecord, and the same transform graph
as TFX's own Transform executor."""

import os
import shutil
from typing import List, Optional

import apache_beam as beam
import pyarrow as pa
import pytest
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx import types
from tfx.components.transform import executor as tfx_transform_executor
from tfx.proto import transform_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils
from tfx_bsl.tfxio import tf_example_record

from bench import transform_window
from components import transform
from components.split_names import TRAIN_SPLIT
from pipeline import configs
from trainer_module import features
from trainer_module import preprocessing
from tests.example_gen_run import small_examples


def example(index: int) -> bytes:
  """A tf.Example of bytes, float, int and variable-length features; some
  leave a feature out, some give it with no values."""
  built = tf.train.Example()
  feature = built.features.feature
  feature['user_id'].bytes_list.value.append(f'user {index}'.encode())
  feature['user_rating'].float_list.value.append(index / 4)
  if index % 3:  # absent from every third example
    feature['user_gender'].int64_list.value.append(index % 2)
  genres = [b'Drama', b'War', b'Comedy'][:index % 4]
  if genres or index % 8 == 4:  # 4, 12, ...: present with no values
    feature['movie_genres'].bytes_list.value.extend(genres)
  return built.SerializeToString()


SCHEMA = schema_pb2.Schema(feature=[
    schema_pb2.Feature(name='user_id', type=schema_pb2.BYTES),
    schema_pb2.Feature(name='user_rating', type=schema_pb2.FLOAT),
    schema_pb2.Feature(name='user_gender', type=schema_pb2.INT),
    schema_pb2.Feature(name='movie_genres', type=schema_pb2.BYTES)])


@pytest.fixture(scope='module')
def record_files(tmp_path_factory):
  """The examples 0..99 in a gzipped and an uncompressed TFRecord file."""
  base = tmp_path_factory.mktemp('records')
  paths = [str(base / 'part-0.gz'), str(base / 'part-1')]
  for path, indices, compression in ((paths[0], range(60), 'GZIP'),
                                     (paths[1], range(60, 100), None)):
    with tf.io.TFRecordWriter(path, compression) as writer:
      for index in indices:
        writer.write(example(index))
  return [str(base / 'part-*')]


_READ = []  # what `read`'s pipeline collects (it runs in this process)


def _collect(batch: pa.RecordBatch) -> None:
  _READ.append(batch)


def read(tfxio, batch_size=None) -> List[pa.RecordBatch]:
  """Every record batch the TFXIO's BeamSource gives."""
  _READ.clear()
  with beam.Pipeline() as pipeline:
    _ = (pipeline | tfxio.BeamSource(batch_size)
         | beam.Map(_collect))
  return list(_READ)


def rows(batches: List[pa.RecordBatch], empty_as_absent: bool = False
         ) -> List[dict]:
  """The batches' rows in user_id order; with `empty_as_absent`, a feature
  given with no values as if absent (the one difference
  BatchedTFExampleRecord has from tfx_bsl's decoder)."""
  every = [row for batch in batches for row in batch.to_pylist()]
  # Without a schema each batch has the columns its examples have.
  names = {name for row in every for name in row}
  every = [{name: row.get(name) for name in names} for row in every]
  if empty_as_absent:
    every = [{name: None if value == [] else value
              for name, value in row.items()} for row in every]
  return sorted(every, key=lambda row: row['user_id'])


@pytest.mark.parametrize('batch_size', [7, None])
@pytest.mark.parametrize('project', [None, ['user_id', 'movie_genres']])
@pytest.mark.parametrize('raw_records', [None, 'raw_record'])
def test_record_batches_are_tfx_bsls(record_files, batch_size, project,
                                     raw_records):
  theirs = tf_example_record.TFExampleRecord(
      record_files, schema=SCHEMA, raw_record_column_name=raw_records)
  ours = transform.BatchedTFExampleRecord(
      record_files, schema=SCHEMA, raw_record_column_name=raw_records)
  if project:
    theirs, ours = theirs.Project(project), ours.Project(project)
    assert isinstance(ours.projected, transform.BatchedTFExampleRecord)
  assert ours.ArrowSchema() == theirs.ArrowSchema()
  assert ours.TensorRepresentations() == theirs.TensorRepresentations()
  expected, got = read(theirs, batch_size), read(ours, batch_size)
  assert {batch.schema for batch in got} == {expected[0].schema}
  assert len(rows(got)) == 100
  assert rows(got) == rows(expected, empty_as_absent=True)
  if batch_size:
    assert max(len(batch) for batch in got) <= batch_size


def test_a_feature_given_with_no_values_reads_as_absent(record_files):
  genres = {row['user_id'][0]: row['movie_genres'] for row in rows(read(
      transform.BatchedTFExampleRecord(record_files, schema=SCHEMA)))}
  assert genres[b'user 4'] is None  # given empty
  assert genres[b'user 8'] is None  # absent
  assert genres[b'user 5'] == [b'Drama']


def test_a_schema_with_other_feature_kinds_is_decoded_by_tfx_bsl(
    record_files):
  schema = schema_pb2.Schema()
  schema.CopyFrom(SCHEMA)
  schema.feature.add(name='nested', type=schema_pb2.STRUCT)
  assert transform.parse_spec(schema) is None
  assert transform.parse_spec(None) is None
  assert set(transform.parse_spec(SCHEMA)) == {f.name for f in SCHEMA.feature}
  # Without a schema tfx_bsl's decoder infers one; so does ours.
  theirs = read(tf_example_record.TFExampleRecord(record_files))
  ours = read(transform.BatchedTFExampleRecord(record_files))
  assert rows(ours) == rows(theirs)


def test_unreadable_files_are_named(tmp_path):
  with pytest.raises(ValueError, match='no file matches .*nothing-here'):
    transform.matching_files([str(tmp_path / 'nothing-here*')])
  with pytest.raises(ValueError, match=r'part\.bz2: .*bzip2'):
    transform.tf_data_compression('gs://bucket/part.bz2')
  assert transform.tf_data_compression('/data/part-0.gz') == 'GZIP'
  assert transform.tf_data_compression('/data/part-0') == ''


@pytest.fixture(scope='module')
def examples(tmp_path_factory):
  return small_examples(str(tmp_path_factory.mktemp('transform')), 3000)


def run_transform(executor, examples: List[types.Artifact], output_dir: str,
                  analyzer_cache_on: bool = False,
                  cache: Optional[types.Artifact] = None) -> str:
  """`executor` (a Transform executor class) on `examples` (a window of
  them), as the pipeline configures Transform, with the analysis cache
  where asked (bench.transform_window.run); returns `output_dir`."""
  schema = standard_artifacts.Schema()
  schema.uri = os.path.join(output_dir, 'schema')
  os.makedirs(schema.uri)
  shutil.copy(configs.SCHEMA_PATH, schema.uri)
  component = transform.Transform(
      examples=types.Channel(type=standard_artifacts.Examples),
      schema=types.Channel(type=standard_artifacts.Schema),
      preprocessing_fn=configs.PREPROCESSING_FN, disable_statistics=True,
      splits_config=transform_pb2.SplitsConfig(analyze=[TRAIN_SPLIT]),
      materialize=False, custom_config={preprocessing.SIDE_FEATURES_KEY: True})
  properties = {k: proto_utils.proto_to_json(v) if hasattr(v, 'DESCRIPTOR')
                else v for k, v in component.exec_properties.items()
                if v is not None}
  transform_window.run(executor, examples, schema, properties, output_dir,
                       analyzer_cache_on=analyzer_cache_on, cache=cache)
  return output_dir


vocabularies = transform_window.vocabularies


def beam_sources(monkeypatch) -> List[transform.BatchedTFExampleRecord]:
  """The BatchedTFExampleRecords Transform reads through, from now on."""
  sources = []
  beam_source = transform.BatchedTFExampleRecord.BeamSource
  monkeypatch.setattr(
      transform.BatchedTFExampleRecord, 'BeamSource',
      lambda self, *args: sources.append(self) or beam_source(self, *args))
  return sources


def test_transform_reads_in_batches_and_writes_tfxs_graph(
    examples, tmp_path, monkeypatch):
  tfx_graph = run_transform(tfx_transform_executor.Executor, [examples],
                            str(tmp_path / 'tfx'))
  sources = beam_sources(monkeypatch)
  our_graph = run_transform(transform.Executor, [examples],
                            str(tmp_path / 'ours'))
  assert sources  # Transform read through BatchedTFExampleRecord
  assert tfx_transform_executor.TransformProcessor is not (
      transform.TransformProcessor)  # TFX's is back
  expected = vocabularies(tfx_graph)
  assert features.vocabulary_name(features.USER_ID_KEY) in expected
  assert vocabularies(our_graph) == expected


@pytest.fixture(scope='module')
def window(tmp_path_factory) -> List[types.Artifact]:
  """Three Examples artifacts of different ratings: a window of spans."""
  return [small_examples(str(tmp_path_factory.mktemp(f'span-{span}')), 1000,
                         seed=span) for span in (1, 2, 3)]


def train_pattern(examples: types.Artifact) -> str:
  return os.path.join(examples.uri, f'Split-{TRAIN_SPLIT}', '*')


def patterns(source: transform.BatchedTFExampleRecord) -> List[str]:
  """The file patterns a TFXIO reads."""
  found = source._file_pattern  # pylint: disable=protected-access
  return [found] if isinstance(found, str) else list(found)


def test_a_window_is_read_as_one_dataset_with_tfxs_vocabularies(
    window, tmp_path, monkeypatch):
  tfx_graph = run_transform(tfx_transform_executor.Executor, window,
                            str(tmp_path / 'tfx'))
  sources = beam_sources(monkeypatch)
  our_graph = run_transform(transform.Executor, window,
                            str(tmp_path / 'ours'))
  (source,) = sources  # one read of the three artifacts' files
  assert sorted(patterns(source)) == sorted(
      train_pattern(examples) for examples in window)
  assert vocabularies(our_graph) == vocabularies(tfx_graph)


def test_with_the_analysis_cache_each_span_is_its_own_dataset(
    window, tmp_path, monkeypatch):
  one_pass = run_transform(transform.Executor, window,
                           str(tmp_path / 'one-pass'))
  sources = beam_sources(monkeypatch)
  run_transform(transform.Executor, window[:2], str(tmp_path / 'first'),
                analyzer_cache_on=True)
  # The cache is kept per dataset: each span is read on its own.
  assert sorted(patterns(s) for s in sources) == sorted(
      [train_pattern(examples)] for examples in window[:2])
  del sources[:]
  cache = standard_artifacts.TransformCache()
  cache.uri = str(tmp_path / 'first' / 'cache')
  with_cache = run_transform(transform.Executor, window,
                             str(tmp_path / 'second'), analyzer_cache_on=True,
                             cache=cache)
  # Read per dataset again, every span: the count buckets' analyzer
  # (preprocessing.ValuesSeenAtLeast) is not one tf.Transform caches.
  assert sorted(patterns(s) for s in sources) == sorted(
      [train_pattern(examples)] for examples in window)
  assert vocabularies(with_cache) == vocabularies(one_pass)


def test_datasets_are_joined_only_where_tfx_allows_and_formats_agree():
  processor = transform.TransformProcessor()
  globs = ['/a/Split-train/*', '/b/Split-train/*']
  gzip, parquet = 'tfrecords_gzip', 'parquet'
  (joint,) = processor._MakeDatasetList(  # pylint: disable=protected-access
      globs, [gzip, gzip], 0, None, True)
  assert isinstance(joint, transform.JointDataset)
  assert joint.file_pattern == globs and joint.file_format == [gzip, gzip]
  assert not joint.dataset_key.is_cached
  for formats, jointly in (([gzip, parquet], True), ([gzip, gzip], False)):
    datasets = processor._MakeDatasetList(  # pylint: disable=protected-access
        globs, formats, 0, None, jointly)
    assert len(datasets) == 2
    assert not any(isinstance(d, transform.JointDataset) for d in datasets)
  assert len(processor._MakeDatasetList(  # pylint: disable=protected-access
      globs, [gzip, gzip], 0, None, True,
      materialize_output_paths=['/out/a', '/out/b'])) == 2
