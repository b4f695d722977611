"""Fixtures for the device-path tests: simulated SR-IOV nodes (see ``devices_support.py``).

Fixtures:
    make_node   factory: ``make_node(in_process=False, **FakeKubelet options)`` -> a DeviceNode; every node's
                API server double and kubelet double are stopped at teardown, also when the test failed
    node        a node with a default FakeKubelet (Get on, 100/s burst 10) and real-process delegates
    fast_node   the same with in-process delegates (InProcessExecutor), for many ADDs
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from devices_support import DeviceNode, InProcessExecutor, device_node


@pytest.fixture
def make_node(tmp_path: Path, netns: str) -> Iterator[Callable[..., DeviceNode]]:
    with contextlib.ExitStack() as stack:
        count = 0

        def make(*, in_process: bool = False, **kubelet_options: Any) -> DeviceNode:
            nonlocal count
            count += 1
            executor = InProcessExecutor() if in_process else None
            return stack.enter_context(device_node(tmp_path / f"node{count}", netns, executor=executor,
                                                   **kubelet_options))

        yield make


@pytest.fixture
def node(make_node: Callable[..., DeviceNode]) -> DeviceNode:
    return make_node()


@pytest.fixture
def fast_node(make_node: Callable[..., DeviceNode]) -> DeviceNode:
    return make_node(in_process=True)
