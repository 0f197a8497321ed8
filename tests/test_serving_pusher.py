"""The Pusher executor's "already served" check."""

from components import serving_pusher


def write(root, files):
  for path, content in files.items():
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_bytes(content)
  return str(root)


MODEL = {'saved_model.pb': b'graph', 'variables/variables.index': b'i',
         'variables/variables.data-00000-of-00001': b'x' * 3_000_000,
         'assets/user_id_vocabulary': b'1\n2\n'}


def test_identical_trees_are_the_same(tmp_path):
  assert serving_pusher.same_tree(write(tmp_path / 'a', MODEL),
                                  write(tmp_path / 'b', MODEL))


def test_one_changed_byte_or_file_differs(tmp_path):
  a = write(tmp_path / 'a', MODEL)
  changed = dict(MODEL)
  changed['variables/variables.data-00000-of-00001'] = b'x' * 2_999_999 + b'y'
  assert not serving_pusher.same_tree(a, write(tmp_path / 'b', changed))
  extra = dict(MODEL, **{'assets/movie_title_vocabulary': b'A\n'})
  assert not serving_pusher.same_tree(a, write(tmp_path / 'c', extra))


def test_newest_version_is_the_highest_number(tmp_path):
  for name in ('1700000000', '1800000000', '999', 'tmp'):
    (tmp_path / name).mkdir()
  assert serving_pusher.newest_version(str(tmp_path)) == '1800000000'
  assert serving_pusher.newest_version(str(tmp_path / 'missing')) is None
