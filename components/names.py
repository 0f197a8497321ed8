"""The names a run's parts are found by: each node's id in the pipeline,
the output keys read from them, and the folders TFX writes inside an
artifact. `create_pipeline` gives every node its id from here, and the
modules that read a finished run (pipeline/run_summary.py, report.py,
progress.py, bench/) look nodes up by these names, so renaming one is one
change (tests/test_pipeline.py builds the pipeline and checks every name
they use is in it).

Light (no TFX import): the report and the run summary read a run without
importing TFX. The output keys and folders are TFX's own, copied;
tests/test_names.py compares them with TFX's on both stacks.
"""

# Node ids.
EXAMPLE_GEN = 'MovieLensExampleGen'
STATISTICS_GEN = 'StatisticsGen'
SCHEMA_GEN = 'ImportSchemaGen'  # a reviewed schema
INFERRED_SCHEMA_GEN = 'SchemaGen'  # --schema infer
EXAMPLE_VALIDATOR = 'ExampleValidator'
DRIFT_VALIDATOR = 'DriftValidator'
ANOMALIES_GATE = 'AnomaliesGate'
TRANSFORM = 'Transform'
TUNER = 'Tuner'
TRAINER = 'Trainer'
EVALUATOR = 'Evaluator'
PUSHER = 'Pusher'
# The resolvers run on every run (they read ML Metadata).
DRIFT_BASELINE_RESOLVER = 'drift_baseline_statistics_resolver'
BASELINE_MODEL_RESOLVER = 'latest_blessed_model_resolver'
# With a folder of spans: the window trained on, the model warm-started from,
# the analysis cache Transform reads.
SPAN_WINDOW_RESOLVER = 'span_window_resolver'
WARM_START_RESOLVER = 'warm_start_model_resolver'
ANALYZER_CACHE_RESOLVER = 'analyzer_cache_resolver'
RESOLVERS = (DRIFT_BASELINE_RESOLVER, BASELINE_MODEL_RESOLVER,
             SPAN_WINDOW_RESOLVER, WARM_START_RESOLVER,
             ANALYZER_CACHE_RESOLVER)

# Output keys (tfx.types.standard_component_specs).
EXAMPLES = 'examples'
STATISTICS = 'statistics'
TRANSFORM_GRAPH = 'transform_graph'
TUNER_RESULTS = 'tuner_results'
MODEL = 'model'
MODEL_RUN = 'model_run'
EVALUATION = 'evaluation'
BLESSING = 'blessing'
PUSHED_MODEL = 'pushed_model'

# Folders inside artifacts: the SavedModel in a Model artifact
# (tfx.utils.path_utils.serving_model_dir), a split's files in Examples
# (tfx.types.artifact_utils.get_split_uri).
SERVING_MODEL_FOLDER = 'Format-Serving'
SPLIT_FOLDER_PREFIX = 'Split-'


def split_folder(split: str) -> str:
  """The folder of one split inside an Examples or statistics artifact."""
  return SPLIT_FOLDER_PREFIX + split
