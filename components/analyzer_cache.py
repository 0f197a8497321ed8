"""The analysis cache Transform reads on a window of spans: the one a
Transform wrote on an earlier window.

Used with `--analyzer-cache` (off by default: README "Weekly runs").
tf.Transform caches its cacheable analyzers' partial results per input
dataset (here: per span); given the cache of an earlier window, the
vocabularies combine the spans it has from it. The count buckets'
analyzer (preprocessing.ValuesSeenAtLeast) is not cacheable, so every
span of the window is still read, one dataset each. TFX's
penguin example resolves the cache with LatestArtifactStrategy, which on a
re-run of the same span is the cache that run wrote: Transform's inputs
would change and it would run again on every re-run. This strategy takes
the latest cache written on a window whose newest span is older than this
run's (as components/warm_start_model.py does for the model), so a re-run
resolves the same cache and is served from the cache.
"""

from typing import Dict, List, Optional

from tfx import types
from tfx.dsl.components.common import resolver
from tfx.types import standard_component_specs

import ml_metadata as mlmd

from components import warm_start_model

EXAMPLES_KEY = 'examples'  # the window this run analyzes
CACHE_KEY = 'cache'  # in: every cache of the pipeline; out: the one read
# Transform's input and output channels for it.
TRANSFORM_INPUT_KEY = standard_component_specs.ANALYZER_CACHE_KEY
TRANSFORM_OUTPUT_KEY = standard_component_specs.UPDATED_ANALYZER_CACHE_KEY


def earlier_cache(store: mlmd.MetadataStore, window: List[types.Artifact],
                  caches: List[types.Artifact]) -> List[types.Artifact]:
  """The latest cache written on spans all older than the newest of
  `window`; empty when there is none (Transform analyzes every span)."""
  cache_id = warm_start_model.latest_written_before(
      store, window, [c.id for c in caches])
  return [c for c in caches if c.id == cache_id]


class AnalyzerCacheStrategy(resolver.ResolverStrategy):
  """Inputs: `examples` (the window) and `cache` (every TransformCache of
  the pipeline). Output: `cache`, the one Transform reads (or none);
  `examples` as given."""

  def resolve_artifacts(
      self, store: mlmd.MetadataStore,
      input_dict: Dict[str, List[types.Artifact]]
  ) -> Optional[Dict[str, List[types.Artifact]]]:
    return {**input_dict, CACHE_KEY: earlier_cache(
        store, input_dict[EXAMPLES_KEY], input_dict[CACHE_KEY])}
