"""The Evaluator's native rating metrics (components/rating_metrics.py)
against numpy and the Keras RMSE TFMA would otherwise wrap."""

import math

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_model_analysis.metrics import metric_specs
from tensorflow_model_analysis.metrics import metric_types
from tensorflow_model_analysis.metrics import metric_util

from components import rating_metrics
from pipeline import pipeline as pipeline_lib

METRICS = (rating_metrics.RootMeanSquaredError,
           rating_metrics.MeanRating, rating_metrics.MeanPredictedRating)


def inputs(label: float, prediction: float, weight: float = 1.0):
  return metric_types.StandardMetricInputs(
      labels=np.array([label], np.float32),
      predictions=np.array([[prediction]], np.float32),
      example_weights=np.array([weight], np.float32))


def compute(metric, elements, parts: int = 1, example_weighted=False,
            **kwargs):
  """The metric over `elements`, preprocessed once each and added in
  `parts` accumulators that are then merged, as Beam may."""
  sums, derived = metric.computations(example_weighted=example_weighted,
                                      **kwargs)
  (preprocessor,) = sums.preprocessors
  accumulators = []
  for part in np.array_split(np.arange(len(elements)), parts):
    accumulator = sums.combiner.create_accumulator()
    for i in part:
      for example_sums in preprocessor.process(elements[i]):
        accumulator = sums.combiner.add_input(accumulator, example_sums)
    accumulators.append(accumulator)
  merged = sums.combiner.merge_accumulators(accumulators)
  (value,) = derived.result(sums.combiner.extract_output(merged)).values()
  return value


def test_the_metrics_equal_numpy_and_keras_however_inputs_are_split():
  rng = np.random.default_rng(0)
  labels = rng.integers(1, 6, 500).astype(np.float32)
  predictions = (labels + rng.normal(0, 1, 500)).astype(np.float32)
  elements = [inputs(l, p) for l, p in zip(labels, predictions)]
  keras = tf.keras.metrics.RootMeanSquaredError()
  keras.update_state(labels, predictions)
  expected = {
      'root_mean_squared_error': math.sqrt(np.mean(
          (labels.astype(float) - predictions) ** 2)),
      'mean_rating': np.mean(labels.astype(float)),
      'mean_predicted_rating': np.mean(predictions.astype(float))}
  for parts in (1, 3, 7):
    for cls in METRICS:
      metric = cls()
      assert compute(metric, elements, parts) == pytest.approx(
          expected[metric.name], rel=1e-9)
  assert compute(METRICS[0](), elements) == pytest.approx(
      float(keras.result()), rel=1e-5)


def test_example_weights_weigh_each_example():
  elements = [inputs(4.0, 3.0, 3.0), inputs(2.0, 4.0, 1.0)]
  assert compute(rating_metrics.RootMeanSquaredError(), elements,
                 example_weighted=True) == pytest.approx(
                     math.sqrt((3 * 1 + 1 * 4) / 4))
  assert compute(rating_metrics.MeanRating(), elements,
                 example_weighted=True) == pytest.approx((12 + 2) / 4)


def compared_config():
  """The pipeline's eval config with a baseline beside the candidate, as
  TFX's Evaluator makes it when there is a last blessed model."""
  config = pipeline_lib.eval_config(rmse_threshold=1.2)
  baseline = config.model_specs.add()
  baseline.CopyFrom(config.model_specs[0])
  config.model_specs[0].name, baseline.name = 'candidate', 'baseline'
  baseline.is_baseline = True
  return config


def test_each_model_of_a_comparison_is_scored_on_its_own_predictions():
  config = compared_config()
  elements = [metric_types.StandardMetricInputs(
      labels=np.array([label], np.float32),
      predictions={'candidate': np.array([[candidate]], np.float32),
                   'baseline': np.array([[base]], np.float32)})
              for label, candidate, base in ((4, 3, 5), (2, 2, 4))]
  rmse = rating_metrics.RootMeanSquaredError()
  assert compute(rmse, elements, eval_config=config,
                 model_names=['candidate']) == pytest.approx(math.sqrt(1 / 2))
  assert compute(rmse, elements, eval_config=config,
                 model_names=['baseline']) == pytest.approx(math.sqrt(5 / 2))


def test_no_examples_give_nan_not_an_error():
  for cls in METRICS:
    assert math.isnan(compute(cls(), []))


def test_the_pipeline_gates_on_this_rmse_and_tfma_sums_once():
  config = pipeline_lib.eval_config(rmse_threshold=1.2)
  (spec,) = config.metrics_specs
  by_class = {m.class_name: m for m in spec.metrics}
  for cls in METRICS:
    assert isinstance(metric_specs.metric_instance(by_class[cls.__name__]),
                      cls)
  rmse = by_class['RootMeanSquaredError']
  assert rmse.per_slice_thresholds[0].threshold.value_threshold.upper_bound \
      .value == 1.2
  computations = metric_specs.to_computations(config.metrics_specs,
                                              eval_config=config)
  sums = {c for c in computations if isinstance(c, metric_types.MetricComputation)
          and any(k.name == '_rating_sums' for k in c.keys)}
  assert len(sums) == 1


def tfma_sums(element, key, eval_config=None) -> rating_metrics.RatingSums:
  """An example's sums through TFMA's generic reader of labels,
  predictions and weights (what the preprocessor replaces)."""
  sums = rating_metrics.RatingSums()
  for label, prediction, weight in (
      metric_util.to_label_prediction_example_weight(
          element, eval_config=eval_config, model_name=key.model_name,
          output_name=key.output_name,
          example_weighted=key.example_weighted, flatten=True)):
    sums.merge(rating_metrics.RatingSums(
        weight.item(), weight.item() * label.item(),
        weight.item() * prediction.item(),
        weight.item() * (label.item() - prediction.item()) ** 2))
  return sums


def test_an_examples_sums_equal_tfmas_generic_reading_of_it():
  config = compared_config()
  single = [inputs(4.0, 3.5, 2.0), inputs(1.0, 2.25),
            metric_types.StandardMetricInputs(
                labels=np.array([[3.0]], np.float32),
                predictions=np.array([3.5], np.float32))]
  compared = metric_types.StandardMetricInputs(
      labels=np.array([4.0], np.float32),
      predictions={'candidate': np.array([[3.0]], np.float32),
                   'baseline': np.array([[4.5]], np.float32)},
      example_weights=np.array([2.0], np.float32))
  cases = [(element, '', weighted, None) for element in single
           for weighted in (False, True)] + [
               (compared, model, weighted, config)
               for model in ('candidate', 'baseline')
               for weighted in (False, True)]
  for element, model, weighted, eval_config in cases:
    key = metric_types.MetricKey(name='_rating_sums', model_name=model,
                                 example_weighted=weighted)
    (ours,) = rating_metrics._RatingSumsPreprocessor(  # pylint: disable=protected-access
        key, eval_config).process(element)
    theirs = tfma_sums(element, key, eval_config)
    for field in ('weight', 'rating', 'prediction', 'squared_error'):
      assert getattr(ours, field) == pytest.approx(getattr(theirs, field))


def test_an_example_with_more_predictions_than_labels_is_named():
  element = metric_types.StandardMetricInputs(
      labels=np.array([4.0], np.float32),
      predictions=np.array([3.0, 2.0], np.float32))
  key = metric_types.MetricKey(name='_rating_sums')
  with pytest.raises(ValueError, match='1 labels but 2 predictions'):
    list(rating_metrics._RatingSumsPreprocessor(  # pylint: disable=protected-access
        key, None).process(element))
