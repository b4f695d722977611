"""Fixtures for the devinfo tests: a fresh kernel-shaped fake sysfs and a devinfo base directory.

The fake sysfs is :class:`devinfo.testing.FakeSysfs` -- a double laid out like the kernel's /sys
(relative symlinks from ``bus/pci/devices`` into ``devices/pci...``, ``driver``/``physfn``/``virtfnN``
links, ``net/<if>``), not a copy of any real machine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from devinfo.testing import FakeSysfs


@pytest.fixture
def fake_sysfs(tmp_path: Path) -> FakeSysfs:
    """An empty fake sysfs under ``tmp_path/sys``."""
    return FakeSysfs(tmp_path)


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    """A devinfo base directory (standing in for /var/run/k8s.cni.cncf.io/devinfo); not created yet."""
    return tmp_path / "run" / "devinfo"
