"""Pusher executor: atomic versions, and never the same model twice.

TFX's filesystem Pusher copies the model straight into BASE/<timestamp>
(saved_model.pb last), so a reader listing BASE during a push, or after the
pushing process was killed, sees a numbered version that is not complete.
This executor copies into BASE/.incoming-<version> and renames it to
BASE/<version> once complete: on a local or POSIX filesystem the rename is
atomic, so every numbered folder holds a whole model. Staging folders a
killed push left behind are removed by the next push; readers (TF Serving,
pipeline.predict) ignore them, as they ignore every non-numeric name. On
object stores (gs://) a rename is a copy, so there saved_model.pb is still
copied last, as TFX does.

A re-run with nothing changed re-validates the cached model, and the stock
Pusher would publish an identical copy as a new version; this executor
recognises that the newest version already holds exactly this model and
records that version instead.
"""

import os
import time
from typing import Any, Dict, List, Optional, Set

from absl import logging
from tfx import types
from tfx.components.pusher import component as pusher_component
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils


def _relative_files(root: str) -> Set[str]:
  """Paths of every file under root, relative to root."""
  return {os.path.relpath(os.path.join(folder, name), root)
          for folder, _, names in fileio.walk(root) for name in names}


def _same_bytes(left: str, right: str, chunk: int = 1 << 20) -> bool:
  with fileio.open(left, 'rb') as a, fileio.open(right, 'rb') as b:
    while True:
      block = a.read(chunk)
      if block != b.read(chunk):
        return False
      if not block:
        return True


def same_tree(left: str, right: str) -> bool:
  """True when two folders (any TFX filesystem) hold the same files and
  bytes."""
  files = _relative_files(left)
  if files != _relative_files(right):
    return False
  return all(_same_bytes(os.path.join(left, f), os.path.join(right, f))
             for f in files)


def newest_version(base_directory: str) -> Optional[str]:
  """Newest numbered version folder under base_directory, if any."""
  if not fileio.isdir(base_directory):
    return None
  versions = [d.strip('/') for d in fileio.listdir(base_directory)
              if d.strip('/').isdigit()]
  return max(versions, key=int) if versions else None


STAGING_PREFIX = '.incoming-'


def publish(model_path: str, base_directory: str) -> str:
  """Copies the model to a new numbered version folder under
  base_directory, atomically (see module doc); returns the version."""
  fileio.makedirs(base_directory)
  for name in fileio.listdir(base_directory):
    if name.strip('/').startswith(STAGING_PREFIX):
      fileio.rmtree(os.path.join(base_directory, name.strip('/')))
  newest = newest_version(base_directory)
  version = str(max(int(time.time()), int(newest) + 1 if newest else 0))
  staging = os.path.join(base_directory, STAGING_PREFIX + version)
  io_utils.copy_dir(model_path, staging,
                    deny_regex_patterns=[r'saved_model\.pb'])
  io_utils.copy_file(os.path.join(model_path, 'saved_model.pb'),
                     os.path.join(staging, 'saved_model.pb'))
  fileio.rename(staging, os.path.join(base_directory, version))
  return version


class Executor(pusher_executor.Executor):
  """Filesystem push through a staging folder; skips a model already
  served as the newest version."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
        destination)
    if (destination.WhichOneof('destination') != 'filesystem' or
        not self.CheckBlessing(input_dict)):
      super().Do(input_dict, output_dict, exec_properties)
      return
    base = destination.filesystem.base_directory
    model_path = self.GetModelPath(input_dict)
    version = newest_version(base)
    if version and same_tree(model_path, os.path.join(base, version)):
      logging.info('Model already served as version %s; not pushing a '
                   'copy.', version)
    else:
      version = publish(model_path, base)
      logging.info('Model pushed as version %s.', version)
    model_push = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    io_utils.copy_dir(model_path, model_push.uri)  # archived, as TFX does
    self._MarkPushed(model_push,
                     pushed_destination=os.path.join(base, version),
                     pushed_version=version)


class Pusher(pusher_component.Pusher):
  """TFX's Pusher with the executor above; same inputs, outputs and id."""

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
