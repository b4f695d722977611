"""The daemon's background event writer: events leave the request path but are still written, in order.

Checked: ``create_event`` returns before the POST is made, and the POSTs happen on one other thread in
the order queued; a failing POST is logged, never raised; a full queue drops (and logs) the new event
instead of blocking; ``close`` writes what is queued and later events are written synchronously; a
request's batch holds its events until released; and a daemon ADD through the handlers answers (after
writing network-status) without waiting for its AddedInterface event, which the daemon's stop writes.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

import pytest
from daemon_support import POD_UID, cni_env, daemon_config, post_once, running_daemon, shim_body

from multus.daemon.events import BackgroundEvents
from multus.plugin.events import KubeEventSink
from multus.testing.fake_plugin import make_fake_plugin


class SlowWriter:
    """Records events and the thread that wrote them; blocks until ``release`` is set."""

    def __init__(self, fail: bool = False) -> None:
        self.release = threading.Event()
        self.written: list[tuple[str, str, str]] = []
        self.fail = fail
        self.done = threading.Condition()

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]:
        self.release.wait(10)
        with self.done:
            self.written.append((namespace, event["reason"], threading.current_thread().name))
            self.done.notify_all()
        if self.fail:
            raise RuntimeError("the API server said no")
        return event

    def wait_for(self, count: int) -> None:
        with self.done:
            assert self.done.wait_for(lambda: len(self.written) >= count, 10)


def event(reason: str, name: str = "web") -> dict[str, Any]:
    return {"reason": reason, "involvedObject": {"kind": "Pod", "name": name}}


def test_create_event_returns_at_once_and_a_background_thread_posts_in_order() -> None:
    writer = SlowWriter()
    events = BackgroundEvents()
    queued = events.writer(writer)
    for reason in ("First", "Second", "Third"):
        assert queued.create_event("default", event(reason)) == {}
    assert writer.written == []  # nothing waited for the (blocked) POSTs
    writer.release.set()
    writer.wait_for(3)
    assert [(ns, reason) for ns, reason, _ in writer.written] == [
        ("default", "First"), ("default", "Second"), ("default", "Third")]
    assert {thread for _, _, thread in writer.written} == {"multus-events"}
    events.close()


def test_a_failed_post_is_logged_and_later_events_still_go_out(caplog: pytest.LogCaptureFixture) -> None:
    writer = SlowWriter(fail=True)
    writer.release.set()
    events = BackgroundEvents()
    with caplog.at_level(logging.WARNING, logger="multus.daemon.events"):
        events.writer(writer).create_event("default", event("AddedInterface"))
        events.writer(writer).create_event("default", event("NoNetworkFound"))
        writer.wait_for(2)
        events.close()
    assert [reason for _, reason, _ in writer.written] == ["AddedInterface", "NoNetworkFound"]
    assert "could not record event AddedInterface for pod default/web: the API server said no" in caplog.text


def test_a_full_queue_drops_the_new_event_instead_of_blocking(caplog: pytest.LogCaptureFixture) -> None:
    writer = SlowWriter()
    events = BackgroundEvents(max_pending=1)
    queued = events.writer(writer)
    queued.create_event("default", event("Taken"))  # the thread takes it and blocks in the POST
    for _ in range(100):
        if events._queue.empty():
            break
        threading.Event().wait(0.01)
    with caplog.at_level(logging.WARNING, logger="multus.daemon.events"):
        queued.create_event("default", event("Queued"))
        queued.create_event("default", event("Dropped"))
    assert "dropping event Dropped for default/web: 1 events are waiting to be written" in caplog.text
    writer.release.set()
    events.close()
    assert [reason for _, reason, _ in writer.written] == ["Taken", "Queued"]


def test_close_writes_what_is_queued_and_later_events_are_written_at_once() -> None:
    writer = SlowWriter()
    events = BackgroundEvents()
    events.writer(writer).create_event("default", event("Queued"))
    writer.release.set()
    events.close()
    assert [reason for _, reason, _ in writer.written] == ["Queued"]
    events.writer(writer).create_event("default", event("Late"))
    assert writer.written[-1][1:] == ("Late", threading.current_thread().name)
    events.close()  # idempotent


def test_a_batch_holds_a_requests_events_until_it_is_released_then_they_go_out_in_order() -> None:
    writer = SlowWriter()
    writer.release.set()
    events = BackgroundEvents()
    batch = events.batch(writer)
    assert batch.create_event("default", event("First")) == {}
    batch.create_event("default", event("Second"))
    threading.Event().wait(0.05)
    assert writer.written == []  # held
    batch.release()
    writer.wait_for(2)
    assert [reason for _, reason, _ in writer.written] == ["First", "Second"]
    batch.release()  # nothing held any more
    events.close()
    assert len(writer.written) == 2


def test_the_kube_event_sink_builds_the_event_on_the_callers_thread() -> None:
    writer = SlowWriter()
    writer.release.set()
    events = BackgroundEvents()
    pod = {"metadata": {"namespace": "default", "name": "web", "uid": "u1", "resourceVersion": "7"}}
    KubeEventSink(events.writer(writer)).emit(pod, "Normal", "AddedInterface", "Add eth0 [10.0.0.2/24]")
    writer.wait_for(1)
    events.close()
    assert writer.written[0][:2] == ("default", "AddedInterface")


class PodKube:
    """A KubeAPI with one pod; its event POSTs block until ``release`` is set, recording their thread."""

    def __init__(self) -> None:
        self.events = SlowWriter()
        self.patches: list[dict[str, Any]] = []

    def get_pod(self, namespace: str, name: str, *, timeout: float | None = None) -> dict[str, Any]:
        return {"metadata": {"namespace": namespace, "name": name, "uid": POD_UID, "annotations": {}}}

    def get_network_attachment_definition(self, namespace: str, name: str) -> dict[str, Any]:
        raise AssertionError("no NADs here")

    def patch_pod_status(self, namespace: str, name: str, patch: dict[str, Any], *,
                         uid: str | None = None) -> dict[str, Any]:
        self.patches.append(patch)
        return {}

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]:
        return self.events.create_event(namespace, event)


def test_a_daemon_add_answers_before_its_event_is_posted_and_stop_posts_it(tmp_path: Path, netns: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = make_fake_plugin(bin_dir, "fake")
    fake.script(ADD={"stdout": json.dumps({
        "cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": "0a:58:0a:63:00:02", "sandbox": netns}],
        "ips": [{"address": "10.99.0.2/24", "gateway": "10.99.0.1", "interface": 0}]})})
    kube = PodKube()
    config = daemon_config(tmp_path, cniDir=str(tmp_path / "multus"), binDir=str(bin_dir))
    shim_config = {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus-shim",
                   "delegates": [{"cniVersion": "1.0.0", "name": "fakenet", "type": "fake"}]}
    with running_daemon(config, kube=kube) as daemon:
        reply = post_once(daemon.config.socket_path, "/cni", shim_body(cni_env("ADD", netns=netns), shim_config))
        assert reply.status == 200, reply.text
        assert len(kube.patches) == 1  # network-status is still written before the answer
        assert kube.events.written == []  # the event's POST is blocked, and the answer did not wait for it
        kube.events.release.set()
    [(namespace, reason, thread)] = kube.events.written  # stop() wrote it before returning
    assert (namespace, reason, thread) == ("default", "AddedInterface", "multus-events")
