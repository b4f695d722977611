"""The ``k8s.v1.cni.cncf.io/network-status`` annotation written by a thin-plugin ADD.

Driven through the CNI entry point with scripted fake CNI plugins (``weave-net`` for the static master
``weave1``, ``net1-plugin`` for the NAD ``test/net1``); the API server is a test double
(:mod:`multus.testing.kube_api`) over real HTTP, whose fault injection stands in for conflicts, server
errors and a pod deleted between the ADD's start and the status write. Checked:

* the annotation lists every attached interface in Go's entry shape, master marked default;
* the status PATCH is retried on 409 Conflict and 500, and a 404 (pod gone) does not fail the ADD;
* a conflict that never clears fails the ADD with Go's message, without rolling the networks back;
* pods in a system namespace (kube-system) get no annotation at all (Go meant to skip them, but
  compared the pod's name).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_verbs_support import (
    POD_CNI_ARGS,
    POD_NAMESPACE,
    Node,
    conf,
    make_node,
    result_body,
)

STATUS_PATCH = f"/namespaces/{POD_NAMESPACE}/pods/testpod/status$"


@pytest.fixture
def node(tmp_path: Path, netns: str) -> Iterator[Node]:
    yield from make_node(tmp_path, netns, kube=True)


def pod_with_net1(node: Node, namespace: str = POD_NAMESPACE) -> dict[str, Any]:
    """weave1 (eth0, 10.1.0.5 via 10.1.0.1) and the NAD net1 (net1, 10.2.0.5) for pod ``<namespace>/testpod``."""
    master = result_body("1.0.0", "10.1.0.5/24", gateway="10.1.0.1", ifname="eth0", sandbox=node.netns)
    master["routes"] = [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}]
    node.plugin("weave-net").script(ADD={"stdout": json.dumps(master)})
    second = result_body("1.0.0", "10.2.0.5/24", ifname="net1", sandbox=node.netns)
    node.plugin("net1-plugin").script(ADD={"stdout": json.dumps(second)})
    node.kube.add_nad(namespace, "net1", {"cniVersion": "1.0.0", "type": "net1-plugin"})
    node.add_pod("net1", namespace=namespace)
    return node.multus("1.0.0", delegates=[conf("1.0.0", "weave1", "weave-net")])


EXPECTED_STATUS = [
    {"name": "weave1", "interface": "eth0", "ips": ["10.1.0.5"], "mac": "0a:58:0a:00:00:01", "default": True,
     "dns": {}, "gateway": ["10.1.0.1"]},
    {"name": "test/net1", "interface": "net1", "ips": ["10.2.0.5"], "mac": "0a:58:0a:00:00:01", "dns": {}},
]


def test_add_writes_every_interface_into_the_network_status_annotation(node: Node) -> None:
    config = pod_with_net1(node)
    assert node.call("ADD", config, cni_args=POD_CNI_ARGS).code == 0
    status = node.network_status()
    assert status == EXPECTED_STATUS
    assert [list(entry) for entry in status or []] == [
        ["name", "interface", "ips", "mac", "default", "dns", "gateway"], ["name", "interface", "ips", "mac", "dns"]]
    patches = node.kube.requests_matching("PATCH", STATUS_PATCH)
    assert len(patches) == 1
    assert patches[0].body["metadata"]["uid"] == "testUID"  # written only to this very pod


@pytest.mark.parametrize("status", [409, 500])
def test_the_status_write_is_retried_on_conflicts_and_server_errors(node: Node, status: int) -> None:
    config = pod_with_net1(node)
    node.kube.faults.add("PATCH", STATUS_PATCH, status=status, times=2)
    assert node.call("ADD", config, cni_args=POD_CNI_ARGS).code == 0
    assert node.network_status() == EXPECTED_STATUS
    assert [r.fault for r in node.kube.requests_matching("PATCH", STATUS_PATCH)] == [f"status {status}"] * 2 + [None]


def test_a_pod_deleted_before_its_status_is_written_does_not_fail_the_add(node: Node) -> None:
    config = pod_with_net1(node)
    node.kube.faults.add("PATCH", STATUS_PATCH, status=404, times=None)
    out = node.call("ADD", config, cni_args=POD_CNI_ARGS)
    assert out.result["ips"][0]["address"] == "10.1.0.5/24"
    assert len(node.kube.requests_matching("PATCH", STATUS_PATCH)) == 1
    assert node.network_status() is None


def test_a_conflict_that_never_clears_fails_the_add_but_keeps_the_networks(node: Node) -> None:
    config = pod_with_net1(node)
    node.kube.faults.add("PATCH", STATUS_PATCH, status=409, times=None)
    out = node.call("ADD", config, cni_args=POD_CNI_ARGS)
    assert out.error["msg"].startswith("error setting the networks status: ")
    assert len(node.kube.requests_matching("PATCH", STATUS_PATCH)) == 5
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0"), ("ADD", "net1-plugin", "net1")]
    assert node.scratch.exists()


def test_a_pod_in_kube_system_gets_no_network_status(node: Node) -> None:
    config = pod_with_net1(node, namespace="kube-system")
    cni_args = POD_CNI_ARGS.replace(f"K8S_POD_NAMESPACE={POD_NAMESPACE}", "K8S_POD_NAMESPACE=kube-system")
    assert node.call("ADD", config, cni_args=cni_args).code == 0
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0"), ("ADD", "net1-plugin", "net1")]
    assert node.kube.requests_matching("PATCH", "/status$") == []
    assert node.network_status("kube-system") is None
