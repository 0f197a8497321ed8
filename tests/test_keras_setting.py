"""Keras 2 (tf_keras) for TFRS, TFT and TFMA, set in one place
(trainer_module/__init__.py) and in effect whichever package a process
imports first."""

import os
import subprocess
import sys

from tests import e2e

PACKAGES = ('pipeline', 'components', 'trainer_module', 'bench')


def test_importing_any_package_first_gives_keras_2():
  """One fresh interpreter per package, started together."""
  env = {k: v for k, v in os.environ.items() if k != 'TF_USE_LEGACY_KERAS'}
  processes = {package: subprocess.Popen(
      [sys.executable, '-c', f'import {package}\nimport tensorflow as tf\n'
       'print(tf.keras.__name__)'], cwd=e2e.PROJECT_ROOT, env=env,
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for package in PACKAGES}
  for package, process in processes.items():
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, (package, stderr[-2000:])
    assert stdout.split()[-1].startswith('tf_keras'), (package, stdout)


def test_only_trainer_module_sets_it():
  setters = []
  for folder in (*PACKAGES, 'tests'):
    for root, _, files in os.walk(os.path.join(e2e.PROJECT_ROOT, folder)):
      for name in files:
        path = os.path.join(root, name)
        if name.endswith('.py') and path != __file__:
          with open(path) as f:
            if "'TF_USE_LEGACY_KERAS'" in f.read():
              setters.append(os.path.relpath(path, e2e.PROJECT_ROOT))
  assert setters == [os.path.join('trainer_module', '__init__.py')]
