"""Serving speed of a SavedModel through the tutorial's call, and of the
bundle's `recommend` signature.

  python -m bench.serving --model DIR --vocab-model DIR --output result.json
  python -m bench.serving --recommend --model DIR --output result.json

Throughput: predictions/s of `loaded({'user_id': ..., 'movie_title': ...})`
on batches of 4096 known (user, title) pairs. Latency: p50/p99 of one-pair
calls. `--vocab-model` is a pipeline export (it has `vocabularies()`); its
users and titles are the pairs sent to `--model`, so two models are timed on
the same requests.

--recommend: p50/p99 latency of one known user, k=10, and users/s at batches
of 256, through the `recommend` signature; and p50/p99 latency of one person
giving 20 ratings (random known titles and ratings), k=10, through
`recommend_from_ratings`.
"""

import argparse
import json
import time
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf


def request_pairs(vocab_model: str, count: int,
                  seed: int = 0) -> Dict[str, np.ndarray]:
  """`count` random (user, title) pairs from a pipeline export's vocabularies."""
  vocabularies = tf.saved_model.load(vocab_model).vocabularies()
  rng = np.random.default_rng(seed)
  return {key: rng.choice(values.numpy(), size=count)
          for key, values in vocabularies.items()}


def measure(model_dir: str, pairs: Dict[str, np.ndarray],
            batch_size: int = 4096, seconds: float = 5.0,
            single_calls: int = 500) -> Dict[str, float]:
  """Throughput at `batch_size` for ~`seconds`, then single-call latency."""
  loaded = tf.saved_model.load(model_dir)
  batch = {key: tf.constant(values[:batch_size])
           for key, values in pairs.items()}
  for _ in range(3):  # warm-up: first calls build kernels and caches
    loaded(batch)
  calls, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    loaded(batch).numpy()
    calls += 1
  throughput = calls * batch_size / (time.perf_counter() - start)

  singles = [{key: tf.constant(values[i:i + 1])
              for key, values in pairs.items()} for i in range(single_calls)]
  loaded(singles[0])
  latencies = []
  for request in singles:
    mark = time.perf_counter()
    loaded(request).numpy()
    latencies.append(time.perf_counter() - mark)
  return {
      'batch_size': batch_size,
      'predictions_per_second': throughput,
      'latency_p50_ms': float(np.percentile(latencies, 50) * 1000),
      'latency_p99_ms': float(np.percentile(latencies, 99) * 1000),
  }


def measure_recommend(model_dir: str, k: int = 10, batch_size: int = 256,
                      seconds: float = 5.0, single_calls: int = 500,
                      seed: int = 0) -> Dict[str, float]:
  """`recommend` on known users: one-user latency and batch throughput."""
  loaded = tf.saved_model.load(model_dir)
  recommend = loaded.signatures['recommend']
  users = loaded.vocabularies()['user_id'].numpy()
  rng = np.random.default_rng(seed)
  k = tf.constant(k, tf.int32)
  batch = tf.constant(rng.choice(users, size=batch_size))
  for _ in range(3):  # warm-up
    recommend(user_id=batch, k=k)
  calls, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    recommend(user_id=batch, k=k)['movie_title'].numpy()
    calls += 1
  throughput = calls * batch_size / (time.perf_counter() - start)
  singles = [tf.constant(rng.choice(users, size=1))
             for _ in range(single_calls)]
  recommend(user_id=singles[0], k=k)
  latencies = []
  for request in singles:
    mark = time.perf_counter()
    recommend(user_id=request, k=k)['movie_title'].numpy()
    latencies.append(time.perf_counter() - mark)
  return {
      'catalog': int(loaded.vocabularies()['movie_title'].shape[0]),
      'batch_size': batch_size,
      'users_per_second': throughput,
      'latency_p50_ms': float(np.percentile(latencies, 50) * 1000),
      'latency_p99_ms': float(np.percentile(latencies, 99) * 1000),
      **measure_from_ratings(loaded, k, single_calls, rng),
  }


FROM_RATINGS_GIVEN = 20  # ratings one person gives in the latency test


def measure_from_ratings(loaded, k: tf.Tensor, calls: int,
                         rng: np.random.Generator) -> Dict[str, float]:
  """`recommend_from_ratings` for one person giving FROM_RATINGS_GIVEN
  ratings: p50/p99 latency (empty when the bundle lacks it)."""
  if 'recommend_from_ratings' not in loaded.signatures:
    return {}
  function = loaded.signatures['recommend_from_ratings']
  titles = loaded.vocabularies()['movie_title'].numpy()
  requests = [
      (tf.constant([rng.choice(titles, FROM_RATINGS_GIVEN, replace=False)]),
       tf.constant([rng.integers(1, 6, FROM_RATINGS_GIVEN)], tf.float32))
      for _ in range(calls)]
  function(movie_title=requests[0][0], user_rating=requests[0][1], k=k)
  latencies = []
  for given, ratings in requests:
    mark = time.perf_counter()
    function(movie_title=given, user_rating=ratings,
             k=k)['movie_title'].numpy()
    latencies.append(time.perf_counter() - mark)
  return {
      'from_ratings_given': FROM_RATINGS_GIVEN,
      'from_ratings_latency_p50_ms': float(np.percentile(latencies, 50) *
                                           1000),
      'from_ratings_latency_p99_ms': float(np.percentile(latencies, 99) *
                                           1000),
  }


def main(argv: Optional[List[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--model', required=True)
  parser.add_argument('--vocab-model', default=None,
                      help='required unless --recommend')
  parser.add_argument('--recommend', action='store_true',
                      help="time the bundle's recommend signature")
  parser.add_argument('--batch-size', type=int, default=4096)
  parser.add_argument('--seconds', type=float, default=5.0)
  parser.add_argument('--output', required=True)
  args = parser.parse_args(argv)
  if args.recommend:
    result = measure_recommend(args.model, seconds=args.seconds)
  elif not args.vocab_model:
    parser.error('--vocab-model is required (or --recommend)')
  else:
    pairs = request_pairs(args.vocab_model, max(args.batch_size, 500))
    result = measure(args.model, pairs, args.batch_size, args.seconds)
  with open(args.output, 'w') as f:
    json.dump(result, f, indent=2)
  print(json.dumps(result))


if __name__ == '__main__':
  main()
