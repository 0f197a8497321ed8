"""One local run at a time per output directory.

Two LocalDagRunner runs on one output directory would write one SQLite ML
Metadata store and one serving directory at once. The local runner holds an
exclusive `flock` on OUTPUT_DIR/.run.lock for the whole run; a second run
refuses at once, naming the holder. The kernel drops the lock when its holder
exits, however it exits (SIGKILL included), so a killed run never leaves a
stale lock behind.
"""

import contextlib
import fcntl
import os
import time
from typing import Iterator

LOCK_FILE_NAME = '.run.lock'


class RunInProgressError(RuntimeError):
  """Another run holds the output directory."""


@contextlib.contextmanager
def hold(output_dir: str) -> Iterator[None]:
  """Holds the output directory's run lock; raises RunInProgressError if
  another process holds it."""
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, LOCK_FILE_NAME)
  fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
  try:
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = os.pread(fd, 200, 0).decode(errors='replace').strip()
      raise RunInProgressError(
          f'another run is using {os.path.abspath(output_dir)} ({holder}); '
          'wait for it to finish, or pass another --output-dir') from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f'pid {os.getpid()}, started '
              f'{time.strftime("%Y-%m-%d %H:%M:%S")}\n'.encode(), 0)
    yield
  finally:
    os.close(fd)  # releases the lock
