"""Default routes, the auxiliary chain and interface-name collisions, end to end with real plugins.

As in test_meta_plugin_real.py: Debian's CNI plugins run inside a "node" namespace the test owns, the
pod is another namespace, Kubernetes is the API server double spoken to over HTTP by our client, and
the ``multus`` verbs run in-process through skel. Checked:
* ``"default-route": ["<gw>"]`` in the JSON form of the networks annotation makes that gateway the
  pod's default route via net1 and removes eth0's (in the pod namespace and in libcni's result cache
  entries ``<cniDir>/results/<network>-<ctr>-<if>``), for IPv4 and for dual stack (both families);
  the result returned to the runtime is unchanged, and DEL still removes everything;
* without ``default-route`` the defaults stay via eth0 and net1 gets none;
* ``default-route: []`` removes the default routes everywhere;
* an auxiliary CNI chain (``auxiliaryCNIChainName``; clusterNetwork a file path; a tuning .conf in
  ``<dir of clusterNetwork>/<chain>/``) runs passthru then tuning, last, as ``net<index>``: the sysctl
  is set inside the pod namespace, and DEL removes every interface, lease and cache entry;
* an interface name that already exists in the pod (``net1``): ADD fails with ``validateIfName:
  interface name net1 already exists`` inside the message; the cluster network is rolled back (no
  interface, lease, scratch or result cache left) and the pod's own ``net1`` is not touched.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from multus import netns as nsmod
from multus.testing.kube_api import KubeApiServer
from multus.testing.thin_plugin import call_thin_plugin

POD_UID = "5e0c1f00-0000-4000-8000-00000000beef"
CID = "ctr-routes"
NETWORKS = "k8s.v1.cni.cncf.io/networks"


@dataclass
class Node:
    host_ns: str
    pod_ns: str
    work: Path
    ipam: Path
    api: KubeApiServer
    bin_dir: Path
    executor: Any
    leases: Callable[[], list[str]]  # the ipam_leases fixture

    @property
    def cni_dir(self) -> Path:
        return self.work / "multus"

    @property
    def conf_dir(self) -> Path:
        return self.work / "net.d"

    def multus_conf(self, **overrides: Any) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus",
            "kubeconfig": str(self.work / "kubeconfig"), "cniDir": str(self.cni_dir),
            "confDir": str(self.conf_dir), "binDir": str(self.bin_dir),
            "clusterNetwork": str(self.conf_dir / "10-cluster.conflist"),
        }
        conf.update(overrides)
        return conf

    def call(self, command: str, conf: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
        environ = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=CID, CNI_NETNS=self.pod_ns,
                       CNI_IFNAME="eth0", CNI_PATH=str(self.bin_dir),
                       CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;"
                                f"K8S_POD_INFRA_CONTAINER_ID={CID};K8S_POD_UID={POD_UID}")
        outcome = call_thin_plugin(environ, conf, executor=self.executor)
        return outcome.code, outcome.output

    def add_pod(self, networks: str | list[dict[str, Any]]) -> None:
        value = networks if isinstance(networks, str) else json.dumps(networks)
        self.api.add_pod("default", "web", uid=POD_UID, annotations={NETWORKS: value})

    def defaults(self, family: int = socket.AF_INET) -> list[tuple[str | None, str]]:
        """The pod's default routes as (gateway, device)."""
        dst = "0.0.0.0/0" if family == socket.AF_INET else "::/0"
        return sorted((r.gw, r.ifname) for r in nsmod.routes(self.pod_ns, family) if r.dst == dst)

    def cached_routes(self, network: str, ifname: str) -> list[dict[str, Any]]:
        body = json.loads((self.cni_dir / "results" / f"{network}-{CID}-{ifname}").read_bytes())
        assert body["kind"] == "cniCacheV1" and body["ifName"] == ifname
        routes: list[dict[str, Any]] = body["result"].get("routes", [])
        return routes

    def assert_nothing_left(self, pod_links: tuple[str, ...] = ("lo",)) -> None:
        assert nsmod.link_names(self.pod_ns) == sorted(pod_links)
        assert self.leases() == []
        assert not (self.cni_dir / CID).exists()
        results = self.cni_dir / "results"
        assert not results.exists() or list(results.iterdir()) == []


def host_local(ipam: Path, *subnets: str, routes: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "host-local", "dataDir": str(ipam), "ranges": [[{"subnet": s}] for s in subnets],
            "routes": [{"dst": dst} for dst in routes]}


def sysctl(ns_path: str, key: str, value: str | None = None) -> str:
    """Read (or write) a sysctl inside a namespace: /proc/sys/net shows the reader's own namespace."""
    path = "/proc/sys/" + key.replace(".", "/")
    script = f"open({path!r}, 'w').write({value!r})" if value is not None else f"print(open({path!r}).read())"
    done = subprocess.run(["nsenter", f"--net={ns_path}", "--", sys.executable, "-c", script],
                          capture_output=True, text=True, check=True, timeout=30)
    return done.stdout.strip()


@pytest.fixture
def node(host_ns: str, netns: str, tmp_path: Path, real_plugins_dir: str, ipam_data_dir: Path,
         host_executor: Any, ipam_leases: Callable[[], list[str]]) -> Iterator[Node]:
    # No duplicate address detection in either namespace: IPv6 addresses are usable at once.
    for ns_path in (host_ns, netns):
        for scope in ("all", "default"):
            sysctl(ns_path, f"net.ipv6.conf.{scope}.accept_dad", "0")
    # One plugin directory: the real plugins and our passthru (the console script of this venv).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for plugin in os.listdir(real_plugins_dir):
        (bin_dir / plugin).symlink_to(Path(real_plugins_dir) / plugin)
    passthru = Path(sys.executable).parent / "passthru"
    if not os.access(passthru, os.X_OK):
        pytest.skip(f"the passthru console script is not installed at {passthru}")
    (bin_dir / "passthru").symlink_to(passthru)
    (tmp_path / "net.d").mkdir()
    with KubeApiServer() as api:
        api.write_kubeconfig(tmp_path / "kubeconfig")
        yield Node(host_ns, netns, tmp_path, ipam_data_dir, api, bin_dir, host_executor, ipam_leases)


def cluster_network(node: Node, dual_stack: bool = False) -> None:
    subnets = ("10.10.0.0/24", "fd00:10::/64") if dual_stack else ("10.10.0.0/24",)
    routes = ("0.0.0.0/0", "::/0") if dual_stack else ("0.0.0.0/0",)
    (node.conf_dir / "10-cluster.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "cluster",
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True,
                     "ipam": host_local(node.ipam, *subnets, routes=routes)}]}))


def second_network(node: Node, dual_stack: bool = False) -> None:
    subnets = ("10.30.0.0/24", "fd00:30::/64") if dual_stack else ("10.30.0.0/24",)
    node.api.add_nad("default", "bridge-two", {"cniVersion": "1.0.0", "type": "bridge", "bridge": "br2",
                                              "ipam": host_local(node.ipam, *subnets)})


# ---- default-route ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("dual_stack", [False, True], ids=["ipv4", "dual-stack"])
def test_default_route_makes_the_requested_gateway_the_pod_s_default_via_net1(node: Node, dual_stack: bool) -> None:
    cluster_network(node, dual_stack)
    second_network(node, dual_stack)
    gateways = ["10.30.0.1", "fd00:30::1"] if dual_stack else ["10.30.0.1"]
    node.add_pod([{"name": "bridge-two", "default-route": gateways}])

    code, result = node.call("ADD", node.multus_conf())
    assert code == 0, result
    assert nsmod.addresses(node.pod_ns, "net1")[0] == "10.30.0.2/24"

    # the pod namespace: the default goes via net1 only
    assert node.defaults() == [("10.30.0.1", "net1")]
    # libcni's cache: eth0's entry lost its default, net1's gained the requested one
    assert not any(r["dst"] in ("0.0.0.0/0", "::/0") for r in node.cached_routes("cluster", "eth0"))
    net1_defaults = [r for r in node.cached_routes("bridge-two", "net1") if r["dst"] in ("0.0.0.0/0", "::/0")]
    if dual_stack:
        assert node.defaults(socket.AF_INET6) == [("fd00:30::1", "net1")]
        assert net1_defaults == [{"dst": "0.0.0.0/0", "gw": "10.30.0.1"}, {"dst": "::/0", "gw": "fd00:30::1"}]
    else:
        assert node.defaults(socket.AF_INET6) == []
        assert net1_defaults == [{"dst": "0.0.0.0/0", "gw": "10.30.0.1"}]

    # the result returned to the runtime is the master's, as its plugin made it (not edited)
    assert result is not None
    assert {"dst": "0.0.0.0/0"} in result["routes"]  # host-local's route, no gw: via the range's gateway

    scratch = json.loads((node.cni_dir / CID).read_bytes())
    assert [(d["Name"], d.get("default-route"), d["IsFilterV4Gateway"], d["IsFilterV6Gateway"]) for d in scratch] == [
        ("cluster", None, True, True), ("default/bridge-two", gateways, False, not dual_stack)]

    code, _ = node.call("DEL", node.multus_conf())
    assert code == 0
    node.assert_nothing_left()


@pytest.mark.parametrize("dual_stack", [False, True], ids=["ipv4", "dual-stack"])
def test_without_default_route_the_default_stays_via_eth0(node: Node, dual_stack: bool) -> None:
    cluster_network(node, dual_stack)
    second_network(node, dual_stack)
    node.add_pod([{"name": "bridge-two"}])
    assert node.call("ADD", node.multus_conf())[0] == 0
    assert node.defaults() == [("10.10.0.1", "eth0")]
    assert node.defaults(socket.AF_INET6) == ([("fd00:10::1", "eth0")] if dual_stack else [])
    assert {"dst": "0.0.0.0/0"} in node.cached_routes("cluster", "eth0")
    assert node.cached_routes("bridge-two", "net1") == []
    assert node.call("DEL", node.multus_conf())[0] == 0
    node.assert_nothing_left()


def test_an_empty_default_route_removes_every_default(node: Node) -> None:
    cluster_network(node, dual_stack=True)
    second_network(node)
    node.add_pod([{"name": "bridge-two", "default-route": []}])
    assert node.call("ADD", node.multus_conf())[0] == 0
    assert node.defaults() == [] and node.defaults(socket.AF_INET6) == []
    assert nsmod.addresses(node.pod_ns, "eth0") == ["10.10.0.2/24", "fd00:10::2/64"]
    assert not any(r["dst"] in ("0.0.0.0/0", "::/0") for r in node.cached_routes("cluster", "eth0"))
    assert node.call("DEL", node.multus_conf())[0] == 0
    node.assert_nothing_left()


# ---- auxiliary chain -------------------------------------------------------------------------------------


def test_an_auxiliary_chain_runs_tuning_last_and_del_removes_everything(node: Node) -> None:
    cluster_network(node)
    second_network(node)
    chain_dir = node.conf_dir / "aux-chain"
    chain_dir.mkdir()
    (chain_dir / "10-tuning.conf").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "aux-tuning", "type": "tuning",
        "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1", "net.ipv4.conf.net1.arp_ignore": "2"}}))
    node.add_pod("bridge-two")
    conf = node.multus_conf(auxiliaryCNIChainName="aux-chain")

    code, result = node.call("ADD", conf)
    assert code == 0, result
    assert sysctl(node.pod_ns, "net.ipv4.conf.eth0.arp_notify") == "1"
    assert sysctl(node.pod_ns, "net.ipv4.conf.net1.arp_ignore") == "2"
    assert nsmod.link_names(node.pod_ns) == ["eth0", "lo", "net1"]  # the chain adds no interface
    adds = [(c.plugin, c.if_name) for c in node.executor.calls if c.command == "ADD" and c.plugin != "host-local"]
    assert adds == [("bridge", "eth0"), ("bridge", "net1"), ("passthru", "net2"), ("tuning", "net2")]
    tuning_stdin = node.executor.calls_of("tuning", "ADD")[0].stdin
    assert tuning_stdin["name"] == "aux-chain" and tuning_stdin["prevResult"]["cniVersion"] == "1.0.0"
    assert (node.cni_dir / "results" / f"aux-chain-{CID}-net2").exists()
    assert [d["Name"] for d in json.loads((node.cni_dir / CID).read_bytes())] == [
        "cluster", "default/bridge-two", "aux-chain"]
    assert result is not None and [ip["address"] for ip in result["ips"]] == ["10.10.0.2/24"]

    code, _ = node.call("DEL", conf)
    assert code == 0
    dels = [c.plugin for c in node.executor.calls if c.command == "DEL" and c.plugin != "host-local"]
    assert dels == ["tuning", "passthru", "bridge", "bridge"]  # last delegate first, a list in reverse
    node.assert_nothing_left()


# ---- interface-name collision ----------------------------------------------------------------------------


def test_an_interface_name_already_in_the_pod_fails_the_add_and_leaves_nothing(node: Node) -> None:
    cluster_network(node)
    second_network(node)
    with nsmod.ns_ipr(node.pod_ns) as ipr:
        ipr.link("add", ifname="net1", kind="bridge")  # any link will do (this kernel may lack dummy)
    node.add_pod("bridge-two")

    code, error = node.call("ADD", node.multus_conf())
    assert code != 0 and error is not None
    assert "validateIfName: interface name net1 already exists" in error["msg"]
    assert 'DelegateAdd: cannot set "bridge" interface name to "net1"' in error["msg"]
    assert error["msg"].startswith(f"[default/web/{POD_UID}:default/bridge-two]: error adding container")
    # the second delegate's plugin never ran, not even for a DEL (Go's rollback DELs it, and bridge then
    # deletes the pod's own net1); the first was rolled back
    assert [(c.plugin, c.command, c.if_name) for c in node.executor.calls if c.plugin != "host-local"] == [
        ("bridge", "ADD", "eth0"), ("bridge", "DEL", "eth0")]
    node.assert_nothing_left(pod_links=("lo", "net1"))
    # the pod's own net1 is untouched
    assert nsmod.link_info(node.pod_ns, "net1").kind == "bridge"
    assert NETWORKS in node.api.get_pod("default", "web")["metadata"]["annotations"]
    assert "k8s.v1.cni.cncf.io/network-status" not in node.api.get_pod("default", "web")["metadata"]["annotations"]
