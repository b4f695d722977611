"""The daemon end to end: real CNI plugins in namespaces, Kubernetes through the API server double.

Doubles: ``multus.testing.kube_api.KubeApiServer`` stands in for kube-apiserver (our client talks to it
over real HTTP through the kubeconfig it writes). The daemon runs in this process on a socket in
tmp_path; Debian's plugins (bridge, host-local, static) run inside a "node" namespace through the
``host_executor``; every pod is a namespace of its own. Requests are built as the shim sends them.
Checked:

* /cni ADD gives a pod eth0 (cluster network) and net1 (from its networks annotation), writes the
  network-status annotation and answers Go's ``{"Result": ...}``; DEL removes everything;
* /delegate hot-plugs one interface named CNI_IFNAME into a running pod with the requested IP and
  cni-args, leaves the scratch cache and network-status alone, and unplugs it again;
* /delegate for a pod the API does not have fails (unlike /cni ADD, which reports an empty success);
* 50 pods, 8 requests at a time: every ADD and then every DEL succeeds, addresses are unique, and
  afterwards pods, node, leases and caches are clean;
* a restart mid-run: a second daemon on the same socket dir answers, and DELs a pod ADDed before the
  restart from the caches on disk, though the pod is gone from the API.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from daemon_support import POD_UID, Reply, UnixClient, cni_env, daemon_config, post_once, running_daemon, shim_body

from multus import netns as nsmod
from multus.daemon.service import Daemon
from multus.testing.kube_api import KubeApiServer

NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"


@dataclass
class Node:
    host_ns: str
    work: Path
    ipam: Path
    api: KubeApiServer
    plugins: str
    executor: Any
    leases: Callable[[], list[str]]  # the ipam_leases fixture

    @property
    def cni_dir(self) -> Path:
        return self.work / "multus"

    def daemon_config(self) -> dict[str, Any]:
        return daemon_config(self.work, kubeconfig=str(self.work / "kubeconfig"), cniDir=str(self.cni_dir),
                             confDir=str(self.work / "net.d"), binDir=self.plugins, multusConfigFile="auto")

    def shim_config(self) -> dict[str, Any]:
        """What the auto-generated 00-multus.conf holds."""
        return {"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus-shim",
                "clusterNetwork": str(self.work / "net.d" / "10-cluster.conflist")}

    def daemon(self) -> Any:
        return running_daemon(self.daemon_config(), executor=self.executor)

    def add_pod(self, name: str = "web", uid: str = POD_UID, networks: str = "") -> None:
        annotations = {"k8s.v1.cni.cncf.io/networks": networks} if networks else None
        self.api.add_pod("default", name, uid=uid, annotations=annotations)


def host_local(ipam: Path, subnet: str) -> dict[str, Any]:
    return {"type": "host-local", "subnet": subnet, "dataDir": str(ipam)}


@pytest.fixture
def node(host_ns: str, tmp_path: Path, real_plugins_dir: str, ipam_data_dir: Path,
         host_executor: Any, ipam_leases: Callable[[], list[str]]) -> Iterator[Node]:
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    (conf_dir / "10-cluster.conflist").write_text(json.dumps({
        "cniVersion": "0.3.1", "name": "cluster",
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True,
                     "ipam": host_local(ipam_data_dir, "10.10.0.0/24")}]}))
    with KubeApiServer() as api:
        api.write_kubeconfig(tmp_path / "kubeconfig")
        api.add_nad("default", "bridge-two", {"cniVersion": "0.3.1", "type": "bridge", "bridge": "br2",
                                              "ipam": host_local(ipam_data_dir, "10.30.0.0/24")})
        yield Node(host_ns, tmp_path, ipam_data_dir, api, real_plugins_dir, host_executor, ipam_leases)


def call(daemon: Daemon, node: Node, command: str, pod_ns: str, *, pod: str = "web", uid: str = POD_UID,
         container_id: str = "ctr1") -> Reply:
    env = cni_env(command, netns=pod_ns, container_id=container_id, pod=pod, uid=uid, path=node.plugins)
    return post_once(daemon.config.socket_path, "/cni", shim_body(env, node.shim_config()))


def test_a_pod_gets_eth0_and_net1_over_cni_and_del_removes_them(node: Node, netns: str) -> None:
    node.add_pod(networks="bridge-two")
    with node.daemon() as daemon:
        reply = call(daemon, node, "ADD", netns)
        assert reply.status == 200, reply.text
        result = reply.json()["Result"]
        assert result["cniVersion"] == "1.0.0"
        assert [ip["address"] for ip in result["ips"]] == ["10.10.0.2/24"]
        assert sorted(nsmod.link_names(netns)) == ["eth0", "lo", "net1"]
        assert nsmod.addresses(netns, "net1") == ["10.30.0.2/24"]
        status = json.loads(node.api.get_pod("default", "web")["metadata"]["annotations"][NETWORK_STATUS])
        assert [(s["name"], s["interface"]) for s in status] == [("cluster", "eth0"), ("default/bridge-two", "net1")]

        assert call(daemon, node, "DEL", netns).status == 200
    assert nsmod.link_names(netns) == ["lo"]
    assert node.leases() == []


def test_delegate_hot_plugs_one_interface_into_a_running_pod_and_unplugs_it(node: Node, netns: str) -> None:
    node.add_pod()
    hotplug = {"cniVersion": "0.3.1", "name": "hotplug", "type": "bridge", "bridge": "br-hot",
               "capabilities": {"ips": True}, "ipam": {"type": "static"}}
    attributes = {"ips": ["10.70.0.5/24"], "cni-args": {"owner": "dynamic-networks"}}
    with node.daemon() as daemon, UnixClient(daemon.config.socket_path) as client:
        assert call(daemon, node, "ADD", netns).status == 200
        scratch_before = (node.cni_dir / "ctr1").read_bytes()
        status_before = node.api.get_pod("default", "web")["metadata"]["annotations"][NETWORK_STATUS]

        env = cni_env("ADD", netns=netns, ifname="net7", path=node.plugins)
        reply = client.cni(env, hotplug, endpoint="/delegate", attributes=attributes)
        assert reply.status == 200, reply.text
        assert reply.json()["Result"]["ips"][0]["address"] == "10.70.0.5/24"
        assert sorted(nsmod.link_names(netns)) == ["eth0", "lo", "net7"]
        assert nsmod.addresses(netns, "net7") == ["10.70.0.5/24"]
        [bridge_add] = [c for c in node.executor.calls_of("bridge", "ADD") if c.if_name == "net7"]
        assert bridge_add.stdin["args"] == {"cni": {"owner": "dynamic-networks"}}
        assert bridge_add.stdin["runtimeConfig"] == {"ips": ["10.70.0.5/24"]}
        assert (node.cni_dir / "ctr1").read_bytes() == scratch_before
        assert node.api.get_pod("default", "web")["metadata"]["annotations"][NETWORK_STATUS] == status_before

        reply = client.cni(dict(env, CNI_COMMAND="DEL"), hotplug, endpoint="/delegate", attributes=attributes)
        assert (reply.status, reply.body) == (200, b"")
        assert sorted(nsmod.link_names(netns)) == ["eth0", "lo"]
        assert call(daemon, node, "DEL", netns).status == 200
    assert nsmod.link_names(netns) == ["lo"]


def test_delegate_for_a_pod_the_api_does_not_have_fails(node: Node, netns: str) -> None:
    conf = {"cniVersion": "0.3.1", "name": "hotplug", "type": "bridge", "bridge": "br-hot",
            "ipam": host_local(node.ipam, "10.71.0.0/24")}
    with node.daemon() as daemon:
        body = shim_body(cni_env("ADD", netns=netns, ifname="net7", pod="ghost", path=node.plugins), conf)
        reply = post_once(daemon.config.socket_path, "/delegate", body)
    assert reply.status == 400
    assert "pod default/ghost not found" in reply.json()["msg"]
    assert node.executor.calls == []


def test_fifty_pods_eight_at_a_time_all_get_added_and_deleted_cleanly(
        node: Node, make_netns: Callable[[], str]) -> None:
    pods = [(f"pod-{i}", f"00000000-0000-4000-8000-{i:012d}", make_netns()) for i in range(50)]
    for name, uid, _ in pods:
        node.add_pod(name, uid)

    def run(command: str, pod: tuple[str, str, str]) -> Reply:
        name, uid, pod_ns = pod
        return call(daemon, node, command, pod_ns, pod=name, uid=uid, container_id=f"ctr-{name}")

    with node.daemon() as daemon, ThreadPoolExecutor(max_workers=8) as pool:
        added = list(pool.map(lambda pod: run("ADD", pod), pods))
        assert [r.status for r in added] == [200] * 50, [r.text for r in added if r.status != 200][:3]
        addresses = {r.json()["Result"]["ips"][0]["address"] for r in added}
        assert len(addresses) == 50
        assert all(nsmod.link_names(pod_ns) == ["eth0", "lo"] for _, _, pod_ns in pods)

        deleted = list(pool.map(lambda pod: run("DEL", pod), pods))
        assert [r.status for r in deleted] == [200] * 50
    assert all(nsmod.link_names(pod_ns) == ["lo"] for _, _, pod_ns in pods)
    assert sorted(nsmod.link_names(node.host_ns)) == ["cni0", "lo"]
    assert node.leases() == []
    assert list((node.cni_dir / "results").iterdir()) == []
    assert [p.name for p in node.cni_dir.iterdir()] == ["results"]


def test_after_a_restart_the_daemon_dels_a_pod_added_before_from_the_caches_on_disk(node: Node, netns: str) -> None:
    node.add_pod(networks="bridge-two")
    with node.daemon() as first:
        assert call(first, node, "ADD", netns).status == 200
    assert sorted(nsmod.link_names(netns)) == ["eth0", "lo", "net1"]
    node.api.delete_pod("default", "web")

    with node.daemon() as second:
        assert post_once(second.config.socket_path, "/readyz").status == 200
        assert call(second, node, "DEL", netns).status == 200
    assert nsmod.link_names(netns) == ["lo"]
    assert node.leases() == []
    assert not (node.cni_dir / "ctr1").exists()
