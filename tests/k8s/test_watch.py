"""List and watch (multus.k8s.watch) against the kube-apiserver double over real HTTP.

The API server is the double (multus.testing.kube_api) on 127.0.0.1, started and stopped by the
fixtures even when a test fails; the client is configured from the kubeconfig it writes. Three
tests need a stream the double never sends (one broken in the middle of a chunk, a line that is
not JSON, a server that goes silent): they use a one-shot raw socket server, also over real TCP.
Checked:

* list_objects follows ``continue`` tokens until every page is read, returns the first page's
  resourceVersion, passes field and label selectors, and gives items their kind/apiVersion;
* a watch from the list's resourceVersion delivers ADDED, MODIFIED and DELETED in order, typed;
* bookmarks on a quiet watch carry the latest resourceVersion;
* the server's timeoutSeconds ends the iteration cleanly;
* a compacted resourceVersion raises GoneError (410, Expired) so the caller relists;
* an error answering the watch request (403, dropped connection) raises its typed error;
* close() from another thread ends a blocked iteration quietly and releases the connection;
* a stream broken mid-chunk, a non-JSON line, and a silent server each raise a typed error
  (the last one within timeoutSeconds + margin, not never).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from multus.k8s.access import ClusterAccess, load_kubeconfig
from multus.k8s.client import KubeClient
from multus.k8s.errors import ForbiddenError, GoneError, KubeAPIError, UnavailableError
from multus.k8s.watch import WatchEvent, list_objects, watch_events
from multus.testing.kube_api import KubeApiServer

PODS = "/api/v1/pods"
POD_LIST = r"^/api/v1/pods$"


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    """A running double with fast bookmarks, stopped at teardown whatever happened."""
    with KubeApiServer(bookmark_interval=0.1) as server:
        yield server


@pytest.fixture
def client(api: KubeApiServer, tmp_path: Path) -> Iterator[KubeClient]:
    with KubeClient(load_kubeconfig(api.write_kubeconfig(tmp_path / "kubeconfig")), timeout=3.0,
                    backoff=0.01) as kube:
        yield kube


@pytest.fixture
def raw_server() -> Iterator[Callable[..., KubeClient]]:
    """``raw_server(payload, hang_up=False)``: a client for a one-shot server answering with ``payload``.

    The server then hangs up (``hang_up``) or keeps the connection open and silent until the test
    ends, so a reader sees exactly the bytes given and nothing else.
    """
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()
    threads: list[threading.Thread] = []
    clients: list[KubeClient] = []

    def serve(payload: bytes, hang_up: bool) -> None:
        conn, _ = listener.accept()
        with conn:
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(4096)
            conn.sendall(payload)
            if not hang_up:
                done.wait(10)

    def make(payload: bytes, hang_up: bool = False) -> KubeClient:
        thread = threading.Thread(target=serve, args=(payload, hang_up), daemon=True)
        thread.start()
        threads.append(thread)
        port = listener.getsockname()[1]
        kube = KubeClient(ClusterAccess(server=f"http://127.0.0.1:{port}"), timeout=3.0, retries=0)
        clients.append(kube)
        return kube

    try:
        yield make
    finally:
        done.set()
        for thread in threads:
            thread.join(5)
        for kube in clients:
            kube.close()
        listener.close()


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


STREAM_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
GOOD_EVENT = json.dumps({"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "7"}}})


# ----- list --------------------------------------------------------------------------------------


def test_list_objects_follows_continue_tokens_until_every_page_is_read(api: KubeApiServer, client: KubeClient) -> None:
    for i in range(5):
        api.add_pod("default", f"pod-{i}")
    items, rv = list_objects(client, PODS, limit=2)
    assert [p["metadata"]["name"] for p in items] == [f"pod-{i}" for i in range(5)]
    assert rv == api.resource_version
    pages = api.requests_matching("GET", POD_LIST)
    assert [r.query.get("limit") for r in pages] == ["2", "2", "2"]
    assert "continue" not in pages[0].query and all(r.query.get("continue") for r in pages[1:])


def test_list_objects_returns_the_first_pages_resource_version_so_a_watch_replays_later_writes(
    api: KubeApiServer, client: KubeClient
) -> None:
    for i in range(3):
        api.add_pod("default", f"pod-{i}")
    first_rv = api.resource_version
    api.faults.add("GET", POD_LIST, query="continue=", delay=0.3)  # a write lands between the pages
    writer = threading.Timer(0.1, lambda: api.patch_pod("default", "pod-0", {"metadata": {"labels": {"x": "1"}}}))
    writer.start()
    items, rv = list_objects(client, PODS, limit=2)
    writer.join()
    assert rv == first_rv and len(items) == 3
    with watch_events(client, PODS, rv, allow_bookmarks=False) as stream:
        event = next(stream)
    assert (event.type, event.object["metadata"]["labels"]) == ("MODIFIED", {"x": "1"})


def test_list_objects_passes_field_and_label_selectors_and_fills_in_kind(
    api: KubeApiServer, client: KubeClient
) -> None:
    api.add_pod("default", "a1", node_name="node-a", labels={"app": "web"})
    api.add_pod("default", "a2", node_name="node-a", labels={"app": "db"})
    api.add_pod("default", "b1", node_name="node-b", labels={"app": "web"})
    items, _ = list_objects(client, PODS, field_selector="spec.nodeName=node-a", label_selector="app=web")
    assert [p["metadata"]["name"] for p in items] == ["a1"]
    assert (items[0]["kind"], items[0]["apiVersion"]) == ("Pod", "v1")
    query = api.requests_matching("GET", POD_LIST)[-1].query
    assert (query["fieldSelector"], query["labelSelector"]) == ("spec.nodeName=node-a", "app=web")


# ----- watch -------------------------------------------------------------------------------------


def test_a_watch_from_the_list_version_delivers_added_modified_and_deleted_in_order(
    api: KubeApiServer, client: KubeClient
) -> None:
    api.add_pod("default", "old")
    _, rv = list_objects(client, PODS)

    def churn() -> None:
        api.add_pod("default", "web")
        api.patch_pod("default", "web", {"metadata": {"annotations": {"a": "1"}}})
        api.delete_pod("default", "web")

    writer = threading.Timer(0.05, churn)
    writer.start()
    events: list[WatchEvent] = []
    with watch_events(client, PODS, rv, allow_bookmarks=False) as stream:
        for event in stream:
            events.append(event)
            if len(events) == 3:
                break
    writer.join()
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [
        ("ADDED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]
    assert all(isinstance(e, WatchEvent) for e in events)
    assert events[1].object["metadata"]["annotations"] == {"a": "1"}
    rvs = [int(e.resource_version) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)
    assert api.requests_matching("GET", POD_LIST)[-1].query["resourceVersion"] == rv


def test_bookmarks_on_a_quiet_watch_carry_the_latest_resource_version(api: KubeApiServer, client: KubeClient) -> None:
    _, rv = list_objects(client, PODS)
    api.add_nad("default", "net", {"type": "bridge"})  # moves the global resourceVersion, no pod event
    with watch_events(client, PODS, rv) as stream:
        event = next(stream)
    assert event.type == "BOOKMARK"
    assert event.resource_version == api.resource_version and int(api.resource_version) > int(rv)


def test_the_servers_timeout_ends_the_iteration_cleanly(api: KubeApiServer, client: KubeClient) -> None:
    started = time.monotonic()
    with watch_events(client, PODS, api.resource_version, timeout_seconds=1, allow_bookmarks=False) as stream:
        assert list(stream) == []
    assert 0.9 < time.monotonic() - started < 3


def test_a_compacted_resource_version_raises_gone_so_the_caller_relists(
    api: KubeApiServer, client: KubeClient
) -> None:
    api.add_pod("default", "old")
    _, rv = list_objects(client, PODS)
    api.add_pod("default", "web")
    api.compact()
    with watch_events(client, PODS, rv) as stream, pytest.raises(GoneError) as info:
        next(stream)
    assert (info.value.status, info.value.reason) == (410, "Expired")


def test_an_error_answering_the_watch_request_raises_its_typed_error(api: KubeApiServer, client: KubeClient) -> None:
    api.faults.add("GET", POD_LIST, query="watch=true", status=403)
    with pytest.raises(ForbiddenError):
        watch_events(client, PODS, "")
    api.faults.add("GET", POD_LIST, query="watch=true", drop=True)
    with pytest.raises(UnavailableError):
        watch_events(client, PODS, "")


def test_close_from_another_thread_ends_a_blocked_iteration_quietly(api: KubeApiServer, client: KubeClient) -> None:
    stream = watch_events(client, PODS, api.resource_version, allow_bookmarks=False)
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.extend(stream)
            outcome.append("ended")
        except BaseException as exc:  # recorded so the assertion shows it
            outcome.append(exc)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.2)
    assert reader.is_alive()  # blocked on a quiet stream
    started = time.monotonic()
    stream.close()
    reader.join(2)
    assert not reader.is_alive() and time.monotonic() - started < 1
    assert outcome == ["ended"]
    deadline = time.monotonic() + 2
    while api.open_connections and time.monotonic() < deadline:
        time.sleep(0.02)
    assert api.open_connections == 0  # the server saw the connection go


# ----- broken streams (raw socket server) --------------------------------------------------------


def test_a_stream_broken_in_the_middle_of_a_chunk_raises_unavailable(raw_server: Callable[..., KubeClient]) -> None:
    payload = STREAM_HEAD + _chunk(GOOD_EVENT.encode() + b"\n") + b"400\r\n{\"type\": \"MOD"
    kube = raw_server(payload, hang_up=True)
    started = time.monotonic()
    stream = watch_events(kube, PODS, "", read_margin=5)
    assert next(stream).resource_version == "7"
    with pytest.raises(UnavailableError, match="watch stream broke"):
        next(stream)
    assert time.monotonic() - started < 1  # the hang-up itself was noticed, not a read timeout


def test_a_line_that_is_not_json_raises_an_invalid_response_error(raw_server: Callable[..., KubeClient]) -> None:
    kube = raw_server(STREAM_HEAD + _chunk(b"<html>proxy error</html>\n"))
    with watch_events(kube, PODS, "", read_margin=2) as stream, pytest.raises(KubeAPIError) as info:
        next(stream)
    assert info.value.reason == "InvalidResponse"


def test_a_silent_server_is_given_up_on_after_timeout_seconds_plus_the_margin(
    raw_server: Callable[..., KubeClient]
) -> None:
    kube = raw_server(STREAM_HEAD)
    started = time.monotonic()
    with watch_events(kube, PODS, "", timeout_seconds=0, read_margin=0.3) as stream, \
            pytest.raises(UnavailableError):
        next(stream)
    assert 0.25 < time.monotonic() - started < 2
