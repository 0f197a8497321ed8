"""The served bundle: what the Trainer exports and the Pusher pushes.

It carries the Transform graph and its vocabularies, so it scores raw
strings and needs no file outside the SavedModel:

  loaded = tf.saved_model.load(path)
  loaded({'user_id': np.array(['42']), 'movie_title': ['Speed (1994)']})
  # -> float tensor [1, 1]

Signatures: `serving_default` (raw `user_id`, `movie_title` strings),
`serving_tf_example` (serialized tf.Examples, used by the Evaluator),
`transform_features` (serialized tf.Examples -> transformed features) and
the two-stage recommender: `recommend` (a user's top k unrated movies),
`recommend_including_rated` and `retrieve` (the retrieval stage alone); and
`recommend_from_ratings` (anyone's top k from the ratings they give in the
request: a new user, without a retrain).
"""

from typing import Dict, List

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import features
from trainer_module.ranking_models import MovieLensModel
from trainer_module.retrieval_model import RetrievalModel
from trainer_module.splits import MOVIE_KEY
from trainer_module.splits import USER_KEY

MAX_K = 100  # recommend's k is 1..min(MAX_K, retrieval candidates)
RECOMMEND_SIGNATURE = [tf.TensorSpec([None], tf.string, name='user_id'),
                       tf.TensorSpec([], tf.int32, name='k')]


class KerasObjects:
  """Keras layers and models a served module calls, held out of its
  SavedModel's object graph (a plain object: tf.Module tracks only
  trackables). tf_keras saves every layer it finds there with its own
  traced call functions, and a model's optimizer, which every load restores
  again (TFMA, the Evaluator, the report, every server): MovieLens 100k's
  bundle had 171 functions and 409 objects, 135 and 224 without them. The
  exported module tracks their variables instead
  (`ServingModule.track_keras_variables`)."""

  def __init__(self, **objects: tf.Module):
    self.__dict__.update(objects)


def keras_variables(*holders: KerasObjects) -> List[tf.Variable]:
  """Every variable of the holders' Keras objects, each once."""
  unique = {}
  for holder in holders:
    for keras_object in holder.__dict__.values():
      for variable in keras_object.variables:
        unique.setdefault(id(variable), variable)
  return list(unique.values())


class Recommender(tf.Module):
  """Two stages over the movie vocabulary, in the graph.

  Retrieval: the user tower's embedding against every known movie's
  embedding (brute force, as tfrs.layers.factorized_top_k.BruteForce),
  plus `popularity_weight` * log of the movie's share of the training
  ratings (an extra dimension the query meets with 1); the movies the user
  rated in the train split (a ragged table kept in the model) are masked
  out before the top `candidates` are taken. (BruteForce's
  query_with_exclusions fetches k + the widest history instead: with a few
  thousand ratings in a batch, that top-k costs more than the scores.)
  Ranking: each candidate is re-scored as retrieval score + `rerank_weight`
  * the rating model's predicted rating, and the best k are returned.
  """

  def __init__(self, retrieval: RetrievalModel, ranking: MovieLensModel,
               num_movies: int, rated: tf.RaggedTensor, candidates: int,
               rerank_weight: float, popularity_weight: float):
    super().__init__()
    movie_ids = tf.range(num_movies, dtype=tf.int64)  # the OOV id left out
    self.movie_vectors = tf.Variable(tf.concat([
        retrieval.movie_tower(movie_ids),
        retrieval.popularity_prior(popularity_weight, num_movies)[:, None]],
                                               axis=1), trainable=False,
                                     name='movie_vectors')
    self.keras = KerasObjects(user_tower=retrieval.user_tower,
                              ranking=ranking)
    self.num_movies = num_movies
    self.candidates = min(candidates, num_movies)
    self.max_k = min(MAX_K, self.candidates)
    self.rerank_weight = rerank_weight
    self.rated_values = tf.Variable(tf.cast(rated.values, tf.int32),
                                    trainable=False, name='rated_movies')
    self.rated_row_splits = tf.Variable(rated.row_splits, trainable=False,
                                        name='rated_movies_row_splits')

  def _check_k(self, k: tf.Tensor) -> tf.Tensor:
    """k, or an InvalidArgumentError that says the allowed range."""
    message = f'k must be between 1 and {self.max_k}'
    with tf.control_dependencies([
        tf.debugging.assert_greater_equal(k, 1, message=message),
        tf.debugging.assert_less_equal(k, self.max_k, message=message)]):
      return tf.identity(k)

  def _retrieve(self, users: tf.Tensor, exclude_rated: bool):
    """(retrieval scores, movie ids), each [batch, candidates], best first;
    excluded movies (if the catalog runs out) score -inf."""
    queries = self.keras.user_tower(users)
    scores = tf.matmul(tf.concat([queries, tf.ones_like(queries[:, :1])],
                                 axis=1), self.movie_vectors, transpose_b=True)
    if exclude_rated:
      rated = tf.gather(tf.RaggedTensor.from_row_splits(
          self.rated_values, self.rated_row_splits, validate=False), users)
      cells = tf.stack([rated.value_rowids(),
                        tf.cast(rated.flat_values, tf.int64)], axis=1)
      excluded = tf.scatter_nd(
          cells, tf.ones_like(rated.flat_values),
          tf.stack([tf.size(users, out_type=tf.int64),
                    tf.constant(self.num_movies, tf.int64)])) > 0
      scores = tf.where(excluded, tf.constant(-np.inf, tf.float32), scores)
    scores, ids = tf.math.top_k(scores, k=self.candidates)
    return scores, tf.cast(ids, tf.int64)

  def top_k(self, users: tf.Tensor, k: tf.Tensor, exclude_rated: bool,
            rerank: bool) -> Dict[str, tf.Tensor]:
    """The best k movie ids [batch, k] with their score and predicted
    rating, for transformed user ids [batch]."""
    k = self._check_k(k)
    scores, ids = self._retrieve(users, exclude_rated)
    batch = tf.shape(ids)[0]
    ratings = tf.reshape(self.keras.ranking({
        USER_KEY: tf.repeat(users, self.candidates),
        MOVIE_KEY: tf.reshape(ids, [-1])}), [batch, self.candidates])
    if rerank:
      scores = scores + self.rerank_weight * ratings
    scores, best = tf.math.top_k(scores, k=k)
    return {'ids': tf.gather(ids, best, batch_dims=1), 'score': scores,
            features.PREDICTION_KEY: tf.gather(ratings, best, batch_dims=1)}

# recommend_from_ratings: the given ratings a request may hold per person
# (n), and the ratings allowed (MovieLens's scale).
MAX_GIVEN_RATINGS = 1000
MIN_RATING, MAX_RATING = 0.5, 5.0
FROM_RATINGS_SIGNATURE = [
    tf.TensorSpec([None, None], tf.string, name=features.MOVIE_TITLE_KEY),
    tf.TensorSpec([None, None], tf.float32, name=features.LABEL_KEY),
    tf.TensorSpec([], tf.int32, name='k')]


class FromRatings(tf.Module):
  """Top k for a person known only by the ratings they give at request
  time (a new user), in the graph, without a retrain.

  score(movie) = `retrieve`'s score for the out-of-vocabulary user (what
  most users watch) + 1 / sqrt(given) * sum over the given movies of
  [knn_weight * (rating - rating_center) * sim(given, movie)
   + next_weight * next(given, movie)], where sim is the item-kNN table
  (item_neighbors.neighbor_table) and next what known users went on to
  like after rating the given movie first (item_neighbors.next_table).
  Given movies are never returned.
  """

  def __init__(self, generic_scores: np.ndarray, neighbor_ids: np.ndarray,
               neighbor_sims: np.ndarray, knn_weight: float,
               rating_center: float, next_ids: np.ndarray,
               next_sims: np.ndarray, next_weight: float):
    """`generic_scores` [num_movies]; each table [num_movies + 1, width]
    (the last row: the out-of-vocabulary id, similarity 0)."""
    super().__init__()
    self.num_movies = len(generic_scores)
    self.max_k = min(MAX_K, self.num_movies)
    self.knn_weight = knn_weight
    self.rating_center = rating_center
    self.next_weight = next_weight
    self.generic = tf.Variable(generic_scores.astype(np.float32),
                               trainable=False, name='unknown_user_scores')
    self.neighbor_ids = tf.Variable(neighbor_ids.astype(np.int32),
                                    trainable=False, name='neighbor_ids')
    self.neighbor_sims = tf.Variable(neighbor_sims.astype(np.float32),
                                     trainable=False, name='neighbor_sims')
    self.next_ids = tf.Variable(next_ids.astype(np.int32), trainable=False,
                                name='next_ids')
    self.next_sims = tf.Variable(next_sims.astype(np.float32),
                                 trainable=False, name='next_sims')

  def _per_movie(self, rows: tf.Tensor, movies: tf.Tensor,
                 values: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
    """[batch, num_movies]: `values` summed into (row, movie) cells."""
    cells = rows * self.num_movies + movies
    return tf.reshape(tf.math.unsorted_segment_sum(
        tf.reshape(values, [-1]), tf.reshape(cells, [-1]),
        batch * self.num_movies), [batch, self.num_movies])

  def _spread(self, ids: tf.Variable, sims: tf.Variable, movies: tf.Tensor,
              weights: tf.Tensor, batch: tf.Tensor) -> tf.Tensor:
    """[batch, num_movies]: each given movie's row of a table, times its
    weight [batch, n], summed per person."""
    neighbors = tf.gather(ids, movies)  # [batch, n, width]
    values = tf.gather(sims, movies) * weights[:, :, None]
    rows = tf.broadcast_to(tf.range(batch)[:, None, None], tf.shape(neighbors))
    return self._per_movie(rows, neighbors, values, batch)

  def top_k(self, movies: tf.Tensor, ratings: tf.Tensor, k: tf.Tensor
            ) -> Dict[str, tf.Tensor]:
    """{'ids', 'score'} [batch, k] and 'known_ratings' [batch] for given
    movie ids [batch, n] (num_movies: unknown or padding, ignored) and their
    ratings [batch, n]."""
    batch = tf.shape(movies)[0]
    movies = tf.cast(movies, tf.int32)
    known = movies < self.num_movies
    given = tf.reduce_sum(tf.cast(known, tf.float32), axis=1)
    knn = self._spread(self.neighbor_ids, self.neighbor_sims, movies,
                       tf.where(known, ratings - self.rating_center, 0.0),
                       batch)
    liked_next = self._spread(self.next_ids, self.next_sims, movies,
                              tf.cast(known, tf.float32), batch)
    scale = 1.0 / tf.sqrt(tf.maximum(given, 1.0))
    scores = self.generic[None, :] + scale[:, None] * (
        self.knn_weight * knn + self.next_weight * liked_next)
    own = self._per_movie(
        tf.broadcast_to(tf.range(batch)[:, None], tf.shape(movies)),
        tf.minimum(movies, self.num_movies - 1), tf.cast(known, tf.float32),
        batch) > 0
    scores = tf.where(own, tf.constant(-np.inf, tf.float32), scores)
    scores, ids = tf.math.top_k(scores, k=k)
    return {'ids': ids, 'score': scores,
            'known_ratings': tf.cast(given, tf.int32)}


def check_given_ratings(titles: tf.Tensor, ratings: tf.Tensor, k: tf.Tensor,
                        max_k: int) -> List[tf.Operation]:
  """InvalidArgumentErrors that name the input at fault: shapes that differ,
  more than MAX_GIVEN_RATINGS per person, a rating of a given title outside
  MIN_RATING..MAX_RATING (NaN included), k outside 1..max_k."""
  k_message = f'k must be between 1 and {max_k}'
  rating_message = (f'{features.LABEL_KEY} must be between {MIN_RATING} and '
                    f'{MAX_RATING} for every non-empty '
                    f'{features.MOVIE_TITLE_KEY}')
  shape_check = tf.debugging.assert_equal(
      tf.shape(titles), tf.shape(ratings),
      message=f'{features.MOVIE_TITLE_KEY} and {features.LABEL_KEY} must '
      'have the same shape [batch, n]')
  with tf.control_dependencies([shape_check]):
    given = tf.not_equal(titles, '')
    return [
        tf.debugging.assert_less_equal(
            tf.shape(titles)[1], MAX_GIVEN_RATINGS,
            message=f'{features.MOVIE_TITLE_KEY} holds more than '
            f'{MAX_GIVEN_RATINGS} ratings per person'),
        tf.debugging.assert_greater_equal(
            tf.where(given, ratings, MIN_RATING), MIN_RATING,
            message=rating_message),
        tf.debugging.assert_less_equal(
            tf.where(given, ratings, MAX_RATING), MAX_RATING,
            message=rating_message),
        tf.debugging.assert_greater_equal(k, 1, message=k_message),
        tf.debugging.assert_less_equal(k, max_k, message=k_message)]


RAW_SERVING_FEATURE_KEYS = features.VOCABULARY_FEATURE_KEYS
# Raw string features, one value per example: what a client sends.
RAW_SIGNATURE = [{key: tf.TensorSpec([None], tf.string, name=key)
                  for key in RAW_SERVING_FEATURE_KEYS}]


class ServingModule(tf.Module):
  """What the Trainer exports: Transform layer + ranking model.

  Holding the Transform layer makes its graph and vocabulary files part of
  the SavedModel, so serving needs nothing else.
  """

  def __init__(self, model: MovieLensModel,
               tf_transform_output: tft.TFTransformOutput,
               recommender: Recommender, from_ratings: FromRatings):
    super().__init__()
    self.keras = KerasObjects(model=model)
    self.recommender = recommender
    self.from_ratings = from_ratings
    self.tft_layer = tf_transform_output.transform_features_layer()
    raw_spec = tf_transform_output.raw_feature_spec()
    self._raw_feature_spec = raw_spec
    self._serving_feature_spec = {k: raw_spec[k]
                                  for k in RAW_SERVING_FEATURE_KEYS}
    self._vocabularies = {
        key: tf_transform_output.vocabulary_by_name(
            features.vocabulary_name(key))
        for key in features.VOCABULARY_FEATURE_KEYS}
    self._titles = tf.Variable(
        self._vocabularies[features.MOVIE_TITLE_KEY], trainable=False,
        name='movie_titles')
    # Serving looks the two ids up directly in Transform's vocabulary files
    # (same ids as Transform: line number, or the vocabulary size for the
    # one OOV bucket) instead of running the whole Transform graph, which
    # also computes the slices and side features: ~1.3x the throughput.
    self._id_tables = {
        key: tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(
                tf_transform_output.vocabulary_file_by_name(
                    features.vocabulary_name(key)),
                tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER),
            default_value=len(self._vocabularies[key]))
        for key in RAW_SERVING_FEATURE_KEYS}

  def track_keras_variables(self) -> None:
    """Puts the variables of the Keras objects it calls in its object graph
    (call it once they exist: after tracing)."""
    self.keras_variables = keras_variables(self.keras, self.recommender.keras)

  def model_ids(self, raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """Raw user ids and titles ([batch] or [batch, 1]) -> the model's ids.
    Any bytes are a valid key: unknown, overlong or non-UTF-8 ones get the
    out-of-vocabulary id."""
    ids = {features.transformed_name(key): table.lookup(
        tf.reshape(raw[key], [-1])) for key, table in self._id_tables.items()}
    sizes = [tf.size(i) for i in ids.values()]
    with tf.control_dependencies([tf.debugging.assert_equal(
        sizes[0], sizes[1], message='user_id and movie_title must hold the '
        'same number of values (one pair per prediction)')]):
      return {key: tf.identity(value) for key, value in ids.items()}

  def _predict_raw(self, raw: Dict[str, tf.Tensor]) -> tf.Tensor:
    """Raw string features, each [batch] or [batch, 1] -> ratings [batch, 1]."""
    return self.keras.model(self.model_ids(raw))

  def known(self, ids: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """{'user_id_known', 'movie_title_known'} from `model_ids`' output:
    [batch, 1] bools, False for the out-of-vocabulary id."""
    return {f'{key}_known': tf.reshape(
        ids[features.transformed_name(key)] < len(self._vocabularies[key]),
        [-1, 1]) for key in self._id_tables}

  @tf.function(input_signature=RAW_SIGNATURE, autograph=False)
  def __call__(self, raw: Dict[str, tf.Tensor]) -> tf.Tensor:
    """The tutorial's call: {'user_id': [b], 'movie_title': [b]} -> [b, 1]."""
    return self._predict_raw(raw)

  @tf.function(input_signature=RAW_SIGNATURE, autograph=False)
  def serve_raw(self, raw: Dict[str, tf.Tensor]) -> Dict[str, tf.Tensor]:
    """`serving_default`: raw strings -> {'predicted_rating': [b, 1],
    'user_id_known': [b, 1], 'movie_title_known': [b, 1]}."""
    ids = self.model_ids(raw)  # looked up once for both outputs
    return {features.PREDICTION_KEY: self.keras.model(ids),
            **self.known(ids)}

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name='examples')], autograph=False)
  def serve_tf_examples(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Serialized tf.Examples -> {'predicted_rating': [b, 1]}."""
    raw = tf.io.parse_example(examples, self._serving_feature_spec)
    return {features.PREDICTION_KEY: self._predict_raw(raw)}

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name='examples')], autograph=False)
  def transform_features(self, examples: tf.Tensor) -> Dict[str, tf.Tensor]:
    """Serialized tf.Examples -> transformed features (for the Evaluator)."""
    raw = tf.io.parse_example(examples, self._raw_feature_spec)
    return self.tft_layer(raw)

  def _recommend(self, user_id: tf.Tensor, k: tf.Tensor, exclude_rated: bool,
                 rerank: bool) -> Dict[str, tf.Tensor]:
    """Top k titles for raw user ids [batch]: {'movie_title', 'score',
    'predicted_rating'} each [batch, k], best first, and 'user_known'
    [batch] (False: an unknown user, given the out-of-vocabulary user's
    list: what most users watch)."""
    users = self._id_tables[features.USER_ID_KEY].lookup(user_id)
    top = self.recommender.top_k(users, k, exclude_rated, rerank)
    titles = tf.gather(self._titles, top.pop('ids'))
    titles = tf.where(tf.math.is_finite(top['score']), titles, '')
    known = users < len(self._vocabularies[features.USER_ID_KEY])
    return {features.MOVIE_TITLE_KEY: titles, 'user_known': known, **top}

  @tf.function(input_signature=RECOMMEND_SIGNATURE, autograph=False)
  def recommend(self, user_id: tf.Tensor, k: tf.Tensor
                ) -> Dict[str, tf.Tensor]:
    """`recommend`: the best k movies each user has not rated in train."""
    return self._recommend(user_id, k, exclude_rated=True, rerank=True)

  @tf.function(input_signature=RECOMMEND_SIGNATURE, autograph=False)
  def recommend_including_rated(self, user_id: tf.Tensor, k: tf.Tensor
                                ) -> Dict[str, tf.Tensor]:
    """`recommend`, with the movies the user rated in train kept."""
    return self._recommend(user_id, k, exclude_rated=False, rerank=True)

  @tf.function(input_signature=RECOMMEND_SIGNATURE, autograph=False)
  def retrieve(self, user_id: tf.Tensor, k: tf.Tensor) -> Dict[str, tf.Tensor]:
    """The retrieval stage alone (no re-scoring), rated movies excluded:
    the reference `recommend` is measured against."""
    return self._recommend(user_id, k, exclude_rated=True, rerank=False)

  @tf.function(input_signature=FROM_RATINGS_SIGNATURE, autograph=False)
  def recommend_from_ratings(self, movie_title: tf.Tensor,
                             user_rating: tf.Tensor, k: tf.Tensor
                             ) -> Dict[str, tf.Tensor]:
    """`recommend_from_ratings`: the best k movies for each person of the
    batch from the ratings they give now ('movie_title' [batch, n], '' pads;
    'user_rating' [batch, n]), known user or not: {'movie_title', 'score'}
    [batch, k] and 'known_ratings' [batch] (given titles the model knows;
    others are ignored). Given titles are never returned; with none known,
    the unknown user's list."""
    with tf.control_dependencies(check_given_ratings(
        movie_title, user_rating, k, self.from_ratings.max_k)):
      movies = self._id_tables[features.MOVIE_TITLE_KEY].lookup(movie_title)
    top = self.from_ratings.top_k(movies, user_rating, k)
    titles = tf.gather(self._titles, top['ids'])
    return {features.MOVIE_TITLE_KEY: tf.where(
        tf.math.is_finite(top['score']), titles, ''),
            'score': top['score'], 'known_ratings': top['known_ratings']}

  @tf.function(input_signature=[], autograph=False)
  def vocabularies(self) -> Dict[str, tf.Tensor]:
    """The vocabularies the model was trained with, most frequent first."""
    return {key: tf.constant(values, dtype=tf.string)
            for key, values in self._vocabularies.items()}


RECOMMEND_SIGNATURES = ('recommend', 'recommend_including_rated',
                        'retrieve', 'recommend_from_ratings')


def export_serving_model(model: MovieLensModel,
                         tf_transform_output: tft.TFTransformOutput,
                         recommender: Recommender,
                         from_ratings: FromRatings, output_dir: str) -> None:
  """Saves the servable SavedModel with every signature."""
  module = ServingModule(model, tf_transform_output, recommender,
                         from_ratings)
  signatures = {
      'serving_default': module.serve_raw.get_concrete_function(),
      'serving_tf_example': module.serve_tf_examples.get_concrete_function(),
      'transform_features': module.transform_features.get_concrete_function(),
      **{name: getattr(module, name).get_concrete_function()
         for name in RECOMMEND_SIGNATURES},
  }
  module.track_keras_variables()
  tf.saved_model.save(module, output_dir, signatures=signatures)

