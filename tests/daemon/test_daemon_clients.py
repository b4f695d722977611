"""The daemon's shared Kubernetes access (multus.daemon.clients.SharedKube), with a recording builder.

Double: a builder function that records each client it builds (a ``FakeClient`` with a ``close``), and
a controllable clock; one test builds a real KubeClient against the API server double. Checked: one
client per distinct kubeconfig, reused across calls and threads; in-cluster detection from the daemon's
environment, never the request's; no Kubernetes means None; a given KubeAPI (an informer cache) serves
every call; clients are rebuilt after their maximum age and the old one is closed; close() closes all.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from multus.daemon.clients import SharedKube
from multus.k8s.client import KubeClient
from multus.plugin.config import MultusNetConf
from multus.testing.kube_api import KubeApiServer


class FakeClient:
    def __init__(self, kubeconfig: str) -> None:
        self.kubeconfig = kubeconfig
        self.closed = False

    def close(self) -> None:
        self.closed = True

    def get_pod(self, namespace: str, name: str, *, timeout: float | None = None) -> dict[str, Any]:
        return {}

    def get_network_attachment_definition(self, namespace: str, name: str) -> dict[str, Any]:
        return {}

    def patch_pod_status(self, namespace: str, name: str, patch: dict[str, Any], *,
                         uid: str | None = None) -> dict[str, Any]:
        return {}

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]:
        return {}


class Recorder:
    def __init__(self) -> None:
        self.built: list[FakeClient] = []

    def __call__(self, kubeconfig: str, environ: Mapping[str, str]) -> FakeClient:
        client = FakeClient(kubeconfig)
        self.built.append(client)
        return client


def conf(kubeconfig: str = "") -> MultusNetConf:
    return MultusNetConf(kubeconfig=kubeconfig)


def test_one_client_per_distinct_kubeconfig_is_built_and_reused_across_threads() -> None:
    builder = Recorder()
    shared = SharedKube(environ={}, builder=builder)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(shared(conf("/a"), {}))) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builder.built) == 1 and all(client is builder.built[0] for client in seen)
    other = shared(conf("/b"), {})
    assert other is builder.built[1] and [c.kubeconfig for c in builder.built] == ["/a", "/b"]


def test_in_cluster_access_follows_the_daemons_environment_not_the_requests() -> None:
    builder = Recorder()
    outside = SharedKube(environ={}, builder=builder)
    assert outside(conf(), {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}) is None
    inside = SharedKube(environ={"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"},
                        builder=builder)
    client = inside(conf(), {})
    assert client is builder.built[0] and builder.built[0].kubeconfig == ""


def test_a_given_kube_api_serves_every_call_whatever_the_config_says() -> None:
    cache = FakeClient("informer cache")
    builder = Recorder()
    shared = SharedKube(cache, environ={}, builder=builder)
    assert shared(conf("/a"), {}) is cache and shared(conf(), {}) is cache
    assert builder.built == []


def test_clients_are_rebuilt_after_their_maximum_age_and_the_old_one_is_closed() -> None:
    now = [0.0]
    builder = Recorder()
    shared = SharedKube(environ={}, builder=builder, max_age=60, clock=lambda: now[0])
    first = shared(conf("/a"), {})
    now[0] = 59
    assert shared(conf("/a"), {}) is first
    now[0] = 61
    second = shared(conf("/a"), {})
    assert second is not first and builder.built[0].closed and not builder.built[1].closed
    shared.close()
    assert builder.built[1].closed


def test_the_default_builder_makes_a_working_client_from_a_kubeconfig(tmp_path: Path) -> None:
    with KubeApiServer() as api:
        api.add_pod("default", "web", uid="u1")
        shared = SharedKube(environ={})
        try:
            client = shared(conf(str(api.write_kubeconfig(tmp_path / "kubeconfig"))), {})
            assert isinstance(client, KubeClient)
            assert client.get_pod("default", "web")["metadata"]["uid"] == "u1"
        finally:
            shared.close()


def test_the_production_cache_serves_this_nodes_pods_without_api_reads(tmp_path: Path) -> None:
    """start_kube_cache against the API server double: synced node-filtered pods, NADs, no live GETs."""
    from multus.daemon.clients import start_kube_cache
    from multus.daemon.kube_cache import CachedKube

    with KubeApiServer() as api:
        api.add_pod("default", "mine", node_name="node-a")
        api.add_pod("default", "theirs", node_name="node-b")
        api.add_nad("default", "net1", {"cniVersion": "1.0.0", "type": "bridge"})
        kubeconfig = str(api.write_kubeconfig(tmp_path / "kubeconfig"))
        cache = start_kube_cache(kubeconfig, {"MULTUS_NODE_NAME": "node-a"}, sync_timeout=10)
        assert isinstance(cache, CachedKube)
        try:
            api.clear_requests()
            assert cache.get_pod("default", "mine")["metadata"]["name"] == "mine"
            assert cache.get_network_attachment_definition("default", "net1")["metadata"]["name"] == "net1"
            assert api.requests_matching("GET", r"/pods/mine$") == []
            assert api.requests_matching("GET", r"/network-attachment-definitions/net1$") == []
            assert cache.counters()["pod_cache_hits"] == 1
        finally:
            cache.stop()


def test_no_kubeconfig_and_no_cluster_means_no_cache() -> None:
    from multus.daemon.clients import start_kube_cache

    assert start_kube_cache("", {}) is None
