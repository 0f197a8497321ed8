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


def test_publish_writes_a_complete_new_version(tmp_path):
  model = write(tmp_path / 'model', MODEL)
  base = str(tmp_path / 'serving')
  first = serving_pusher.publish(model, base)
  second = serving_pusher.publish(model, base)
  assert int(second) > int(first)
  for version in (first, second):
    assert serving_pusher.same_tree(model, f'{base}/{version}')
  assert sorted(p.name for p in (tmp_path / 'serving').iterdir()) == [
      first, second]


def test_a_push_that_dies_mid_copy_leaves_no_numbered_version(
    tmp_path, monkeypatch):
  model = write(tmp_path / 'model', MODEL)
  base = tmp_path / 'serving'
  served = serving_pusher.publish(model, str(base))
  real_copy = serving_pusher.io_utils.copy_file

  def crash_on_saved_model(src, dst, *args, **kwargs):
    if src.endswith('saved_model.pb'):
      raise OSError('killed mid-push')
    return real_copy(src, dst, *args, **kwargs)

  monkeypatch.setattr(serving_pusher.io_utils, 'copy_file',
                      crash_on_saved_model)
  try:
    serving_pusher.publish(model, str(base))
  except OSError:
    pass
  else:
    raise AssertionError('the injected crash did not happen')
  numbered = [p.name for p in base.iterdir() if p.name.isdigit()]
  assert numbered == [served]  # the half-copied model is only in staging
  assert any(p.name.startswith(serving_pusher.STAGING_PREFIX)
             for p in base.iterdir())
  monkeypatch.undo()
  newer = serving_pusher.publish(model, str(base))  # cleans up staging
  assert sorted(p.name for p in base.iterdir()) == sorted([served, newer])
