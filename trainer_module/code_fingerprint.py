"""Fingerprints of this package's code, taken where the pipeline is built
and checked where it runs.

Components name our user code by module path, which TFX does not
fingerprint, so `create_pipeline` puts a hash of the code into Transform's
and the Trainer's custom_config: an edit reruns what depends on it instead
of serving it from cache. On Kubeflow V2 / Vertex the code that runs is the
container image's; `check` (called first by `preprocessing_fn`, `run_fn`
and `tuner_fn`) stops a run whose image holds other code than the checkout
the job was compiled from, instead of training with it under a stale cache
key.
"""

import ast
import hashlib
import os
from typing import Any, Dict, List, Optional, Sequence

CODE_FINGERPRINT_KEY = 'code_fingerprint'
PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# The module that holds preprocessing_fn: Transform's code is this module
# and what it imports.
TRANSFORM_MODULE_FILE = 'preprocessing.py'


class CodeMismatchError(RuntimeError):
  """The code running differs from the code the pipeline was built from."""


def source_fingerprint(package_dir: str, names: Sequence[str]) -> str:
  """sha256 over the named files of `package_dir` (name and content)."""
  digest = hashlib.sha256()
  for name in sorted(names):
    with open(os.path.join(package_dir, name), 'rb') as f:
      digest.update(name.encode() + b'\0' + f.read() + b'\0')
  return digest.hexdigest()


def package_sources(package_dir: str) -> List[str]:
  """Every .py file of a package (as TFX's udf_utils packages user code):
  a module added to the trainer is fingerprinted without a list to edit."""
  return sorted(name for name in os.listdir(package_dir)
                if name.endswith('.py'))


def imported_sources(package_dir: str, module_file: str) -> List[str]:
  """`module_file` and every module of its package it imports, directly or
  through another (read from the code, not a list to keep up to date), and
  the package's __init__.py: Transform's code is preprocessing.py and what it
  imports, so a change to the Trainer's modules does not re-run it."""
  package = os.path.basename(os.path.normpath(package_dir))
  found, todo = set(), [module_file]
  while todo:
    name = todo.pop()
    if name in found or not os.path.exists(os.path.join(package_dir, name)):
      continue
    found.add(name)
    with open(os.path.join(package_dir, name)) as f:
      tree = ast.parse(f.read(), name)
    for node in ast.walk(tree):
      if isinstance(node, ast.ImportFrom) and node.module == package:
        todo += [f'{alias.name}.py' for alias in node.names]
      elif isinstance(node, ast.ImportFrom) and node.level == 1:
        todo += ([f'{node.module}.py'] if node.module else
                 [f'{alias.name}.py' for alias in node.names])
      elif isinstance(node, (ast.Import, ast.ImportFrom)):
        modules = ([alias.name for alias in node.names]
                   if isinstance(node, ast.Import) else [node.module or ''])
        todo += [f'{m.split(".")[1]}.py' for m in modules
                 if m.startswith(package + '.')]
  init = '__init__.py'
  return sorted(found | ({init} if os.path.exists(
      os.path.join(package_dir, init)) else set()))


def transform_fingerprint(package_dir: str = PACKAGE_DIR) -> str:
  """Fingerprint of Transform's code: preprocessing.py and its imports."""
  return source_fingerprint(package_dir,
                            imported_sources(package_dir,
                                             TRANSFORM_MODULE_FILE))


def trainer_fingerprint(package_dir: str = PACKAGE_DIR) -> str:
  """Fingerprint of the Trainer's (and Tuner's) code: the whole package."""
  return source_fingerprint(package_dir, package_sources(package_dir))


def check(custom_config: Optional[Dict[str, Any]], running: str) -> None:
  """Raises CodeMismatchError when `custom_config` names a code fingerprint
  other than `running` (the fingerprint of the code in this process).

  Args:
    custom_config: the component's custom_config, as `create_pipeline` set
      it (no fingerprint in it: nothing to check, e.g. a direct call).
    running: `transform_fingerprint()` or `trainer_fingerprint()`.
  """
  expected = (custom_config or {}).get(CODE_FINGERPRINT_KEY)
  if expected and expected != running:
    raise CodeMismatchError(
        f'the pipeline was built from trainer_module code with fingerprint '
        f'{expected[:12]}, but the code here ({PACKAGE_DIR}) has '
        f'{running[:12]}. On Kubeflow/Vertex, rebuild and push the image '
        'from the checkout you compile the pipeline from (see the README, '
        '"Kubeflow"); locally, a file changed while the run was going.')
