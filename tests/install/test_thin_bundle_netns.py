"""The host bundle doing real CNI work: ADD and DEL through the installed ``multus`` file, as a runtime runs it.

Namespaces are the test's own (tests/conftest.py): with a bridge delegate the bundle runs under
``nsenter --net=<host_ns>``, so the bridge and host veths land there; the API server double listens on
127.0.0.1 of the machine's namespace, so the Kubernetes cases run the bundle there and use a delegate
that only ever touches the pod's namespace (``ip -n``). Checked:

* a static bridge + host-local delegate: ADD gives the pod eth0 with the leased address, DEL removes the
  link and the lease (the full call path imports from the archive, nothing from the venv);
* Kubernetes (JSON kubeconfig of the API double, a NAD, the networks annotation): ``default-route`` on
  net1 makes the bundle edit the pod's routes with pyroute2 from the archive (a forked child in the pod
  namespace), and network-status is written;
* devices with a host python that has no grpc: the kubelet's socket present, the ADD fails with a CNI
  error naming grpcio/protobuf (no traceback, no delegate run); no socket, the checkpoint fallback (pure
  Python) gives the delegate its deviceID.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bundle_support import DummyPlugin, bare_python, cni_env, make_dummy_plugin, run_cni

from multus import netns as nsmod
from multus.install.bundle import install_thin_bundle
from multus.testing.kube_api import KubeApiServer
from podresources.testing import write_checkpoint

pytestmark = pytest.mark.netns

VERSION = "1.0.0"
UID = "5d6c3f7e-0000-4000-8000-00000000b0d1"
RESOURCE = "intel.com/sriov_net_a"
VF = "0000:03:02.1"


def pod_args(name: str, container_id: str) -> str:
    return (f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={name};K8S_POD_INFRA_CONTAINER_ID={container_id};"
            f"K8S_POD_UID={UID}")


def leases(ipam_dir: Path) -> list[str]:
    return sorted(p.name for p in ipam_dir.rglob("*") if p.is_file() and p.name[0].isdigit())


def default_routes(netns: str) -> list[tuple[str, str]]:
    """``(gateway, device)`` of the pod's IPv4 default routes."""
    done = subprocess.run(["ip", "-n", os.path.basename(netns), "-j", "-4", "route", "show", "default"],
                          capture_output=True, text=True, check=True)
    return sorted((r.get("gateway", ""), r.get("dev", "")) for r in json.loads(done.stdout or "[]"))


# ---- a static delegate ---------------------------------------------------------------------------------------


def test_add_and_del_with_a_static_bridge_delegate(bundle_bin: Path, host_ns: str, netns: str, real_plugins_dir: str,
                                                   ipam_data_dir: Path, tmp_path: Path) -> None:
    conf: dict[str, Any] = {
        "cniVersion": VERSION, "name": "multus-cni-network", "type": "multus", "kubeconfig": "",
        "cniDir": str(tmp_path / "multus"), "binDir": real_plugins_dir,
        "delegates": [{"cniVersion": VERSION, "name": "static-br", "type": "bridge", "bridge": "bundlebr0",
                       "isGateway": True, "ipam": {"type": "host-local", "subnet": "10.77.0.0/24",
                                                   "dataDir": str(ipam_data_dir),
                                                   "routes": [{"dst": "0.0.0.0/0"}]}}]}
    env = cni_env("bundle-ctr-1", netns, real_plugins_dir, cni_args=pod_args("standalone", "bundle-ctr-1"))
    add = run_cni(bundle_bin / "multus", "ADD", conf, host_ns=host_ns, env=env)
    assert add.code == 0, add
    [ip] = add.json["ips"]
    assert ip["address"].startswith("10.77.0.") and ip["gateway"] == "10.77.0.1"
    assert "eth0" in nsmod.link_names(netns)
    assert nsmod.addresses(netns, "eth0") == [ip["address"]]
    assert leases(ipam_data_dir) == [ip["address"].split("/")[0]]
    delete = run_cni(bundle_bin / "multus", "DEL", {**conf, "prevResult": add.json}, host_ns=host_ns, env=env)
    assert delete.code == 0, delete
    assert "eth0" not in nsmod.link_names(netns) and leases(ipam_data_dir) == []
    assert "Traceback" not in add.stderr + delete.stderr


# ---- Kubernetes, default route -------------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    with KubeApiServer("127.0.0.1") as server:
        yield server


@pytest.fixture
def dummy(tmp_path: Path) -> DummyPlugin:
    (tmp_path / "plugins").mkdir()
    return make_dummy_plugin(tmp_path / "plugins")


def kube_conf(api: KubeApiServer, tmp_path: Path, **extra: Any) -> dict[str, Any]:
    """Multus with a kubeconfig (JSON, as the thin entrypoint writes it) and a static cluster network."""
    kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
    return {"cniVersion": VERSION, "name": "multus-cni-network", "type": "multus", "kubeconfig": str(kubeconfig),
            "binDir": str(tmp_path / "plugins"), "cniDir": str(tmp_path / "multus"),
            "confDir": str(tmp_path / "net.d"), "deviceInfoDir": str(tmp_path / "devinfo"),
            "deviceInfoFromSysfs": False,
            "delegates": [{"cniVersion": VERSION, "name": "cluster", "type": "dummy-in-pod"}], **extra}


def test_default_route_on_net1_edits_the_pod_s_routes_with_pyroute2_from_the_archive(
        bundle_bin: Path, netns: str, api: KubeApiServer, dummy: DummyPlugin, tmp_path: Path) -> None:
    dummy.plan(eth0={"address": "10.88.0.2/24", "gateway": "10.88.0.1", "default": True},
               net1={"address": "10.89.0.2/24", "gateway": "10.89.0.1"})
    api.add_nad("default", "side", {"cniVersion": VERSION, "type": "dummy-in-pod"})
    api.add_pod("default", "web", uid=UID, annotations={
        "k8s.v1.cni.cncf.io/networks": json.dumps([{"name": "side", "default-route": ["10.89.0.1"]}])})
    conf = kube_conf(api, tmp_path)
    env = cni_env("bundle-ctr-2", netns, str(tmp_path / "plugins"), cni_args=pod_args("web", "bundle-ctr-2"))
    add = run_cni(bundle_bin / "multus", "ADD", conf, env=env)
    assert add.code == 0, add
    assert default_routes(netns) == [("10.89.0.1", "net1")], "eth0's default removed, net1's added"
    status = json.loads(api.get_pod("default", "web")["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"])
    assert [s["name"] for s in status] == ["cluster", "default/side"]
    delete = run_cni(bundle_bin / "multus", "DEL", {**conf, "prevResult": add.json}, env=env)
    assert delete.code == 0, delete
    assert sorted(c["ifname"] for c in dummy.calls("DEL")) == ["eth0", "net1"]
    assert set(nsmod.link_names(netns)) == {"lo"}


# ---- devices on a host without grpc ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bare_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle installed for a host python with nothing in its site directories (no grpc, no protobuf)."""
    root = tmp_path_factory.mktemp("bare-host")
    python = bare_python(root / "python")
    (root / "bin").mkdir()
    install_thin_bundle(root / "bin", host_python=str(python), names=("multus",))
    return root / "bin" / "multus"


def device_pod(api: KubeApiServer, tmp_path: Path) -> dict[str, Any]:
    api.add_nad("default", "sriov-net", {"cniVersion": VERSION, "type": "dummy-in-pod"},
                {"k8s.v1.cni.cncf.io/resourceName": RESOURCE})
    container = {"name": "app", "image": "registry.k8s.io/pause:3.9",
                 "resources": {"requests": {RESOURCE: "1"}, "limits": {RESOURCE: "1"}}}
    api.add_pod("default", "dev", uid=UID, annotations={"k8s.v1.cni.cncf.io/networks": "sriov-net"},
                spec={"containers": [container]})
    return kube_conf(api, tmp_path, kubeletRootDir=str(tmp_path / "kubelet"))


def test_without_grpc_the_kubelet_api_fails_the_add_with_a_clear_cni_error(
        bare_bundle: Path, netns: str, api: KubeApiServer, dummy: DummyPlugin, tmp_path: Path) -> None:
    dummy.plan(eth0={"address": "10.88.0.2/24", "gateway": "10.88.0.1"})
    conf = device_pod(api, tmp_path)
    socket = tmp_path / "kubelet" / "pod-resources" / "kubelet.sock"
    socket.parent.mkdir(parents=True)
    socket.touch()  # the kubelet's API is there: grpc is needed
    env = cni_env("bundle-ctr-3", netns, str(tmp_path / "plugins"), cni_args=pod_args("dev", "bundle-ctr-3"))
    add = run_cni(bare_bundle, "ADD", conf, env=env)
    assert add.code == 1, add
    error = add.json
    assert error["code"] == 999 and "failed to get resourceMap" in error["msg"]
    assert "grpcio>=1.85.1 and protobuf>=7.35.1" in error["msg"] and "checkpoint" in error["msg"]
    assert "Traceback" not in add.stderr
    assert not any(c["ifname"] == "net1" for c in dummy.calls("ADD")), "the device network never ran"


def test_without_grpc_the_checkpoint_fallback_gives_the_delegate_its_device(
        bare_bundle: Path, netns: str, api: KubeApiServer, dummy: DummyPlugin, tmp_path: Path) -> None:
    dummy.plan(eth0={"address": "10.88.0.2/24", "gateway": "10.88.0.1"},
               net1={"address": "10.89.0.2/24", "gateway": "10.89.0.1"})
    conf = device_pod(api, tmp_path)
    write_checkpoint(str(tmp_path / "kubelet" / "device-plugins" / "kubelet_internal_checkpoint"),
                     [(UID, "app", RESOURCE, {-1: [VF]})])
    env = cni_env("bundle-ctr-4", netns, str(tmp_path / "plugins"), cni_args=pod_args("dev", "bundle-ctr-4"))
    add = run_cni(bare_bundle, "ADD", conf, env=env)
    assert add.code == 0, add
    [net1] = [c["stdin"] for c in dummy.calls("ADD") if c["ifname"] == "net1"]
    assert net1["deviceID"] == VF
    delete = run_cni(bare_bundle, "DEL", {**conf, "prevResult": add.json}, env=env)
    assert delete.code == 0, delete
