"""Transform on a window of spans: one dataset, one a span, the cache.

  python -m bench.replay ...            # first: a replay's warm chain
  python -m bench.transform_window [--output-dir runs/bench-replay/warm]

Re-runs the latest Transform of a local run's output folder (by default
the replay's warm chain: its window of weekly spans, its schema and
settings, from its ML Metadata) each way a run can analyze a window, each
into a fresh folder:

- one dataset (the default: components/transform.py joins the spans);
- one dataset a span (TFX's own executor);
- the analysis cache (`--analyzer-cache`): a cache written on the window
  without its newest span (what the run before pays), then read with the
  whole window, writing the window's (what a warm run pays).

Prints each one's seconds and checks that all write the same vocabulary
files. Transform's code is this checkout's.
"""

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional

from tfx import types
from tfx.components.transform import executor as tfx_transform_executor
from tfx.dsl.components.base import base_beam_executor
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from components import analyzer_cache
from components import names
from components import transform
from pipeline import configs
from pipeline import run_summary
from trainer_module import code_fingerprint

DEFAULT_OUTPUT_DIR = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'runs', 'bench-replay', 'warm')


def latest_transform(metadata_path: str) -> Dict[str, Any]:
  """The newest Transform execution that ran (not cached): its inputs
  (as TFX artifacts, by key) and exec properties."""
  store = run_summary.open_store(metadata_path)
  types_by_id = {t.id: t for t in store.get_artifact_types()}
  ran = [e for e in store.get_executions()
         if run_summary.node_id(store, e) == names.TRANSFORM
         and e.last_known_state == e.COMPLETE]
  if not ran:
    raise ValueError(f'no Transform ran in {metadata_path}: run '
                     'bench.replay first')
  execution = max(ran, key=lambda e: e.id)
  inputs, _ = run_summary._inputs_and_outputs(store, execution.id)  # pylint: disable=protected-access
  properties = {key: value.string_value or value.int_value
                for key, value in execution.custom_properties.items()
                if not key.startswith('__')}
  return {'inputs': {key: [artifact_utils.deserialize_artifact(
      types_by_id[a.type_id], a) for a in artifacts]
                       for key, artifacts in inputs.items()},
          'properties': properties}


def run(executor: type, examples: List[types.Artifact],
        schema: types.Artifact, properties: Dict[str, Any], output_dir: str,
        analyzer_cache_on: bool = False,
        cache: Optional[types.Artifact] = None) -> float:
  """One Transform executor run in `output_dir`; its seconds. With the
  analysis cache on, as TFX's component runs it: reads `cache` where given
  and writes one (under `output_dir`) in any case."""
  graph = standard_artifacts.TransformGraph()
  graph.uri = os.path.join(output_dir, 'transform_graph')
  inputs = {'examples': examples, 'schema': [schema]}
  outputs = {'transform_graph': [graph]}
  if cache:
    inputs[analyzer_cache.TRANSFORM_INPUT_KEY] = [cache]
  if analyzer_cache_on:
    written = standard_artifacts.TransformCache()
    written.uri = os.path.join(output_dir, 'cache')
    outputs[analyzer_cache.TRANSFORM_OUTPUT_KEY] = [written]
  context = base_beam_executor.BaseBeamExecutor.Context(
      beam_pipeline_args=configs.LOCAL_BEAM_PIPELINE_ARGS,
      tmp_dir=os.path.join(output_dir, 'tmp', ''), unique_id='bench')
  start = time.monotonic()
  executor(context).Do(inputs, outputs, {
      **properties,
      'disable_analyzer_cache': int(not analyzer_cache_on)})
  return round(time.monotonic() - start, 1)


def vocabularies(output_dir: str) -> Dict[str, bytes]:
  """The vocabulary files a run wrote, by name."""
  assets = os.path.join(output_dir, 'transform_graph', 'transform_fn',
                        'assets')
  found = {}
  for name in sorted(os.listdir(assets)):
    with open(os.path.join(assets, name), 'rb') as f:
      found[name] = f.read()
  return found


def measure(output_dir: str) -> Dict[str, Any]:
  """Seconds of each way on the latest window Transform analyzed in a local
  run's `output_dir`."""
  latest = latest_transform(
      configs.output_paths(output_dir)['metadata_path'])
  window = latest['inputs']['examples']
  (schema,) = latest['inputs']['schema']
  properties = dict(latest['properties'])
  custom = json.loads(properties['custom_config'])
  custom[code_fingerprint.CODE_FINGERPRINT_KEY] = (
      code_fingerprint.transform_fingerprint())
  properties['custom_config'] = json.dumps(custom)
  base = tempfile.mkdtemp(prefix='transform_window_')
  try:
    def folder(name):
      return os.path.join(base, name)
    seconds = {
        'one_dataset': run(transform.Executor, window, schema, properties,
                           folder('one-dataset')),
        'one_dataset_a_span_tfx': run(
            tfx_transform_executor.Executor, window, schema, properties,
            folder('tfx')),
        'cache_written_without_newest': run(
            transform.Executor, window[:-1], schema, properties,
            folder('cache-first'), analyzer_cache_on=True),
    }
    cache = standard_artifacts.TransformCache()
    cache.uri = os.path.join(folder('cache-first'), 'cache')
    seconds['cache_read'] = run(transform.Executor, window, schema,
                                properties, folder('cache-read'),
                                analyzer_cache_on=True, cache=cache)
    same = (vocabularies(folder('one-dataset')) == vocabularies(folder('tfx'))
            == vocabularies(folder('cache-read')))
  finally:
    shutil.rmtree(base, ignore_errors=True)
  spans = [a.get_int_custom_property('span') for a in window]
  return {'spans': spans, 'seconds': seconds, 'same_vocabularies': same}


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m bench.transform_window', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--output-dir', default=DEFAULT_OUTPUT_DIR,
                      help='a local run\'s --output-dir with --ratings-dir '
                      '(default: the replay\'s warm chain, %(default)s)')
  args = parser.parse_args(argv)
  result = measure(args.output_dir)
  print(json.dumps(result, indent=1))
  return 0 if result['same_vocabularies'] else 1


if __name__ == '__main__':
  sys.exit(main())
