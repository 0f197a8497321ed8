"""Every tunable value of the pipeline, in one place."""

import os

PIPELINE_NAME = 'movielens-ranking'
DEFAULT_DATASET = 'movielens/100k-ratings'
DEFAULT_OUTPUT_DIR = os.path.join('runs', 'local')
MANUAL_DIR_ENV = 'MOVIELENS_MANUAL_DIR'

# Module paths of user code (installed with this package).
PREPROCESSING_FN = 'trainer_module.preprocessing.preprocessing_fn'
RUN_FN = 'trainer_module.model.run_fn'

# Tutorial defaults.
EPOCHS = 3
BATCH_SIZE = 8192
LEARNING_RATE = 0.1
EMBEDDING_DIM = 32
SEED = 42

# Evaluator gates.
RMSE_THRESHOLD = 1.2  # value gate: RMSE on the eval split must be <= this
RMSE_CHANGE_TOLERANCE = 1e-10  # change gate: no worse than the baseline


# Beam defaults, used when --beam-pipeline-args names no other runner.
# Locally, one in-memory worker: on MovieLens 100k and 2 cores it beat
# multi_processing with 2 workers (100-112 s against 123-127 s a cold run).
LOCAL_BEAM_PIPELINE_ARGS = [
    '--direct_running_mode=in_memory',
    '--direct_num_workers=1',
]
# In a Kubeflow / Vertex pod: every core of the pod.
CLUSTER_BEAM_PIPELINE_ARGS = [
    '--direct_running_mode=multi_processing',
    '--direct_num_workers=0',
]


def output_paths(output_dir: str) -> dict:
  """Where a run keeps its pieces, all under `output_dir`."""
  output_dir = os.path.abspath(output_dir)
  return {
      'pipeline_root': os.path.join(output_dir, 'pipeline_root'),
      'metadata_path': os.path.join(output_dir, 'metadata.db'),
      'serving_model_dir': os.path.join(output_dir, 'serving_model'),
      'run_summary': os.path.join(output_dir, 'run_summary.json'),
  }
