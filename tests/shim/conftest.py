"""Fixtures for the shim's tests: a short socket dir and the daemon doubles listening in it.

Unix socket paths are limited to 107 bytes, so sockets live in a short ``/tmp/shim-*`` directory
rather than in ``tmp_path`` (whose name grows with the test's name).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator

import pytest
from shim_daemon_double import FakeDaemon


@pytest.fixture
def sock_dir() -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="shim-", dir="/tmp")
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def daemon(sock_dir: str) -> Iterator[FakeDaemon]:
    """Our daemon: honours X-Multus-Result-Version, closes connections like Go's."""
    with FakeDaemon(f"{sock_dir}/multus.sock") as fake:
        yield fake


@pytest.fixture
def go_daemon(sock_dir: str) -> Iterator[FakeDaemon]:
    """Go's daemon: ignores the extension header, answers ADD with {"Result": <1.0.0>}."""
    with FakeDaemon(f"{sock_dir}/multus.sock", extension=False) as fake:
        yield fake
