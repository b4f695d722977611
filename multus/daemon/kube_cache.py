"""The daemon's Kubernetes caches: pods on this node and NetworkAttachmentDefinitions, kept by watches.

Why: a thin plugin GETs the pod and every NAD on each CNI call; a daemon serving a busy node would
turn pod churn into API-server load (multus PR#1154). An :class:`Informer` lists a collection once
and then follows its watch, so a warm ADD reads nothing from the API server.

What it does about known problems:

* **Memory** (1.8 GB RSS when every pod of a 60k-pod cluster was cached, CNO PR#2020): the pod
  informer only sees pods with ``spec.nodeName=<node>``, and :func:`slim_pod` drops what Multus never
  reads (managedFields, volumes, the containers' command/args/env/envFrom/volumeMounts).
* **A pod created a moment ago** may not be in the cache yet: :meth:`CachedKube.get_pod` waits on
  the cache (a condition, woken by every update) for up to ``pod_wait`` seconds (2.5 s, as Go's thick
  plugin polls), then makes ONE live GET. A pod the watch saw deleted skips the wait (a DEL after a
  forced delete must not stall), but still gets the live GET in case it was re-created. A caller's
  ``timeout=`` bounds the wait and the live GET together (the pod lookup's own 2.5 s budget).
* **Stale NADs** (Go serves a missing NAD as an error, with no retry): a NAD missing from the cache
  is fetched with a live GET.
* **Robustness**: a 410 (history compacted) relists; a broken stream resumes from the last
  resourceVersion seen, bookmarks included, after a jittered exponential backoff; a stream that
  ends cleanly is reopened from where it stopped.

No resync: Go's resync re-delivers the cache to event handlers, and there are none here. Writes
go straight to the client. Many request threads read while the informer thread writes: all state
is behind one condition lock per informer, and callers get deep copies they may change freely.
"""

from __future__ import annotations

import copy
import logging
import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from types import TracebackType
from typing import Any

from multus.k8s.client import NAD_GROUP_VERSION, KubeClient
from multus.k8s.errors import GoneError, KubeAPIError
from multus.k8s.watch import WatchEvent, WatchStream, list_objects, watch_events

log = logging.getLogger(__name__)
Obj = dict[str, Any]
Key = tuple[str, str]
Transform = Callable[[Obj], Obj]

POD_WAIT = 2.5
LIVE_READ_RESERVE = 0.5  # of a get_pod(timeout=...) on a miss, kept from the wait for the live GET
PODS_PATH = "/api/v1/pods"
NADS_PATH = f"/apis/{NAD_GROUP_VERSION}/network-attachment-definitions"
_TOMBSTONES = 4096  # deleted keys remembered, so a lookup of a deleted pod need not wait
_CONTAINER_KINDS = ("containers", "initContainers", "ephemeralContainers")
_CONTAINER_FIELDS = ("command", "args", "env", "envFrom", "volumeMounts")


def _key(obj: Obj) -> Key:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def drop_managed_fields(obj: Obj) -> Obj:
    """Remove ``metadata.managedFields`` (server-side-apply bookkeeping, often half an object's size)."""
    meta = obj.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return obj


def slim_pod(pod: Obj) -> Obj:
    """The pod without what Multus never reads; metadata (annotations, uid), names and status stay."""
    drop_managed_fields(pod)
    spec = pod.get("spec")
    if isinstance(spec, dict):
        spec.pop("volumes", None)
        for kind in _CONTAINER_KINDS:
            for container in spec.get(kind) or []:
                if isinstance(container, dict):
                    for name in _CONTAINER_FIELDS:
                        container.pop(name, None)
    return pod


class Informer:
    """A cache of one collection kept current by list+watch on a background thread.

    ``transform`` may change the object it is given in place (it owns it). Objects returned by
    :meth:`get` are the cache's own: treat them as read-only.
    """

    def __init__(self, client: KubeClient, path: str, *, name: str = "informer", field_selector: str = "",
                 label_selector: str = "", transform: Transform | None = None, watch_timeout: int = 300,
                 backoff: float = 0.2, max_backoff: float = 10.0, page_size: int = 500) -> None:
        self.client, self.path, self.name = client, path, name
        self.field_selector, self.label_selector = field_selector, label_selector
        self._transform = transform or (lambda obj: obj)
        self._watch_timeout, self._page_size = watch_timeout, page_size
        self._backoff, self._max_backoff = backoff, max_backoff
        self._cond = threading.Condition()
        self._items: dict[Key, Obj] = {}
        self._deleted: OrderedDict[Key, None] = OrderedDict()
        self._rv = ""
        self._synced = threading.Event()
        self._stopping = threading.Event()
        self._stream: WatchStream | None = None
        self._stream_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.lists = 0  #: successful (re)lists
        self.watches = 0  #: watch streams opened

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self) -> Informer:
        """Start the list+watch thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"informer-{self.name}", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread: close the open watch (waking its read) and join; safe to call twice."""
        self._stopping.set()
        with self._stream_lock:
            stream = self._stream
        if stream is not None:
            stream.close()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("informer %s did not stop within %.1fs", self.name, timeout)

    @property
    def has_synced(self) -> bool:
        """Whether a first list has been applied (the cache then stays served through relists)."""
        return self._synced.is_set()

    def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Wait for the first list; False if it did not complete within ``timeout``."""
        return self._synced.wait(timeout)

    # ----- reads -----------------------------------------------------------------------------

    @property
    def resource_version(self) -> str:
        """The resourceVersion the next watch resumes from (advanced by events and bookmarks)."""
        with self._cond:
            return self._rv

    def get(self, namespace: str, name: str) -> Obj | None:
        """The cached object, or None."""
        with self._cond:
            return self._items.get((namespace, name))

    def wait_for(self, namespace: str, name: str, timeout: float) -> Obj | None:
        """The cached object, waiting up to ``timeout`` for it to arrive; None if it did not."""
        key = (namespace, name)
        with self._cond:
            self._cond.wait_for(lambda: key in self._items or self._stopping.is_set(), timeout)
            return self._items.get(key)

    def recently_deleted(self, namespace: str, name: str) -> bool:
        """Whether the watch (or a relist) saw this object go away and it has not come back since."""
        with self._cond:
            return (namespace, name) in self._deleted

    def items(self) -> list[Obj]:
        """A snapshot of the cached objects (read-only)."""
        with self._cond:
            return list(self._items.values())

    # ----- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        failures, need_list = 0, True
        while not self._stopping.is_set():
            try:
                if need_list:
                    self._relist()
                    need_list = False
                failures = 0 if self._watch_once() else failures + 1
            except GoneError as exc:
                log.info("informer %s: %s; listing again", self.name, exc.msg)
                need_list = True
                failures += 1
                if failures == 1:
                    continue  # the first 410 relists at once; more in a row back off
            except KubeAPIError as exc:
                log.warning("informer %s: %s %s", self.name, exc.msg, exc.details)
                failures += 1
            except Exception:  # a bug must not end the cache: start over from a fresh list
                log.exception("informer %s: unexpected error", self.name)
                need_list = True
                failures += 1
            if failures:
                delay = min(self._max_backoff, self._backoff * 2 ** (failures - 1))
                self._stopping.wait(delay * random.uniform(0.5, 1.5))

    def _relist(self) -> None:
        objects, rv = list_objects(self.client, self.path, field_selector=self.field_selector,
                                   label_selector=self.label_selector, limit=self._page_size)
        fresh = {_key(obj): obj for obj in map(self._transform, objects)}
        with self._cond:
            for key in self._items.keys() - fresh.keys():
                self._tombstone(key)
            for key in fresh:
                self._deleted.pop(key, None)
            self._items, self._rv = fresh, rv
            self._cond.notify_all()
        self.lists += 1
        self._synced.set()

    def _watch_once(self) -> bool:
        """Follow one watch stream to its end; False if it ended at once and empty (back off then)."""
        started = time.monotonic()
        timeout = int(self._watch_timeout * random.uniform(1.0, 1.25))  # spread reconnects out
        stream = watch_events(self.client, self.path, self.resource_version, field_selector=self.field_selector,
                              label_selector=self.label_selector, timeout_seconds=max(1, timeout))
        self.watches += 1
        with self._stream_lock:
            self._stream = stream
        if self._stopping.is_set():
            stream.close()
        delivered = False
        try:
            for event in stream:
                delivered = self._apply(event) or delivered
        finally:
            with self._stream_lock:
                self._stream = None
            stream.close()
        return delivered or time.monotonic() - started >= 1.0

    def _apply(self, event: WatchEvent) -> bool:
        """Apply one event to the cache; False for an event type we do not know (and ignore)."""
        obj = event.object
        if event.type in ("ADDED", "MODIFIED"):
            obj = self._transform(obj)
        elif event.type not in ("DELETED", "BOOKMARK"):
            log.warning("informer %s: ignoring a watch event of type %r", self.name, event.type)
            return False
        key = _key(obj)
        with self._cond:
            if event.type == "DELETED":
                self._items.pop(key, None)
                self._tombstone(key)
            elif event.type != "BOOKMARK":
                self._items[key] = obj
                self._deleted.pop(key, None)
            self._rv = event.resource_version or self._rv
            self._cond.notify_all()
        return True

    def _tombstone(self, key: Key) -> None:
        self._deleted[key] = None
        self._deleted.move_to_end(key)
        while len(self._deleted) > _TOMBSTONES:
            self._deleted.popitem(last=False)


class CachedKube:
    """The ``KubeAPI`` of the plugin (multus.plugin.context) served from informer caches.

    ``node_name`` (MULTUS_NODE_NAME) restricts the pod cache to that node; without it every pod of
    the cluster is cached, which only suits small clusters. ``pod_wait`` bounds how long a cache
    miss waits for the watch before the one live GET. Start with :meth:`start` (or ``with``).
    """

    def __init__(self, client: KubeClient, *, node_name: str | None = None, pod_wait: float = POD_WAIT,
                 watch_timeout: int = 300, backoff: float = 0.2, max_backoff: float = 10.0) -> None:
        if not node_name:
            log.warning("no node name: caching the pods of every node")
        options: dict[str, Any] = {"watch_timeout": watch_timeout, "backoff": backoff, "max_backoff": max_backoff}
        self.client = client
        self.pod_wait = pod_wait
        self.pods = Informer(client, PODS_PATH, name="pods", transform=slim_pod,
                             field_selector=f"spec.nodeName={node_name}" if node_name else "", **options)
        self.nads = Informer(client, NADS_PATH, name="network-attachment-definitions",
                             transform=drop_managed_fields, **options)
        self._counts = dict.fromkeys(("pod_cache_hits", "pod_waits", "pod_live_reads",
                                      "nad_cache_hits", "nad_live_reads"), 0)
        self._counts_lock = threading.Lock()

    def start(self) -> CachedKube:
        """Start both informers (they sync in the background)."""
        self.pods.start()
        self.nads.start()
        return self

    def wait_for_sync(self, timeout: float) -> bool:
        """Wait until both caches have listed once; False on timeout (reads then go live)."""
        deadline = time.monotonic() + timeout
        return all(i.wait_for_sync(max(0.0, deadline - time.monotonic())) for i in (self.pods, self.nads))

    def stop(self) -> None:
        """Stop both informers; the client stays open (it is the caller's)."""
        self.pods.stop()
        self.nads.stop()

    def __enter__(self) -> CachedKube:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def counters(self) -> dict[str, int]:
        """Cache hits, waits and live reads so far (for metrics and tests)."""
        with self._counts_lock:
            return dict(self._counts)

    def _count(self, name: str) -> None:
        with self._counts_lock:
            self._counts[name] += 1

    # ----- KubeAPI ---------------------------------------------------------------------------

    def get_pod(self, namespace: str, name: str, *, wait: float | None = None,
                timeout: float | None = None) -> Obj:
        """The pod from the cache, waiting up to ``wait`` (default ``pod_wait``) on a miss, then one live GET.

        Raises :class:`~multus.k8s.errors.NotFoundError` when the live GET finds no pod. Before the
        first list has completed the cache proves nothing, so the GET is made at once. ``timeout``
        (seconds) bounds a miss, the wait and the live GET together; the wait leaves the GET at least
        :data:`LIVE_READ_RESERVE` of it (all of it when it is shorter). A hit ignores ``timeout``.
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        if self.pods.has_synced:
            pod = self.pods.get(namespace, name)
            wait = self.pod_wait if wait is None else wait
            if timeout is not None:
                wait = min(wait, max(0.0, timeout - LIVE_READ_RESERVE))
            if pod is None and wait > 0 and not self.pods.recently_deleted(namespace, name):
                self._count("pod_waits")
                pod = self.pods.wait_for(namespace, name, wait)
            if pod is not None:
                self._count("pod_cache_hits")
                return copy.deepcopy(pod)
        self._count("pod_live_reads")
        if deadline is None:
            return self.client.get_pod(namespace, name)
        return self.client.get_pod(namespace, name, timeout=max(0.0, deadline - time.monotonic()))

    def get_network_attachment_definition(self, namespace: str, name: str) -> Obj:
        """The NAD from the cache; a miss is a live GET (a NAD created a moment ago is not an error)."""
        nad = self.nads.get(namespace, name)
        if nad is not None:
            self._count("nad_cache_hits")
            return copy.deepcopy(nad)
        self._count("nad_live_reads")
        return self.client.get_network_attachment_definition(namespace, name)

    def patch_pod_status(self, namespace: str, name: str, patch: Obj, *, uid: str | None = None) -> Obj:
        """Passed through to the client (writes are never cached)."""
        return self.client.patch_pod_status(namespace, name, patch, uid=uid)

    def create_event(self, namespace: str, event: Obj) -> Obj:
        """Passed through to the client."""
        return self.client.create_event(namespace, event)
