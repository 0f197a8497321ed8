"""TFX's Transform, reading its examples a batch of records at a time.

The component and its executor are TFX's; only the TFXIO that reads the
examples differs. tfx_bsl's `TFExampleRecord` reads with Beam's TFRecord
source: every record is one Beam element (framing and checksum in Python)
before `BatchRecords` groups them, and its decoder parses each example
whole. `BatchedTFExampleRecord` is the same TFXIO (same schema,
projection, Arrow and tensor representations, raw-record column) except
that its `BeamSource` hands each file to a worker, which reads it with
tf.data's C++ reader `READ_BATCH_SIZE` records at a time and parses only
the (projected) schema's features with `tf.io.parse_example`. The record
batches have the decoder's Arrow schema and values (tested against it),
with one difference: a feature present with no values reads as null, as
an absent one does (the decoder gives an empty list). The order of the
record batches is not the files' (Transform's analyzers do not depend on
it).

A window of spans is several Examples artifacts. TFX makes one dataset of
each, and Beam pays per dataset (a read, a decode and the analyzers' first
steps each); where TFX says the datasets may be processed jointly (no
analysis cache, which is kept per dataset, is written or read), ours reads
them as one dataset over all their files, as TFX's unused
`can_process_jointly` argument intends (its TODO b/114444977)."""

import hashlib
from typing import (Any, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
import numpy as np
import pyarrow as pa
import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform.beam import analyzer_cache
from tfx import types
from tfx.components.transform import component as transform_component
from tfx.components.transform import executor as transform_executor
from tfx.dsl.components.base import executor_spec
from tfx_bsl.coders import example_coder
from tfx_bsl.tfxio import record_based_tfxio
from tfx_bsl.tfxio import tensor_representation_util
from tfx_bsl.tfxio import tf_example_record
from tfx_bsl.tfxio import tfxio

READ_BATCH_SIZE = 4_096  # records read and decoded at a time
_TF_DATA_COMPRESSION = {CompressionTypes.GZIP: 'GZIP',
                        CompressionTypes.UNCOMPRESSED: ''}
_PARSED_TYPES = {schema_pb2.BYTES: tf.string, schema_pb2.INT: tf.int64,
                 schema_pb2.FLOAT: tf.float32}


def tf_data_compression(path: str) -> str:
  """tf.data's compression type for `path`, by its extension as Beam's
  TFRecord source detects it (`.gz`: GZIP; no known extension: none)."""
  kind = CompressionTypes.detect_compression_type(path)
  if kind not in _TF_DATA_COMPRESSION:
    raise ValueError(f'{path}: {kind} TFRecord files cannot be read; '
                     'write them uncompressed or gzipped')
  return _TF_DATA_COMPRESSION[kind]


def matching_files(file_pattern: List[str]) -> List[str]:
  """Every file the patterns match, sorted; raises naming a pattern that
  matches none (Beam's TFRecord source refuses it too)."""
  files = []
  for pattern in file_pattern:
    matched = tf.io.gfile.glob(pattern)
    if not matched:
      raise ValueError(f'no file matches {pattern}')
    files.extend(matched)
  return sorted(set(files))


def parse_spec(schema: Optional[schema_pb2.Schema]
               ) -> Optional[Dict[str, tf.io.RaggedFeature]]:
  """`tf.io.parse_example`'s spec for every feature of `schema`, each as
  a list of values; None when a feature is not a plain bytes, int or float
  list (or there is no schema): tfx_bsl's decoder reads those."""
  if schema is None or not schema.feature or any(
      feature.type not in _PARSED_TYPES for feature in schema.feature):
    return None
  return {feature.name: tf.io.RaggedFeature(_PARSED_TYPES[feature.type],
                                            row_splits_dtype=tf.int64)
          for feature in schema.feature}


def to_record_batch(parsed: Dict[str, tf.RaggedTensor],
                    arrow_schema: pa.Schema) -> pa.RecordBatch:
  """Parsed features -> a record batch of `arrow_schema` (the decoder's):
  each feature a large list per example, null where it has no values."""
  columns = []
  for field in arrow_schema:
    values = parsed[field.name]
    offsets = values.row_splits.numpy()
    columns.append(pa.LargeListArray.from_arrays(
        pa.array(offsets), pa.array(values.values.numpy(),
                                    field.type.value_type),
        mask=pa.array(offsets[1:] == offsets[:-1])))
  return pa.RecordBatch.from_arrays(columns, schema=arrow_schema)


class _ReadFileBatches(beam.DoFn):
  """A TFRecord file of tf.Examples -> record batches of at most
  `batch_size` examples of `schema`'s features."""

  def __init__(self, schema: Optional[schema_pb2.Schema],
               raw_record_column_name: Optional[str], batch_size: int):
    # Serialized, as tfx_bsl's DoFns keep it.
    self._schema = None if schema is None else schema.SerializeToString()
    self._raw_record_column_name = raw_record_column_name
    self._batch_size = batch_size
    self._decoder = None
    self._spec = None

  def setup(self):
    self._decoder = (example_coder.ExamplesToRecordBatchDecoder(self._schema)
                     if self._schema else
                     example_coder.ExamplesToRecordBatchDecoder())
    self._spec = parse_spec(None if self._schema is None else
                            schema_pb2.Schema.FromString(self._schema))

  def _record_batches(self, records: tf.data.Dataset
                      ) -> Iterator[Tuple[pa.RecordBatch, np.ndarray]]:
    """(record batch, its serialized examples) for each batch of
    `records`."""
    spec = self._spec
    if spec is None:
      for batch in records.as_numpy_iterator():
        yield self._decoder.DecodeBatch(batch.tolist()), batch
      return
    arrow_schema = self._decoder.ArrowSchema()
    for batch, parsed in records.map(
        lambda batch: (batch, tf.io.parse_example(batch, spec))):
      yield to_record_batch(parsed, arrow_schema), batch.numpy()

  def process(self, path: str) -> Iterator[pa.RecordBatch]:
    records = tf.data.TFRecordDataset(
        path, tf_data_compression(path)).batch(self._batch_size)
    for decoded, serialized in self._record_batches(records):
      yield (decoded if self._raw_record_column_name is None else
             record_based_tfxio.AppendRawRecordColumn(
                 decoded, self._raw_record_column_name, serialized.tolist()))


@beam.ptransform_fn
@beam.typehints.with_output_types(pa.RecordBatch)
def ReadRecordBatches(pipeline: beam.Pipeline, file_pattern: List[str],
                      schema: Optional[schema_pb2.Schema],
                      raw_record_column_name: Optional[str],
                      batch_size: int) -> beam.PCollection:
  """Record batches of every file `file_pattern` matches, the files spread
  over the workers."""
  return (pipeline
          | 'Files' >> beam.Create(matching_files(file_pattern))
          | 'Spread' >> beam.Reshuffle()
          | 'ReadAndDecode' >> beam.ParDo(_ReadFileBatches(
              schema, raw_record_column_name, batch_size)))


class BatchedTFExampleRecord(tf_example_record.TFExampleRecord):
  """`TFExampleRecord` whose `BeamSource` reads records in batches."""

  def BeamSource(self, batch_size: Optional[int] = None) -> beam.PTransform:
    """Record batches of at most `batch_size` (READ_BATCH_SIZE if None)."""
    return ReadRecordBatches(  # pylint: disable=no-value-for-parameter
        self._file_pattern, self._GetSchemaForDecoding(),
        self.raw_record_column_name, batch_size or READ_BATCH_SIZE)

  def _ProjectImpl(self, tensor_names: List[str]) -> tfxio.TFXIO:
    """As TFExampleRecord projects, keeping the batched reading."""
    return BatchedTFExampleRecord(
        self._file_pattern,
        schema=tensor_representation_util
        .ProjectTensorRepresentationsInSchema(self._schema, tensor_names),
        raw_record_column_name=self.raw_record_column_name,
        telemetry_descriptors=self.telemetry_descriptors)


class JointDataset(transform_executor._Dataset):  # pylint: disable=protected-access
  """TFX's dataset over the files of several file patterns, read in one
  pass (tfx_bsl's TFXIOs take lists of patterns and of their formats);
  never cached (its key is TFX's joint datasets')."""

  def __init__(self, file_patterns: Sequence[str],
               file_formats: Sequence[Union[str, int]], data_format: int,
               data_view_uri: Optional[str]):
    super().__init__(file_patterns[0], file_formats[0], data_format,
                     data_view_uri)
    self._file_pattern = list(file_patterns)
    self._file_format = list(file_formats)
    self.dataset_key = analyzer_cache.DatasetKey(
        'joint-' + hashlib.sha256('\n'.join(file_patterns).encode())
        .hexdigest()).non_cacheable()


class TransformProcessor(transform_executor.TransformProcessor):
  """TFX's, reading tf.Example TFRecords with BatchedTFExampleRecord and a
  window's datasets as one where they may be processed jointly."""

  def _MakeDatasetList(
      self, file_patterns: Sequence[Union[str, int]],
      file_formats: Sequence[Union[str, int]], data_format: int,
      data_view_uri: Optional[str], can_process_jointly: bool,
      stats_output_paths: Optional[Sequence[str]] = None,
      materialize_output_paths: Optional[Sequence[str]] = None
  ) -> List[Any]:
    """TFX's list, or one JointDataset of several patterns of one file
    format where TFX allows joint processing (`can_process_jointly`: no
    analysis cache written; TFX's Transform component writes one whenever
    it reads one) and nothing else is written per dataset."""
    if (can_process_jointly
        and len(file_patterns) > 1 and len(set(file_formats)) == 1
        and not any(stats_output_paths or [])
        and not any(materialize_output_paths or [])):
      joint = JointDataset(file_patterns, file_formats, data_format,
                           data_view_uri)
      joint.index = 0
      return [joint]
    return super()._MakeDatasetList(
        file_patterns, file_formats, data_format, data_view_uri,
        can_process_jointly, stats_output_paths, materialize_output_paths)

  def _CreateTFXIO(self, dataset: Any, schema: schema_pb2.Schema
                   ) -> tfxio.TFXIO:
    made = super()._CreateTFXIO(dataset, schema)
    if type(made) is not tf_example_record.TFExampleRecord:  # pylint: disable=unidiomatic-typecheck
      return made  # raw records, other payloads: as TFX reads them
    return BatchedTFExampleRecord(
        dataset.file_pattern, schema=schema,
        raw_record_column_name=made.raw_record_column_name,
        telemetry_descriptors=made.telemetry_descriptors)


class Executor(transform_executor.Executor):
  """TFX's Transform executor with TransformProcessor above."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    # TFX's Do makes its TransformProcessor by the module's name for it
    # (tests/test_transform.py checks ours runs, on both stacks).
    tfx_processor = transform_executor.TransformProcessor
    transform_executor.TransformProcessor = TransformProcessor
    try:
      super().Do(input_dict, output_dict, exec_properties)
    finally:
      transform_executor.TransformProcessor = tfx_processor


class Transform(transform_component.Transform):
  """TFX's Transform with the batched reading of Executor."""

  EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(Executor)
