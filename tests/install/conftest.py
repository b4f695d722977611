"""Fixtures of tests/install: the host bundle, built once per run for this interpreter."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from multus.install.bundle import install_thin_bundle


@pytest.fixture(scope="session")
def bundle_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A "host" CNI bin dir with the bundle installed as ``multus`` and ``passthru``.

    The "host python" in its ``#!`` line is the interpreter running the tests (the venv's), which has
    multus-py installed, so a test passing here would not show a bundle that leaks imports from the
    environment; the bundle runs with ``-IS``, which keeps that environment's site-packages off sys.path.
    """
    directory = tmp_path_factory.mktemp("host-cni-bin")
    install_thin_bundle(directory, host_python=sys.executable)
    return directory
