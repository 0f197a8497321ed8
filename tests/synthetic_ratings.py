"""Small MovieLens-shaped ratings the tests generate themselves.

Ratings come from latent user and movie factors plus noise, so a model can
learn them. Who rates what has a planted structure too, as in real data:
users and movies belong to taste groups, and a user picks a movie of their
own group TASTE_AFFINITY times as often as another, and low-numbered movies
more often than high-numbered ones (a long tail), so the most popular list
is a fair reference and a retrieval model can learn to beat it. User ids are numeric-looking
strings ("1", "2", ...) as in MovieLens, which catches any step that would
infer them as integers.
"""

import csv
from typing import List

import numpy as np

GENRES = ['Action', 'Comedy', 'Drama', 'Romance', 'Thriller']
# (user_occupation_text, user_occupation_label), as MovieLens 100k pairs them.
OCCUPATIONS = [('engineer', 'technician/engineer'), ('student', 'student'),
               ('writer', 'writer'), ('doctor', 'doctor/health care')]
AGE_GROUPS = (1, 18, 25, 35, 45, 50, 56)
TASTE_GROUPS = 6  # user u and movie m are in group u % 6 and m % 6
TASTE_AFFINITY = 20.0
# Every column of MovieLens 100k, so the data matches the repo's schema.
COLUMNS = ['user_id', 'movie_title', 'user_rating', 'timestamp', 'movie_id',
           'movie_genres', 'user_gender', 'bucketized_user_age',
           'raw_user_age', 'user_occupation_text', 'user_occupation_label',
           'user_zip_code']


def movie_titles(num_movies: int) -> List[str]:
  """Titles shaped like MovieLens's, with a comma in some."""
  return [f'Movie {i}, The ({1950 + i % 50})' if i % 7 == 0 else
          f'Movie {i} ({1950 + i % 50})' for i in range(num_movies)]


def write_ratings_csv(path: str, num_ratings: int = 3000,
                      num_users: int = 120, num_movies: int = 150,
                      seed: int = 0) -> str:
  """Writes a ratings CSV with every column ExampleGen knows; returns path."""
  rng = np.random.default_rng(seed)
  user_factors = rng.normal(0, 0.5, size=(num_users, 4))
  movie_factors = rng.normal(0, 0.5, size=(num_movies, 4))
  user_bias = rng.normal(0, 0.6, size=num_users)
  movie_bias = rng.normal(0, 0.6, size=num_movies)
  titles = movie_titles(num_movies)
  # Every user and movie rates/gets rated at least once, the rest at random
  # by taste group.
  users = np.concatenate([np.arange(num_users), rng.integers(
      0, num_users, size=num_ratings - num_users)])
  rng.shuffle(users)
  affinity = np.where(
      np.arange(num_users)[:, None] % TASTE_GROUPS ==
      np.arange(num_movies)[None, :] % TASTE_GROUPS, TASTE_AFFINITY, 1.0
  ) / (1.0 + np.arange(num_movies) / 15.0)
  choice = affinity / affinity.sum(axis=1, keepdims=True)
  movies = np.array([rng.choice(num_movies, p=choice[u]) for u in users])
  movies[rng.choice(num_ratings, size=num_movies, replace=False)] = (
      np.arange(num_movies))
  with open(path, 'w', newline='') as f:
    writer = csv.writer(f)
    writer.writerow(COLUMNS)
    for user, movie in zip(users, movies):
      score = 3.4 + user_bias[user] + movie_bias[movie] + user_factors[user] @ movie_factors[
          movie] + rng.normal(0, 0.3)
      age = 18 + user % 50
      occupation_text, occupation_label = OCCUPATIONS[user % len(OCCUPATIONS)]
      writer.writerow([
          str(user + 1), titles[movie], float(np.clip(np.rint(score), 1, 5)),
          874_000_000 + int(rng.integers(0, 10_000_000)), str(movie + 1),
          '|'.join(GENRES[g] for g in sorted({movie % 5, (movie // 5) % 5})),
          int(user % 2),
          float(max(g for g in AGE_GROUPS if g <= age)), float(age),
          occupation_text, occupation_label, f'{10000 + user * 37:05d}',
      ])
  return path
