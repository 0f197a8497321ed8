"""Prints the TFX stack this interpreter and C library can run, for make.

  tfx-1.21: TFX 1.21 / TF 2.21, Python 3.10-3.13, glibc >= 2.39 (ml-metadata
            and TFDV 1.21 ship only manylinux_2_39 wheels);
  tfx-1.16: TFX 1.16 / TF 2.16, Python 3.9-3.11, any glibc.

The current release wins where both fit. Exits 1, saying why, where none
does. Standard library only: it runs before anything is installed.
"""

import os
import sys
from typing import Optional, Tuple

NEW, OLD = 'tfx-1.21', 'tfx-1.16'
NEW_GLIBC = (2, 39)


def glibc_version() -> Optional[Tuple[int, int]]:
  """(major, minor) of the C library if it is glibc, else None."""
  try:
    name, version = os.confstr('CS_GNU_LIBC_VERSION').split()
  except (AttributeError, OSError, ValueError):  # no glibc (macOS, musl)
    return None
  return tuple(int(part) for part in version.split('.')[:2]) if (
      name == 'glibc') else None


def pick(python: Tuple[int, int], glibc: Optional[Tuple[int, int]]) -> str:
  """The stack for this Python and glibc; raises ValueError if none fits."""
  if glibc and glibc >= NEW_GLIBC and (3, 10) <= python <= (3, 13):
    return NEW
  if (3, 9) <= python <= (3, 11):
    return OLD
  raise ValueError(
      f'no TFX stack fits Python {python[0]}.{python[1]} on '
      f'{"glibc %d.%d" % glibc if glibc else "this C library"}: TFX 1.21 '
      'needs Python 3.10-3.13 and glibc >= 2.39 (Debian 13, Ubuntu 24.04), '
      'TFX 1.16 needs Python 3.9-3.11. Install python3.11 and run make '
      'PYTHON=python3.11, or use .ci/trixie-root (README: "Environment").')


if __name__ == '__main__':
  try:
    print(pick(sys.version_info[:2], glibc_version()))
  except ValueError as error:
    print(f'pick_stack: {error}', file=sys.stderr)
    sys.exit(1)
