"""The user-code fingerprint: what it covers, and the run-time check that
the code running is the code the pipeline was built from (issue 18,
defects 1 and 2)."""

import pytest
from tfx.components.trainer import fn_args_utils

from trainer_module import code_fingerprint
from trainer_module import preprocessing
from trainer_module import trainer
from trainer_module import tuner


def test_transform_covers_preprocessing_and_what_it_imports():
  assert code_fingerprint.imported_sources(
      code_fingerprint.PACKAGE_DIR, 'preprocessing.py') == [
          '__init__.py', 'code_fingerprint.py', 'features.py',
          'preprocessing.py']


def test_trainer_fingerprint_covers_every_module_of_the_package(tmp_path):
  (tmp_path / 'a.py').write_text('x = 1\n')
  (tmp_path / 'notes.txt').write_text('not code\n')
  assert code_fingerprint.package_sources(str(tmp_path)) == ['a.py']
  (tmp_path / 'new_model.py').write_text('y = 2\n')
  assert code_fingerprint.package_sources(str(tmp_path)) == [
      'a.py', 'new_model.py']


def test_transform_fingerprint_follows_what_preprocessing_imports(tmp_path):
  """Issue 18, defect 2: a module preprocessing.py starts to import was not
  in the hand-written list, so Transform stayed cached."""
  package = tmp_path / 'trainer_module'
  package.mkdir()
  (package / '__init__.py').write_text('')
  (package / 'features.py').write_text('A = 1\n')
  (package / 'trainer.py').write_text('from trainer_module import features\n')
  (package / 'preprocessing.py').write_text(
      'from trainer_module import features\n')
  assert code_fingerprint.imported_sources(
      str(package), 'preprocessing.py') == [
          '__init__.py', 'features.py', 'preprocessing.py']
  before = code_fingerprint.transform_fingerprint(str(package))
  (package / 'vocabularies.py').write_text('import trainer_module.text\n')
  (package / 'text.py').write_text('from . import features\n')
  (package / 'preprocessing.py').write_text(
      'import os\nfrom trainer_module import features\n'
      'from trainer_module.vocabularies import x\n')
  assert code_fingerprint.imported_sources(
      str(package), 'preprocessing.py') == [
          '__init__.py', 'features.py', 'preprocessing.py', 'text.py',
          'vocabularies.py']
  assert code_fingerprint.transform_fingerprint(str(package)) != before


def test_fingerprint_changes_with_the_code(tmp_path):
  (tmp_path / 'a.py').write_text('x = 1\n')
  (tmp_path / 'b.py').write_text('y = 2\n')
  before = code_fingerprint.source_fingerprint(str(tmp_path), ['a.py', 'b.py'])
  assert before == code_fingerprint.source_fingerprint(str(tmp_path),
                                                       ['b.py', 'a.py'])
  (tmp_path / 'b.py').write_text('y = 3\n')
  assert code_fingerprint.source_fingerprint(str(tmp_path),
                                             ['a.py', 'b.py']) != before


def test_the_check_passes_the_same_code_and_a_config_without_one():
  running = code_fingerprint.trainer_fingerprint()
  code_fingerprint.check({'code_fingerprint': running}, running)
  code_fingerprint.check({}, running)
  code_fingerprint.check(None, running)


STALE = {'code_fingerprint': '0123456789ab' + '0' * 52}


def test_preprocessing_fn_refuses_code_other_than_the_pipelines():
  """Issue 18, defect 1: a Kubeflow image built from other code ran under
  the compiled fingerprint (and its cache key)."""
  with pytest.raises(code_fingerprint.CodeMismatchError,
                     match='(?s)built from trainer_module code with '
                     'fingerprint 0123456789ab.*rebuild and push the image'):
    preprocessing.preprocessing_fn({}, custom_config=STALE)


def test_run_fn_and_tuner_fn_refuse_it_before_reading_anything():
  fn_args = fn_args_utils.FnArgs(custom_config=STALE)
  with pytest.raises(code_fingerprint.CodeMismatchError):
    trainer.run_fn(fn_args)
  with pytest.raises(code_fingerprint.CodeMismatchError):
    tuner.tuner_fn(fn_args)
