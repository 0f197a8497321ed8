"""How many passes over the ratings the retrieval model needs, on a hold-out
of the training data (never the eval split).

  python -m bench.retrieval_budget --run-dir runs/bench-scale/runs/5m \
      [--passes 0.25,0.5,1,2,3,5] [--batch-sizes 512,1024] \
      [--learning-rates 0.05,0.1] [--output result.json]

Reads a finished run's ExampleGen and Transform outputs (ML Metadata), then
trains the retrieval model as the Trainer does (trainer_module) on the
train split alone and, after each number of passes over it (fractions of
an epoch included), scores Recall@10 on the validation split with the
Evaluator's protocol: each validation user's top 10 of the catalog, their
train movies left out, relevant = validation ratings >= 4. Prints the
recall, the training seconds and examples/s at each point, for each batch
size and learning rate asked for (in-batch softmax: a larger batch gives
each user more negatives, and costs more per rating).
"""

import argparse
import json
import os
import time
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from components import movielens_example_gen
from components import names
from pipeline import run_summary
from trainer_module import features
from trainer_module import retrieval_model
from trainer_module import splits
from trainer_module import trainer
from trainer_module.hyperparameters import Hyperparameters

K = 10
MIN_RATING = 4.0
USER_BATCH = 2048  # users scored against the catalog at a time


def run_outputs(run_dir: str) -> Dict[str, str]:
  """The examples and transform graph URIs of the run's latest execution."""
  store = run_summary.open_store(os.path.join(run_dir, 'metadata.db'))
  runs = run_summary.component_runs(store, run_summary.latest_run_id(store))
  return {
      'examples': run_summary.output(runs, names.EXAMPLE_GEN,
                                     names.EXAMPLES).uri,
      'transform_graph': run_summary.output(runs, names.TRANSFORM,
                                            names.TRANSFORM_GRAPH).uri}


def load(examples_uri: str, split: str, parser: splits.SplitParser
         ) -> Dict[str, np.ndarray]:
  """A split's transformed user ids, movie ids and ratings."""
  data = splits.load_split(splits.split_files(
      [os.path.join(examples_uri, names.split_folder(split), '*')]), parser)
  return {key: data[key].numpy() for key in
          (splits.USER_KEY, splits.MOVIE_KEY, features.LABEL_KEY)}


def recall_at_k(model: Optional[retrieval_model.RetrievalModel],
                train: Dict[str, np.ndarray],
                held_out: Dict[str, np.ndarray], k: int = K) -> float:
  """Mean Recall@k over held-out users with a relevant movie (the
  Evaluator's protocol, on transformed ids), of the model's top k or,
  without a model, of the movies rated most often in train."""
  liked = held_out[features.LABEL_KEY] >= MIN_RATING
  users = np.unique(held_out[splits.USER_KEY][liked])
  relevant = {}
  for user, movie in zip(held_out[splits.USER_KEY][liked],
                         held_out[splits.MOVIE_KEY][liked]):
    relevant.setdefault(user, set()).add(movie)
  order = np.argsort(train[splits.USER_KEY], kind='stable')
  bounds = np.searchsorted(train[splits.USER_KEY][order], users), \
      np.searchsorted(train[splits.USER_KEY][order], users, side='right')
  popularity = np.bincount(train[splits.MOVIE_KEY]).astype(np.float32)
  recalls = []
  for start in range(0, len(users), USER_BATCH):
    batch = users[start:start + USER_BATCH]
    scores = (model.user_tower(tf.constant(batch)).numpy() @
              model.movie_tower.embeddings.numpy().T if model else
              np.tile(popularity, (len(batch), 1)))
    for row, user in enumerate(batch):
      i = start + row
      seen = train[splits.MOVIE_KEY][order[bounds[0][i]:bounds[1][i]]]
      scores[row, seen] = -np.inf
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    for row, user in enumerate(batch):
      hits = len(relevant[user].intersection(top[row].tolist()))
      recalls.append(hits / min(k, len(relevant[user])))
  return float(np.mean(recalls))


def measure(run_dir: str, passes: List[float],
            hparams: Hyperparameters) -> List[Dict[str, float]]:
  """Recall@10 on validation after each number of passes over train."""
  uris = run_outputs(run_dir)
  tf_transform_output = tft.TFTransformOutput(uris['transform_graph'])
  parser = splits.SplitParser(tf_transform_output,
                              [splits.USER_KEY, splits.MOVIE_KEY])
  train = load(uris['examples'], movielens_example_gen.TRAIN_SPLIT, parser)
  held_out = load(uris['examples'], movielens_example_gen.VALIDATION_SPLIT,
                  parser)
  tf.keras.utils.set_random_seed(hparams.seed)
  model = trainer.new_retrieval_model(tf_transform_output,
                                     train[splits.MOVIE_KEY], hparams)
  n = len(train[features.LABEL_KEY])
  data = {key: tf.constant(value) for key, value in train.items()}
  batches = splits.batches(data, [splits.USER_KEY, splits.MOVIE_KEY],
                           hparams.retrieval_batch_size, shuffle=True,
                           seed=hparams.seed).repeat()
  steps_per_pass = -(-n // hparams.retrieval_batch_size)
  popular = round(recall_at_k(None, train, held_out), 4)
  results, done_steps, seconds = [], 0, 0.0
  for point in sorted(passes):
    steps = int(round(point * steps_per_pass)) - done_steps
    if steps > 0:
      start = time.monotonic()
      model.fit(batches, steps_per_epoch=steps, epochs=1, verbose=0)
      seconds += time.monotonic() - start
      done_steps += steps
    examples = done_steps * hparams.retrieval_batch_size
    results.append({'batch_size': hparams.retrieval_batch_size,
                    'learning_rate': hparams.retrieval_learning_rate,
                    'passes': point, 'examples': examples,
                    'train_seconds': round(seconds, 1),
                    'examples_per_second': round(examples / seconds)
                    if seconds else None,
                    'most_popular_recall@10': popular,
                    'recall@10': round(recall_at_k(model, train, held_out),
                                       4)})
    print(json.dumps(results[-1]), flush=True)
  return results


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(prog='python -m bench.retrieval_budget',
                                   description=__doc__)
  parser.add_argument('--run-dir', required=True,
                      help='a finished pipeline run (its output dir)')
  parser.add_argument('--passes', default='0.25,0.5,1,2,3,5',
                      help='passes over train at which to score')
  parser.add_argument(
      '--batch-sizes', default=str(Hyperparameters().retrieval_batch_size),
      help="the retrieval model's batch sizes to measure, each from scratch")
  parser.add_argument(
      '--learning-rates',
      default=str(Hyperparameters().retrieval_learning_rate),
      help="the retrieval model's learning rates (Adagrad) to measure")
  parser.add_argument('--output', help='also write the results here (JSON)')
  args = parser.parse_args(argv)
  passes = [float(p) for p in args.passes.split(',')]
  results = [point for size in args.batch_sizes.split(',')
             for rate in args.learning_rates.split(',')
             for point in measure(args.run_dir, passes, Hyperparameters(
                 retrieval_batch_size=int(size),
                 retrieval_learning_rate=float(rate)))]
  if args.output:
    with open(args.output, 'w') as f:
      json.dump({'run_dir': args.run_dir, 'results': results}, f, indent=1)
  return 0


if __name__ == '__main__':
  raise SystemExit(main())
