"""The TFRS "Recommending movies: ranking" notebook as a plain script.

The tutorial's code (https://www.tensorflow.org/recommenders/examples/basic_ranking),
unchanged but for timing and output: same data loading, seeded 80/20 shuffle
split, StringLookup + 32-d embeddings, MLP 256-64-1, Adagrad 0.1, batch 8192,
3 epochs. The benchmark runs it in its own process:

  python -m bench.tutorial_notebook --data-dir DIR [--manual-dir DIR]
      --export-dir DIR --output result.json
"""

import argparse
import json
import os
import time
from typing import Dict, List, Optional

START = time.monotonic()

import numpy as np  # pylint: disable=g-import-not-at-top,wrong-import-position
import tensorflow as tf
import tensorflow_datasets as tfds
import tensorflow_recommenders as tfrs

TUTORIAL_TITLES = ('M*A*S*H (1970)', 'Dances with Wolves (1990)',
                   'Speed (1994)')


def load_ratings(data_dir: Optional[str], manual_dir: Optional[str]):
  """The tutorial's `tfds.load`, offline when `manual_dir` holds the zip."""
  ratings = tfds.load(
      'movielens/100k-ratings', split='train', data_dir=data_dir,
      download_and_prepare_kwargs={
          'download_config': tfds.download.DownloadConfig(
              manual_dir=manual_dir)})
  return ratings.map(lambda x: {
      'movie_title': x['movie_title'],
      'user_id': x['user_id'],
      'user_rating': x['user_rating'],
  })


class RankingModel(tf.keras.Model):
  """The tutorial's RankingModel."""

  def __init__(self, unique_user_ids: np.ndarray,
               unique_movie_titles: np.ndarray):
    super().__init__()
    embedding_dimension = 32
    self.user_embeddings = tf.keras.Sequential([
        tf.keras.layers.StringLookup(
            vocabulary=unique_user_ids, mask_token=None),
        tf.keras.layers.Embedding(len(unique_user_ids) + 1,
                                  embedding_dimension)
    ])
    self.movie_embeddings = tf.keras.Sequential([
        tf.keras.layers.StringLookup(
            vocabulary=unique_movie_titles, mask_token=None),
        tf.keras.layers.Embedding(len(unique_movie_titles) + 1,
                                  embedding_dimension)
    ])
    self.ratings = tf.keras.Sequential([
        tf.keras.layers.Dense(256, activation='relu'),
        tf.keras.layers.Dense(64, activation='relu'),
        tf.keras.layers.Dense(1)
    ])

  def call(self, inputs):
    user_id, movie_title = inputs
    user_embedding = self.user_embeddings(user_id)
    movie_embedding = self.movie_embeddings(movie_title)
    return self.ratings(tf.concat([user_embedding, movie_embedding], axis=1))


class MovielensModel(tfrs.models.Model):
  """The tutorial's MovielensModel."""

  def __init__(self, unique_user_ids: np.ndarray,
               unique_movie_titles: np.ndarray):
    super().__init__()
    self.ranking_model = RankingModel(unique_user_ids, unique_movie_titles)
    self.task = tfrs.tasks.Ranking(
        loss=tf.keras.losses.MeanSquaredError(),
        metrics=[tf.keras.metrics.RootMeanSquaredError()])

  def call(self, features: Dict[str, tf.Tensor]) -> tf.Tensor:
    return self.ranking_model((features['user_id'], features['movie_title']))

  def compute_loss(self, features: Dict[str, tf.Tensor],
                   training=False) -> tf.Tensor:
    labels = features.pop('user_rating')
    rating_predictions = self(features)
    return self.task(labels=labels, predictions=rating_predictions)


def run(data_dir: Optional[str], manual_dir: Optional[str],
        export_dir: str) -> Dict[str, object]:
  """The notebook, cell by cell; returns its figures."""
  seconds = {'import': time.monotonic() - START}
  mark = time.monotonic()
  ratings = load_ratings(data_dir, manual_dir)
  seconds['load'] = time.monotonic() - mark

  mark = time.monotonic()
  tf.random.set_seed(42)
  shuffled = ratings.shuffle(100_000, seed=42, reshuffle_each_iteration=False)
  train = shuffled.take(80_000)
  test = shuffled.skip(80_000).take(20_000)
  movie_titles = ratings.batch(1_000_000).map(lambda x: x['movie_title'])
  user_ids = ratings.batch(1_000_000).map(lambda x: x['user_id'])
  unique_movie_titles = np.unique(np.concatenate(list(movie_titles)))
  unique_user_ids = np.unique(np.concatenate(list(user_ids)))
  seconds['vocabulary'] = time.monotonic() - mark

  model = MovielensModel(unique_user_ids, unique_movie_titles)
  model.compile(optimizer=tf.keras.optimizers.Adagrad(learning_rate=0.1))
  cached_train = train.shuffle(100_000).batch(8192).cache()
  cached_test = test.batch(4096).cache()
  epochs = 3
  mark = time.monotonic()
  model.fit(cached_train, epochs=epochs, verbose=0)
  seconds['fit'] = time.monotonic() - mark

  mark = time.monotonic()
  metrics = model.evaluate(cached_test, return_dict=True, verbose=0)
  seconds['evaluate'] = time.monotonic() - mark

  scores = {}
  for title in TUTORIAL_TITLES:
    scores[title] = float(model({
        'user_id': np.array(['42']),
        'movie_title': np.array([title])
    })[0, 0])

  mark = time.monotonic()
  tf.saved_model.save(model, export_dir)
  loaded = tf.saved_model.load(export_dir)
  loaded({'user_id': np.array(['42']), 'movie_title': ['Speed (1994)']})
  seconds['export'] = time.monotonic() - mark
  seconds['total'] = time.monotonic() - START
  train_examples = 80_000
  return {
      'rmse': float(metrics['root_mean_squared_error']),
      'train_examples': train_examples,
      'eval_examples': 20_000,
      'fit_examples_per_second': epochs * train_examples / seconds['fit'],
      'seconds': seconds,
      'user_42_scores': scores,
      'vocabulary_sizes': {'user_id': len(unique_user_ids),
                           'movie_title': len(unique_movie_titles)},
  }


def main(argv: Optional[List[str]] = None) -> None:
  parser = argparse.ArgumentParser(description=__doc__)
  parser.add_argument('--data-dir', default=None,
                      help='TFDS data dir (a fresh one makes a cold run)')
  parser.add_argument('--manual-dir',
                      default=os.environ.get('MOVIELENS_MANUAL_DIR'))
  parser.add_argument('--export-dir', required=True)
  parser.add_argument('--output', required=True, help='JSON result file')
  args = parser.parse_args(argv)
  result = run(args.data_dir, args.manual_dir, args.export_dir)
  with open(args.output, 'w') as f:
    json.dump(result, f, indent=2)
  print(json.dumps(result, indent=2))


if __name__ == '__main__':
  main()
