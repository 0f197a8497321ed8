"""Pusher executor that never writes the same model twice.

TFX's filesystem Pusher writes a new timestamped version on every blessed
run. A re-run with nothing changed re-validates the cached model against
itself (the latest blessed model becomes the Evaluator's baseline), and
the stock Pusher would then publish an identical copy as a new version.
This executor recognises that the newest pushed version already holds
exactly this model and records that version instead.
"""

import os
from typing import Any, Dict, List, Optional, Set

from absl import logging
from tfx import types
from tfx import v1 as tfx_v1
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


class Executor(pusher_executor.Executor):
  """Filesystem push that skips a model already served as newest version."""

  def Do(self, input_dict: Dict[str, List[types.Artifact]],
         output_dict: Dict[str, List[types.Artifact]],
         exec_properties: Dict[str, Any]) -> None:
    destination = pusher_pb2.PushDestination()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
        destination)
    if (destination.WhichOneof('destination') == 'filesystem' and
        self.CheckBlessing(input_dict)):
      base = destination.filesystem.base_directory
      version = newest_version(base)
      model_path = self.GetModelPath(input_dict)
      if version and same_tree(
          model_path, os.path.join(base, version)):
        logging.info('Model already served as version %s; not pushing a '
                     'copy.', version)
        model_push = artifact_utils.get_single_instance(
            output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        io_utils.copy_dir(model_path, model_push.uri)
        self._MarkPushed(model_push,
                         pushed_destination=os.path.join(base, version),
                         pushed_version=version)
        return
    super().Do(input_dict, output_dict, exec_properties)


class Pusher(tfx_v1.components.Pusher):
  """TFX's Pusher with the executor above; same inputs, outputs and id."""

  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)
