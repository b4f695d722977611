"""Unit tests of multus.devices.source.LazyPodResources, the thin plugin's kubelet client holder.

The kubelet is a test double (:class:`podresources.testing.FakeKubelet`), a real gRPC server on a unix
socket. Checked:
* nothing is created at construction; the client is created on first use and then kept (one client,
  one channel, for any number of calls), also when many threads ask at once;
* ``socket`` and ``kubelet_root_dir`` reach the client; ``close`` closes it and a later call opens a
  fresh one; closing an unused source is harmless;
* in a fresh process (a subprocess, as the thin plugin is), an ADD whose networks name no resource
  never imports grpc; the next ADD, with a resource NAD against a FakeKubelet, does (the control that
  shows the probe can see it). The API server there is the HTTP test double, run in that process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import podresources
from multus.devices.source import LazyPodResources
from podresources.errors import PodResourcesError
from podresources.testing import FakeKubelet

REPO = Path(__file__).resolve().parents[2]
RESOURCE = "intel.com/sriov_a"


@pytest.fixture
def kubelet() -> Iterator[FakeKubelet]:
    with FakeKubelet() as fake:
        fake.add_pod("ns1", "pod1", {"app": {RESOURCE: ["0000:03:02.3", "0000:03:02.1"]}})
        yield fake


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[podresources.PodResourcesClient]:
    """Every PodResourcesClient created from now on (LazyPodResources imports the name at first use)."""
    created: list[podresources.PodResourcesClient] = []

    class Counting(podresources.PodResourcesClient):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            created.append(self)

    monkeypatch.setattr(podresources, "PodResourcesClient", Counting)
    return created


def test_nothing_is_created_until_the_first_call(made: list[podresources.PodResourcesClient]) -> None:
    source = LazyPodResources("/nonexistent-kubelet-root")
    source.close()
    assert made == []


def test_the_client_is_created_once_and_kept_for_every_call(
        kubelet: FakeKubelet, made: list[podresources.PodResourcesClient]) -> None:
    source = LazyPodResources(kubelet.root_dir)
    try:
        answers = [source.pod_devices("ns1", "pod1", "uid-1") for _ in range(3)]
        client = source.client
    finally:
        source.close()
    assert answers == [{RESOURCE: ["0000:03:02.1", "0000:03:02.3"]}] * 3
    assert made == [client]
    assert client.socket == kubelet.socket_path
    assert kubelet.calls() == {"v1.Get": 3}


def test_many_threads_asking_at_once_share_one_client(
        kubelet: FakeKubelet, made: list[podresources.PodResourcesClient]) -> None:
    source = LazyPodResources(kubelet.root_dir)
    barrier = threading.Barrier(16)
    seen: list[object] = []

    def use() -> None:
        barrier.wait(timeout=10)
        seen.append(source.client)

    threads = [threading.Thread(target=use) for _ in range(16)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    finally:
        source.close()
    assert len(made) == 1 and seen == [made[0]] * 16


def test_an_explicit_socket_wins_over_the_root_dir(kubelet: FakeKubelet) -> None:
    source = LazyPodResources("/nonexistent-kubelet-root", socket=kubelet.socket_path)
    try:
        assert source.pod_devices("ns1", "pod1") == {RESOURCE: ["0000:03:02.1", "0000:03:02.3"]}
    finally:
        source.close()


def test_close_closes_the_client_and_a_later_call_opens_a_fresh_one(
        kubelet: FakeKubelet, made: list[podresources.PodResourcesClient]) -> None:
    source = LazyPodResources(kubelet.root_dir)
    try:
        source.pod_devices("ns1", "pod1")
        first = source.client
        source.close()
        with pytest.raises(PodResourcesError, match="closed"):
            first.get("ns1", "pod1")
        assert source.pod_devices("ns1", "pod1") == {RESOURCE: ["0000:03:02.1", "0000:03:02.3"]}
        assert source.client is not first and made == [first, source.client]
    finally:
        source.close()
    source.close()  # idempotent


# ---- grpc stays out of a process that needs no device -----------------------------------------------------

_PROBE = textwrap.dedent('''
    import io, json, sys
    from multus.cni.invoke import PluginOutput
    from multus.cni.skel import plugin_main
    from multus.cni.version import ALL_VERSIONS, CURRENT_VERSION, PluginInfo
    from multus.plugin.entry import ABOUT, plugin_funcs
    from multus.testing.kube_api import KubeApiServer

    work, netns, kubelet_root, resource = sys.argv[1:5]

    class Answer:
        def find_in_path(self, plugin, paths):
            return "/in-process/" + plugin
        def exec_plugin(self, path, stdin, args, timeout):
            if args.command != "ADD":
                return PluginOutput(b"", b"")
            body = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.2/24"}], "dns": {}}
            return PluginOutput(json.dumps(body).encode(), b"")

    def add(api, pod, networks):
        api.add_pod("ns1", pod, uid="uid-" + pod, annotations={"k8s.v1.cni.cncf.io/networks": networks})
        config = {"cniVersion": "1.0.0", "name": "multus", "type": "multus", "kubeconfig": work + "/kubeconfig",
                  "cniDir": work + "/cni", "kubeletRootDir": kubelet_root, "deviceInfoDir": work + "/devinfo",
                  "delegates": [{"cniVersion": "1.0.0", "name": "master", "type": "master"}]}
        env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "ctr-" + pod, "CNI_IFNAME": "eth0", "CNI_NETNS": netns,
               "CNI_PATH": work, "CNI_ARGS": f"K8S_POD_NAMESPACE=ns1;K8S_POD_NAME={pod};K8S_POD_UID=uid-{pod}"}
        out = io.StringIO()
        code = plugin_main(plugin_funcs(env, executor=Answer()), PluginInfo(CURRENT_VERSION, ALL_VERSIONS), ABOUT,
                           environ=env, stdin=io.BytesIO(json.dumps(config).encode()), stdout=out,
                           stderr=io.StringIO())
        return {"code": code, "grpc": "grpc" in sys.modules, "podresources": "podresources.client" in sys.modules}

    with KubeApiServer() as api:
        api.write_kubeconfig(work + "/kubeconfig")
        api.add_nad("ns1", "plain", {"cniVersion": "1.0.0", "type": "bridge"})
        api.add_nad("ns1", "sriov", {"cniVersion": "1.0.0", "type": "sriov"},
                    {"k8s.v1.cni.cncf.io/resourceName": resource})
        report = {"plain": add(api, "pod1", "plain"), "sriov": add(api, "pod2", "sriov")}
    print(json.dumps(report))
''')


def test_an_add_without_resource_networks_never_imports_grpc_in_a_fresh_process(
        tmp_path: Path, netns: str, kubelet: FakeKubelet) -> None:
    kubelet.add_pod("ns1", "pod2", {"app": {RESOURCE: ["0000:03:02.1"]}})
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    done = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path), netns, kubelet.root_dir, RESOURCE],
                          capture_output=True, text=True, timeout=60, cwd=REPO, env=env, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["plain"] == {"code": 0, "grpc": False, "podresources": False}
    assert report["sriov"] == {"code": 0, "grpc": True, "podresources": True}  # the probe can see grpc
    assert kubelet.calls() == {"v1.Get": 1}
