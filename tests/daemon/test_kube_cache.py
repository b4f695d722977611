"""The daemon's caches (multus.daemon.kube_cache) against the kube-apiserver double over real HTTP.

The API server is the double (multus.testing.kube_api) on 127.0.0.1 with 0.1 s bookmarks; clients
come from the kubeconfig it writes. Fixtures stop every informer and the server even when a test
fails. API reads are counted in the double's request log. Checked:

* an Informer lists, then follows ADDED/MODIFIED/DELETED;
* bookmarks advance its resourceVersion, so a re-watch after compaction needs no relist;
* a 410 after an outage relists, dropping objects deleted meanwhile;
* dropped watch connections (fault injection) are retried with backoff and resume from the last
  resourceVersion without a relist and without losing events;
* the pod cache only ever holds pods bound to its node (including one bound after creation);
* the transform drops managedFields, volumes and container command/args/env/volumeMounts (on
  list and on watch events) and keeps annotations, uid, images and status;
* CachedKube.get_pod: a warm hit makes no API request and returns a private copy; a pod created
  just before the call is found by waiting on the cache; a pod the watch has not delivered is read
  live once after the wait; a deleted pod is NotFound at once; an unknown pod is NotFound after
  the wait and one GET; before the first list it reads live without waiting; a ``timeout=`` is
  ignored by a hit and bounds a miss's wait and live GET together, leaving the GET its reserve;
* NADs: one created after sync is served from the cache; one a stale cache lacks is read live;
* writes pass through; concurrent readers never see a pod go back in time while events stream;
* stop() ends the threads promptly, even while an informer is backing off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from multus.daemon.kube_cache import LIVE_READ_RESERVE, NADS_PATH, PODS_PATH, CachedKube, Informer
from multus.k8s.access import load_kubeconfig
from multus.k8s.client import KubeClient
from multus.k8s.errors import NotFoundError, UnavailableError
from multus.testing.kube_api import KubeApiServer

NODE = "node-a"
MakeCache = Callable[..., CachedKube]
MakeInformer = Callable[..., Informer]
POD_COLLECTION = r"^/api/v1/pods$"
NAD_COLLECTION = r"^/apis/k8s.cni.cncf.io/v1/network-attachment-definitions$"


def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> bool:
    """Poll ``predicate`` every 10 ms until it holds; whether it did within ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    with KubeApiServer(bookmark_interval=0.1) as server:
        yield server


@pytest.fixture
def client(api: KubeApiServer, tmp_path: Path) -> Iterator[KubeClient]:
    with KubeClient(load_kubeconfig(api.write_kubeconfig(tmp_path / "kubeconfig")), timeout=3.0,
                    backoff=0.01) as kube:
        yield kube


@pytest.fixture
def make_informer(client: KubeClient) -> Iterator[MakeInformer]:
    """Build and start informers with fast backoff; every one is stopped at teardown."""
    made: list[Informer] = []

    def make(path: str = PODS_PATH, **options: Any) -> Informer:
        informer = Informer(client, path, **{"backoff": 0.02, "max_backoff": 0.2, **options})
        made.append(informer)
        return informer.start()

    try:
        yield make
    finally:
        for informer in made:
            informer.stop()


@pytest.fixture
def make_cache(client: KubeClient) -> Iterator[MakeCache]:
    """Build, start and sync CachedKubes for NODE (fast backoff); every one is stopped at teardown."""
    made: list[CachedKube] = []

    def make(sync: bool = True, **options: Any) -> CachedKube:
        cache = CachedKube(client, **{"node_name": NODE, "backoff": 0.02, "max_backoff": 0.2, **options})
        made.append(cache)
        cache.start()
        if sync:
            assert cache.wait_for_sync(3)
        return cache

    try:
        yield make
    finally:
        for cache in made:
            cache.stop()


def names(informer: Informer) -> set[str]:
    return {o["metadata"]["name"] for o in informer.items()}


def annotations_of(informer: Informer, name: str) -> dict[str, str] | None:
    """The cached object's annotations (None when it is not cached)."""
    obj = informer.get("default", name)
    return None if obj is None else obj["metadata"].get("annotations") or {}


def wait_until_watching(api: KubeApiServer, informer: Informer) -> None:
    """Wait until the informer's watch is subscribed on the server (only then can close_watches end it).

    An unrelated write moves the global resourceVersion; the next bookmark brings it to the
    informer, which proves its stream is live.
    """
    api.put_object({"apiVersion": "v1", "kind": "Event", "reason": "Probe",
                    "metadata": {"name": f"probe-{api.resource_version}", "namespace": "default"}})
    assert eventually(lambda: informer.resource_version == api.resource_version)


def starve_watches(api: KubeApiServer, informer: Informer, path: str) -> None:
    """From now on every watch of ``path`` is dropped; end the open stream so it must reconnect."""
    wait_until_watching(api, informer)
    api.faults.add("GET", path, query="watch=true", drop=True, times=None)
    api.store.close_watches()


# ----- Informer ----------------------------------------------------------------------------------


def test_an_informer_lists_then_follows_added_modified_and_deleted(
    api: KubeApiServer, make_informer: MakeInformer
) -> None:
    api.add_pod("default", "old")
    informer = make_informer()
    assert informer.wait_for_sync(3) and names(informer) == {"old"}
    api.add_pod("default", "web")
    api.patch_pod("default", "web", {"metadata": {"annotations": {"a": "1"}}})
    api.delete_pod("default", "old")
    assert eventually(lambda: names(informer) == {"web"})
    assert eventually(lambda: annotations_of(informer, "web") == {"a": "1"})
    assert informer.recently_deleted("default", "old") and informer.lists == 1


def test_bookmarks_advance_the_resource_version_so_a_rewatch_after_compaction_needs_no_relist(
    api: KubeApiServer, make_informer: MakeInformer
) -> None:
    api.add_pod("default", "web")
    informer = make_informer()
    assert informer.wait_for_sync(3)
    api.add_nad("default", "net", {"type": "bridge"})  # moves the global resourceVersion, no pod event
    assert eventually(lambda: informer.resource_version == api.resource_version)
    api.compact()
    api.store.close_watches()  # the informer must watch again, from the bookmark's resourceVersion
    assert eventually(lambda: informer.watches >= 2)
    api.add_pod("default", "after")
    assert eventually(lambda: names(informer) == {"web", "after"})
    assert informer.lists == 1


def test_a_410_after_an_outage_relists_and_drops_objects_deleted_meanwhile(
    api: KubeApiServer, make_informer: MakeInformer
) -> None:
    api.add_pod("default", "a")
    api.add_pod("default", "b")
    informer = make_informer()
    assert informer.wait_for_sync(3)
    api.stop()
    api.add_pod("default", "c")
    api.delete_pod("default", "a")
    api.compact()
    api.start()
    assert eventually(lambda: names(informer) == {"b", "c"})
    assert informer.lists == 2 and informer.recently_deleted("default", "a")
    assert any(r.query.get("watch") == "true" and r.query.get("resourceVersion") for r in
               api.requests_matching("GET", POD_COLLECTION))


def test_dropped_watch_connections_resume_from_the_last_version_without_losing_events(
    api: KubeApiServer, make_informer: MakeInformer
) -> None:
    for name in ("keep", "change", "remove"):
        api.add_pod("default", name)
    informer = make_informer()
    assert informer.wait_for_sync(3)
    wait_until_watching(api, informer)
    resume_from = informer.resource_version
    rule = api.faults.add("GET", POD_COLLECTION, query="watch=true", drop=True, times=3)
    api.store.close_watches()
    api.add_pod("default", "new")
    api.patch_pod("default", "change", {"metadata": {"annotations": {"v": "2"}}})
    api.delete_pod("default", "remove")
    assert eventually(lambda: names(informer) == {"keep", "change", "new"})
    assert eventually(lambda: annotations_of(informer, "change") == {"v": "2"})
    assert rule.hits == 3 and informer.lists == 1
    resumed = [r for r in api.requests_matching("GET", POD_COLLECTION) if r.is_watch and r.fault is None][1]
    assert resumed.query["resourceVersion"] == resume_from


# ----- the pod cache: node filter and transform ---------------------------------------------------


def test_the_pod_cache_only_holds_pods_bound_to_its_node(api: KubeApiServer, make_cache: MakeCache) -> None:
    api.add_pod("default", "mine", node_name=NODE)
    api.add_pod("default", "theirs", node_name="node-b")
    api.add_pod("default", "pending")
    cache = make_cache()
    assert names(cache.pods) == {"mine"}
    assert api.requests_matching("GET", POD_COLLECTION)[0].query["fieldSelector"] == f"spec.nodeName={NODE}"
    api.patch_pod("default", "pending", {"spec": {"nodeName": NODE}})  # the scheduler binds it here
    api.add_pod("default", "theirs-2", node_name="node-b")
    api.add_pod("default", "marker", node_name=NODE)
    assert eventually(lambda: "marker" in names(cache.pods))  # events arrive in order: node-b's came before
    assert names(cache.pods) == {"mine", "pending", "marker"}


def _fat_pod(name: str) -> dict[str, Any]:
    container = {"name": "app", "image": "registry.example/app:1.2.3", "command": ["/bin/app"],
                 "args": ["--serve", "--port=8080"],
                 "env": [{"name": f"VAR_{i}", "value": "x" * 40} for i in range(20)],
                 "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                 "resources": {"limits": {"intel.com/sriov": "1"}}}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"},
                         "annotations": {"k8s.v1.cni.cncf.io/networks": "macvlan-conf"},
                         "managedFields": [{"manager": "kubectl", "operation": "Update",
                                            "fieldsV1": {"f:spec": {"f:containers": {}}}}]},
            "spec": {"nodeName": NODE, "containers": [container], "initContainers": [dict(container, name="init")],
                     "volumes": [{"name": "data", "emptyDir": {}}]},
            "status": {"phase": "Running", "podIP": "10.0.0.5"}}


def _assert_slim(pod: dict[str, Any]) -> None:
    assert "managedFields" not in pod["metadata"] and "volumes" not in pod["spec"]
    for container in pod["spec"]["containers"] + pod["spec"]["initContainers"]:
        assert not {"command", "args", "env", "volumeMounts"} & container.keys()
        assert container["image"] == "registry.example/app:1.2.3" and container["resources"]
    assert pod["metadata"]["annotations"]["k8s.v1.cni.cncf.io/networks"] == "macvlan-conf"
    assert pod["metadata"]["uid"] and pod["status"]["podIP"] == "10.0.0.5"


def test_cached_pods_lose_managed_fields_volumes_and_container_env_but_keep_annotations(
    api: KubeApiServer, make_cache: MakeCache
) -> None:
    api.put_object(_fat_pod("listed"))
    cache = make_cache()
    api.put_object(_fat_pod("watched"))
    assert eventually(lambda: "watched" in names(cache.pods))
    for name in ("listed", "watched"):
        _assert_slim(cache.get_pod("default", name))
    assert api.get_pod("default", "listed")["spec"]["containers"][0]["env"]  # the server's copy is untouched
    assert cache.counters()["pod_live_reads"] == 0


# ----- CachedKube.get_pod ------------------------------------------------------------------------


def test_get_pod_with_a_warm_cache_makes_no_api_request_and_returns_a_private_copy(
    api: KubeApiServer, make_cache: MakeCache
) -> None:
    api.add_pod("default", "web", node_name=NODE, annotations={"a": "1"})
    cache = make_cache()
    api.clear_requests()
    for _ in range(20):
        pod = cache.get_pod("default", "web")
        pod["metadata"]["annotations"]["a"] = "changed by the caller"
    assert cache.get_pod("default", "web")["metadata"]["annotations"] == {"a": "1"}
    assert api.requests_matching("GET", r"/pods/web$") == []
    assert cache.counters()["pod_cache_hits"] == 21 and cache.counters()["pod_live_reads"] == 0


def test_a_pod_created_just_before_the_call_is_found_by_waiting_on_the_cache(
    api: KubeApiServer, make_cache: MakeCache
) -> None:
    cache = make_cache()
    api.add_pod("default", "fresh", node_name=NODE)
    started = time.monotonic()
    assert cache.get_pod("default", "fresh")["metadata"]["name"] == "fresh"
    assert time.monotonic() - started < 1  # woken by the watch event, not by the end of the wait
    assert cache.counters()["pod_live_reads"] == 0 and api.requests_matching("GET", r"/pods/fresh$") == []


def test_a_pod_the_watch_has_not_delivered_is_read_live_once_after_the_wait(
    api: KubeApiServer, make_cache: MakeCache
) -> None:
    cache = make_cache(pod_wait=0.3)
    starve_watches(api, cache.pods, POD_COLLECTION)
    api.add_pod("default", "late", node_name=NODE)
    started = time.monotonic()
    assert cache.get_pod("default", "late")["metadata"]["name"] == "late"
    assert time.monotonic() - started >= 0.3
    assert len(api.requests_matching("GET", r"/pods/late$")) == 1
    assert cache.counters()["pod_waits"] == 1 and cache.counters()["pod_live_reads"] == 1


def test_a_deleted_pod_is_not_found_at_once_without_waiting(api: KubeApiServer, make_cache: MakeCache) -> None:
    api.add_pod("default", "gone", node_name=NODE)
    cache = make_cache(pod_wait=2.5)
    api.delete_pod("default", "gone")
    assert eventually(lambda: cache.pods.get("default", "gone") is None)
    started = time.monotonic()
    with pytest.raises(NotFoundError):
        cache.get_pod("default", "gone")
    assert time.monotonic() - started < 0.5
    assert cache.counters()["pod_waits"] == 0 and len(api.requests_matching("GET", r"/pods/gone$")) == 1


def test_an_unknown_pod_is_not_found_after_the_wait_and_one_live_read(
    api: KubeApiServer, make_cache: MakeCache
) -> None:
    cache = make_cache(pod_wait=0.2)
    started = time.monotonic()
    with pytest.raises(NotFoundError):
        cache.get_pod("default", "nobody")
    assert time.monotonic() - started >= 0.2
    assert len(api.requests_matching("GET", r"/pods/nobody$")) == 1


def test_a_cache_hit_ignores_the_timeout(api: KubeApiServer, make_cache: MakeCache) -> None:
    api.add_pod("default", "web", node_name=NODE)
    cache = make_cache()
    api.clear_requests()
    assert cache.get_pod("default", "web", timeout=0)["metadata"]["name"] == "web"
    assert api.requests_matching("GET", r"/pods/web$") == [] and cache.counters()["pod_live_reads"] == 0


def test_a_timeout_bounds_a_miss_s_wait_and_live_read_together(api: KubeApiServer, make_cache: MakeCache) -> None:
    cache = make_cache(pod_wait=2.5)  # the client's own timeout is 3 s
    api.faults.add("GET", r"/pods/nobody$", delay=5, times=None)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="timed out"):
        cache.get_pod("default", "nobody", timeout=1.0)
    assert 0.9 <= time.monotonic() - started < 1.4
    assert cache.counters()["pod_waits"] == 1 and cache.counters()["pod_live_reads"] == 1


def test_a_timeout_leaves_the_live_read_time_after_the_wait(api: KubeApiServer, make_cache: MakeCache) -> None:
    cache = make_cache(pod_wait=2.5)
    starve_watches(api, cache.pods, POD_COLLECTION)
    api.add_pod("default", "late", node_name=NODE)
    started = time.monotonic()
    assert cache.get_pod("default", "late", timeout=1.0)["metadata"]["name"] == "late"
    elapsed = time.monotonic() - started
    assert 1.0 - LIVE_READ_RESERVE - 0.05 <= elapsed < 1.0  # waited what the reserve left, then read live
    assert len(api.requests_matching("GET", r"/pods/late$")) == 1


def test_before_the_first_list_get_pod_reads_live_without_waiting(
    api: KubeApiServer, make_cache: MakeCache
) -> None:
    api.faults.add("GET", POD_COLLECTION, status=403, times=None)
    api.add_pod("default", "web", node_name=NODE)
    cache = make_cache(sync=False, pod_wait=2.5)
    assert not cache.wait_for_sync(0.3) and not cache.pods.has_synced
    started = time.monotonic()
    assert cache.get_pod("default", "web")["metadata"]["name"] == "web"
    assert time.monotonic() - started < 0.5 and cache.counters()["pod_live_reads"] == 1


# ----- NADs, writes ------------------------------------------------------------------------------


def test_a_nad_created_after_sync_is_served_from_the_cache(api: KubeApiServer, make_cache: MakeCache) -> None:
    cache = make_cache()
    api.add_nad("kube-system", "macvlan", {"cniVersion": "1.0.0", "type": "macvlan"})
    assert eventually(lambda: cache.nads.get("kube-system", "macvlan") is not None)
    api.clear_requests()
    nad = cache.get_network_attachment_definition("kube-system", "macvlan")
    assert '"macvlan"' in nad["spec"]["config"] and api.requests == []
    assert cache.counters()["nad_cache_hits"] == 1


def test_a_nad_missing_from_a_stale_cache_is_read_live_instead_of_failing(
    api: KubeApiServer, make_cache: MakeCache
) -> None:
    cache = make_cache()
    starve_watches(api, cache.nads, NAD_COLLECTION)
    api.add_nad("default", "new-net", {"type": "bridge"})
    assert cache.get_network_attachment_definition("default", "new-net")["metadata"]["name"] == "new-net"
    assert cache.counters()["nad_live_reads"] == 1
    with pytest.raises(NotFoundError):
        cache.get_network_attachment_definition("default", "no-such-net")
    api.faults.clear()  # the watch recovers and the cache catches up
    assert eventually(lambda: cache.nads.get("default", "new-net") is not None)
    cache.get_network_attachment_definition("default", "new-net")
    assert cache.counters()["nad_live_reads"] == 2 and cache.counters()["nad_cache_hits"] == 1


def test_writes_pass_through_to_the_api_server(api: KubeApiServer, make_cache: MakeCache) -> None:
    uid = api.add_pod("default", "web", node_name=NODE)["metadata"]["uid"]
    cache = make_cache()
    cache.patch_pod_status("default", "web", {"metadata": {"annotations": {"s": "1"}}}, uid=uid)
    cache.create_event("default", {"metadata": {"generateName": "web."}, "reason": "AddedInterface",
                                   "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"}})
    assert api.get_pod("default", "web")["metadata"]["annotations"] == {"s": "1"}
    assert [e["reason"] for e in api.events("default")] == ["AddedInterface"]
    assert eventually(lambda: annotations_of(cache.pods, "web") == {"s": "1"})


# ----- threads -----------------------------------------------------------------------------------


def test_concurrent_readers_never_see_a_pod_go_back_in_time_while_events_stream(
    api: KubeApiServer, make_cache: MakeCache
) -> None:
    stable = [f"stable-{i}" for i in range(5)]
    for name in stable:
        api.add_pod("default", name, node_name=NODE, annotations={"gen": "0"})
    cache = make_cache()
    stop, errors = threading.Event(), []

    def read() -> None:
        seen = dict.fromkeys(stable, 0)
        while not stop.is_set():
            for name in stable:
                pod = cache.get_pod("default", name)
                gen = int(pod["metadata"]["annotations"]["gen"])
                if pod["metadata"]["name"] != name or gen < seen[name]:
                    errors.append(f"{name}: gen {gen} after {seen[name]}")
                seen[name] = gen

    def write() -> None:
        for gen in range(1, 31):
            for name in stable:
                api.patch_pod("default", name, {"metadata": {"annotations": {"gen": str(gen)}}})
            api.add_pod("default", f"churn-{gen}", node_name=NODE)
            api.delete_pod("default", f"churn-{gen}")

    readers = [threading.Thread(target=read) for _ in range(8)]
    for thread in readers:
        thread.start()
    write()
    try:
        assert eventually(lambda: all(annotations_of(cache.pods, n) == {"gen": "30"} for n in stable))
    finally:
        stop.set()
        for thread in readers:
            thread.join(5)
    assert errors == [] and names(cache.pods) == set(stable)
    assert cache.counters()["pod_live_reads"] == 0 and cache.counters()["pod_cache_hits"] > 100


def _informer_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("informer-")]


def test_stop_ends_the_informer_threads_promptly(api: KubeApiServer, make_cache: MakeCache) -> None:
    cache = make_cache()
    wait_until_watching(api, cache.pods)
    wait_until_watching(api, cache.nads)  # both informer threads now block reading quiet watches
    started = time.monotonic()
    cache.stop()
    assert time.monotonic() - started < 1 and _informer_threads() == []


def test_stop_ends_an_informer_that_is_backing_off(
    api: KubeApiServer, make_informer: MakeInformer
) -> None:
    api.faults.add("GET", NADS_PATH + "$", status=403, times=None)
    informer = make_informer(NADS_PATH, name="backing-off", backoff=30.0, max_backoff=30.0)
    assert eventually(lambda: len(api.requests_matching("GET", NAD_COLLECTION)) >= 1)
    started = time.monotonic()
    informer.stop()
    assert time.monotonic() - started < 1 and "informer-backing-off" not in _informer_threads()
