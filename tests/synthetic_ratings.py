"""Small MovieLens-shaped ratings the tests generate themselves.

Ratings come from latent user and movie factors plus noise, so a model can
learn them; user ids are numeric-looking strings ("1", "2", ...) as in
MovieLens, which catches any step that would infer them as integers.
"""

import csv
from typing import List

import numpy as np

GENRES = ['Action', 'Comedy', 'Drama', 'Romance', 'Thriller']
# (user_occupation_text, user_occupation_label), as MovieLens 100k pairs them.
OCCUPATIONS = [('engineer', 'technician/engineer'), ('student', 'student'),
               ('writer', 'writer'), ('doctor', 'doctor/health care')]
AGE_GROUPS = (1, 18, 25, 35, 45, 50, 56)
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
  # Every user and movie rates/gets rated at least once, the rest at random.
  users = np.concatenate([np.arange(num_users), rng.integers(
      0, num_users, size=num_ratings - num_users)])
  movies = np.concatenate([np.arange(num_movies), rng.integers(
      0, num_movies, size=num_ratings - num_movies)])
  rng.shuffle(movies)
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
