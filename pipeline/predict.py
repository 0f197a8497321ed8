"""Recommends or scores movies for a user with the newest pushed model.

  python -m pipeline.predict --model-dir runs/local/serving_model \
      --user-id 42 --top-k 10 [--include-rated] [--json]
  python -m pipeline.predict --model-dir runs/local/serving_model --user-id 42 \
      --movie-title "M*A*S*H (1970)" --movie-title "Speed (1994)"

--top-k asks the bundle's `recommend` signature: retrieval over the whole
catalog, the movies the user rated left out (--include-rated keeps them),
re-scored by the rating model. --movie-title scores the given titles with the
rating model. Unknown users or titles are still answered (through the
out-of-vocabulary id) and are reported as unknown.
"""

import pipeline  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow)

import argparse
import json
import os
import sys
from typing import List, Optional, Set, Tuple

DEFAULT_TOP_K = 10
MAX_TOP_K = 100  # what `recommend` accepts


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


def recommend(model, user_id: str, top_k: int,
              include_rated: bool) -> Tuple[List[dict], bool]:
  """(the bundle's top_k titles for user_id, best first; whether the user
  is known), through its `recommend` signature."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  name = 'recommend_including_rated' if include_rated else 'recommend'
  if name not in model.signatures:
    raise ValueError(f'this model has no {name!r} signature: it was pushed '
                     'before the retrieval stage existed; run the pipeline '
                     'again')
  signature = model.signatures[name]
  out = signature(user_id=tf.constant([user_id]),
                  k=tf.constant(top_k, tf.int32))
  ranking = [{'movie_title': title.decode(), 'score': float(score),
              'predicted_rating': float(rating), 'known': True}
             for title, score, rating in zip(
                 out['movie_title'].numpy()[0], out['score'].numpy()[0],
                 out['predicted_rating'].numpy()[0]) if title]
  return ranking, bool(out['user_known'].numpy()[0])


def predict(model_dir: str, user_id: str, titles: Optional[List[str]],
            top_k: Optional[int], include_rated: bool = False) -> dict:
  """Loads the newest pushed model; recommends top_k titles, or scores the
  given ones."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  version_dir = newest_version_dir(model_dir)
  model = tf.saved_model.load(version_dir)
  vocabularies = model.vocabularies()
  if titles:
    every_title = {t.decode() for t in vocabularies['movie_title'].numpy()}
    ranking = rank(model, user_id, titles, every_title)[:top_k]
    user_known = user_id.encode() in set(
        vocabularies['user_id'].numpy().tolist())
  else:
    ranking, user_known = recommend(model, user_id, top_k, include_rated)
  return {
      'model_version': os.path.basename(version_dir),
      'model_path': version_dir,
      'user_id': user_id,
      'user_known': user_known,
      'ranking': ranking,
  }


def format_text(result: dict) -> str:
  """The ranking as lines a person reads."""
  user_note = '' if result['user_known'] else (
      ' (unknown user: answered as the out-of-vocabulary user)')
  lines = [f"model version {result['model_version']}; user "
           f"{result['user_id']}{user_note}"]
  for i, row in enumerate(result['ranking'], 1):
    unknown = '' if row['known'] else '  (unknown title)'
    score = f"score {row['score']:.3f}, " if 'score' in row else ''
    lines.append(f"{i:3d}. {score}rating {row['predicted_rating']:.3f}  "
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
                      help='recommend the best K movies of the catalog '
                      f'(default {DEFAULT_TOP_K} when no title is given; at '
                      'most 100)')
  parser.add_argument('--include-rated', action='store_true',
                      help='--top-k: keep the movies the user rated')
  parser.add_argument('--json', action='store_true',
                      help='machine-readable output')
  args = parser.parse_args(argv)
  if args.top_k is not None and not 1 <= args.top_k <= MAX_TOP_K:
    parser.error(f'--top-k must be between 1 and {MAX_TOP_K}')
  top_k = args.top_k or (None if args.movie_title else DEFAULT_TOP_K)
  try:
    result = predict(args.model_dir, args.user_id, args.movie_title, top_k,
                     args.include_rated)
  except (FileNotFoundError, ValueError) as error:
    print(f'error: {error}', file=sys.stderr)
    return 2
  print(json.dumps(result, indent=2) if args.json else format_text(result))
  return 0


if __name__ == '__main__':
  sys.exit(main())
