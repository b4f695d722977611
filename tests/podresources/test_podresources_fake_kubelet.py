"""FakeKubelet, the double of the kubelet's PodResources server, checked with raw gRPC stubs (not our client),
so the client's tests rest on a server that answers as the kubelet does.

Checked here:
* v1alpha1 List is served on the same socket as v1;
* Get of an unknown pod: UNKNOWN "pod <name> in namespace <ns> not found"; Get disabled: UNKNOWN
  "PodResources API Get method disabled"; Get on an old kubelet: UNIMPLEMENTED; no v1 at all:
  UNIMPLEMENTED for v1 List;
* add_pod keeps container order and removing a pod works;
* stop() leaves no server threads and removes the socket; the fake can start again on the same path.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

import grpc  # type: ignore[import-untyped]
import pytest

from podresources._proto.v1 import api_pb2 as v1
from podresources._proto.v1 import api_pb2_grpc as v1_grpc
from podresources._proto.v1alpha1 import api_pb2 as v1alpha1
from podresources._proto.v1alpha1 import api_pb2_grpc as v1alpha1_grpc
from podresources.testing import FakeKubelet


def _channel(kubelet: FakeKubelet) -> grpc.Channel:
    return grpc.insecure_channel("unix:" + kubelet.socket_path)


def _stub(module: Any, channel: grpc.Channel) -> Any:
    """The generated (untyped) stub of ``module`` on ``channel``."""
    return module.PodResourcesListerStub(channel)


def _error(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(grpc.RpcError) as info:
        call()
    return info.value.code().name, info.value.details()


def test_v1alpha1_list_is_served_on_the_same_socket(kubelet: FakeKubelet) -> None:
    kubelet.add_pod("default", "pod-a", {"app": {"intel.com/x": ["1", "2"]}})
    with _channel(kubelet) as channel:
        response = _stub(v1alpha1_grpc, channel).List(v1alpha1.ListPodResourcesRequest(), timeout=5)
    pod = response.pod_resources[0]
    assert (pod.namespace, pod.name, pod.containers[0].name) == ("default", "pod-a", "app")
    assert list(pod.containers[0].devices[0].device_ids) == ["1", "2"]
    assert kubelet.calls() == {"v1alpha1.List": 1}


def test_get_answers_like_the_kubelet_for_unknown_pods_and_gates(kubelet: FakeKubelet) -> None:
    with _channel(kubelet) as channel:
        stub = _stub(v1_grpc, channel)
        request = v1.GetPodResourcesRequest(pod_name="ghost", pod_namespace="ns1")
        assert _error(lambda: stub.Get(request, timeout=5)) == ("UNKNOWN", "pod ghost in namespace ns1 not found")
        kubelet.get_mode = "disabled"
        assert _error(lambda: stub.Get(request, timeout=5)) == ("UNKNOWN", "PodResources API Get method disabled")
        kubelet.get_mode = "unimplemented"
        assert _error(lambda: stub.Get(request, timeout=5))[0] == "UNIMPLEMENTED"


def test_a_kubelet_without_v1_answers_unimplemented(make_kubelet: Callable[..., FakeKubelet]) -> None:
    kubelet = make_kubelet(serve_v1=False)
    with _channel(kubelet) as channel:
        stub = _stub(v1_grpc, channel)
        assert _error(lambda: stub.List(v1.ListPodResourcesRequest(), timeout=5))[0] == "UNIMPLEMENTED"


def test_pods_keep_container_order_and_can_be_removed(kubelet: FakeKubelet) -> None:
    pod = kubelet.add_pod("default", "p", {"b": {"r": ["1"]}, "a": {}}, cpu_ids={"c": [1]})
    assert [c.name for c in pod.containers] == ["b", "a", "c"]
    assert kubelet.remove_pod("default", "p") is True
    assert kubelet.remove_pod("default", "p") is False
    assert kubelet.pods() == []


def test_stop_leaves_no_threads_and_the_fake_restarts_on_the_same_path() -> None:
    before = set(threading.enumerate())
    kubelet = FakeKubelet().start()
    try:
        with _channel(kubelet) as channel:
            _stub(v1_grpc, channel).List(v1.ListPodResourcesRequest(), timeout=5)
        kubelet.stop(cleanup=False)
        assert not os.path.exists(kubelet.socket_path)
        kubelet.start()
        with _channel(kubelet) as channel:
            _stub(v1_grpc, channel).List(v1.ListPodResourcesRequest(), timeout=5)
        assert kubelet.calls() == {"v1.List": 2}
    finally:
        kubelet.stop()
    deadline = time.monotonic() + 5
    while set(threading.enumerate()) - before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert set(threading.enumerate()) - before == set()
    assert not os.path.exists(kubelet.root_dir), "the temporary root must be removed"
