"""Watch streams: the ``?watch=true`` side of a list endpoint.

The semantics follow the real API server's, because informers and ``kubernetes.watch.Watch``
depend on them:

* no ``resourceVersion`` (or ``"0"``): one synthetic ADDED per existing object, then live events;
* ``resourceVersion=N``: every change after N, then live events; if the history no longer reaches
  back to N the stream carries a single ERROR event with a 410 ``Expired`` Status and ends;
* selectors are applied to both sides of a change, so an object moving into the selection is
  ADDED and one moving out of it is DELETED;
* ``allowWatchBookmarks=true``: periodic BOOKMARK events carrying only a resourceVersion;
  ``sendInitialEvents=true`` ends the initial ADDED events with a bookmark annotated
  ``k8s.io/initial-events-end``;
* ``timeoutSeconds``: the server ends the stream cleanly after that long.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from . import objects
from .errors import ApiError, bad_request
from .operations import Call
from .selectors import Selector, parse_selector
from .store import Store, StoredEvent, Subscription

Obj = dict[str, Any]


class EventSink(Protocol):
    """Where a watch writes; both methods answer False once the client has gone away."""

    def send(self, event: Obj) -> bool:
        """Write one event."""

    def alive(self) -> bool:
        """Check, without writing, that the client is still connected."""


_TICK = 0.1  # seconds between checks for stop, disconnect and deadline while idle


@dataclass(frozen=True)
class WatchParams:
    """A watch request's query, parsed and checked before the stream starts."""

    selector: Selector
    since: int | None
    timeout: float | None
    bookmarks: bool
    initial_events_end: bool


def _flag(query: Mapping[str, str], name: str) -> bool:
    return str(query.get(name, "")).lower() in ("true", "1")


def parse_watch(call: Call) -> WatchParams:
    """Parse the watch query; bad values are a 400 before any event is sent."""
    query = call.query
    selector = parse_selector(call.rt, call.namespace, query.get("labelSelector", ""),
                              query.get("fieldSelector", ""))
    rv = query.get("resourceVersion", "")
    initial = _flag(query, "sendInitialEvents")
    try:
        since = None if rv in ("", "0") or initial else int(rv)
        timeout = float(query["timeoutSeconds"]) if query.get("timeoutSeconds") else None
    except ValueError as exc:
        raise bad_request(f"invalid watch parameter: {exc}") from exc
    return WatchParams(selector, since, timeout, _flag(query, "allowWatchBookmarks"), initial)


def _translate(event: StoredEvent, selector: Selector) -> str | None:
    """The event type this watcher sees for a change, or None when it is outside the selection."""
    now = selector.matches(event.object)
    if event.type in ("ADDED", "DELETED"):
        return event.type if now else None
    before = selector.matches(event.previous)
    if now:
        return "MODIFIED" if before else "ADDED"
    return "DELETED" if before else None


class WatchStream:
    """Runs one watch: subscribe, replay, follow live events until timeout, stop or disconnect."""

    def __init__(self, store: Store, call: Call, params: WatchParams, stopping: threading.Event,
                 bookmark_interval: float) -> None:
        self.store, self.call, self.params = store, call, params
        self.stopping = stopping
        self.bookmark_interval = bookmark_interval

    def run(self, sink: EventSink) -> None:
        """Stream events into ``sink`` until the watch ends."""
        try:
            initial, sub = self.store.subscribe(self.call.rt, self.params.since)
        except ApiError as exc:
            sink.send({"type": "ERROR", "object": exc.status()})
            return
        try:
            if self._send_all(initial, sink) and self._initial_end(sink):
                self._follow(sub, sink)
        finally:
            sub.close()

    def _send_all(self, events: list[StoredEvent], sink: EventSink) -> bool:
        return all(self._send(event, sink) for event in events)

    def _send(self, event: StoredEvent, sink: EventSink) -> bool:
        seen_as = _translate(event, self.params.selector)
        if seen_as is None:
            return True
        return sink.send({"type": seen_as, "object": objects.external(self.call.rt, event.object)})

    def _initial_end(self, sink: EventSink) -> bool:
        if not self.params.initial_events_end:
            return True
        return sink.send(self._bookmark(self.store.resource_version, {"k8s.io/initial-events-end": "true"}))

    def _bookmark(self, rv: int, annotations: dict[str, str] | None = None) -> Obj:
        meta: Obj = {"resourceVersion": str(rv)}
        if annotations:
            meta["annotations"] = annotations
        obj = {"kind": self.call.rt.kind, "apiVersion": self.call.rt.api_version, "metadata": meta}
        return {"type": "BOOKMARK", "object": obj}

    def _follow(self, sub: Subscription, sink: EventSink) -> None:
        started = time.monotonic()
        deadline = started + self.params.timeout if self.params.timeout is not None else None
        next_bookmark = started + self.bookmark_interval
        while not self.stopping.is_set() and not sub.closed:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return
            if self.params.bookmarks and now >= next_bookmark:
                next_bookmark = now + self.bookmark_interval
                rv = sub.idle_resource_version()
                if rv is not None and not sink.send(self._bookmark(rv)):
                    return
            wait = _TICK if deadline is None else max(0.0, min(_TICK, deadline - now))
            event = sub.get(wait)
            if event is not None and not self._send(event, sink):
                return
            if event is None and not sink.alive():
                return
