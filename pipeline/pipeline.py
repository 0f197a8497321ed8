"""`create_pipeline`: the one component graph every runner runs."""

import dataclasses
from typing import Any, Dict, List, Optional

from tensorflow_model_analysis import constants as tfma_constants
# TFMA's config protos from their module: TFMA 0.52 (TFX 1.21) no longer
# exports them at the top level.
from tensorflow_model_analysis.proto import config_pb2 as tfma_config
# TFX's classes from their modules, not `from tfx import v1`: tfx.v1 also
# imports the Google Cloud extensions (google.cloud.aiplatform), about 5 s
# of every run's start on 2 cores.
from tfx.components.example_validator.component import ExampleValidator
from tfx.components.schema_gen.component import SchemaGen
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.components.trainer.component import Trainer
from tfx.components.tuner.component import Tuner
from tfx.dsl.components.base import base_node
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.input_resolution.strategies.latest_artifact_strategy import LatestArtifactStrategy
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import LatestBlessedModelStrategy
from tfx.orchestration.pipeline import Pipeline
from tfx.proto import pusher_pb2
from tfx.proto import trainer_pb2
from tfx.proto import transform_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components import analyzer_cache
from components.anomalies_gate import AnomaliesGate
from components.baseline_model_strategy import LatestBlessedBaselineStrategy
from components.drift_validator import BlessedDataStatisticsStrategy
from components.drift_validator import drift_config
from components.drift_validator import DriftValidator
from components import names
from components.movielens_example_gen import MovieLensExampleGen
from components.ratings_source import RatingsSource
from components.ratings_source import SPANS
from components import span_window
from components.warm_start_model import WarmStartModelStrategy
from components.split_names import TRAIN_SPLIT
from components.split_names import VALIDATION_SPLIT
from components.recommender_evaluator import RecommenderEvaluator
from components.serving_pusher import Pusher
from components.statistics_gen import StatisticsGen
from components.transform import Transform
from pipeline import configs
from trainer_module import code_fingerprint
from trainer_module import ensemble
from trainer_module import features
from trainer_module import preprocessing
from trainer_module.hyperparameters import TUNE_TRIALS_KEY


RATING_METRICS = 'components.rating_metrics'


def eval_config(rmse_threshold: float,
                rmse_change_tolerance: float = configs.RMSE_CHANGE_TOLERANCE
                ) -> tfma_config.EvalConfig:
  """TFMA config: RMSE on the eval split, gated by value and by change,
  overall and per slice (the change against the baseline too)."""
  rmse_gate = tfma_config.MetricThreshold(
      value_threshold=tfma_config.GenericValueThreshold(
          upper_bound={'value': rmse_threshold}),
      change_threshold=tfma_config.GenericChangeThreshold(
          direction=tfma_config.MetricDirection.LOWER_IS_BETTER,
          absolute={'value': rmse_change_tolerance}))
  return tfma_config.EvalConfig(
      model_specs=[
          tfma_config.ModelSpec(
              signature_name='serving_tf_example',
              preprocessing_function_names=['transform_features'],
              label_key=features.LABEL_KEY,
              prediction_key=features.PREDICTION_KEY,
              model_type=tfma_constants.TF_GENERIC)
      ],
      slicing_specs=[tfma_config.SlicingSpec()] + [
          tfma_config.SlicingSpec(feature_keys=[key])
          for key in features.SLICE_FEATURE_KEYS],
      metrics_specs=[
          tfma_config.MetricsSpec(metrics=[
              tfma_config.MetricConfig(class_name='ExampleCount'),
              # Native, from one pass (components/rating_metrics.py): not
              # the Keras RMSE TFMA would wrap, nor MeanLabel and
              # MeanPrediction's pass of their own. Gate on the whole eval
              # split only: weak slices (e.g. users with few ratings) are
              # reported, not gated.
              tfma_config.MetricConfig(
                  class_name='RootMeanSquaredError', module=RATING_METRICS,
                  per_slice_thresholds=[tfma_config.PerSliceMetricThreshold(
                      slicing_specs=[tfma_config.SlicingSpec()],
                      threshold=rmse_gate)]),
              tfma_config.MetricConfig(class_name='MeanRating',
                                       module=RATING_METRICS),
              tfma_config.MetricConfig(class_name='MeanPredictedRating',
                                       module=RATING_METRICS),
          ])
      ])


def create_pipeline(
    pipeline_name: str,
    pipeline_root: str,
    serving_model_dir: str,
    source: RatingsSource = RatingsSource.tfds(),
    schema_path: Optional[str] = configs.SCHEMA_PATH,
    config: configs.PipelineConfig = configs.PRESETS[configs.DEFAULT_PRESET],
    metadata_connection_config: Optional[Any] = None,
    beam_pipeline_args: Optional[List[str]] = None,
    enable_cache: bool = True,
    baseline_excludes_candidate: bool = True,
    ingest_only: bool = False,
) -> Pipeline:
  """Builds ExampleGen -> stats/schema/validation -> Transform -> Trainer
  -> Evaluator (with the latest blessed model as baseline) -> Pusher: the
  one graph every runner (local, Kubeflow V2, Airflow) runs.

  Args:
    pipeline_name: the pipeline's name in ML Metadata.
    pipeline_root: where components write their artifacts.
    serving_model_dir: where the Pusher writes numbered model versions.
    source: the ratings (components/ratings_source.py): a TFDS config,
      your own CSV or Parquet files, an unpacked GroupLens folder, or a
      folder of spans (README "Weekly runs").
    schema_path: the reviewed schema ImportSchemaGen imports; None infers
      one with SchemaGen on every run.
    config: the Trainer's hyperparameters and every gate, cap and check
      (a preset of configs.PRESETS, or `configs.preset(name, **changes)`):
      the validation share ExampleGen carves from train, the eval cap, the
      drift comparators, the RMSE and Recall gates, and `tune_trials` (a
      Tuner, trainer_module/tuner.py, that tries this many rating-model
      hyperparameter sets on the validation split and gives the best to the
      Trainer; None trains with the preset's values).
    metadata_connection_config: ML Metadata's connection (local runs).
    beam_pipeline_args: Beam options for every Beam component.
    enable_cache: whether unchanged components are served from cache.
    baseline_excludes_candidate: the baseline is the latest blessed model
      other than the candidate, so an unchanged re-run is fully cached (see
      components/baseline_model_strategy.py), and the drift baseline is the
      data of the latest blessed model unless that is this run's data
      (components/drift_validator.py);
      False uses TFX's LatestBlessedModelStrategy and
      LatestArtifactStrategy, the only ones Kubeflow V2 compiles.
    ingest_only: ExampleGen alone, under the same pipeline name: a span
      ingested for later runs' windows (a backfill on any orchestrator).

  Returns:
    The TFX Pipeline.

  Raises:
    RatingsSourceError: a local data source is missing or malformed
      (checked while the pipeline is built, before anything runs).
  """
  # A folder of spans: the newest span is the eval data and the window
  # before it the training data, where the orchestrator runs our window
  # resolver; Kubeflow V2 compiles only TFX's resolvers, so there a run
  # splits its span by hash, as any other input.
  windowed = source.format == SPANS and baseline_excludes_candidate
  if windowed:
    config = configs.spans_config(config)
  example_gen = MovieLensExampleGen(
      source,
      eval_max_ratings=config.eval_max_ratings,
      validation_percent=config.validation_percent,
      new_user_percent=config.new_user_percent,
      split_spans=not windowed).with_id(names.EXAMPLE_GEN)
  examples = example_gen.outputs[names.EXAMPLES]
  if ingest_only:
    return Pipeline(
        pipeline_name=pipeline_name, pipeline_root=pipeline_root,
        components=[example_gen], enable_cache=enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args or [])
  window = span_window_resolver(example_gen, config.window_spans) if (
      windowed) else None
  training_examples = (window.outputs[span_window.EXAMPLES_KEY] if window
                       else examples)
  blessings = Channel(type=standard_artifacts.ModelBlessing)
  cache = analyzer_cache_resolver(training_examples) if (
      window and config.analyzer_cache) else None
  data = data_checks(examples, blessings, schema_path, config,
                     baseline_excludes_candidate, spans=bool(window))
  transform = Transform(
      examples=training_examples,
      schema=data.schema,
      preprocessing_fn=configs.PREPROCESSING_FN,
      # StatisticsGen already describes the raw data; Transform's own TFDV
      # passes over the raw and the transformed data are used by nothing.
      disable_statistics=True,
      # Vocabularies from train. Transform writes no transformed copy of
      # the data: the Trainer maps the raw examples through the transform
      # graph as it reads them (trainer_module/splits.py), as the Evaluator
      # and the served model do.
      splits_config=transform_pb2.SplitsConfig(analyze=[TRAIN_SPLIT]),
      materialize=False,
      # With spans, the window is analyzed in one pass, its spans read as
      # one dataset (components/transform.py); with the analyzer cache,
      # each span is a dataset and the vocabularies' partial results of
      # the spans an earlier window's cache has are read from it.
      analyzer_cache=cache.outputs[analyzer_cache.CACHE_KEY] if cache
      else None,
      disable_analyzer_cache=bool(window) and not cache,
      custom_config={code_fingerprint.CODE_FINGERPRINT_KEY:
                     code_fingerprint.transform_fingerprint(),
                     preprocessing.SIDE_FEATURES_KEY:
                     ensemble.reads_side_features(config.hyperparameters)},
  ).with_id(names.TRANSFORM)
  transform.add_upstream_node(data.gate)
  base = warm_start_resolver(training_examples, blessings) if (
      window and config.warm_start) else None
  training = training_nodes(training_examples, transform, data.schema,
                            config, base.outputs[names.MODEL] if base else None)
  model_resolver = baseline_model_resolver(
      training.trainer, blessings, baseline_excludes_candidate)
  evaluator = RecommenderEvaluator(
      examples=examples,
      model=training.trainer.outputs[names.MODEL],
      baseline_model=model_resolver.outputs[names.MODEL],
      eval_config=eval_config(config.rmse_threshold,
                              config.rmse_change_tolerance),
      top_n_config=top_n_config(config),
      training_examples=training_examples if window else None,
  ).with_id(names.EVALUATOR)
  pusher = Pusher(
      model=training.trainer.outputs[names.MODEL],
      model_blessing=evaluator.outputs[names.BLESSING],
      push_destination=pusher_pb2.PushDestination(
          filesystem=pusher_pb2.PushDestination.Filesystem(
              base_directory=serving_model_dir)),
  ).with_id(names.PUSHER)
  return Pipeline(
      pipeline_name=pipeline_name,
      pipeline_root=pipeline_root,
      components=[example_gen, *[n for n in (window, cache) if n],
                  *data.nodes, transform, *([base] if base else []),
                  *training.nodes, model_resolver, evaluator, pusher],
      enable_cache=enable_cache,
      metadata_connection_config=metadata_connection_config,
      beam_pipeline_args=beam_pipeline_args or [])


def span_window_resolver(example_gen: MovieLensExampleGen,
                         window_spans: int) -> Resolver:
  """The spans before this run's that Transform and the Trainer read
  (components/span_window.py)."""
  return Resolver(
      strategy_class=span_window.SpanWindowStrategy,
      config={span_window.WINDOW_SPANS_KEY: window_spans},
      current=example_gen.outputs[names.EXAMPLES],
      # Every run's (no output key: with one, the compiler would take it
      # for `current`, this run's output).
      examples=Channel(type=standard_artifacts.Examples,
                       producer_component_id=names.EXAMPLE_GEN),
  ).with_id(names.SPAN_WINDOW_RESOLVER)


def analyzer_cache_resolver(training_examples: Channel) -> Resolver:
  """The analysis cache Transform starts from: the one a Transform wrote on
  an earlier window (components/analyzer_cache.py)."""
  return Resolver(
      strategy_class=analyzer_cache.AnalyzerCacheStrategy,
      examples=training_examples,
      cache=Channel(type=standard_artifacts.TransformCache),
  ).with_id(names.ANALYZER_CACHE_RESOLVER)


def warm_start_resolver(training_examples: Channel,
                        blessings: Channel) -> Resolver:
  """The model the Trainer starts from: the latest blessed one trained on
  an earlier window (components/warm_start_model.py)."""
  return Resolver(
      strategy_class=WarmStartModelStrategy,
      examples=training_examples,
      model=Channel(type=standard_artifacts.Model),
      model_blessing=blessings,
  ).with_id(names.WARM_START_RESOLVER)


@dataclasses.dataclass
class DataChecks:
  """The nodes that describe and check the data before Transform."""
  nodes: List[base_node.BaseNode]  # in the order they are listed
  schema: Channel  # the reviewed (or inferred) schema
  gate: base_node.BaseNode  # Transform waits for it


def data_checks(examples: Channel, blessings: Channel,
                schema_path: Optional[str], config: configs.PipelineConfig,
                baseline_excludes_candidate: bool,
                spans: bool = False) -> DataChecks:
  """Statistics, the schema, TFDV's validation, the drift check against
  the blessed model's data, and the gate that stops the run on either.
  With `spans` the drift check compares the newest span's train split with
  the one the served model was evaluated on (configs.spans_config)."""
  statistics_gen = StatisticsGen(
      examples=examples, max_examples_per_split=configs.STATS_MAX_EXAMPLES,
  ).with_id(names.STATISTICS_GEN)
  statistics = statistics_gen.outputs[names.STATISTICS]
  if schema_path:
    schema_gen = ImportSchemaGen(schema_file=schema_path).with_id(
        names.SCHEMA_GEN)
  else:
    schema_gen = SchemaGen(statistics=statistics,
                           infer_feature_shape=True).with_id(
                               names.INFERRED_SCHEMA_GEN)
  example_validator = ExampleValidator(
      statistics=statistics, schema=schema_gen.outputs['schema'],
  ).with_id(names.EXAMPLE_VALIDATOR)
  statistics_resolver = drift_baseline_resolver(
      examples, blessings, baseline_excludes_candidate)
  # Resolve the baseline before this run adds its own statistics.
  statistics_gen.add_upstream_node(statistics_resolver)
  drift_validator = DriftValidator(
      statistics=statistics,
      baseline_statistics=statistics_resolver.outputs[names.STATISTICS],
      config=drift_config(config.drift_comparators),
      split_pairs=[(TRAIN_SPLIT, TRAIN_SPLIT)] if spans else None,
  ).with_id(names.DRIFT_VALIDATOR)
  anomalies_gate = AnomaliesGate(
      anomalies=example_validator.outputs['anomalies'],
      statistics=statistics,
      user_key=features.USER_ID_KEY,
      max_one_user_share=config.max_one_user_share,
      drift_anomalies=drift_validator.outputs['drift_anomalies'],
  ).with_id(names.ANOMALIES_GATE)
  return DataChecks(
      nodes=[statistics_resolver, statistics_gen, schema_gen,
             example_validator, drift_validator, anomalies_gate],
      schema=schema_gen.outputs['schema'], gate=anomalies_gate)


def drift_baseline_resolver(examples: Channel, blessings: Channel,
                            baseline_excludes_candidate: bool) -> Resolver:
  """The statistics the drift check compares this run's data with: the
  blessed model's data (ours), or TFX's latest statistics (Kubeflow V2)."""
  every_statistics = Channel(type=standard_artifacts.ExampleStatistics)
  if baseline_excludes_candidate:
    resolver = Resolver(
        strategy_class=BlessedDataStatisticsStrategy,
        statistics=every_statistics, model_blessing=blessings,
        examples=examples)
  else:
    resolver = Resolver(strategy_class=LatestArtifactStrategy,
                        statistics=every_statistics)
  return resolver.with_id(names.DRIFT_BASELINE_RESOLVER)


def baseline_model_resolver(trainer: Trainer, blessings: Channel,
                            baseline_excludes_candidate: bool) -> Resolver:
  """The model the Evaluator compares the candidate with: the latest
  blessed one other than the candidate (ours), or TFX's latest blessed."""
  if baseline_excludes_candidate:
    resolver = Resolver(
        strategy_class=LatestBlessedBaselineStrategy,
        model=trainer.outputs[names.MODEL], model_blessing=blessings)
  else:
    resolver = Resolver(
        strategy_class=LatestBlessedModelStrategy,
        model=Channel(type=standard_artifacts.Model),
        model_blessing=blessings)
  return resolver.with_id(names.BASELINE_MODEL_RESOLVER)


@dataclasses.dataclass
class Training:
  """The Trainer, and the Tuner before it when asked for."""
  nodes: List[base_node.BaseNode]
  trainer: Trainer


def training_nodes(examples: Channel, transform: Transform, schema: Channel,
                   config: configs.PipelineConfig,
                   base_model: Optional[Channel] = None) -> Training:
  """The Trainer on train, validating on validation (model selection never
  sees the Evaluator's split), after a Tuner when `config.tune_trials`;
  from `base_model`'s weights when it holds one (warm start)."""
  trainer_config: Dict[str, Any] = {
      **dataclasses.asdict(config.hyperparameters),
      code_fingerprint.CODE_FINGERPRINT_KEY:
          code_fingerprint.trainer_fingerprint(),
  }
  splits = dict(train_args=trainer_pb2.TrainArgs(splits=[TRAIN_SPLIT]),
                eval_args=trainer_pb2.EvalArgs(splits=[VALIDATION_SPLIT]))
  tuner = None
  if config.tune_trials:
    tuner = Tuner(
        tuner_fn=configs.TUNER_FN,
        examples=examples,
        transform_graph=transform.outputs[names.TRANSFORM_GRAPH],
        custom_config={**trainer_config,
                       TUNE_TRIALS_KEY: config.tune_trials},
        **splits).with_id(names.TUNER)
  trainer = Trainer(
      run_fn=configs.RUN_FN,
      examples=examples,
      transform_graph=transform.outputs[names.TRANSFORM_GRAPH],
      schema=schema,
      hyperparameters=(tuner.outputs['best_hyperparameters'] if tuner
                       else None),
      base_model=base_model,
      custom_config=trainer_config, **splits).with_id(names.TRAINER)
  return Training(nodes=[*([tuner] if tuner else []), trainer],
                  trainer=trainer)


def top_n_config(config: configs.PipelineConfig) -> Dict[str, Any]:
  """The Evaluator's top-N and new-user settings."""
  return {
      'k': config.top_n_k, 'min_rating': config.top_n_min_rating,
      'max_unseen_eval_user_share': config.max_unseen_eval_user_share,
      'recall_change_tolerance': config.recall_change_tolerance,
      'new_user_history': config.new_user_history,
      'new_user_histories': sorted({*configs.NEW_USER_HISTORIES,
                                    config.new_user_history}),
      'new_user_max_people': configs.NEW_USER_EVAL_MAX_PEOPLE}
