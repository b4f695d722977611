"""Fault injection and lifecycle of the kube-apiserver double, as the real client experiences them.

Multus must survive an API server that errors, throttles, stalls or hangs up; these tests check
that each injected fault reaches the real ``kubernetes`` client the way a real one would, and that
the double itself starts, stops and restarts cleanly (no threads left behind, HTTPS when asked).
"""

# The client's models type every field Optional; the tests read them directly and let a None fail.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

import contextlib
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import urllib3
from kube_api_support import client_for, close_client, collect_events, pod_body, stream
from kubernetes import client
from kubernetes.client import ApiException

from multus.testing.kube_api import KubeApiServer

POD_PATH = r"^/api/v1/namespaces/default/pods/web$"


def test_an_injected_500_reaches_the_client_once_and_the_next_call_succeeds(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    rule = api.faults.add("GET", POD_PATH, status=500)
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("web", "default")
    assert caught.value.status == 500
    assert core.read_namespaced_pod("web", "default").metadata.name == "web"
    assert rule.hits == 1 and rule.exhausted
    assert [r.fault for r in api.requests_matching("GET", POD_PATH)] == ["status 500", None]


def test_an_injected_429_carries_retry_after_to_the_client(api: KubeApiServer, core: client.CoreV1Api) -> None:
    api.faults.add("POST", "/pods$", status=429, retry_after=7)
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod("default", pod_body("web"))
    assert caught.value.status == 429
    assert caught.value.headers is not None and caught.value.headers["Retry-After"] == "7"
    assert '"reason": "TooManyRequests"' in str(caught.value.body)


def test_a_throttled_get_with_retry_after_is_retried_by_urllib3_without_the_caller_noticing(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    api.faults.add("GET", POD_PATH, status=429, retry_after=0)
    assert core.read_namespaced_pod("web", "default").metadata.name == "web"
    assert [r.fault for r in api.requests_matching("GET", POD_PATH)] == ["status 429", None]


def test_an_injected_conflict_on_patch_is_a_409_the_caller_can_retry(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    api.faults.add("PATCH", "/status$", status=409, times=2)
    outcomes = []
    for _ in range(3):
        try:
            core.patch_namespaced_pod_status("web", "default", {"metadata": {"annotations": {"a": "b"}}})
            outcomes.append(200)
        except ApiException as exc:
            outcomes.append(exc.status)
    assert outcomes == [409, 409, 200]
    assert api.get_pod("default", "web")["metadata"]["annotations"] == {"a": "b"}


def test_an_injected_delay_slows_the_answer_which_still_succeeds(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    api.faults.add("GET", POD_PATH, delay=0.3)
    started = time.monotonic()
    assert core.read_namespaced_pod("web", "default").metadata.name == "web"
    assert 0.3 <= time.monotonic() - started < 2


def test_a_delay_longer_than_the_client_timeout_makes_the_client_time_out(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    api.faults.add("POST", "/pods$", delay=1.0)
    with pytest.raises(urllib3.exceptions.ReadTimeoutError):
        core.create_namespaced_pod("default", pod_body("x"), _request_timeout=(1, 0.2))


def test_a_dropped_connection_surfaces_as_a_protocol_error_in_the_client(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.faults.add("POST", "/pods$", drop=True)
    with pytest.raises(urllib3.exceptions.ProtocolError):
        core.create_namespaced_pod("default", pod_body("web"))
    assert api.pods() == []


def test_a_get_dropped_every_time_exhausts_urllib3_retries(api: KubeApiServer, core: client.CoreV1Api) -> None:
    api.add_pod("default", "web")
    api.faults.add("GET", POD_PATH, drop=True, times=None)
    with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
        core.read_namespaced_pod("web", "default")
    assert isinstance(caught.value.reason, urllib3.exceptions.ProtocolError)
    assert len(api.requests_matching("GET", POD_PATH)) == 4  # one try and urllib3's three retries
    api.faults.clear()
    assert core.read_namespaced_pod("web", "default").metadata.name == "web"


def test_fault_rules_match_method_and_path_and_the_first_live_rule_wins(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    api.faults.add("DELETE", POD_PATH, status=503)
    api.faults.add("GET", "/pods/other$", status=500)
    api.faults.add("GET", POD_PATH, status=503)
    api.faults.add("GET", POD_PATH, status=504)
    statuses = []
    for _ in range(3):
        try:
            core.read_namespaced_pod("web", "default")
            statuses.append(200)
        except ApiException as exc:
            statuses.append(exc.status)
    assert statuses == [503, 504, 200]
    assert [rule.hits for rule in api.faults.rules] == [0, 0, 1, 1]


def test_fault_rules_reject_contradictory_or_empty_actions(api: KubeApiServer) -> None:
    with pytest.raises(ValueError):
        api.faults.add("GET", "/", status=500, drop=True)
    with pytest.raises(ValueError):
        api.faults.add("GET", "/")
    assert api.faults.rules == []


def _double_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("kube-api-double")}


def test_stop_closes_keep_alive_connections_and_watches_and_leaves_no_thread_alive(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    server = KubeApiServer().start()
    kube = client_for(server.write_kubeconfig(tmp_path / "kubeconfig"))
    core = client.CoreV1Api(kube)
    idle = urllib3.PoolManager()
    streaming, ended = threading.Event(), threading.Event()

    def consume() -> None:
        with contextlib.suppress(Exception):  # urllib3 may fail its reconnects once the server is gone
            for _ in stream(core.list_namespaced_pod, "default", timeout_seconds=30):
                streaming.set()
        ended.set()

    consumer = threading.Thread(target=consume)
    try:
        server.add_pod("default", "web")
        assert idle.request("GET", f"{server.url}/api").status == 200  # stays open, keep-alive
        consumer.start()
        assert streaming.wait(3), "the watch never delivered its initial event"
        assert server.open_connections == 2
    finally:
        server.stop()
        close_client(kube)
        idle.clear()
    assert ended.wait(3), "the open watch did not end when the server stopped"
    consumer.join()
    assert _double_threads() == set()
    assert set(threading.enumerate()) <= before


def test_a_stopped_server_restarts_on_the_same_port_with_its_objects(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    port = api.port
    api.stop()
    assert not api.running
    with pytest.raises(urllib3.exceptions.MaxRetryError):
        core.read_namespaced_pod("web", "default", _request_timeout=1)
    api.start()
    assert api.port == port
    assert core.read_namespaced_pod("web", "default").metadata.name == "web"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI to make a certificate")
def test_https_serves_a_client_that_verifies_the_self_signed_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with KubeApiServer(certfile=cert, keyfile=key) as api:
        assert api.url.startswith("https://127.0.0.1:")
        api.add_pod("default", "web")
        kube = client_for(api.write_kubeconfig(tmp_path / "kubeconfig"))
        try:
            core = client.CoreV1Api(kube)
            assert core.read_namespaced_pod("web", "default").metadata.name == "web"
            events = collect_events(core.list_namespaced_pod, "default", until=lambda ev: True)
            assert [e["type"] for e in events] == ["ADDED"]
        finally:
            close_client(kube)
