"""The pipeline as an Apache Airflow DAG (TFX AirflowDagRunner).

Put this file in Airflow's dags folder (or point `dags_folder` at it) in an
environment where this package is installed. It is configured by environment
variables of the Airflow scheduler and workers:

  MOVIELENS_OUTPUT_DIR     holds the run, as --output-dir of the local runner
                           (default: $AIRFLOW_HOME/movielens-ranking)
  MOVIELENS_PIPELINE_ARGS  the local runner's data/model/Beam flags, e.g.
                           "--manual-dir /data/movielens --epochs 5"
  MOVIELENS_MANUAL_DIR     folder holding the MovieLens zip (offline use)
  MOVIELENS_SCHEDULE       Airflow schedule, e.g. "@daily" (default: none,
                           runs only when triggered)
  MOVIELENS_DAG_ID         DAG id (default: movielens-ranking)

Importing TFX takes ~20 s: raise Airflow's `dagbag_import_timeout`
(AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=120).
"""

import argparse
import datetime
import os
import shlex

from tfx.orchestration import metadata
from tfx.orchestration.airflow.airflow_dag_runner import AirflowDagRunner
from tfx.orchestration.airflow.airflow_dag_runner import AirflowPipelineConfig

from pipeline import cli
from pipeline import configs
from pipeline.pipeline import create_pipeline


def _flags() -> argparse.Namespace:
  """MOVIELENS_PIPELINE_ARGS parsed as the local runner parses its flags."""
  parser = argparse.ArgumentParser(prog='MOVIELENS_PIPELINE_ARGS')
  cli.add_pipeline_flags(parser)
  args = parser.parse_args(
      shlex.split(os.environ.get('MOVIELENS_PIPELINE_ARGS', '')))
  cli.check_pipeline_flags(parser, args)
  return args


OUTPUT_DIR = os.environ.get('MOVIELENS_OUTPUT_DIR') or os.path.join(
    os.environ.get('AIRFLOW_HOME', os.path.expanduser('~/airflow')),
    'movielens-ranking')
_PATHS = configs.output_paths(OUTPUT_DIR)

DAG = AirflowDagRunner(AirflowPipelineConfig(airflow_dag_config={
    'schedule': os.environ.get('MOVIELENS_SCHEDULE') or None,
    'start_date': datetime.datetime(2024, 1, 1),
    'catchup': False,
})).run(create_pipeline(
    pipeline_name=os.environ.get('MOVIELENS_DAG_ID', configs.PIPELINE_NAME),
    pipeline_root=_PATHS['pipeline_root'],
    serving_model_dir=_PATHS['serving_model_dir'],
    metadata_connection_config=metadata.sqlite_metadata_connection_config(
        _PATHS['metadata_path']),
    **cli.pipeline_kwargs(_flags())))
