"""Kubernetes Events off the request path: one background thread POSTs them, as Go's event recorder does.

Events are best effort (:mod:`multus.plugin.events`): a CNI call never depended on their outcome, but the
thin plugin waits for each POST (~1-4 ms, one per attached interface) because its process exits right
after. The daemon lives on, so a request only builds the event (its timestamps are the call's) and queues
it; a single thread POSTs the queued events in order. The queue is bounded: with a slow or unreachable API
server, further events are dropped (and logged) rather than holding requests up or growing memory.
:meth:`BackgroundEvents.close` sends what is still queued, for a few seconds at most, at shutdown.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Any

from multus.plugin.events import EventWriter

log = logging.getLogger(__name__)

MAX_PENDING = 1000
_STOP = object()


class BackgroundEvents:
    """A bounded queue of events and the thread that writes them (started on the first event)."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(max_pending)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def writer(self, target: EventWriter) -> EventWriter:
        """An EventWriter whose ``create_event`` queues the event for ``target`` and returns at once."""
        return _QueuedWriter(self, target)

    def batch(self, target: EventWriter) -> EventBatch:
        """An EventWriter for one request: it keeps the events until :meth:`EventBatch.release` queues them,
        so that they are POSTed after the request's own API writes (network-status) rather than competing
        with them for the API server and the daemon's interpreter."""
        return EventBatch(self, target)

    def submit(self, target: EventWriter, namespace: str, event: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                _write(target, namespace, event)  # shutting down: no thread to hand it to
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="multus-events", daemon=True)
                self._thread.start()
            try:
                self._queue.put_nowait((target, namespace, event))  # under the lock: never after close's stop
                return
            except queue.Full:
                pass
        log.warning("dropping event %s for %s/%s: %d events are waiting to be written",
                    event.get("reason", ""), namespace, _object_name(event), self._queue.maxsize)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            _write(*item)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued (up to ``timeout`` seconds), then stop the thread. Idempotent."""
        with self._lock:
            self._closed = True
            thread = self._thread
            self._thread = None
        if thread is None:
            return
        deadline = time.monotonic() + timeout
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            log.warning("events still queued at shutdown were not written")
            return
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.warning("events still queued at shutdown were not written")


class EventBatch:
    """A request's events, held until :meth:`release` (see :meth:`BackgroundEvents.batch`)."""

    def __init__(self, owner: BackgroundEvents, target: EventWriter) -> None:
        self._owner = owner
        self._target = target
        self._held: list[tuple[str, dict[str, Any]]] = []

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]:
        self._held.append((namespace, event))
        return {}

    def release(self) -> None:
        """Queue the held events, in the order they were created."""
        held, self._held = self._held, []
        for namespace, event in held:
            self._owner.submit(self._target, namespace, event)


class _QueuedWriter:
    def __init__(self, owner: BackgroundEvents, target: EventWriter) -> None:
        self._owner = owner
        self._target = target

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]:
        self._owner.submit(self._target, namespace, event)
        return {}


def _object_name(event: dict[str, Any]) -> str:
    involved = event.get("involvedObject")
    return str(involved.get("name", "")) if isinstance(involved, dict) else ""


def _write(target: EventWriter, namespace: str, event: dict[str, Any]) -> None:
    try:
        target.create_event(namespace, event)
    except Exception as exc:  # events are best effort by design
        log.warning("could not record event %s for pod %s/%s: %s", event.get("reason", ""), namespace,
                    _object_name(event), exc)
