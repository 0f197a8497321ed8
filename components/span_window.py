"""The rolling window of spans a run trains on: a resolver over ExampleGen's
span artifacts.

With spans (components/span_source.py) each run's ExampleGen ingests one
span. The newest span is the future: the Evaluator measures the candidate
on it before any model has trained on it. Transform and the Trainer read the
window: the `window_spans` spans before it (all of them by default), each
span's latest artifact (a span ingested again after its files changed counts
once, by its newest ingest), oldest first. A span of the window that no run
has ingested is an error naming it: the window is never silently shorter.

TFX's SpanRangeStrategy resolves a rolling range relative to the newest span
in ML Metadata and keeps every artifact of a span; this run's span decides
here (a run may ingest an older span with `--span`), and a span counts once.
Kubeflow V2 compiles only TFX's LatestArtifactStrategy and
LatestBlessedModelStrategy (pipeline/pipeline.py says what it does there).
"""

from typing import Dict, List, Optional

from tfx import types
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.common import resolver

import ml_metadata as mlmd

CURRENT_KEY = 'current'  # this run's span (ExampleGen's output)
EXAMPLES_KEY = 'examples'  # in: every span artifact; out: the window
WINDOW_SPANS_KEY = 'window_spans'


class SpanWindowError(ValueError):
  """The window cannot be resolved from the spans ingested so far."""


def span_of(artifact: types.Artifact) -> int:
  """The span an Examples artifact holds."""
  return artifact.get_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME)


def window(current: types.Artifact, every: List[types.Artifact],
           window_spans: Optional[int]) -> List[types.Artifact]:
  """The latest artifact of each of the `window_spans` spans before
  `current`'s (every earlier span when None or 0), oldest first."""
  newest = span_of(current)
  latest: Dict[int, types.Artifact] = {}
  for artifact in every:
    span = span_of(artifact)
    if span < newest and (span not in latest
                          or artifact.id > latest[span].id):
      latest[span] = artifact
  if not latest:
    raise SpanWindowError(
        f'span {newest} is the eval data of this run, and no earlier span '
        'has been ingested to train on: ingest the earlier spans first '
        '(a run with --span N for each)')
  first = newest - window_spans if window_spans else min(latest)
  missing = [span for span in range(first, newest) if span not in latest]
  if missing:
    raise SpanWindowError(
        f'span {missing[0]} of the window (spans {first}..{newest - 1}) '
        'has not been ingested: run with --span '
        f'{missing[0]} first, or shorten --window-spans')
  return [latest[span] for span in range(first, newest)]


class SpanWindowStrategy(resolver.ResolverStrategy):
  """Inputs: `current` (ExampleGen's output: this run's span; on Airflow,
  every run's, and the newest span is taken) and
  `examples` (every Examples artifact ExampleGen wrote). Outputs: `current`
  as given, and `examples`, the window before it."""

  def __init__(self, window_spans: int = 0):
    self._window_spans = window_spans

  def resolve_artifacts(
      self, store: mlmd.MetadataStore,
      input_dict: Dict[str, List[types.Artifact]]
  ) -> Optional[Dict[str, List[types.Artifact]]]:
    del store
    # One artifact on IR-based runners (this run's); Airflow's launcher
    # gives every run's, of which a scheduled run's is the newest span.
    current = max(input_dict[CURRENT_KEY], key=lambda a: (span_of(a), a.id))
    return {CURRENT_KEY: [current],
            EXAMPLES_KEY: window(current, input_dict[EXAMPLES_KEY],
                                 self._window_spans)}
