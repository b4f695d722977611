"""Fixtures for the kube-apiserver double's tests: a running double and real clients pointed at it.

The clients are configured the production way, from a kubeconfig file the double writes, into a
fresh ``Configuration`` (the user's ~/.kube is never read). Servers and clients are closed in the
fixtures' teardown, so a failing test leaves no thread or socket behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kube_api_support import client_for, close_client
from kubernetes import client

from multus.testing.kube_api import KubeApiServer


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    """A running double with fast bookmarks, stopped at teardown whatever happened."""
    with KubeApiServer(bookmark_interval=0.2) as server:
        yield server


@pytest.fixture
def kube(api: KubeApiServer, tmp_path: Path) -> Iterator[client.ApiClient]:
    """A real ApiClient loaded from a kubeconfig that points at ``api``."""
    api_client = client_for(api.write_kubeconfig(tmp_path / "kubeconfig"))
    try:
        yield api_client
    finally:
        close_client(api_client)


@pytest.fixture
def core(kube: client.ApiClient) -> client.CoreV1Api:
    """CoreV1Api over ``kube``."""
    return client.CoreV1Api(kube)


@pytest.fixture
def custom(kube: client.ApiClient) -> client.CustomObjectsApi:
    """CustomObjectsApi over ``kube``, for NetworkAttachmentDefinitions."""
    return client.CustomObjectsApi(kube)
