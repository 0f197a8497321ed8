"""Scores movies for a user with the newest model the Pusher wrote.

  python -m pipeline.predict --model-dir runs/local/serving_model --user-id 42 \
      --movie-title "M*A*S*H (1970)" --movie-title "Speed (1994)"
  python -m pipeline.predict --model-dir runs/local/serving_model \
      --user-id 42 --top-k 10 --json

Unknown users or titles are still scored (through the out-of-vocabulary
bucket) and are reported as unknown.
"""

import pipeline  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)

import argparse
import json
import os
import sys
from typing import List, Optional, Set

DEFAULT_TOP_K = 10


def newest_version_dir(model_dir: str) -> str:
  """The highest numbered version folder the Pusher wrote under model_dir."""
  if not os.path.isdir(model_dir):
    raise FileNotFoundError(f'model dir {model_dir} does not exist')
  versions = [d for d in os.listdir(model_dir) if d.isdigit() and
              os.path.exists(os.path.join(model_dir, d, 'saved_model.pb'))]
  if not versions:
    raise FileNotFoundError(
        f'no pushed model version (a numbered folder with saved_model.pb) '
        f'under {model_dir}')
  return os.path.join(model_dir, max(versions, key=int))


def rank(model, user_id: str, titles: List[str],
         known_titles: Set[str]) -> List[dict]:
  """Predicted rating of each title for user_id, best first; titles not in
  `known_titles` (the model's vocabulary) are marked unknown."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  if not titles:
    return []
  scores = model({
      'user_id': np.array([user_id] * len(titles)),
      'movie_title': np.array(titles),
  }).numpy().reshape(-1)
  ranking = [{'movie_title': t, 'predicted_rating': float(s),
              'known': t in known_titles} for t, s in zip(titles, scores)]
  return sorted(ranking, key=lambda r: -r['predicted_rating'])


def predict(model_dir: str, user_id: str, titles: Optional[List[str]],
            top_k: Optional[int]) -> dict:
  """Loads the newest pushed model and ranks titles (or the whole vocabulary)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  version_dir = newest_version_dir(model_dir)
  model = tf.saved_model.load(version_dir)
  vocabularies = model.vocabularies()
  users = {u.decode() for u in vocabularies['user_id'].numpy()}
  every_title = [t.decode() for t in vocabularies['movie_title'].numpy()]
  ranking = rank(model, user_id, titles or every_title, set(every_title))
  if top_k:
    ranking = ranking[:top_k]
  return {
      'model_version': os.path.basename(version_dir),
      'model_path': version_dir,
      'user_id': user_id,
      'user_known': user_id in users,
      'ranking': ranking,
  }


def format_text(result: dict) -> str:
  """The ranking as lines a person reads."""
  user_note = '' if result['user_known'] else (
      ' (unknown user: scored as out-of-vocabulary)')
  lines = [f"model version {result['model_version']}; user "
           f"{result['user_id']}{user_note}"]
  for i, row in enumerate(result['ranking'], 1):
    unknown = '' if row['known'] else '  (unknown title)'
    lines.append(f"{i:3d}. {row['predicted_rating']:.3f}  "
                 f"{row['movie_title']}{unknown}")
  return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m pipeline.predict', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--model-dir', required=True,
                      help="the Pusher's destination (DIR/serving_model)")
  parser.add_argument('--user-id', required=True)
  parser.add_argument('--movie-title', action='append', default=[],
                      help='a title to score; repeatable')
  parser.add_argument('--top-k', type=int, default=None,
                      help='rank every known title and keep the best K '
                      f'(default {DEFAULT_TOP_K} when no title is given)')
  parser.add_argument('--json', action='store_true',
                      help='machine-readable output')
  args = parser.parse_args(argv)
  if args.top_k is not None and args.top_k < 1:
    parser.error('--top-k must be >= 1')
  top_k = args.top_k or (None if args.movie_title else DEFAULT_TOP_K)
  try:
    result = predict(args.model_dir, args.user_id, args.movie_title, top_k)
  except FileNotFoundError as error:
    print(f'error: {error}', file=sys.stderr)
    return 2
  print(json.dumps(result, indent=2) if args.json else format_text(result))
  return 0


if __name__ == '__main__':
  sys.exit(main())
