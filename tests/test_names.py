"""components/names.py: the node ids and output keys every reader of a run
uses exist in the pipeline, and the keys and folders copied from TFX are
TFX's."""

import dataclasses
import os
import re

import pytest
from tfx.types import artifact_utils
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs
from tfx.utils import path_utils

from bench import spans as span_cutter
from bench import synthetic
from components import names
from components.ratings_source import RatingsSource
from pipeline import configs
from pipeline import pipeline as pipeline_lib
from tests import e2e

# The modules that find a run's parts by name.
READERS = ('pipeline/report.py', 'pipeline/run_summary.py',
           'pipeline/progress.py', 'pipeline/local_runner.py',
           'bench/compare.py', 'bench/retrieval_budget.py')


def names_used(path: str) -> set:
  with open(os.path.join(e2e.PROJECT_ROOT, path)) as f:
    return set(re.findall(r'\bnames\.([A-Z_]+)\b', f.read()))


@pytest.fixture(scope='module')
def every_node(tmp_path_factory):
  """{node id: output keys} over the pipeline's variants: the default, a
  Tuner, an inferred schema, a folder of spans, the analyzer cache."""
  root = tmp_path_factory.mktemp('names')
  spans = str(root / 'spans')
  span_cutter.cut(synthetic.write_small_ratings_csv(str(root / 'r.csv')),
                  spans, days=42)
  nodes = {}
  for changes in ({}, {'tune_trials': 2}, {'analyzer_cache': True}):
    for schema in (configs.SCHEMA_PATH, None):
      for source in (RatingsSource.tfds(), RatingsSource.spans(spans)):
        built = pipeline_lib.create_pipeline(
            'p', str(root / 'root'), str(root / 'serving'),
            source=source, schema_path=schema,
            config=dataclasses.replace(configs.PRESETS['tutorial'],
                                       **changes))
        for node in built.components:
          nodes.setdefault(node.id, set()).update(node.outputs)
  return nodes


def test_every_node_id_is_named_once(every_node):
  named = {getattr(names, n) for n in dir(names) if n.isupper() and
           isinstance(getattr(names, n), str)}
  assert set(every_node) <= named
  assert set(names.RESOLVERS) <= set(every_node)


@pytest.mark.parametrize('reader', READERS)
def test_what_readers_look_up_exists(reader, every_node):
  outputs = set().union(*every_node.values())
  for name in names_used(reader):
    value = getattr(names, name)
    if isinstance(value, str) and value[:1].isupper() and '-' not in value:
      assert value in every_node, (reader, name)
    elif name in ('EXAMPLES', 'STATISTICS', 'TRANSFORM_GRAPH',
                  'TUNER_RESULTS', 'MODEL', 'MODEL_RUN', 'EVALUATION',
                  'BLESSING', 'PUSHED_MODEL'):
      assert value in outputs, (reader, name)


@pytest.mark.parametrize('reader', READERS)
def test_readers_spell_no_node_id_themselves(reader, every_node):
  with open(os.path.join(e2e.PROJECT_ROOT, reader)) as f:
    code = f.read()
  spelled = [node for node in every_node
             if f"'{node}'" in code or f'"{node}"' in code]
  assert not spelled
  assert "'Split-" not in code and "'Format-Serving'" not in code


def test_output_keys_and_folders_are_tfxs(tmp_path):
  specs = standard_component_specs
  assert (names.EXAMPLES, names.STATISTICS, names.TRANSFORM_GRAPH,
          names.TUNER_RESULTS, names.MODEL, names.MODEL_RUN,
          names.EVALUATION, names.BLESSING, names.PUSHED_MODEL) == (
              specs.EXAMPLES_KEY, specs.STATISTICS_KEY,
              specs.TRANSFORM_GRAPH_KEY, specs.TUNER_RESULTS_KEY,
              specs.MODEL_KEY, specs.MODEL_RUN_KEY, specs.EVALUATION_KEY,
              specs.BLESSING_KEY, specs.PUSHED_MODEL_KEY)
  assert path_utils.serving_model_dir(str(tmp_path)) == os.path.join(
      str(tmp_path), names.SERVING_MODEL_FOLDER)
  examples = standard_artifacts.Examples()
  examples.uri = str(tmp_path)
  examples.split_names = artifact_utils.encode_split_names(['eval'])
  assert artifact_utils.get_split_uri([examples], 'eval') == os.path.join(
      str(tmp_path), names.split_folder('eval'))
