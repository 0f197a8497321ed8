"""Running MovieLensExampleGen's executor as the orchestrator would, and
reading what it wrote."""

import glob
import os
from typing import List

import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from components import movielens_example_gen as example_gen


def run_executor(component: example_gen.MovieLensExampleGen,
                 output_dir: str) -> str:
  """Runs the component's executor; returns the Examples uri."""
  exec_properties = {
      k: proto_utils.proto_to_json(v) if hasattr(v, 'DESCRIPTOR') else v
      for k, v in component.exec_properties.items() if v is not None}
  examples = standard_artifacts.Examples()
  examples.uri = output_dir
  example_gen.Executor().Do({}, {'examples': [examples]}, exec_properties)
  return output_dir


def read_split(uri: str, split: str) -> List[tf.train.Example]:
  """Every example of one split."""
  files = glob.glob(os.path.join(uri, f'Split-{split}', '*.gz'))
  return [tf.train.Example.FromString(r.numpy()) for r in
          tf.data.TFRecordDataset(files, compression_type='GZIP')]
