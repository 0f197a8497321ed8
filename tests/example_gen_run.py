"""Running MovieLensExampleGen's executor as the orchestrator would, and
reading what it wrote."""

import glob
import os
from typing import Any, Callable, Dict, List

import tensorflow as tf
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from bench import synthetic
from components import movielens_example_gen as example_gen
from components.ratings_source import RatingsSource


def exec_properties(component: example_gen.MovieLensExampleGen
                    ) -> Dict[str, Any]:
  """The component's execution properties, as the orchestrator passes them
  (protos as JSON, unset ones left out)."""
  return {k: proto_utils.proto_to_json(v) if hasattr(v, 'DESCRIPTOR') else v
          for k, v in component.exec_properties.items() if v is not None}


def driver_fingerprint(properties: Dict[str, Any]) -> str:
  """The input fingerprint the component's driver takes when it runs."""
  resolved = example_gen.SourceDriver(None).resolve_exec_properties(
      dict(properties), None, None)
  return resolved['input_fingerprint']


def execute(component: example_gen.MovieLensExampleGen, output_dir: str,
            do: Callable[..., None] = example_gen.Executor.Do
            ) -> standard_artifacts.Examples:
  """Runs the component's executor (or `do` on it, given the splits our
  executor resolves); returns the Examples artifact it wrote."""
  properties = exec_properties(component)
  if do is not example_gen.Executor.Do:
    properties['output_config'] = proto_utils.proto_to_json(
        example_gen.resolved_output_config(properties))
  examples = standard_artifacts.Examples()
  examples.uri = output_dir
  do(example_gen.Executor(), {}, {'examples': [examples]}, properties)
  return examples


def small_examples(base: str, num_ratings: int, seed: int = 0
                   ) -> standard_artifacts.Examples:
  """ExampleGen's splits of `num_ratings` generated ratings (a CSV written
  in the folder `base`, the splits under it)."""
  ratings = synthetic.write_small_ratings_csv(
      os.path.join(base, 'ratings.csv'), num_ratings=num_ratings, seed=seed)
  return execute(example_gen.MovieLensExampleGen(RatingsSource.csv(ratings)),
                 os.path.join(base, 'examples'))


def run_executor(component: example_gen.MovieLensExampleGen,
                 output_dir: str) -> str:
  """Runs the component's executor; returns the Examples uri."""
  return execute(component, output_dir).uri


def read_split(uri: str, split: str, raw: bool = False) -> List[Any]:
  """Every example of one split (its serialized record when `raw`)."""
  files = glob.glob(os.path.join(uri, f'Split-{split}', '*.gz'))
  records = [r.numpy() for r in
             tf.data.TFRecordDataset(files, compression_type='GZIP')]
  return records if raw else [tf.train.Example.FromString(r)
                              for r in records]


def read_every_split(uri: str) -> List[tf.train.Example]:
  """Every example ExampleGen wrote, whatever its split."""
  return [e for path in sorted(glob.glob(os.path.join(uri, 'Split-*')))
          for e in read_split(uri, os.path.basename(path)[len('Split-'):])]
