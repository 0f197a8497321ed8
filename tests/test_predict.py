"""pipeline.predict's parsing of a person's ratings, before any model."""

import pytest

from pipeline import predict


def test_ratings_pairs_allow_commas_in_titles():
  assert predict.parse_ratings(
      'Usual Suspects, The (1995)=5, Fargo (1996)=4.5,Star Wars (1977)=1'
  ) == [('Usual Suspects, The (1995)', 5.0), ('Fargo (1996)', 4.5),
        ('Star Wars (1977)', 1.0)]


@pytest.mark.parametrize('text, message', [
    ('Fargo (1996)', "'Fargo \\(1996\\)' is not \"title=rating"),
    ('Fargo (1996)=4,Heat', "'Heat' is not"),
    ('Fargo (1996)=9', "the rating of 'Fargo \\(1996\\)' is 9; ratings are "
     '0.5..5'),
    ('Fargo (1996)=0', 'is 0; ratings are 0.5..5'),
    ('', 'no ratings given'),
    (','.join(f'Film {i} (1990)=4' for i in range(1001)),
     '1001 ratings; at most 1000 are taken'),
])
def test_bad_ratings_are_named(text, message):
  with pytest.raises(ValueError, match=message):
    predict.parse_ratings(text)


def test_ratings_csv_rows_and_its_errors(tmp_path):
  good = tmp_path / 'good.csv'
  good.write_text('movie_title,user_rating\n"Heat (1995)",4\n'
                  '"Usual Suspects, The (1995)",5\n')
  assert predict.read_ratings_csv(str(good)) == [
      ('Heat (1995)', 4.0), ('Usual Suspects, The (1995)', 5.0)]
  columns = tmp_path / 'columns.csv'
  columns.write_text('title,rating\nHeat (1995),4\n')
  with pytest.raises(ValueError, match="missing \\['movie_title', "
                     "'user_rating'\\]"):
    predict.read_ratings_csv(str(columns))
  bad = tmp_path / 'bad.csv'
  bad.write_text('movie_title,user_rating\nHeat (1995),four\n')
  with pytest.raises(ValueError, match="line 2: bad user_rating 'four'"):
    predict.read_ratings_csv(str(bad))
  with pytest.raises(FileNotFoundError, match='does not exist'):
    predict.read_ratings_csv(str(tmp_path / 'none.csv'))


@pytest.mark.parametrize('args, message', [
    (['--user-id', '1', '--ratings', 'Heat (1995)=4'],
     'give one of --user-id, --ratings or --ratings-csv'),
    ([], 'give one of --user-id, --ratings or --ratings-csv'),
    (['--ratings', 'Heat (1995)=7'], 'ratings are 0.5..5'),
    (['--ratings', 'Heat (1995)=4', '--movie-title', 'Heat (1995)'],
     '--movie-title needs --user-id'),
])
def test_the_command_line_refuses_before_loading_a_model(args, message,
                                                         capsys, tmp_path):
  with pytest.raises(SystemExit) as exit_info:
    predict.main(['--model-dir', str(tmp_path), *args])
  assert exit_info.value.code == 2
  assert message in capsys.readouterr().err


def test_the_limits_are_the_served_signatures():
  """predict refuses before loading what the bundle would refuse."""
  from trainer_module import serving  # pylint: disable=g-import-not-at-top
  assert (predict.MIN_RATING, predict.MAX_RATING, predict.MAX_GIVEN_RATINGS,
          predict.MAX_TOP_K) == (serving.MIN_RATING, serving.MAX_RATING,
                                 serving.MAX_GIVEN_RATINGS, serving.MAX_K)
