"""One Kubernetes API client for all requests, instead of one per CNI call.

The thin plugin builds a client per call because it is a process per call; the daemon serves hundreds of
calls a minute and must not open a TLS connection, read the token and parse the kubeconfig for each.
:class:`SharedKube` is the ``kube_factory`` the verbs are built with:

* given a ``KubeAPI`` (e.g. the informer-backed cache of :mod:`multus.daemon.kube_cache`), every
  request uses it;
* otherwise it keeps one :class:`~multus.k8s.client.KubeClient` per distinct kubeconfig (the merged
  config's, so normally the daemon's), or the in-cluster one when the daemon runs in a pod. In-cluster
  detection reads the daemon's environment, not the request's: the shim forwards the runtime's
  environment, which says nothing about where the daemon runs.

Clients are rebuilt after :data:`CLIENT_MAX_AGE` seconds, because a client reads its bearer token once
and projected service-account tokens expire; the old one finishes its requests and is closed.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from multus.plugin.config import MultusNetConf
from multus.plugin.context import KubeAPI

log = logging.getLogger(__name__)

CLIENT_MAX_AGE = 600.0
IN_CLUSTER = "<in-cluster>"

ClientBuilder = Callable[[str, Mapping[str, str]], "KubeAPI | None"]


def build_kube_client(kubeconfig: str, environ: Mapping[str, str], pool_size: int = 16) -> KubeAPI | None:
    """A KubeClient from a kubeconfig path or in-cluster settings (None when neither applies)."""
    from multus.k8s.access import resolve_access
    from multus.k8s.client import KubeClient

    access = resolve_access(kubeconfig, environ)
    return KubeClient(access, pool_size=pool_size, user_agent="multus-py-daemon") if access is not None else None


@dataclass
class _Entry:
    client: KubeAPI | None
    created: float


class SharedKube:
    """The daemon's ``kube_factory``: a fixed KubeAPI, or one cached client per kubeconfig."""

    def __init__(self, fixed: KubeAPI | None = None, *, environ: Mapping[str, str] | None = None,
                 builder: ClientBuilder | None = None, max_age: float = CLIENT_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._fixed = fixed
        self._environ = dict(os.environ if environ is None else environ)
        self._builder: ClientBuilder = builder or build_kube_client
        self._max_age = max_age
        self._clock = clock
        self._clients: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def __call__(self, conf: MultusNetConf, request_environ: Mapping[str, str]) -> KubeAPI | None:
        """The client for a call's (merged) config; ``request_environ`` is deliberately unused."""
        if self._fixed is not None:
            return self._fixed
        return self.client_for(conf.kubeconfig)

    def client_for(self, kubeconfig: str) -> KubeAPI | None:
        key = kubeconfig or (IN_CLUSTER if self._in_cluster() else "")
        if not key:
            return None
        with self._lock:
            entry = self._clients.get(key)
            if entry is not None and self._clock() - entry.created < self._max_age:
                return entry.client
            # Built under the lock: a burst of first requests must not build a client each.
            client = self._builder(kubeconfig, self._environ)
            self._clients[key] = _Entry(client, self._clock())
        if entry is not None:
            _close(entry.client)  # idle connections now; busy ones when their requests end
        return client

    def close(self) -> None:
        with self._lock:
            entries, self._clients = list(self._clients.values()), {}
        for entry in entries:
            _close(entry.client)

    def _in_cluster(self) -> bool:
        return bool(self._environ.get("KUBERNETES_SERVICE_HOST") and self._environ.get("KUBERNETES_SERVICE_PORT"))


def _close(client: KubeAPI | None) -> None:
    close = getattr(client, "close", None)
    if callable(close):
        try:
            close()
        except Exception as exc:  # closing is tidying up; never fail a request for it
            log.warning("closing a Kubernetes client failed: %s", exc)


CACHE_SYNC_TIMEOUT = 20.0  # Go's WaitForCacheSync per informer


def start_kube_cache(kubeconfig: str, environ: Mapping[str, str] | None = None,
                     sync_timeout: float = CACHE_SYNC_TIMEOUT) -> KubeAPI | None:
    """The daemon's informer-backed API access (pods of this node, all NADs), started and synced.

    With warm caches an ADD makes no API reads; a miss falls back to one live read. The pod cache is
    filtered by MULTUS_NODE_NAME when set (without it, every pod of the cluster is cached: users saw
    1.8 GB RSS that way). None when there is no Kubernetes to reach. A cache that does not sync in time
    is only logged, as in Go: requests still work through live reads.
    """
    from multus.daemon.kube_cache import CachedKube
    from multus.k8s.access import resolve_access
    from multus.k8s.client import KubeClient

    env = dict(os.environ if environ is None else environ)
    access = resolve_access(kubeconfig, env)
    if access is None:
        return None
    node_name = env.get("MULTUS_NODE_NAME") or None
    if node_name is None:
        log.warning("MULTUS_NODE_NAME is not set: caching the pods of every node")
    cache = CachedKube(KubeClient(access, pool_size=16, user_agent="multus-py-daemon"), node_name=node_name)
    cache.start()
    if not cache.wait_for_sync(sync_timeout):
        log.error("the pod and NAD caches did not sync within %.0f s; serving with live reads meanwhile",
                  sync_timeout)
    return cache
