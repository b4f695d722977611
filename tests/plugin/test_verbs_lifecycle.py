"""STATUS and GC of the thin plugin, through the CNI entry point: only the cluster network is asked.

Delegates are scripted fake CNI plugins (``weave-net`` for the master ``weave1``, ``other-plugin`` for
``other1``, ``cluster-plugin``/``default-plugin`` for NADs); the API server, where a clusterNetwork NAD
is involved, is a test double (:mod:`multus.testing.kube_api`) spoken to over HTTP. Checked (numbers:
the §11.1 checklist):

* 20 STATUS runs exactly once, on delegate 0 (static delegates, or clusterNetwork with defaultNetworks);
* 22 a plugin's STATUS error ``{code: 50, msg: "status failed"}`` reaches the runtime unchanged;
* 23 GC with two libcni cache entries: one GC exec whose stdin lists both attachments under
     ``cni.dev/attachments`` and ``cni.dev/valid-attachments``;
* 24 GC with a single conf and an empty results directory: one exec with empty lists;
* the spec's gating: STATUS/GC need cniVersion 1.1.0 (refused before), a master conf older than 1.1.0 is
  not asked;
* GC with the runtime's own ``cni.dev/valid-attachments`` (our documented deviation): a gone container's
  cluster-network attachment is released, the valid pods' attachments all stay valid.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_verbs_support import CONTAINER_ID, Node, conf, make_node, plugin_error

VALID = "cni.dev/valid-attachments"
LEGACY = "cni.dev/attachments"


@pytest.fixture
def node(tmp_path: Path, netns: str) -> Iterator[Node]:
    yield from make_node(tmp_path, netns, kube=True)


def static_config(node: Node, version: str = "1.1.0", **extra: Any) -> dict[str, Any]:
    node.plugin("weave-net")
    node.plugin("other-plugin")
    return node.multus(version, delegates=[conf(version, "weave1", "weave-net"),
                                           conf(version, "other1", "other-plugin")], **extra)


def cluster_config(node: Node) -> dict[str, Any]:
    for name in ("cluster", "default"):
        node.plugin(f"{name}-plugin")
        node.kube.add_nad("kube-system", f"{name}-net", {"cniVersion": "1.1.0", "type": f"{name}-plugin"})
    return node.multus("1.1.0", clusterNetwork="cluster-net", defaultNetworks=["default-net"])


def attachments(*ifnames: str, container_id: str = CONTAINER_ID) -> list[dict[str, str]]:
    return [{"containerID": container_id, "ifname": ifname} for ifname in ifnames]


def by_ifname(items: list[dict[str, str]]) -> list[dict[str, str]]:
    return sorted(items, key=lambda a: (a["containerID"], a["ifname"]))


# ---- 20, 22: STATUS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("setup, master", [(static_config, "weave-net"), (cluster_config, "cluster-plugin")],
                         ids=["static-delegates", "cluster-network"])
def test_status_asks_only_the_cluster_network_once(node: Node, setup: Any, master: str) -> None:
    out = node.call("STATUS", setup(node))
    assert (out.code, out.output) == (0, None)
    assert node.executor.sequence() == [("STATUS", master, "")]
    assert node.plugin(master).calls()[0]["stdin"]["cniVersion"] == "1.1.0"


def test_a_plugins_status_error_reaches_the_runtime_unchanged(node: Node) -> None:
    config = static_config(node)
    node.plugin("weave-net").script(STATUS=plugin_error(50, "status failed"))
    out = node.call("STATUS", config)
    assert out.code == 1
    assert out.output == {"cniVersion": "1.1.0", "code": 50, "msg": "status failed"}


def test_a_master_conf_older_than_1_1_0_is_not_asked_for_status(node: Node) -> None:
    node.plugin("weave-net")
    config = node.multus("1.1.0", delegates=[conf("1.0.0", "weave1", "weave-net")])
    assert node.call("STATUS", config).code == 0
    assert node.executor.calls == []


@pytest.mark.parametrize("command", ["STATUS", "GC"])
def test_status_and_gc_need_a_1_1_0_multus_config(node: Node, command: str) -> None:
    out = node.call(command, static_config(node, "1.0.0"))
    assert (out.error["code"], out.error["msg"]) == (1, f"config version does not allow {command}")
    assert node.executor.calls == []


# ---- 23, 24: GC -------------------------------------------------------------------------------------------


def test_gc_tells_the_cluster_network_every_cached_attachment_of_the_node(node: Node) -> None:
    config = static_config(node)
    assert node.call("ADD", config).code == 0
    assert len(list(node.results_dir.iterdir())) == 2

    out = node.call("GC", config)
    assert (out.code, out.output) == (0, None)
    assert node.executor.sequence("GC", "DEL") == [("GC", "weave-net", "")]
    stdin = node.plugin("weave-net").calls()[-1]["stdin"]
    assert stdin["name"] == "weave1"
    assert by_ifname(stdin[VALID]) == by_ifname(stdin[LEGACY]) == attachments("eth0", "net1")


def test_gc_with_a_single_conf_and_no_cached_attachments_sends_empty_lists(node: Node) -> None:
    node.plugin("weave-net")
    node.results_dir.mkdir(parents=True)
    config = node.multus("1.1.0", delegates=[conf("1.1.0", "weave1", "weave-net")])
    assert node.call("GC", config).code == 0
    assert node.executor.sequence() == [("GC", "weave-net", "")]
    stdin = node.plugin("weave-net").calls()[0]["stdin"]
    assert (stdin[VALID], stdin[LEGACY]) == ([], [])


def test_gc_with_the_runtimes_valid_attachments_releases_a_gone_containers_cluster_network(node: Node) -> None:
    config = static_config(node)
    for container in ("alive", "gone"):
        assert node.call("ADD", config, container_id=container).code == 0
    gc_config = dict(config, **{VALID: attachments("eth0", container_id="alive")})

    assert node.call("GC", gc_config).code == 0
    assert node.executor.sequence("GC", "DEL") == [("DEL", "weave-net", "eth0"), ("GC", "weave-net", "")]
    released = node.plugin("weave-net").calls()[-2]
    assert released["env"]["CNI_CONTAINERID"] == "gone"
    # Every cached attachment of a container the runtime still runs stays valid, net1 included.
    assert by_ifname(node.plugin("weave-net").calls()[-1]["stdin"][VALID]) == attachments(
        "eth0", "net1", container_id="alive")
    assert sorted(p.name for p in node.results_dir.iterdir()) == [
        "other1-alive-net1", "other1-gone-net1", "weave1-alive-eth0"]
    assert json.loads((node.results_dir / "weave1-alive-eth0").read_text())["containerId"] == "alive"
