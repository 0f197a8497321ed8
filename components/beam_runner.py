"""Which Beam runner a component's `beam_pipeline_args` ask for: the one
answer the runners' defaults (pipeline/cli.py) and ExampleGen's DirectRunner
path (components/movielens_example_gen.py) both use."""

from typing import List, Optional

DIRECT_RUNNERS = ('DirectRunner', 'direct', 'BundleBasedDirectRunner',
                  'SwitchingDirectRunner')


def runner_name(beam_pipeline_args: Optional[List[str]]) -> str:
  """The runner Beam will use: `--runner=X` or `--runner X`, parsed by
  Beam's own options; DirectRunner when none is given."""
  # Imported here: the runners read their flags before logging is set up,
  # and Beam's import warns (pipeline/logs.py).
  from apache_beam.options.pipeline_options import PipelineOptions  # pylint: disable=g-import-not-at-top
  from apache_beam.options.pipeline_options import StandardOptions  # pylint: disable=g-import-not-at-top
  options = PipelineOptions(list(beam_pipeline_args or []))
  return options.view_as(StandardOptions).runner or 'DirectRunner'


def is_direct_runner(beam_pipeline_args: Optional[List[str]]) -> bool:
  """Whether Beam runs in this machine's DirectRunner."""
  return runner_name(beam_pipeline_args) in DIRECT_RUNNERS
