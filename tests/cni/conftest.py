"""Fixtures for the CNI runtime tests: a directory of scripted fake plugins and a runtime over it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from multus.cni.runtime import CNIRuntime
from multus.testing.fake_plugin import FakePlugin, make_fake_plugin


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "bin"
    directory.mkdir()
    return directory


@pytest.fixture
def fake_plugin(plugin_dir: Path) -> Callable[[str], FakePlugin]:
    """Make a scripted fake plugin of the given type in ``plugin_dir``."""
    return lambda name: make_fake_plugin(plugin_dir, name)


@pytest.fixture
def runtime(plugin_dir: Path, tmp_path: Path) -> CNIRuntime:
    return CNIRuntime([str(plugin_dir)], cache_dir=str(tmp_path / "cache"), timeout=10)
