"""The object store: what etcd plus the watch cache are to kube-apiserver.

One global counter gives every write its ``metadata.resourceVersion`` (a decimal string, increasing
across all resources, as etcd's revision does). Each write is recorded in a bounded history so a
watch can resume from a resourceVersion; once that point has been evicted (or :meth:`Store.compact`
has run) resuming is refused with 410, which is the path clients must handle on a real cluster.
Watchers get their own queue, filled under the store lock, so replay and live events never overlap
or leave a gap. A write that changes nothing is not a write: it keeps the resourceVersion and emits
no event, as on the real server.
"""

from __future__ import annotations

import copy
import queue
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .errors import already_exists, conflict, gone, not_found
from .resources import ResourceType

Obj = dict[str, Any]


def now_rfc3339() -> str:
    """The current time in the second-precision UTC form Kubernetes uses for timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ident(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def _without_rv(obj: Obj) -> Obj:
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k != "resourceVersion"}
    return {**obj, "metadata": meta}


@dataclass(frozen=True)
class StoredEvent:
    """A committed change: ``object`` is the new state (for DELETED, the last state)."""

    type: str
    key: str
    object: Obj
    previous: Obj | None
    resource_version: int


class Subscription:
    """A watcher's private feed of events for one storage bucket."""

    def __init__(self, store: Store, key: str) -> None:
        self.key = key
        self._store = store
        self._queue: queue.Queue[StoredEvent | None] = queue.Queue()
        self.closed = False

    def put(self, event: StoredEvent | None) -> None:
        """Deliver an event; ``None`` tells the reader the store is shutting down."""
        self._queue.put(event)

    def get(self, timeout: float) -> StoredEvent | None:
        """The next event, or None when none came within ``timeout`` or the feed was closed."""
        if self.closed:
            return None
        try:
            event = self._queue.get(timeout=timeout)
        except queue.Empty:
            return None
        if event is None:
            self.closed = True
        return event

    def idle_resource_version(self) -> int | None:
        """The store's resourceVersion if this feed has nothing pending (safe for a bookmark)."""
        with self._store.lock:
            return self._store.resource_version if self._queue.empty() else None

    def close(self) -> None:
        """Stop receiving events."""
        self._store.unsubscribe(self)
        self.closed = True


class Store:
    """Thread-safe objects keyed by bucket, namespace and name, with watch fan-out."""

    def __init__(self, history_limit: int = 1000) -> None:
        self.lock = threading.RLock()
        self._rv = 0
        self._objects: dict[str, dict[tuple[str, str], Obj]] = {}
        self._history: deque[StoredEvent] = deque()
        self._history_limit = max(1, history_limit)
        self._compacted = 0
        self._subscriptions: list[Subscription] = []

    @property
    def resource_version(self) -> int:
        """The resourceVersion of the latest write (0 before any)."""
        with self.lock:
            return self._rv

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the store lock across a read-modify-write so no other write interleaves."""
        with self.lock:
            yield

    def get(self, rt: ResourceType, namespace: str, name: str) -> Obj | None:
        """A copy of the stored object, or None."""
        with self.lock:
            obj = self._objects.get(rt.store_key, {}).get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def require(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """A copy of the stored object; 404 when it does not exist."""
        obj = self.get(rt, namespace, name)
        if obj is None:
            raise not_found(rt.qualified, name)
        return obj

    def list_objects(self, rt: ResourceType, namespace: str | None = None) -> tuple[list[Obj], int]:
        """Copies of the objects in key order (namespace, name), and the list's resourceVersion."""
        with self.lock:
            bucket = self._objects.get(rt.store_key, {})
            items = [copy.deepcopy(bucket[k]) for k in sorted(bucket)
                     if namespace is None or k[0] == namespace]
            return items, self._rv

    def create(self, rt: ResourceType, obj: Obj) -> Obj:
        """Store a new object, stamping uid and creationTimestamp (unless given) and resourceVersion."""
        with self.lock:
            bucket = self._objects.setdefault(rt.store_key, {})
            ident = _ident(obj)
            if ident in bucket:
                raise already_exists(rt.qualified, ident[1])
            new = copy.deepcopy(obj)
            meta = new.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", now_rfc3339())
            self._commit(rt, "ADDED", new, None)
            bucket[ident] = new
            return copy.deepcopy(new)

    def update(self, rt: ResourceType, obj: Obj, expected_rv: str | None = None) -> Obj:
        """Replace an object; 409 when ``expected_rv`` is given and is not the stored one."""
        with self.lock:
            ident = _ident(obj)
            current = self._objects.get(rt.store_key, {}).get(ident)
            if current is None:
                raise not_found(rt.qualified, ident[1])
            if expected_rv and expected_rv != current["metadata"]["resourceVersion"]:
                raise conflict(rt.qualified, ident[1])
            new = copy.deepcopy(obj)
            meta = new.setdefault("metadata", {})
            for immutable in ("uid", "creationTimestamp"):
                meta[immutable] = current["metadata"].get(immutable)
            if _without_rv(new) == _without_rv(current):
                return copy.deepcopy(current)
            self._commit(rt, "MODIFIED", new, current)
            self._objects[rt.store_key][ident] = new
            return copy.deepcopy(new)

    def delete(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        """Remove an object; the returned last state carries the deletion's resourceVersion."""
        with self.lock:
            current = self._objects.get(rt.store_key, {}).pop((namespace, name), None)
            if current is None:
                raise not_found(rt.qualified, name)
            final = copy.deepcopy(current)
            self._commit(rt, "DELETED", final, current)
            return copy.deepcopy(final)

    def _commit(self, rt: ResourceType, kind: str, new: Obj, previous: Obj | None) -> None:
        """Bump the resourceVersion onto ``new``, record the event and fan it out."""
        self._rv += 1
        new["metadata"]["resourceVersion"] = str(self._rv)
        event = StoredEvent(kind, rt.store_key, copy.deepcopy(new), copy.deepcopy(previous), self._rv)
        if len(self._history) >= self._history_limit:
            self._compacted = self._history.popleft().resource_version
        self._history.append(event)
        for sub in self._subscriptions:
            if sub.key == event.key:
                sub.put(event)

    def subscribe(self, rt: ResourceType, since: int | None) -> tuple[list[StoredEvent], Subscription]:
        """Start a watch: the events to send first, and the feed of everything after them.

        ``since=None`` means "current state first": one synthetic ADDED per existing object.
        Otherwise the recorded events after ``since`` are replayed; 410 if some were evicted.
        """
        with self.lock:
            if since is None:
                items, _ = self.list_objects(rt)
                initial = [StoredEvent("ADDED", rt.store_key, o, None,
                                       int(o["metadata"]["resourceVersion"])) for o in items]
            elif since < self._compacted:
                oldest = self._history[0].resource_version if self._history else self._rv + 1
                raise gone(since, oldest)
            else:
                initial = [e for e in self._history
                           if e.key == rt.store_key and e.resource_version > since]
            sub = Subscription(self, rt.store_key)
            self._subscriptions.append(sub)
            return initial, sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Detach a watcher's feed (idempotent)."""
        with self.lock:
            if sub in self._subscriptions:
                self._subscriptions.remove(sub)

    def compact(self) -> None:
        """Forget all history, as an etcd compaction does: older resourceVersions now give 410."""
        with self.lock:
            self._history.clear()
            self._compacted = self._rv

    def close_watches(self) -> None:
        """Wake every watcher with the end-of-feed marker, so streams end promptly on shutdown."""
        with self.lock:
            for sub in self._subscriptions:
                sub.put(None)
            self._subscriptions.clear()
