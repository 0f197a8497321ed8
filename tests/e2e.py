"""Helpers for the end-to-end tests: run the real CLI, read what it did."""

import json
import os
import subprocess
import sys
from typing import Dict, List, Optional

import numpy as np

from pipeline import configs

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The retrieval stage on the small generated data: small batches and more
# epochs than MovieLens 100k's defaults, or it takes too few steps to learn.
# Its eval split (about 100 users) measures Recall@10 to a few hundredths
# only, hence a wider top-N change gate for runs that retrain.
SMALL_DATA_RETRIEVAL = ['--retrieval-batch-size', '64', '--retrieval-epochs',
                        '20', '--retrieval-learning-rate', '0.1',
                        '--recall-tolerance', '0.05']


def project_env(**extra: str) -> Dict[str, str]:
  """The environment every process running our code gets: this one (Keras 2
  set by trainer_module) and `extra`."""
  return dict(os.environ, **extra)


def run_command(command: List[str], env: Optional[Dict[str, str]] = None,
                timeout: int = 1800) -> subprocess.CompletedProcess:
  """Runs `command` from the project root; its output captured as text."""
  return subprocess.run(
      command, cwd=PROJECT_ROOT, env=env or project_env(),
      capture_output=True, text=True, timeout=timeout, check=False)


def run_module(module: str, args: List[str], timeout: int = 1800,
               env: Optional[Dict[str, str]] = None
               ) -> subprocess.CompletedProcess:
  """Runs `python -m module args` from the project root, as a user would."""
  return run_command([sys.executable, '-m', module, *args], env=env,
                     timeout=timeout)


def start_module(module: str, args: List[str]) -> subprocess.Popen:
  """Starts `python -m module args` from the project root; its output
  captured as text (communicate() to end it)."""
  return subprocess.Popen(
      [sys.executable, '-m', module, *args], cwd=PROJECT_ROOT,
      env=project_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
      text=True)


def run_pipeline(output_dir: str, args: List[str]) -> dict:
  """Runs the local runner; returns run_summary.json (fails on error)."""
  return run_pipeline_with_output(output_dir, args)[0]


def run_pipeline_with_output(output_dir: str, args: List[str],
                             env: Optional[Dict[str, str]] = None):
  """Runs the local runner; returns (run_summary.json, finished process)."""
  result = run_module('pipeline.local_runner',
                      ['--output-dir', output_dir, *args], env=env)
  assert result.returncode == 0, (
      f'runner failed ({result.returncode}):\n{result.stdout[-2000:]}\n'
      f'{result.stderr[-4000:]}')
  with open(os.path.join(output_dir, 'run_summary.json')) as f:
    return json.load(f), result


def serving_dir(output_dir: str) -> str:
  """Where the Pusher of a run in output_dir writes its versions."""
  return configs.output_paths(output_dir)['serving_model_dir']


def tutorial_call(model_path: str, user_id: str, title: str):
  """The TFRS tutorial's call on a SavedModel; returns the output tensor."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  loaded = tf.saved_model.load(model_path)
  return loaded({'user_id': np.array([user_id]), 'movie_title': [title]})


def tree_bytes(path: str) -> dict:
  """{relative path: file content} of every file under path."""
  files = {}
  for root, _, names in os.walk(path):
    for name in names:
      full = os.path.join(root, name)
      with open(full, 'rb') as f:
        files[os.path.relpath(full, path)] = f.read()
  return files
