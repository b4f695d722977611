"""Watches on the kube-apiserver double, consumed with the real ``kubernetes.watch.Watch``.

Informer-style code depends on the real server's watch contract (initial state, replay from a
resourceVersion, 410 once history is gone, selectors applied to both sides of a change), so the
double's streams are held to it here.
"""

# The client's models type every field Optional; the tests read them directly and let a None fail.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

import contextlib
import json
import threading
import time
from typing import Any

import pytest
import urllib3
from kube_api_support import NAD, NAD_PLURAL, collect_events, stream
from kubernetes import client
from kubernetes.client import ApiException

from multus.testing.kube_api import KubeApiServer


def _summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["raw_object"]["metadata"].get("name", "")) for e in events]


def _later(action: Any, delay: float = 0.1) -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_watch_delivers_added_modified_and_deleted_events_for_pods(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "existing")

    def churn() -> None:
        api.add_pod("default", "web")
        api.patch_pod("default", "web", {"metadata": {"annotations": {"a": "1"}}})
        api.delete_pod("default", "web")

    writer = _later(churn)
    events = collect_events(core.list_namespaced_pod, "default", until=lambda ev: len(ev) == 4)
    writer.join()
    assert _summary(events) == [("ADDED", "existing"), ("ADDED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]
    assert events[2]["object"].metadata.annotations == {"a": "1"}
    rvs = [int(e["raw_object"]["metadata"]["resourceVersion"]) for e in events[1:]]
    assert rvs == sorted(rvs) and len(set(rvs)) == 3


def test_a_watch_from_an_old_resource_version_replays_only_the_changes_since(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    since = api.add_pod("default", "a")["metadata"]["resourceVersion"]
    api.add_pod("default", "b")
    api.delete_pod("default", "a")
    events = collect_events(core.list_namespaced_pod, "default", resource_version=since,
                            until=lambda ev: len(ev) == 2)
    assert _summary(events) == [("ADDED", "b"), ("DELETED", "a")]


def test_a_watch_from_a_compacted_resource_version_fails_with_410(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    since = api.add_pod("default", "a")["metadata"]["resourceVersion"]
    api.add_pod("default", "b")
    api.compact()
    with pytest.raises(ApiException) as caught:
        collect_events(core.list_namespaced_pod, "default", resource_version=since, until=lambda ev: True)
    assert caught.value.status == 410
    assert "too old resource version" in str(caught.value.reason)


def test_a_watch_from_a_version_evicted_from_the_bounded_history_fails_with_410() -> None:
    with KubeApiServer(history_limit=3) as small:
        for i in range(5):
            small.add_pod("default", f"p{i}")
        with client.ApiClient(client.Configuration(host=small.url)) as direct:
            pods = client.CoreV1Api(direct)
            replayed = collect_events(pods.list_namespaced_pod, "default", resource_version="2",
                                      until=lambda ev: len(ev) == 3)
            assert _summary(replayed) == [("ADDED", "p2"), ("ADDED", "p3"), ("ADDED", "p4")]
            with pytest.raises(ApiException) as caught:
                collect_events(pods.list_namespaced_pod, "default", resource_version="1", until=lambda ev: True)
    assert caught.value.status == 410


def test_the_410_arrives_as_an_error_event_carrying_an_expired_status(api: KubeApiServer) -> None:
    api.add_pod("default", "a")
    api.add_pod("default", "b")
    api.compact()
    with urllib3.PoolManager() as http:
        answer = http.request("GET", f"{api.url}/api/v1/namespaces/default/pods?watch=true&resourceVersion=1")
    assert answer.status == 200
    [line] = [line for line in answer.data.decode().splitlines() if line]
    event = json.loads(line)
    assert event["type"] == "ERROR"
    assert (event["object"]["kind"], event["object"]["reason"], event["object"]["code"]) == ("Status", "Expired", 410)


def test_a_field_selector_on_spec_node_name_filters_the_watch(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "here", node_name="node-1")
    api.add_pod("default", "there", node_name="node-2")
    writer = _later(lambda: (api.add_pod("default", "there-too", node_name="node-2"),
                             api.add_pod("default", "here-too", node_name="node-1")))
    events = collect_events(core.list_pod_for_all_namespaces, field_selector="spec.nodeName=node-1",
                            until=lambda ev: len(ev) == 2)
    writer.join()
    assert _summary(events) == [("ADDED", "here"), ("ADDED", "here-too")]


def test_a_pod_leaving_the_label_selection_is_seen_as_deleted_and_one_entering_as_added(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web", labels={"app": "web"})
    api.add_pod("default", "db", labels={"app": "db"})
    writer = _later(lambda: (api.patch_pod("default", "web", {"metadata": {"labels": {"app": "old"}}}),
                             api.patch_pod("default", "db", {"metadata": {"labels": {"app": "web"}}})))
    events = collect_events(core.list_namespaced_pod, "default", label_selector="app=web",
                            until=lambda ev: len(ev) == 3)
    writer.join()
    assert _summary(events) == [("ADDED", "web"), ("DELETED", "web"), ("ADDED", "db")]


def test_bookmarks_carry_the_current_resource_version_when_asked_for(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    events = collect_events(core.list_namespaced_pod, "default", allow_watch_bookmarks=True,
                            until=lambda ev: ev[-1]["type"] == "BOOKMARK")
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert events[-1]["raw_object"]["metadata"]["resourceVersion"] == api.resource_version


def test_send_initial_events_ends_the_initial_state_with_an_annotated_bookmark(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "a")
    api.add_pod("default", "b")
    events = collect_events(core.list_namespaced_pod, "default", allow_watch_bookmarks=True,
                            send_initial_events=True, resource_version_match="NotOlderThan",
                            until=lambda ev: ev[-1]["type"] == "BOOKMARK")
    assert _summary(events)[:2] == [("ADDED", "a"), ("ADDED", "b")]
    bookmark = events[2]["raw_object"]["metadata"]
    assert bookmark["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert bookmark["resourceVersion"] == api.resource_version


def test_a_watch_ends_after_its_timeout_seconds(api: KubeApiServer, core: client.CoreV1Api) -> None:
    started = time.monotonic()
    events = list(stream(core.list_namespaced_pod, "default", timeout_seconds=1))
    elapsed = time.monotonic() - started
    assert events == []
    assert 0.9 <= elapsed < 3


def test_network_attachment_definitions_can_be_watched_through_custom_objects_api(
    api: KubeApiServer, custom: client.CustomObjectsApi
) -> None:
    api.add_nad("default", "net1", {"type": "macvlan"})
    writer = _later(lambda: api.delete_nad("default", "net1"))
    events = collect_events(custom.list_namespaced_custom_object, *NAD, "default", NAD_PLURAL,
                            until=lambda ev: len(ev) == 2)
    writer.join()
    assert _summary(events) == [("ADDED", "net1"), ("DELETED", "net1")]


def test_stopping_the_server_ends_an_open_watch_stream_promptly(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    done = threading.Event()

    def consume() -> None:
        with contextlib.suppress(Exception):  # the connection may be cut mid-stream; ending is what matters
            list(stream(core.list_namespaced_pod, "default", timeout_seconds=30))
        done.set()

    consumer = threading.Thread(target=consume)
    consumer.start()
    deadline = time.monotonic() + 2
    while not api.requests_matching("GET", "/pods$") and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    api.stop()
    assert done.wait(3), "the watch did not end when the server stopped"
    consumer.join()
    assert time.monotonic() - started < 2
