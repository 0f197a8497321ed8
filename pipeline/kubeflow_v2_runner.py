"""Compiles the pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines.

  python -m pipeline.kubeflow_v2_runner --output pipeline.json \\
      --pipeline-root gs://BUCKET/movielens-ranking --image IMAGE \\
      --manual-dir gs://BUCKET/movielens

Writes a PipelineJob (PipelineSpec + runtime config) JSON file; compiling
needs no cluster and no cloud credentials. Submit it with the Vertex AI SDK
or a KFP v2 client (see the README).
"""

import argparse
import os
import posixpath
import sys
from typing import List, Optional

from pipeline import cli
from pipeline import configs

DEFAULT_IMAGE = 'movielens-ranking-tfx:latest'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
  parser = argparse.ArgumentParser(
      prog='python -m pipeline.kubeflow_v2_runner', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--output', required=True,
                      help='the PipelineJob JSON file to write')
  parser.add_argument('--pipeline-root',
                      default=os.environ.get('PIPELINE_ROOT'),
                      help='where the pipeline writes artifacts, e.g. '
                      'gs://BUCKET/movielens-ranking (default: $PIPELINE_ROOT)')
  parser.add_argument('--serving-model-dir', default=None,
                      help="the Pusher's destination (default: "
                      'PIPELINE_ROOT/serving_model)')
  parser.add_argument('--image', default=os.environ.get('PIPELINE_IMAGE',
                                                        DEFAULT_IMAGE),
                      help='container image with this package installed '
                      '(built from the Dockerfile; default: $PIPELINE_IMAGE '
                      f'or {DEFAULT_IMAGE})')
  parser.add_argument('--pipeline-name', default=configs.PIPELINE_NAME)
  cli.add_pipeline_flags(parser)
  args = parser.parse_args(argv)
  cli.check_pipeline_flags(parser, args)
  if not args.pipeline_root:
    parser.error('give --pipeline-root (or $PIPELINE_ROOT), e.g. '
                 'gs://BUCKET/movielens-ranking')
  return args


# The repo's schema inside the pipeline image (Dockerfile: WORKDIR /pipeline,
# COPY pipeline/ pipeline/). Give --schema gs://... for another one.
IMAGE_SCHEMA_PATH = '/pipeline/pipeline/schema/schema.pbtxt'


def compile_pipeline(args: argparse.Namespace) -> str:
  """Writes the PipelineJob JSON for these flags; returns its path."""
  from tfx import v1 as tfx  # pylint: disable=g-import-not-at-top
  from pipeline.pipeline import create_pipeline  # pylint: disable=g-import-not-at-top
  serving_model_dir = args.serving_model_dir or (
      args.pipeline_root.rstrip('/') + '/serving_model')
  runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
      config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
          default_image=args.image),
      output_dir=os.path.dirname(os.path.abspath(args.output)),
      output_filename=os.path.basename(args.output))
  kwargs = cli.pipeline_kwargs(
      args, beam_defaults=configs.CLUSTER_BEAM_PIPELINE_ARGS + [
          f'--sdk_container_image={args.image}'])
  if kwargs['schema_path'] and os.path.dirname(
      kwargs['schema_path']) == configs.SCHEMA_DIR:  # the repo's, in the image
    kwargs['schema_path'] = posixpath.join(
        posixpath.dirname(IMAGE_SCHEMA_PATH),
        os.path.basename(kwargs['schema_path']))
  runner.run(create_pipeline(
      pipeline_name=args.pipeline_name,
      pipeline_root=args.pipeline_root,
      serving_model_dir=serving_model_dir,
      # Kubeflow V2 compiles only TFX's own resolver strategies.
      baseline_excludes_candidate=False,
      **kwargs))
  return os.path.abspath(args.output)


def main(argv: Optional[List[str]] = None) -> int:
  path = compile_pipeline(parse_args(argv))
  print(f'wrote {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
