"""Finding the pod a CNI call is for (multus.plugin.pods; features §3.2), against the API server double.

Our real client (multus.k8s.client.KubeClient, built with ``retries=0`` so that every retry counted here
is the pod lookup's own) talks HTTP to multus.testing.kube_api. Checked:
* a pod that exists is returned at once (one GET);
* NotFound is an answer: PodNotFound at once, no retry;
* 503 three times then success: found, after retrying at the given interval;
* a persistent 500, and a server that refuses connections: CniError ``error waiting for pod: ...``
  within the timeout, never PodNotFound;
* 403 is not retried; the API server's words make the message, the request goes to the details;
* each GET is given what is left of the lookup's budget (never under 250 ms), so a server that hangs
  every GET for 5 s fails the lookup in ~2.5 s, not after the client's own 10 s timeout;
* UID rules: a static pod (``kubernetes.io/config.source`` present and not ``api``) with another UID
  passes; an API pod (source ``api`` or none) with another UID raises PodUIDMismatch with Go's text;
  no UID in CNI_ARGS means no check.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from multus.cni.errors import CniError, ErrorCode
from multus.k8s.access import load_kubeconfig
from multus.k8s.client import KubeClient
from multus.k8s.errors import ServerError
from multus.plugin.k8s_args import K8sArgs, Namespace, PodName, PodUID
from multus.plugin.pods import MIN_ATTEMPT_TIMEOUT, PodNotFound, PodUIDMismatch, check_uid, get_pod
from multus.testing.kube_api import KubeApiServer

POD_PATH = r"^/api/v1/namespaces/default/pods/web$"
UID = "6f0e-api-uid"


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        yield server


@pytest.fixture
def client(api: KubeApiServer, tmp_path: Path) -> Iterator[KubeClient]:
    access = load_kubeconfig(api.write_kubeconfig(tmp_path / "kubeconfig"))
    with KubeClient(access, retries=0, timeout=5.0) as kube:
        yield kube


def gets(api: KubeApiServer) -> int:
    return len(api.requests_matching("GET", POD_PATH))


def test_an_existing_pod_is_returned_with_one_get(api: KubeApiServer, client: KubeClient) -> None:
    api.add_pod("default", "web", uid=UID, annotations={"k8s.v1.cni.cncf.io/networks": "net1"})
    pod = get_pod(client, "default", "web")
    assert pod["metadata"]["uid"] == UID
    assert pod["metadata"]["annotations"] == {"k8s.v1.cni.cncf.io/networks": "net1"}
    assert gets(api) == 1


def test_not_found_is_pod_not_found_at_once(api: KubeApiServer, client: KubeClient) -> None:
    started = time.monotonic()
    with pytest.raises(PodNotFound) as info:
        get_pod(client, "default", "web", timeout=5.0, interval=2.0)
    assert time.monotonic() - started < 1.5  # one retry would have slept 2 s
    assert info.value.msg == "pod default/web not found"
    assert gets(api) == 1


def test_a_server_error_three_times_then_the_pod_is_found_after_retries(
        api: KubeApiServer, client: KubeClient) -> None:
    api.add_pod("default", "web", uid=UID)
    rule = api.faults.add("GET", POD_PATH, status=503, times=3)
    started = time.monotonic()
    pod = get_pod(client, "default", "web", timeout=2.0, interval=0.05)
    elapsed = time.monotonic() - started
    assert pod["metadata"]["uid"] == UID
    assert rule.hits == 3 and gets(api) == 4
    assert 0.15 <= elapsed < 1.5  # three waits of one interval each, well inside the timeout
    assert [r.fault for r in api.requests_matching("GET", POD_PATH)] == ["status 503"] * 3 + [None]


def test_a_persistent_server_error_fails_with_error_waiting_for_pod_within_the_timeout(
        api: KubeApiServer, client: KubeClient) -> None:
    api.add_pod("default", "web", uid=UID)
    api.faults.add("GET", POD_PATH, status=500, times=None)
    started = time.monotonic()
    with pytest.raises(CniError) as info:
        get_pod(client, "default", "web", timeout=0.4, interval=0.05)
    elapsed = time.monotonic() - started
    assert not isinstance(info.value, PodNotFound)
    assert info.value.msg.startswith("error waiting for pod: ")
    assert info.value.code == ErrorCode.TRY_AGAIN_LATER  # the server's trouble may pass: say so
    assert elapsed < 0.4 + 0.6
    assert 2 <= gets(api) <= 9  # retried every interval until the next wait would pass the timeout


def test_a_refused_connection_is_retried_until_the_timeout(tmp_path: Path) -> None:
    with KubeApiServer() as down:
        kubeconfig = down.write_kubeconfig(tmp_path / "kubeconfig")
    # the server is stopped now: its port refuses connections
    with KubeClient(load_kubeconfig(kubeconfig), retries=0, timeout=5.0) as kube:
        started = time.monotonic()
        with pytest.raises(CniError) as info:
            get_pod(kube, "default", "web", timeout=0.3, interval=0.05)
        elapsed = time.monotonic() - started
    assert info.value.msg.startswith("error waiting for pod: ")
    assert 0.2 <= elapsed < 1.5


def test_forbidden_is_not_retried(api: KubeApiServer, client: KubeClient) -> None:
    api.add_pod("default", "web", uid=UID)
    api.faults.add("GET", POD_PATH, status=403, times=None, message='pods "web" is forbidden')
    with pytest.raises(CniError) as info:
        get_pod(client, "default", "web", timeout=2.0, interval=0.05)
    assert not isinstance(info.value, PodNotFound)
    assert info.value.msg == 'error waiting for pod: pods "web" is forbidden'
    assert "HTTP 403" in info.value.details  # the request stays in the details, out of the message
    assert gets(api) == 1


def test_a_hanging_api_server_costs_the_lookup_s_timeout_not_the_client_s(
        api: KubeApiServer, tmp_path: Path) -> None:
    api.add_pod("default", "web", uid=UID)
    api.faults.add("GET", POD_PATH, delay=5, times=None)
    # the production client: a 10 s timeout with retries, which the lookup must not wait out
    with KubeClient(load_kubeconfig(api.write_kubeconfig(tmp_path / "kubeconfig"))) as kube:
        started = time.monotonic()
        with pytest.raises(CniError) as info:
            get_pod(kube, "default", "web")
        elapsed = time.monotonic() - started
    assert not isinstance(info.value, PodNotFound)
    assert info.value.msg.startswith("error waiting for pod: ") and "timed out" in info.value.msg
    assert info.value.code == ErrorCode.TRY_AGAIN_LATER
    assert int(info.value.code) == 11
    assert 2.3 <= elapsed < 3.0
    assert gets(api) == 1  # the first GET had the whole 2.5 s; no time was left for another


class RecordingReader:
    """A PodReader whose GETs fail with 503 after ``cost`` seconds, recording the timeout each was given."""

    def __init__(self, cost: float = 0.0) -> None:
        self.cost = cost
        self.timeouts: list[float | None] = []

    def get_pod(self, namespace: str, name: str, *, timeout: float | None = None) -> dict[str, Any]:
        self.timeouts.append(timeout)
        time.sleep(self.cost)
        raise ServerError("the server is having a bad day", status=503)


def test_each_attempt_is_given_what_is_left_of_the_budget_but_at_least_the_minimum() -> None:
    reader = RecordingReader(cost=0.1)
    started = time.monotonic()
    with pytest.raises(CniError, match="error waiting for pod"):
        get_pod(reader, "default", "web", timeout=1.0, interval=0.05)
    assert time.monotonic() - started < 1.3
    timeouts = [t for t in reader.timeouts if t is not None]
    assert len(timeouts) == len(reader.timeouts) >= 3
    assert 0.9 <= timeouts[0] <= 1.0  # the first attempt may use the whole budget
    assert timeouts == sorted(timeouts, reverse=True)  # then less and less of it...
    assert min(timeouts) >= MIN_ATTEMPT_TIMEOUT == 0.25  # ...but never less than Go's 250 ms per GET


# ---- UID rules ---------------------------------------------------------------------------------------


def args(uid: str) -> K8sArgs:
    return K8sArgs(pod_name=PodName("web"), pod_namespace=Namespace("default"), pod_uid=PodUID(uid))


@pytest.mark.parametrize("source", ["file", "http"])
def test_a_static_pod_with_another_uid_passes(api: KubeApiServer, client: KubeClient, source: str) -> None:
    api.add_pod("default", "web", uid=UID, annotations={"kubernetes.io/config.source": source})
    check_uid(get_pod(client, "default", "web"), args("kubelet-side-uid"))


@pytest.mark.parametrize("annotations", [None, {"kubernetes.io/config.source": "api"}, {"other": "x"}])
def test_an_api_pod_with_another_uid_is_a_mismatch_with_go_s_text(
        api: KubeApiServer, client: KubeClient, annotations: dict[str, str] | None) -> None:
    api.add_pod("default", "web", uid=UID, annotations=annotations)
    pod = get_pod(client, "default", "web")
    with pytest.raises(PodUIDMismatch) as info:
        check_uid(pod, args("old-pod-uid"))
    assert info.value.msg == f'expected pod UID "old-pod-uid" but got "{UID}" from Kube API'


def test_the_same_uid_passes(api: KubeApiServer, client: KubeClient) -> None:
    api.add_pod("default", "web", uid=UID)
    check_uid(get_pod(client, "default", "web"), args(UID))


def test_no_uid_in_the_cni_args_means_no_check(api: KubeApiServer, client: KubeClient) -> None:
    api.add_pod("default", "web", uid=UID)
    check_uid(get_pod(client, "default", "web"), args(""))
