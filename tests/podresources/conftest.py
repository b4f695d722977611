"""Fixtures for the PodResources tests: FakeKubelet servers on real unix sockets, and clients of them.

Every server started through ``make_kubelet`` and every client from ``make_client`` is stopped or closed at
teardown, also when the test failed, so no gRPC server thread outlives its test.

Fixtures:
    make_kubelet    factory: ``make_kubelet(get_mode=..., rate=..., ...)`` -> a started FakeKubelet
    kubelet         a started FakeKubelet with the kubelet's defaults (Get on, 100/s burst 10)
    make_client     factory: ``make_client(kubelet, **options)`` -> a PodResourcesClient of that kubelet
    client          a client of ``kubelet``, with a short timeout
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from podresources.client import PodResourcesClient
from podresources.testing import FakeKubelet


@pytest.fixture
def make_kubelet() -> Iterator[Callable[..., FakeKubelet]]:
    started: list[FakeKubelet] = []

    def make(**options: Any) -> FakeKubelet:
        kubelet = FakeKubelet(**options)
        started.append(kubelet)
        return kubelet.start()

    try:
        yield make
    finally:
        for kubelet in started:
            kubelet.stop()


@pytest.fixture
def kubelet(make_kubelet: Callable[..., FakeKubelet]) -> FakeKubelet:
    return make_kubelet()


@pytest.fixture
def make_client() -> Iterator[Callable[..., PodResourcesClient]]:
    clients: list[PodResourcesClient] = []

    def make(kubelet: FakeKubelet, **options: Any) -> PodResourcesClient:
        options.setdefault("timeout", 5.0)
        client = PodResourcesClient(kubelet_root_dir=kubelet.root_dir, **options)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.close()


@pytest.fixture
def client(kubelet: FakeKubelet, make_client: Callable[..., PodResourcesClient]) -> PodResourcesClient:
    return make_client(kubelet)
