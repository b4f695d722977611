"""The thin plugin's verbs for a Kubernetes pod, through the CNI entry point.

The API server is a test double (:mod:`multus.testing.kube_api`) that our real client talks to over
HTTP; it holds the pod ``test/testpod`` (uid ``testUID``) and its NetworkAttachmentDefinitions.
Delegates are scripted fake CNI plugins, one type per network (``weave-net`` for the static master
``weave1``, ``net1-plugin``... for the NADs); tests assert on what each plugin recorded, on the
printed result or error, on ``cniDir``, and on the events the double received. Checked (numbers: the
§11.1 checklist):

* 8  a JSON networks annotation with mac/ips/bandwidth/portMappings: the NAD's plugin gets exactly that
     runtimeConfig (it declares the capabilities), and MAC=/IP= in its CNI_ARGS;
* 9/10 a UID mismatch fails the ADD with Go's text before any plugin runs; a matching UID attaches;
* 15 ``networks: net1,net2`` with three NADs: only two run, and three AddedInterface events;
* 16 the pod deleted after ADD: DEL works from the scratch cache;
* 17 a clusterNetwork NAD in kube-system: only the master runs (static delegates are ignored);
* 19 the scratch cache deleted: DEL re-resolves the delegates from the pod and its NADs;
* 21 the pod missing from the API: an empty result in the Multus cniVersion, no plugin run;
* a truncated scratch cache with the pod gone: DEL releases what libcni's result cache recorded (our
  documented deviation: Go releases nothing and leaks the addresses).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_verbs_support import (
    CONTAINER_ID,
    POD_CNI_ARGS,
    POD_NAMESPACE,
    Node,
    conf,
    make_node,
    result_body,
)

from multus.cni.types import parse_result


@pytest.fixture
def node(tmp_path: Path, netns: str) -> Iterator[Node]:
    yield from make_node(tmp_path, netns, kube=True)


def master_config(node: Node, version: str, **extra: object) -> dict[str, object]:
    """Multus with the static master weave1 (weave-net, 1.1.1.2/24) and the API double."""
    node.plugin("weave-net").script(ADD={"stdout": json.dumps(result_body(version, "1.1.1.2/24"))})
    return node.multus(version, delegates=[conf(version, "weave1", "weave-net")], **extra)


def add_nads(node: Node, version: str, *names: str, namespace: str = POD_NAMESPACE) -> None:
    """NADs ``names`` (config without a name: the NAD's is injected), plugin ``<name>-plugin``, 1.1.1.3+/24."""
    for offset, name in enumerate(names):
        plugin = node.plugin(f"{name}-plugin")
        plugin.script(ADD={"stdout": json.dumps(result_body(version, f"1.1.1.{3 + offset}/24"))})
        node.kube.add_nad(namespace, name, {"cniVersion": version, "type": f"{name}-plugin"})


# ---- 8: a JSON annotation's requests ----------------------------------------------------------------------

BANDWIDTH = {"ingressRate": 2048, "ingressBurst": 1600, "egressRate": 4096, "egressBurst": 1600}
PORT_MAPPINGS = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                 {"hostPort": 8000, "containerPort": 8001, "protocol": "udp"}]


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"])
def test_a_json_annotations_requests_reach_the_nad_plugin_as_runtime_config_and_cni_args(
        node: Node, version: str) -> None:
    config = master_config(node, version)
    node.plugin("mynet").script(ADD={"stdout": json.dumps(result_body(version, "10.0.0.1/24"))})
    node.kube.add_nad(POD_NAMESPACE, "net1", {
        "cniVersion": version, "type": "mynet",
        "capabilities": {"mac": True, "ips": True, "bandwidth": True, "portMappings": True}})
    node.add_pod([{"name": "net1", "mac": "c2:11:22:33:44:66", "ips": ["10.0.0.1"], "bandwidth": BANDWIDTH,
                   "portMappings": PORT_MAPPINGS}])

    assert node.call("ADD", config, cni_args=POD_CNI_ARGS).code == 0
    added = node.plugin("mynet").calls()[0]
    assert added["stdin"]["name"] == "net1"
    assert added["stdin"]["runtimeConfig"] == {"ips": ["10.0.0.1"], "mac": "c2:11:22:33:44:66",
                                               "bandwidth": BANDWIDTH, "portMappings": PORT_MAPPINGS}
    assert added["env"]["CNI_ARGS"].endswith(";MAC=c2:11:22:33:44:66;IP=10.0.0.1")
    assert added["env"]["CNI_IFNAME"] == "net1"
    master = node.plugin("weave-net").calls()[0]
    assert "runtimeConfig" not in master["stdin"] and "MAC=" not in master["env"]["CNI_ARGS"]

    # DEL (from the scratch cache) still names the address and MAC, but no longer as CNI_ARGS.
    assert node.call("DEL", config, cni_args=POD_CNI_ARGS).code == 0
    deleted = node.plugin("mynet").calls()[-1]
    assert deleted["command"] == "DEL"
    assert {"ips": ["10.0.0.1"], "mac": "c2:11:22:33:44:66"}.items() <= deleted["stdin"]["runtimeConfig"].items()
    assert "MAC=" not in deleted["env"]["CNI_ARGS"] and "IP=" not in deleted["env"]["CNI_ARGS"]


# ---- 9, 10: the pod's UID ---------------------------------------------------------------------------------


def test_a_uid_that_is_not_the_pods_fails_the_add_before_any_plugin_runs(node: Node) -> None:
    config = master_config(node, "0.3.1")
    node.add_pod()
    out = node.call("ADD", config, cni_args=POD_CNI_ARGS.replace("testUID", "foobar"))
    assert 'expected pod UID "foobar" but got "testUID" from Kube API' in out.error["msg"]
    assert node.executor.calls == []


def test_the_pods_own_uid_attaches_the_pod(node: Node) -> None:
    config = master_config(node, "0.3.1")
    add_nads(node, "0.3.1", "net1")
    node.add_pod("net1")
    out = node.call("ADD", config, cni_args=POD_CNI_ARGS)
    assert out.result["ips"][0]["address"] == "1.1.1.2/24"
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0"), ("ADD", "net1-plugin", "net1")]


# ---- 15: only the networks the pod asks for ---------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_only_the_annotated_networks_run_and_each_interface_gets_an_event(node: Node, version: str) -> None:
    config = master_config(node, version)
    add_nads(node, version, "net1", "net2", "net3")
    node.add_pod("net1,net2")

    out = node.call("ADD", config, cni_args=POD_CNI_ARGS)
    assert out.result == parse_result(result_body(version, "1.1.1.2/24")).to_dict()
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0"), ("ADD", "net1-plugin", "net1"),
                                        ("ADD", "net2-plugin", "net2")]
    assert node.plugin("net3-plugin").calls() == []
    assert [e["reason"] for e in node.kube.events()] == ["AddedInterface"] * 3
    assert node.added_interface_events() == [
        ("Normal", "AddedInterface", "Add eth0 [1.1.1.2/24] from weave1"),
        ("Normal", "AddedInterface", "Add net1 [1.1.1.3/24] from test/net1"),
        ("Normal", "AddedInterface", "Add net2 [1.1.1.4/24] from test/net2")]
    assert all(e["source"]["component"] == "multus" and e["involvedObject"]["name"] == "testpod"
               for e in node.kube.events())


# ---- 16, 19: DEL without the pod, or without the scratch cache --------------------------------------------


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_del_after_the_pod_was_deleted_releases_everything_from_the_scratch_cache(node: Node, version: str) -> None:
    config = master_config(node, version)
    add_nads(node, version, "net1", "net2")
    node.add_pod("net1,net2")
    assert node.call("ADD", config, cni_args=POD_CNI_ARGS).code == 0
    node.kube.delete_pod(POD_NAMESPACE, "testpod")
    node.kube.delete_nad(POD_NAMESPACE, "net2")  # the cache holds the configs: the API is not asked

    assert node.call("DEL", config, cni_args=POD_CNI_ARGS).code == 0
    assert node.executor.sequence("DEL") == [("DEL", "net2-plugin", "net2"), ("DEL", "net1-plugin", "net1"),
                                             ("DEL", "weave-net", "eth0")]
    assert not node.scratch.exists()
    assert list(node.results_dir.iterdir()) == []


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_del_without_the_scratch_cache_re_resolves_the_delegates_from_the_pod(node: Node, version: str) -> None:
    config = master_config(node, version)
    add_nads(node, version, "net1", "net2")
    node.add_pod("net1,net2")
    assert node.call("ADD", config, cni_args=POD_CNI_ARGS).code == 0
    node.scratch.unlink()

    assert node.call("DEL", config, cni_args=POD_CNI_ARGS).code == 0
    assert node.executor.sequence("DEL") == [("DEL", "net2-plugin", "net2"), ("DEL", "net1-plugin", "net1"),
                                             ("DEL", "weave-net", "eth0")]
    assert node.plugin("net1-plugin").calls()[-1]["stdin"]["name"] == "net1"
    assert list(node.results_dir.iterdir()) == []


def test_del_with_a_truncated_scratch_cache_and_no_pod_releases_what_the_result_cache_recorded(node: Node) -> None:
    config = master_config(node, "1.0.0")
    add_nads(node, "1.0.0", "net1")
    node.add_pod("net1")
    assert node.call("ADD", config, cni_args=POD_CNI_ARGS).code == 0
    added_args = {p: node.plugin(p).calls()[0]["env"]["CNI_ARGS"] for p in ("weave-net", "net1-plugin")}
    node.scratch.write_bytes(node.scratch.read_bytes()[:25])
    node.kube.delete_pod(POD_NAMESPACE, "testpod")

    assert node.call("DEL", config, cni_args=POD_CNI_ARGS).code == 0
    assert sorted(node.executor.sequence("DEL")) == [("DEL", "net1-plugin", "net1"), ("DEL", "weave-net", "eth0")]
    for plugin, address in (("weave-net", "1.1.1.2/24"), ("net1-plugin", "1.1.1.3/24")):
        deleted = node.plugin(plugin).calls()[-1]  # with the arguments and result its ADD was cached with
        assert deleted["env"]["CNI_ARGS"] == added_args[plugin]
        assert deleted["stdin"]["prevResult"]["ips"] == [{"address": address}]
    assert not node.scratch.exists()
    assert list(node.results_dir.iterdir()) == []


# ---- 17: clusterNetwork -----------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_a_cluster_network_nad_in_kube_system_is_the_only_network(node: Node, version: str) -> None:
    config = master_config(node, version, clusterNetwork="net1")  # the static weave1 is now ignored
    add_nads(node, version, "net1", namespace="kube-system")
    node.add_pod()

    out = node.call("ADD", config, cni_args=POD_CNI_ARGS)
    assert out.result == parse_result(result_body(version, "1.1.1.3/24")).to_dict()
    assert node.executor.sequence() == [("ADD", "net1-plugin", "eth0")]
    assert node.plugin("net1-plugin").calls()[0]["stdin"]["name"] == "net1"
    assert node.added_interface_events() == [
        ("Normal", "AddedInterface", "Add eth0 [1.1.1.3/24] from kube-system/net1")]

    assert node.call("DEL", config, cni_args=POD_CNI_ARGS).code == 0
    assert node.executor.sequence("DEL") == [("DEL", "net1-plugin", "eth0")]
    assert node.plugin("weave-net").calls() == []


# ---- 21: the pod is not in the API ------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_a_pod_missing_from_the_api_gets_an_empty_result_and_no_plugin_runs(node: Node, version: str) -> None:
    config = master_config(node, version)
    out = node.call("ADD", config, cni_args=POD_CNI_ARGS)
    assert out.result == {"cniVersion": version, "interfaces": [{"name": "eth0", "sandbox": node.netns}],
                          "ips": [{"address": "0.0.0.0/0", "gateway": "0.0.0.0"}], "dns": {}}
    assert node.executor.calls == []
    assert not node.scratch.exists()
    assert node.kube.requests_matching("GET", f"/namespaces/{POD_NAMESPACE}/pods/testpod$")


def test_a_pod_in_the_api_without_pod_arguments_is_not_looked_up(node: Node) -> None:
    config = master_config(node, "1.0.0")
    node.add_pod("net1")
    assert node.call("ADD", config).code == 0
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0")]
    assert node.kube.requests_matching("*", "/pods/") == []
    assert node.plugin("weave-net").calls()[0]["env"]["CNI_CONTAINERID"] == CONTAINER_ID
