"""Every feature name the pipeline uses, in one place.

Raw names are what ExampleGen writes (the TFDS MovieLens feature names); the
transformed names are what Transform computes and the model reads.
"""

from typing import Dict, Tuple


def transformed_name(key: str) -> str:
  """Name of the Transform output computed from raw feature `key`."""
  return f'{key}_xf'


# Raw features the ranking model is built on.
USER_ID_KEY = 'user_id'
MOVIE_TITLE_KEY = 'movie_title'
LABEL_KEY = 'user_rating'
TIMESTAMP_KEY = 'timestamp'

# Features the model embeds through a vocabulary built by Transform.
VOCABULARY_FEATURE_KEYS = (USER_ID_KEY, MOVIE_TITLE_KEY)

# Out-of-vocabulary buckets per vocabulary feature: unseen users and titles
# share one index past the end of the vocabulary.
NUM_OOV_BUCKETS = 1

# Side features ExampleGen keeps for later use (slicing, richer models), with
# the tf.Example kind each is written as. Which ones a source carries depends
# on the TFDS config (100k has all of them, 20m/25m none).
MOVIE_ID_KEY = 'movie_id'
GENRE_KEY = 'movie_genres'  # genre names, one value per genre
GENDER_KEY = 'user_gender'  # 1 for male, 0 for female, as TFDS encodes it
AGE_GROUP_SOURCE_KEY = 'bucketized_user_age'  # the age group's lower bound
AGE_SOURCE_KEY = 'raw_user_age'
OCCUPATION_LABEL_KEY = 'user_occupation_label'
OCCUPATION_TEXT_KEY = 'user_occupation_text'
ZIP_CODE_KEY = 'user_zip_code'
SIDE_FEATURE_KINDS: Dict[str, str] = {
    MOVIE_ID_KEY: 'bytes',
    GENRE_KEY: 'bytes',
    GENDER_KEY: 'int64',
    AGE_GROUP_SOURCE_KEY: 'float',
    AGE_SOURCE_KEY: 'float',
    OCCUPATION_LABEL_KEY: 'bytes',
    OCCUPATION_TEXT_KEY: 'bytes',
    ZIP_CODE_KEY: 'bytes',
}

# Kinds of the required features.
REQUIRED_FEATURE_KINDS: Dict[str, str] = {
    USER_ID_KEY: 'bytes',
    MOVIE_TITLE_KEY: 'bytes',
    LABEL_KEY: 'float',
}

# Columns a ratings CSV may carry beyond the required ones.
OPTIONAL_FEATURE_KINDS: Dict[str, str] = {
    TIMESTAMP_KEY: 'int64',
    **SIDE_FEATURE_KINDS,
}

# Slices the Evaluator reports RMSE on. The buckets are Transform outputs:
# ratings per user / per movie in the train split, and the MovieLens age
# groups (from `raw_user_age`, or TFDS's `bucketized_user_age` lower bounds).
USER_ACTIVITY_KEY = 'user_activity_bucket'
MOVIE_POPULARITY_KEY = 'movie_popularity_bucket'
USER_AGE_KEY = 'user_age_bucket'
USER_ACTIVITY_THRESHOLDS = (20, 50, 100, 200)  # ratings per user
MOVIE_POPULARITY_THRESHOLDS = (10, 50, 100, 250)  # ratings per movie
AGE_BOUNDARIES = (18, 25, 35, 45, 50, 56)
AGE_SOURCE_KEYS = (AGE_SOURCE_KEY, AGE_GROUP_SOURCE_KEY)
# The raw genres: one slice per genre.
SLICE_FEATURE_KEYS = (USER_ACTIVITY_KEY, MOVIE_POPULARITY_KEY, GENRE_KEY,
                      USER_AGE_KEY)

# Side features the tuned model embeds, as Transform writes them (each only
# when the data has the raw feature on every example). Integer ids; 0 is
# reserved for padding/missing where noted.
USER_OCCUPATION_KEY = 'user_occupation'  # vocabulary id, 1 OOV bucket
USER_ZIP_PREFIX_KEY = 'user_zip_prefix'  # vocabulary id of the zip's region
USER_GENDER_KEY = 'user_gender_id'  # 0 or 1, as TFDS encodes it
USER_AGE_GROUP_KEY = 'user_age_group'  # index of the MovieLens age group
MOVIE_GENRE_IDS_KEY = 'movie_genre_ids'  # [MAX_GENRES] ids + 1, 0 = padding
MOVIE_YEAR_KEY = 'movie_year_bucket'  # release-year bucket from the title
OCCUPATION_SOURCE_KEYS = (OCCUPATION_TEXT_KEY, OCCUPATION_LABEL_KEY)
ZIP_PREFIX_LENGTH = 2  # first digits of a US zip code: a region
MAX_GENRES = 8  # MovieLens movies have at most 6 genres in 100k
YEAR_BOUNDARIES = tuple(range(1930, 2030, 5))  # year buckets; 0 = unknown
# {transformed side feature: number of ids it can take}. Vocabulary-based
# ones are sized from Transform's output instead (None here).
SIDE_FEATURE_SIZES = {
    USER_OCCUPATION_KEY: None,
    USER_ZIP_PREFIX_KEY: None,
    USER_GENDER_KEY: 2,
    USER_AGE_GROUP_KEY: len(AGE_BOUNDARIES) + 1,
    MOVIE_GENRE_IDS_KEY: None,
    MOVIE_YEAR_KEY: len(YEAR_BOUNDARIES) + 2,
}
# The side features that describe the user; the others describe the movie.
USER_SIDE_FEATURE_KEYS = (USER_OCCUPATION_KEY, USER_ZIP_PREFIX_KEY,
                          USER_GENDER_KEY, USER_AGE_GROUP_KEY)

# {Transform output training reads: the raw features it may be computed
# from}: the Trainer parses only these from ExampleGen's examples and maps
# them through Transform's graph (Transform writes no transformed copy).
TRANSFORM_SOURCES: Dict[str, Tuple[str, ...]] = {
    transformed_name(USER_ID_KEY): (USER_ID_KEY,),
    transformed_name(MOVIE_TITLE_KEY): (MOVIE_TITLE_KEY,),
    LABEL_KEY: (LABEL_KEY,),
    USER_OCCUPATION_KEY: OCCUPATION_SOURCE_KEYS,
    USER_ZIP_PREFIX_KEY: (ZIP_CODE_KEY,),
    USER_GENDER_KEY: (GENDER_KEY,),
    USER_AGE_GROUP_KEY: AGE_SOURCE_KEYS,
    MOVIE_GENRE_IDS_KEY: (GENRE_KEY,),
    MOVIE_YEAR_KEY: (MOVIE_TITLE_KEY,),
}

# Every feature ExampleGen may write, with its tf.Example kind.
FEATURE_KINDS: Dict[str, str] = {**REQUIRED_FEATURE_KINDS,
                                 **OPTIONAL_FEATURE_KINDS}

# Name of the model's output in every serving signature.
PREDICTION_KEY = 'predicted_rating'


def bucket_labels(boundaries) -> list:
  """Readable names of the buckets that integer `boundaries` delimit."""
  labels = [f'<{boundaries[0]}']
  labels += [f'{lo}-{hi - 1}' for lo, hi in zip(boundaries, boundaries[1:])]
  return labels + [f'{boundaries[-1]}+']


def vocabulary_name(key: str) -> str:
  """Name of the vocabulary file Transform writes for raw feature `key`."""
  return f'{key}_vocabulary'
