"""Recommends or scores movies for a user with the newest pushed model.

  python -m pipeline.predict --model-dir runs/local/serving_model \
      --user-id 42 --top-k 10 [--include-rated] [--json]
  python -m pipeline.predict --model-dir runs/local/serving_model --user-id 42 \
      --movie-title "M*A*S*H (1970)" --movie-title "Speed (1994)"
  python -m pipeline.predict --model-dir runs/local/serving_model \
      --ratings "Star Wars (1977)=5,Fargo (1996)=4" [--top-k 10]
  python -m pipeline.predict --model-dir runs/local/serving_model \
      --ratings-csv my_ratings.csv    (columns movie_title,user_rating)

--top-k asks the bundle's `recommend` signature: retrieval over the whole
catalog, the movies the user rated left out (--include-rated keeps them),
re-scored by the rating model. --movie-title scores the given titles with the
rating model. Unknown users or titles are still answered (through the
out-of-vocabulary id) and are reported as unknown.

--ratings / --ratings-csv recommend for anyone, known to the model or not,
from the ratings they give now, through the bundle's
`recommend_from_ratings` signature: the given titles never come back, and
titles the model does not know are ignored (and listed).
"""

import argparse
import csv
import json
import os
import re
import sys
from typing import List, Optional, Set, Tuple

from trainer_module import features

# What the served signatures call a title and a rating: the features' names.
TITLE = features.MOVIE_TITLE_KEY
RATING = features.LABEL_KEY

DEFAULT_TOP_K = 10
MAX_TOP_K = 100  # what `recommend` accepts
# What recommend_from_ratings accepts: ratings, and ratings per person.
MIN_RATING, MAX_RATING = 0.5, 5.0
MAX_GIVEN_RATINGS = 1000
# One "title=rating" of --ratings; titles may hold commas ("Usual
# Suspects, The (1995)"), so a pair ends at "=number" and a comma or the end.
_RATING_PAIR = re.compile(r'\s*(.+?)\s*=\s*([0-9]*\.?[0-9]+)\s*(?:,|$)')


def parse_ratings(text: str) -> List[Tuple[str, float]]:
  """'Star Wars (1977)=5,Fargo (1996)=4' -> [(title, rating), ...]; raises
  ValueError naming the part that is not a title=rating pair or a rating
  outside MIN_RATING..MAX_RATING."""
  pairs, position = [], 0
  while position < len(text):
    match = _RATING_PAIR.match(text, position)
    if not match:
      raise ValueError(f'--ratings: {text[position:]!r} is not '
                       '"title=rating[,title=rating...]"')
    pairs.append((match.group(1), float(match.group(2))))
    position = match.end()
  return check_ratings(pairs, '--ratings')


def check_ratings(pairs: List[Tuple[str, float]], source: str
                  ) -> List[Tuple[str, float]]:
  """The pairs, or ValueError naming the first rating out of range (or
  too many ratings)."""
  if not pairs:
    raise ValueError(f'{source}: no ratings given')
  if len(pairs) > MAX_GIVEN_RATINGS:
    raise ValueError(f'{source}: {len(pairs)} ratings; at most '
                     f'{MAX_GIVEN_RATINGS} are taken')
  for title, rating in pairs:
    if not MIN_RATING <= rating <= MAX_RATING:
      raise ValueError(f'{source}: the rating of {title!r} is {rating:g}; '
                       f'ratings are {MIN_RATING:g}..{MAX_RATING:g}')
  return pairs


def read_ratings_csv(path: str) -> List[Tuple[str, float]]:
  """(title, rating) rows of a CSV with columns movie_title,user_rating."""
  if not os.path.isfile(path):
    raise FileNotFoundError(f'--ratings-csv {path} does not exist')
  with open(path, newline='', encoding='utf-8-sig') as f:
    reader = csv.DictReader(f)
    missing = {TITLE, RATING} - set(reader.fieldnames or ())
    if missing:
      raise ValueError(f'{path}: needs the columns movie_title,user_rating '
                       f'(missing {sorted(missing)})')
    pairs = []
    for line, row in enumerate(reader, start=2):
      try:
        pairs.append((row[TITLE], float(row[RATING])))
      except (TypeError, ValueError):
        raise ValueError(f'{path}: line {line}: bad user_rating '
                         f'{row["user_rating"]!r}') from None
  return check_ratings(pairs, path)


def recommend_from_ratings(model, ratings: List[Tuple[str, float]],
                           top_k: int) -> Tuple[List[dict], int]:
  """(the bundle's top_k titles for a person who gave `ratings`, best
  first; how many of the given titles the model knows)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  name = 'recommend_from_ratings'
  if name not in model.signatures:
    raise ValueError(f'this model has no {name!r} signature: it was pushed '
                     'before new users were served; run the pipeline again')
  out = model.signatures[name](
      movie_title=tf.constant([[title for title, _ in ratings]]),
      user_rating=tf.constant([[rating for _, rating in ratings]],
                              tf.float32),
      k=tf.constant(top_k, tf.int32))
  ranking = [{TITLE: title.decode(), 'score': float(score),
              'known': True}
             for title, score in zip(out[TITLE].numpy()[0],
                                     out['score'].numpy()[0]) if title]
  return ranking, int(out['known_ratings'].numpy()[0])


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
      TITLE: np.array(titles),
  }).numpy().reshape(-1)
  ranking = [{TITLE: t, 'predicted_rating': float(s),
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
  ranking = [{TITLE: title.decode(), 'score': float(score),
              'predicted_rating': float(rating), 'known': True}
             for title, score, rating in zip(
                 out[TITLE].numpy()[0], out['score'].numpy()[0],
                 out['predicted_rating'].numpy()[0]) if title]
  return ranking, bool(out['user_known'].numpy()[0])


def predict(model_dir: str, user_id: Optional[str],
            titles: Optional[List[str]], top_k: Optional[int],
            include_rated: bool = False,
            ratings: Optional[List[Tuple[str, float]]] = None) -> dict:
  """Loads the newest pushed model; recommends top_k titles (from the
  `ratings` given, when given), or scores the given titles."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  version_dir = newest_version_dir(model_dir)
  model = tf.saved_model.load(version_dir)
  vocabularies = model.vocabularies()
  if ratings:
    ranking, known = recommend_from_ratings(model, ratings, top_k)
    every_title = {t.decode() for t in vocabularies[TITLE].numpy()}
    return {
        'model_version': os.path.basename(version_dir),
        'model_path': version_dir,
        'given_ratings': len(ratings),
        'known_ratings': known,
        'unknown_titles': [t for t, _ in ratings if t not in every_title],
        'ranking': ranking,
    }
  if titles:
    every_title = {t.decode() for t in vocabularies[TITLE].numpy()}
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
  if 'given_ratings' in result:
    lines = [f"model version {result['model_version']}; from "
             f"{result['given_ratings']} ratings given, "
             f"{result['known_ratings']} of titles the model knows"]
    lines += [f'  unknown title, ignored: {title}'
              for title in result['unknown_titles']]
  else:
    user_note = '' if result['user_known'] else (
        ' (unknown user: answered as the out-of-vocabulary user)')
    lines = [f"model version {result['model_version']}; user "
             f"{result['user_id']}{user_note}"]
  for i, row in enumerate(result['ranking'], 1):
    unknown = '' if row['known'] else '  (unknown title)'
    score = f"score {row['score']:.3f}" if 'score' in row else ''
    rating = (f"rating {row['predicted_rating']:.3f}"
              if 'predicted_rating' in row else '')
    lines.append(f"{i:3d}. {', '.join(filter(None, (score, rating)))}  "
                 f"{row[TITLE]}{unknown}")
  return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m pipeline.predict', description=__doc__,
      formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument('--model-dir', required=True,
                      help="the Pusher's destination (DIR/serving_model)")
  parser.add_argument('--user-id',
                      help='a user the model knows by id (or not)')
  parser.add_argument('--ratings',
                      help='recommend from these ratings instead: '
                      '"title=rating,title=rating" (ratings 0.5..5)')
  parser.add_argument('--ratings-csv',
                      help='recommend from the ratings of a CSV file with '
                      'columns movie_title,user_rating')
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
  given = [name for name in ('user_id', 'ratings', 'ratings_csv')
           if getattr(args, name) is not None]
  if len(given) != 1:
    parser.error('give one of --user-id, --ratings or --ratings-csv')
  if args.movie_title and not args.user_id:
    parser.error('--movie-title needs --user-id')
  top_k = args.top_k or (None if args.movie_title else DEFAULT_TOP_K)
  try:
    ratings = (parse_ratings(args.ratings) if args.ratings is not None else
               read_ratings_csv(args.ratings_csv) if args.ratings_csv
               else None)
  except (FileNotFoundError, ValueError) as error:
    parser.error(str(error))
  try:
    result = predict(args.model_dir, args.user_id, args.movie_title, top_k,
                     args.include_rated, ratings)
  except (FileNotFoundError, ValueError) as error:
    print(f'error: {error}', file=sys.stderr)
    return 2
  print(json.dumps(result, indent=2) if args.json else format_text(result))
  return 0


if __name__ == '__main__':
  sys.exit(main())
