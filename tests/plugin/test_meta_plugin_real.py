"""The thin meta-plugin end to end: real CNI plugins in namespaces, Kubernetes through the API double.

The API server is a test double (multus.testing.kube_api) spoken to over real HTTP by our client, since
no kube-apiserver runs here. Plugins are Debian's, run inside a "node" namespace the test owns; the pod
is another namespace. Checked:
  * a pod with eth0 (cluster network: bridge), net1 (macvlan on a veth master) and net2 (bridge) from
    its networks annotation: addresses inside the namespace, the master's result returned, the
    network-status annotation as data, AddedInterface events;
  * DEL releases interfaces, leases and caches, and a second DEL is harmless;
  * a failing third delegate rolls back: no interface, lease, scratch or result cache left, and the error
    names the pod and the network;
  * DEL after the pod was deleted from the API (from the scratch cache);
  * DEL with a truncated scratch cache and no pod (from libcni's result cache, where Go releases nothing);
  * a pod missing from the API: an empty success and no plugin run;
  * static delegates without Kubernetes;
  * the ``multus`` command itself: bad input gives CNI error JSON and no traceback.
"""

from __future__ import annotations

import json
import os
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

NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
POD_UID = "9d1c7a52-0000-4000-8000-00000000c0de"


@dataclass
class Node:
    """One simulated node: namespaces, directories, the API double and the Multus config."""

    host_ns: str
    pod_ns: str
    work: Path
    ipam: Path
    api: KubeApiServer
    plugins: str
    executor: Any
    leases: Callable[[], list[str]]  # the ipam_leases fixture

    @property
    def cni_dir(self) -> Path:
        return self.work / "multus"

    def multus_conf(self, **overrides: Any) -> dict[str, Any]:
        conf: dict[str, Any] = {
            "cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus",
            "kubeconfig": str(self.work / "kubeconfig"), "cniDir": str(self.cni_dir),
            "confDir": str(self.work / "net.d"), "binDir": self.plugins,
            "clusterNetwork": str(self.work / "net.d" / "10-cluster.conflist"),
        }
        conf.update(overrides)
        return conf

    def call(self, command: str, conf: dict[str, Any], container_id: str = "ctr1",
             pod: str = "web", uid: str = POD_UID) -> tuple[int, dict[str, Any] | None]:
        environ = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=container_id, CNI_NETNS=self.pod_ns,
                       CNI_IFNAME="eth0", CNI_PATH=self.plugins,
                       CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={pod};"
                                f"K8S_POD_INFRA_CONTAINER_ID={container_id};K8S_POD_UID={uid}")
        outcome = call_thin_plugin(environ, conf, executor=self.executor)
        return outcome.code, outcome.output

    def pod_links(self) -> list[str]:
        return sorted(nsmod.link_names(self.pod_ns))


def host_local(ipam: Path, subnet: str) -> dict[str, Any]:
    return {"type": "host-local", "subnet": subnet, "dataDir": str(ipam)}


@pytest.fixture
def node(host_ns: str, netns: str, tmp_path: Path, real_plugins_dir: str, ipam_data_dir: Path,
         host_executor: Any, ipam_leases: Callable[[], list[str]]) -> Iterator[Node]:
    conf_dir = tmp_path / "net.d"
    conf_dir.mkdir()
    (conf_dir / "10-cluster.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "cluster",
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True,
                     "ipam": dict(host_local(ipam_data_dir, "10.10.0.0/24"), routes=[{"dst": "0.0.0.0/0"}])}]}))
    with nsmod.ns_ipr(host_ns) as ipr:
        ipr.link("add", ifname="mvmaster", kind="veth", peer="mvpeer")
        for name in ("mvmaster", "mvpeer"):
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
    with KubeApiServer() as api:
        api.write_kubeconfig(tmp_path / "kubeconfig")
        api.add_nad("default", "macvlan-conf", {"cniVersion": "1.0.0", "type": "macvlan", "master": "mvmaster",
                                                "mode": "bridge", "ipam": host_local(ipam_data_dir, "10.20.0.0/24")})
        api.add_nad("default", "bridge-two", {"cniVersion": "1.0.0", "type": "bridge", "bridge": "br2",
                                              "ipam": host_local(ipam_data_dir, "10.30.0.0/24")})
        api.add_nad("default", "broken", {"cniVersion": "1.0.0", "type": "bridge", "bridge": "br3",
                                          "mtu": "not-a-number", "ipam": host_local(ipam_data_dir, "10.40.0.0/24")})
        yield Node(host_ns, netns, tmp_path, ipam_data_dir, api, real_plugins_dir, host_executor, ipam_leases)


def add_pod(node: Node, networks: str, name: str = "web") -> None:
    node.api.add_pod("default", name, uid=POD_UID, annotations={"k8s.v1.cni.cncf.io/networks": networks})


def test_a_pod_gets_eth0_net1_and_net2_and_its_network_status(node: Node) -> None:
    add_pod(node, "macvlan-conf,bridge-two")
    code, result = node.call("ADD", node.multus_conf())
    assert code == 0, result
    assert result is not None and [ip["address"] for ip in result["ips"]] == ["10.10.0.2/24"]
    assert node.pod_links() == ["eth0", "lo", "net1", "net2"]
    assert nsmod.addresses(node.pod_ns, "net1") == ["10.20.0.2/24"]
    assert nsmod.addresses(node.pod_ns, "net2") == ["10.30.0.2/24"]
    assert nsmod.link_info(node.pod_ns, "net1").kind == "macvlan"

    status = json.loads(node.api.get_pod("default", "web")["metadata"]["annotations"][NETWORK_STATUS])
    assert [(s["name"], s["interface"], s["ips"]) for s in status] == [
        ("cluster", "eth0", ["10.10.0.2"]), ("default/macvlan-conf", "net1", ["10.20.0.2"]),
        ("default/bridge-two", "net2", ["10.30.0.2"])]
    assert status[0]["default"] is True and "default" not in status[1]
    assert list(status[1]) == ["name", "interface", "ips", "mac", "dns"]
    assert status[1]["mac"] == nsmod.link_info(node.pod_ns, "net1").mac
    messages = [e["message"] for e in node.api.events("default") if e["reason"] == "AddedInterface"]
    assert messages == ["Add eth0 [10.10.0.2/24] from cluster", "Add net1 [10.20.0.2/24] from default/macvlan-conf",
                        "Add net2 [10.30.0.2/24] from default/bridge-two"]

    code, _ = node.call("DEL", node.multus_conf())
    assert code == 0
    assert node.pod_links() == ["lo"]
    assert node.leases() == []
    assert not (node.cni_dir / "ctr1").exists()
    assert list((node.cni_dir / "results").iterdir()) == []
    assert node.call("DEL", node.multus_conf())[0] == 0


def test_a_failing_third_delegate_rolls_everything_back(node: Node) -> None:
    add_pod(node, "macvlan-conf,broken")
    code, error = node.call("ADD", node.multus_conf())
    assert code != 0 and error is not None
    assert error["msg"].startswith("[default/web/" + POD_UID + ":default/broken]: error adding container")
    assert node.pod_links() == ["lo"]
    assert node.leases() == []
    assert not (node.cni_dir / "ctr1").exists()
    assert not any((node.cni_dir / "results").iterdir())


def test_del_after_the_pod_was_deleted_uses_the_scratch_cache(node: Node) -> None:
    add_pod(node, "macvlan-conf")
    assert node.call("ADD", node.multus_conf())[0] == 0
    node.api.delete_pod("default", "web")
    assert node.call("DEL", node.multus_conf())[0] == 0
    assert node.pod_links() == ["lo"] and node.leases() == []


def test_del_with_a_truncated_cache_and_no_pod_still_releases_everything(node: Node) -> None:
    add_pod(node, "macvlan-conf,bridge-two")
    assert node.call("ADD", node.multus_conf())[0] == 0
    scratch = node.cni_dir / "ctr1"
    scratch.write_bytes(scratch.read_bytes()[:25])
    node.api.delete_pod("default", "web")
    assert node.call("DEL", node.multus_conf())[0] == 0
    assert node.pod_links() == ["lo"]
    assert node.leases() == []
    assert not scratch.exists()


def test_a_pod_missing_from_the_api_gets_an_empty_success_and_no_plugin_runs(node: Node) -> None:
    code, result = node.call("ADD", node.multus_conf(), pod="ghost")
    assert code == 0 and result is not None
    assert result["ips"] == [{"address": "0.0.0.0/0", "gateway": "0.0.0.0"}]
    assert node.executor.calls == []


def test_static_delegates_without_kubernetes_attach_eth0_and_net1(node: Node) -> None:
    conf = node.multus_conf(kubeconfig="", clusterNetwork="", delegates=[
        {"cniVersion": "1.0.0", "name": "first", "type": "bridge", "bridge": "br-s1",
         "ipam": host_local(node.ipam, "10.50.0.0/24")},
        {"cniVersion": "1.0.0", "name": "second", "type": "bridge", "bridge": "br-s2",
         "ipam": host_local(node.ipam, "10.60.0.0/24")}])
    code, result = node.call("ADD", conf)
    assert code == 0 and result is not None
    assert nsmod.addresses(node.pod_ns, "eth0") == ["10.50.0.2/24"]
    assert nsmod.addresses(node.pod_ns, "net1") == ["10.60.0.2/24"]
    assert [ip["address"] for ip in result["ips"]] == ["10.50.0.2/24"]
    assert node.call("CHECK", conf)[0] == 0
    assert node.call("DEL", conf)[0] == 0
    assert node.pod_links() == ["lo"] and node.leases() == []


@pytest.mark.parametrize("stdin, fragment", [
    (b"{not json", "could not be decoded"),
    (b'{"cniVersion": "1.0.0", "name": "m", "type": "multus"}', "at least one delegate/clusterNetwork"),
])
def test_the_multus_command_answers_bad_input_with_cni_error_json(stdin: bytes, fragment: str) -> None:
    command = Path(sys.executable).parent / "multus"
    env = dict(os.environ, CNI_COMMAND="ADD", CNI_CONTAINERID="c1", CNI_NETNS="/var/run/netns/none",
               CNI_IFNAME="eth0", CNI_PATH="/usr/lib/cni")
    done = subprocess.run([str(command)], input=stdin, capture_output=True, env=env, timeout=60, check=False)
    assert done.returncode != 0
    error = json.loads(done.stdout)
    assert fragment in error["msg"] and isinstance(error["code"], int)
    assert b"Traceback" not in done.stderr
