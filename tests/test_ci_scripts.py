"""The CI scripts' own decisions, where they depend on the machine."""

import os
import shutil
import subprocess

import pytest

from tests import e2e

TRIXIE_ROOT = os.path.join(e2e.PROJECT_ROOT, '.ci', 'trixie-root')


def apt_repository_uris() -> set:
  """Every repository URI the host's apt reads packages from."""
  listed = subprocess.run(
      ['apt-get', 'indextargets', '--no-release-info', '--format',
       '$(REPO_URI)'], capture_output=True, text=True, check=True).stdout
  return set(listed.split())


@pytest.mark.skipif(not shutil.which('apt-get'), reason='needs apt')
def test_trixie_root_builds_from_the_hosts_apt_mirror():
  """The root comes from the archive the host's apt uses, not a fixed URL."""
  mirror = subprocess.run([TRIXIE_ROOT, 'mirror'], capture_output=True,
                          text=True, check=True).stdout.strip()
  assert mirror in apt_repository_uris()
  assert not mirror.rstrip('/').endswith('-security')
