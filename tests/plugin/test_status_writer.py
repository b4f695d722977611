"""Writing the network-status annotation (multus.plugin.status_writer; features §8, our PATCH design).

Our real client talks HTTP to the API server double, inside a CallContext built from real objects.
Checked:
* one JSON merge PATCH of ``/api/v1/namespaces/<ns>/pods/<name>/status`` with content type
  ``application/merge-patch+json``, carrying only the annotation and ``metadata.uid``; the value is
  Go's format; the pod's other annotations, labels and spec are untouched;
* a pod replaced by another of the same name (another uid): the uid precondition fails (409), the
  call fails with ``error setting the networks status``, and the new pod is never annotated;
* one injected 409, then success: written with 2 PATCHes; two injected 500s: written with 3;
  a persistent 500: an error after the bounded attempts; 403: an error at once;
* a pod deleted meanwhile: no error, nothing written;
* pods in ``systemNamespaces`` (kube-system by default, or the configured list), an empty status
  list and a call without Kubernetes: no PATCH at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from multus.cni.errors import CniError
from multus.cni.runtime import CNIRuntime
from multus.k8s.access import load_kubeconfig
from multus.k8s.client import KubeClient
from multus.plugin.config import load_netconf
from multus.plugin.context import CallContext, KubeAPI
from multus.plugin.events import NullEventSink
from multus.plugin.k8s_args import K8sArgs
from multus.plugin.status import format_network_status
from multus.plugin.status_writer import ATTEMPTS, NETWORK_STATUS_ANNOTATION, write_network_status
from multus.testing.kube_api import KubeApiServer

UID = "3b4a-first-pod"
STATUS_PATH = r"^/api/v1/namespaces/default/pods/web/status$"
STATUSES: list[dict[str, Any]] = [
    {"name": "cluster", "interface": "eth0", "ips": ["10.10.0.2"], "mac": "0a:58:0a:0a:00:02", "default": True,
     "dns": {}},
    {"name": "default/macvlan-conf", "interface": "net1", "ips": ["10.20.0.2"], "mac": "c2:11:22:33:44:66",
     "dns": {}},
]


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    with KubeApiServer() as server:
        yield server


@pytest.fixture
def client(api: KubeApiServer, tmp_path: Path) -> Iterator[KubeClient]:
    # retries=0: every retry counted below is the writer's own, not the client's
    with KubeClient(load_kubeconfig(api.write_kubeconfig(tmp_path / "kubeconfig")), retries=0, timeout=5) as kube:
        yield kube


def context(kube: KubeAPI | None, **conf: Any) -> CallContext:
    body = {"cniVersion": "1.0.0", "name": "multus", "type": "multus", "clusterNetwork": "cluster", **conf}
    return CallContext(conf=load_netconf(json.dumps(body).encode()), k8s=K8sArgs(), container_id="ctr",
                       netns="/var/run/netns/x", ifname="eth0", env_cni_args="", runtime=CNIRuntime([]),
                       kube=kube, events=NullEventSink())


def add_web(api: KubeApiServer, namespace: str = "default", uid: str = UID) -> dict[str, Any]:
    return api.add_pod(namespace, "web", uid=uid, labels={"app": "web"},
                       annotations={"k8s.v1.cni.cncf.io/networks": "macvlan-conf", "owner": "someone"})


def patches(api: KubeApiServer, path: str = STATUS_PATH) -> list[Any]:
    return api.requests_matching("PATCH", path)


def test_one_merge_patch_of_pod_status_carries_only_the_annotation_and_the_uid(
        api: KubeApiServer, client: KubeClient) -> None:
    pod = add_web(api)
    write_network_status(context(client), pod, STATUSES)

    [request] = patches(api)
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert request.body == {"metadata": {"annotations": {NETWORK_STATUS_ANNOTATION: format_network_status(STATUSES)},
                                         "uid": UID}}
    assert api.requests_matching("PUT", "") == [] and len(api.requests) == 1  # no read-modify-write

    stored = api.get_pod("default", "web")
    annotations = stored["metadata"]["annotations"]
    assert json.loads(annotations[NETWORK_STATUS_ANNOTATION]) == STATUSES
    assert annotations[NETWORK_STATUS_ANNOTATION].startswith('[{\n    "name": "cluster",\n    "interface": "eth0"')
    assert {k: v for k, v in annotations.items() if k != NETWORK_STATUS_ANNOTATION} == {
        "k8s.v1.cni.cncf.io/networks": "macvlan-conf", "owner": "someone"}
    assert stored["metadata"]["labels"] == {"app": "web"}
    assert stored["spec"] == pod["spec"]


def test_a_later_write_replaces_only_this_annotation(api: KubeApiServer, client: KubeClient) -> None:
    pod = add_web(api)
    write_network_status(context(client), pod, STATUSES)
    api.patch_pod("default", "web", {"metadata": {"annotations": {"added-meanwhile": "yes"}}})
    write_network_status(context(client), pod, STATUSES[:1])
    annotations = api.get_pod("default", "web")["metadata"]["annotations"]
    assert json.loads(annotations[NETWORK_STATUS_ANNOTATION]) == STATUSES[:1]
    assert annotations["added-meanwhile"] == "yes" and annotations["owner"] == "someone"


def test_a_pod_replaced_under_the_same_name_is_never_annotated(api: KubeApiServer, client: KubeClient) -> None:
    old = add_web(api)
    api.delete_pod("default", "web")
    add_web(api, uid="9c1d-second-pod")
    with pytest.raises(CniError) as info:
        write_network_status(context(client), old, STATUSES)
    assert info.value.msg.startswith("error setting the networks status: ")
    assert NETWORK_STATUS_ANNOTATION not in api.get_pod("default", "web")["metadata"]["annotations"]
    assert patches(api) and all(r.body["metadata"]["uid"] == UID for r in patches(api))


def test_one_conflict_then_success_writes_with_two_patches(api: KubeApiServer, client: KubeClient) -> None:
    pod = add_web(api)
    api.faults.add("PATCH", STATUS_PATH, status=409, times=1)
    write_network_status(context(client), pod, STATUSES)
    assert len(patches(api)) == 2
    assert NETWORK_STATUS_ANNOTATION in api.get_pod("default", "web")["metadata"]["annotations"]


def test_two_server_errors_then_success_writes_with_three_patches(api: KubeApiServer, client: KubeClient) -> None:
    pod = add_web(api)
    api.faults.add("PATCH", STATUS_PATH, status=500, times=2)
    write_network_status(context(client), pod, STATUSES)
    assert len(patches(api)) == 3
    assert NETWORK_STATUS_ANNOTATION in api.get_pod("default", "web")["metadata"]["annotations"]


def test_a_persistent_server_error_fails_after_the_bounded_attempts(api: KubeApiServer, client: KubeClient) -> None:
    pod = add_web(api)
    api.faults.add("PATCH", STATUS_PATH, status=500, times=None)
    with pytest.raises(CniError, match="^error setting the networks status: "):
        write_network_status(context(client), pod, STATUSES)
    assert len(patches(api)) == ATTEMPTS
    assert NETWORK_STATUS_ANNOTATION not in api.get_pod("default", "web")["metadata"]["annotations"]


def test_forbidden_fails_at_once(api: KubeApiServer, client: KubeClient) -> None:
    pod = add_web(api)
    api.faults.add("PATCH", STATUS_PATH, status=403, times=None)
    with pytest.raises(CniError, match="^error setting the networks status: "):
        write_network_status(context(client), pod, STATUSES)
    assert len(patches(api)) == 1


def test_a_pod_deleted_meanwhile_is_no_error(api: KubeApiServer, client: KubeClient) -> None:
    pod = add_web(api)
    api.delete_pod("default", "web")
    write_network_status(context(client), pod, STATUSES)
    assert len(patches(api)) == 1
    assert api.pods() == []


@pytest.mark.parametrize("namespace, conf", [
    ("kube-system", {}),
    ("infra", {"systemNamespaces": ["infra", "monitoring"]}),
])
def test_pods_in_system_namespaces_get_no_patch(api: KubeApiServer, client: KubeClient, namespace: str,
                                                conf: dict[str, Any]) -> None:
    pod = add_web(api, namespace=namespace)
    write_network_status(context(client, **conf), pod, STATUSES)
    assert api.requests_matching("PATCH", "") == []
    assert NETWORK_STATUS_ANNOTATION not in api.get_pod(namespace, "web")["metadata"]["annotations"]


def test_kube_system_is_annotated_when_it_is_not_a_system_namespace(api: KubeApiServer, client: KubeClient) -> None:
    pod = add_web(api, namespace="kube-system")
    write_network_status(context(client, systemNamespaces=["infra"]), pod, STATUSES)
    assert NETWORK_STATUS_ANNOTATION in api.get_pod("kube-system", "web")["metadata"]["annotations"]


def test_an_empty_status_list_gets_no_patch(api: KubeApiServer, client: KubeClient) -> None:
    write_network_status(context(client), add_web(api), [])
    assert api.requests == []


def test_without_kubernetes_nothing_is_written(api: KubeApiServer) -> None:
    write_network_status(context(None), add_web(api), STATUSES)
    assert api.requests == []
