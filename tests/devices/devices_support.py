"""Shared harness of ``tests/devices/test_devices_e2e_*.py`` (holds no tests): the deviceID path end to end.

A :class:`DeviceNode` is one simulated SR-IOV node, everything private to the test:

* the **Kubernetes API server** is a test double (:class:`multus.testing.kube_api.KubeApiServer`) that
  our real client talks to over HTTP through a kubeconfig; it holds the pods (with their containers'
  resource requests) and the NetworkAttachmentDefinitions (``k8s.v1.cni.cncf.io/resourceName``);
* the **kubelet** is a test double too (:class:`podresources.testing.FakeKubelet`): a real gRPC server
  on a unix socket at ``<root>/pod-resources/kubelet.sock``, with the kubelet's Get/List behaviour, its
  rate limit and call counters; the Multus config names its root as ``kubeletRootDir``;
* ``devinfo/`` is the ``deviceInfoDir`` (``dp/`` files written by the "device plugin", i.e. the test,
  ``cni/`` files by Multus and the delegates);
* ``sys/`` is the sysfs tree every call reads (empty unless a test fills it with ``FakeSysfs(node.work)``),
  so the host's /sys never leaks into a result;
* delegates are either real processes (:func:`make_devices_plugin`: a tiny scripted CNI plugin that also
  records whether its ``CNIDeviceInfoFile`` existed, and what it held, at the moment it ran) or, where
  many ADDs must be fast, :class:`InProcessExecutor` answering in-process and recording every call.

:meth:`DeviceNode.call` runs one CNI command in-process as the ``multus`` binary does
(:func:`multus.testing.thin_plugin.call_thin_plugin`). By default each call
gets a fresh :class:`~multus.devices.source.LazyPodResources` (a thin plugin is a process per call, so
it never reuses a client), closed when the call returns; ``device_source=`` passes a shared one instead.
:func:`device_node` builds a node and stops both doubles when it is left, also on failure.
"""

from __future__ import annotations

import json
import stat
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from multus.cni.invoke import InvokeArgs, PluginOutput, SubprocessExecutor, plugin_failure
from multus.devices.source import DeviceSource, LazyPodResources
from multus.plugin.nads import RESOURCE_NAME_ANNOTATION
from multus.testing.kube_api import KubeApiServer
from multus.testing.recording_executor import RecordingExecutor
from multus.testing.thin_plugin import Outcome, call_thin_plugin
from podresources.testing import FakeKubelet

NAMESPACE = "test"
VERSION = "1.0.0"
RESOURCE_A = "intel.com/sriov_net_A"
RESOURCE_B = "intel.com/sriov_net_B"
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
MASTER_PLUGIN = "master-plugin"
DEVICE_CAPABILITIES = {"deviceID": True, "CNIDeviceInfoFile": True}


def pod_cni_args(name: str, uid: str, namespace: str = NAMESPACE) -> str:
    return f"K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={name};K8S_POD_UID={uid}"


def result_body(ifname: str, netns: str, address: str, version: str = VERSION) -> dict[str, Any]:
    """An ADD result with one pod-side interface (so network-status gets an entry for it)."""
    return {"cniVersion": version, "interfaces": [{"name": ifname, "mac": "0a:58:0a:00:00:01", "sandbox": netns}],
            "ips": [{"address": address, "interface": 0}], "dns": {}}


def error_body(code: int, msg: str, details: str = "") -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "msg": msg}
    if details:
        body["details"] = details
    return body


# ---- a real-process delegate that watches its device-info file ----------------------------------------------

_PLUGIN = r'''#!{python} -IS
import json, os, sys
here, name = os.path.split(os.path.abspath(sys.argv[0]))
command = os.environ.get("CNI_COMMAND", "")
conf = json.loads(sys.stdin.read() or "null")
rc = (conf or {{}}).get("runtimeConfig") or {{}}
devinfo_file = rc.get("CNIDeviceInfoFile", "")
existed = bool(devinfo_file) and os.path.exists(devinfo_file)
seen = None
if existed:
    with open(devinfo_file) as f:
        seen = json.load(f)
env = {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}}
try:
    with open(os.path.join(here, name + ".script.json")) as f:
        script = json.load(f).get(command) or {{}}
except FileNotFoundError:
    script = {{}}
with open(os.path.join(here, name + ".calls.jsonl"), "a") as log:
    log.write(json.dumps({{"command": command, "env": env, "stdin": conf, "devinfo_existed": existed,
                         "devinfo_seen": seen}}) + "\n")
if "error" in script:
    print(json.dumps(script["error"]))
    sys.exit(1)
if command == "ADD":
    own = script.get("write_devinfo")
    if own is not None and devinfo_file and not os.path.exists(devinfo_file):
        os.makedirs(os.path.dirname(devinfo_file), exist_ok=True)
        with open(devinfo_file, "x") as f:
            json.dump(own, f)
    version = conf.get("cniVersion") or "1.0.0"
    iface = {{"name": env["CNI_IFNAME"], "mac": "0a:58:0a:00:00:02", "sandbox": env["CNI_NETNS"]}}
    print(json.dumps({{"cniVersion": version, "interfaces": [iface],
                      "ips": [{{"address": script.get("address", "10.56.0.2/24"), "interface": 0}}], "dns": {{}}}}))
elif command == "VERSION":
    print(json.dumps({{"cniVersion": "1.1.0", "supportedVersions": ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]}}))
'''


@dataclass
class DevicesPlugin:
    """A plugin made by :func:`make_devices_plugin`: script it, then read what it was called with."""

    directory: Path
    name: str

    def script(self, **commands: dict[str, Any]) -> None:
        """Per command: ``{"error": {...}}`` to fail with that CNI error, ``{"address": ...}``, and for ADD
        ``{"write_devinfo": {...}}`` to write its own device-info when the file does not exist yet."""
        (self.directory / f"{self.name}.script.json").write_text(json.dumps(commands))

    def calls(self, command: str | None = None) -> list[dict[str, Any]]:
        log = self.directory / f"{self.name}.calls.jsonl"
        if not log.exists():
            return []
        calls = [json.loads(line) for line in log.read_text().splitlines()]
        return [c for c in calls if command is None or c["command"] == command]


def make_devices_plugin(directory: Path, name: str) -> DevicesPlugin:
    path = directory / name
    path.write_text(_PLUGIN.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return DevicesPlugin(directory, name)


# ---- an in-process delegate for many fast ADDs --------------------------------------------------------------


class InProcessPlugins:
    """A PluginExecutor that answers every plugin in-process (no exec), so the Multus path dominates.

    ADD returns a one-interface result, DEL and CHECK nothing; ``fail[plugin]`` makes that plugin's ADD
    fail with the given CNI error object.
    """

    def __init__(self, fail: dict[str, dict[str, Any]]) -> None:
        self.fail = fail

    def find_in_path(self, plugin: str, paths: Sequence[str]) -> str:
        return f"/in-process/{plugin}"

    def exec_plugin(self, plugin_path: str, stdin: bytes, args: InvokeArgs, timeout: float | None) -> PluginOutput:
        plugin = plugin_path.rsplit("/", 1)[-1]
        if args.command == "ADD":
            if plugin in self.fail:
                raise plugin_failure(plugin, 1, json.dumps(self.fail[plugin]).encode(), b"")
            conf = json.loads(stdin)
            body = result_body(args.if_name, args.netns, "10.56.0.2/24", conf.get("cniVersion") or VERSION)
            return PluginOutput(json.dumps(body).encode(), b"")
        return PluginOutput(b"", b"")


class InProcessExecutor(RecordingExecutor):
    """:class:`InProcessPlugins`, every call recorded (``calls``, ``calls_of``); thread-safe."""

    def __init__(self) -> None:
        self.fail: dict[str, dict[str, Any]] = {}
        super().__init__(InProcessPlugins(self.fail))


# ---- the node ------------------------------------------------------------------------------------------------


@dataclass
class DeviceNode:
    work: Path
    netns: str
    api: KubeApiServer
    kubelet: FakeKubelet
    executor: Any = field(default_factory=SubprocessExecutor)
    plugins: dict[str, DevicesPlugin] = field(default_factory=dict)

    @property
    def bin_dir(self) -> Path:
        return self.work / "bin"

    @property
    def cni_dir(self) -> Path:
        return self.work / "cni"

    @property
    def devinfo_dir(self) -> Path:
        return self.work / "devinfo"

    @property
    def kubeconfig(self) -> Path:
        return self.work / "kubeconfig"

    @property
    def in_process(self) -> bool:
        return isinstance(self.executor, InProcessExecutor)

    def plugin(self, name: str) -> DevicesPlugin:
        """The real-process plugin ``name`` in ``bin/``, created on first use (in-process nodes need none)."""
        assert not self.in_process, "this node answers plugins in-process: use node.executor.calls_of()"
        if name not in self.plugins:
            self.plugins[name] = make_devices_plugin(self.bin_dir, name)
        return self.plugins[name]

    def cni_file(self, nad: str, container_id: str, ifname: str, namespace: str = NAMESPACE) -> Path:
        """Where Multus puts an attachment's CNI device-info file: ``<ns>-<nad>-<cid>_<ifname>``."""
        return self.devinfo_dir / "cni" / f"{namespace}-{nad}-{container_id}_{ifname}"

    def multus(self, **extra: Any) -> dict[str, Any]:
        """The Multus config: a static master (``master-plugin``), the API double, this node's kubelet
        root and device-info directory."""
        body: dict[str, Any] = {
            "cniVersion": VERSION, "name": "node-cni-network", "type": "multus",
            "binDir": str(self.bin_dir), "cniDir": str(self.cni_dir), "confDir": str(self.work / "net.d"),
            "kubeconfig": str(self.kubeconfig), "kubeletRootDir": self.kubelet.root_dir,
            "deviceInfoDir": str(self.devinfo_dir),
            "delegates": [{"cniVersion": VERSION, "name": "master", "type": MASTER_PLUGIN}],
        }
        body.update(extra)
        return body

    # ---- the cluster side

    def add_nad(self, name: str, config: dict[str, Any], resource: str | None = None,
                namespace: str = NAMESPACE) -> None:
        """A NAD (with ``resourceName`` when ``resource``); its plugins are created in ``bin/`` as needed."""
        if not self.in_process:
            for plugin in [config, *config.get("plugins", [])]:
                if plugin.get("type"):
                    self.plugin(plugin["type"])
        annotations = {RESOURCE_NAME_ANNOTATION: resource} if resource else None
        self.api.add_nad(namespace, name, config, annotations)

    def add_pod(self, name: str, uid: str, networks: str | None = None, *, requests: Mapping[str, str] | None = None,
                namespace: str = NAMESPACE) -> None:
        """A pod whose one container requests (and limits) ``requests``, e.g. ``{RESOURCE_A: "2"}``."""
        annotations = {NETWORKS_ANNOTATION: networks} if networks is not None else {}
        container: dict[str, Any] = {"name": "app", "image": "registry.k8s.io/pause:3.9"}
        if requests:
            container["resources"] = {"requests": dict(requests), "limits": dict(requests)}
        self.api.add_pod(namespace, name, uid=uid, annotations=annotations, spec={"containers": [container]})

    def network_status(self, name: str, namespace: str = NAMESPACE) -> list[dict[str, Any]] | None:
        annotations = self.api.get_pod(namespace, name)["metadata"].get("annotations") or {}
        value = annotations.get(NETWORK_STATUS_ANNOTATION)
        return json.loads(value) if value is not None else None

    def status_of(self, pod: str, network: str) -> dict[str, Any]:
        """The network-status entry of ``network`` (``<ns>/<nad>``) on pod ``pod``."""
        entries = [e for e in self.network_status(pod) or [] if e["name"] == network]
        assert len(entries) == 1, f"expected one {network} entry, got {self.network_status(pod)}"
        return entries[0]

    def events(self, reason: str, namespace: str = NAMESPACE) -> list[dict[str, Any]]:
        return [e for e in self.api.events(namespace) if e["reason"] == reason]

    # ---- CNI calls

    @property
    def sysfs_root(self) -> Path:
        """The sysfs tree calls read (``FakeSysfs(node.work)`` fills it): never the host's /sys."""
        return self.work / "sys"

    def call(self, command: str, config: dict[str, Any], *, pod: str, uid: str, container_id: str,
             ifname: str = "eth0", device_source: DeviceSource | None | Literal["from-config"] = None,
             namespace: str = NAMESPACE) -> Outcome:
        """One CNI call into the thin plugin.

        ``device_source``: None gives the call a fresh client of this node's kubelet, closed afterwards;
        ``"from-config"`` injects nothing, so the plugin builds its own from ``kubeletRootDir``.
        """
        environ = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_IFNAME": ifname,
                   "CNI_PATH": str(self.bin_dir), "CNI_ARGS": pod_cni_args(pod, uid, namespace),
                   "CNI_NETNS": self.netns}
        own_source = LazyPodResources(self.kubelet.root_dir) if device_source is None else None
        source = None if device_source == "from-config" else device_source or own_source
        try:
            return call_thin_plugin(environ, config, executor=self.executor, device_source=source,
                                    sysfs_root=str(self.sysfs_root))
        finally:
            if own_source is not None:
                own_source.close()


@contextmanager
def device_node(work: Path, netns: str, *, executor: Any = None, **kubelet_options: Any) -> Iterator[DeviceNode]:
    """A node under ``work``; the API double and the kubelet double stop when it is done, even on failure.

    With the default (subprocess) executor the master plugin is created in ``bin/``; ``kubelet_options``
    go to :class:`FakeKubelet` (``get_mode``, ``rate``, ``burst``...)."""
    for sub in ("bin", "net.d"):
        (work / sub).mkdir(parents=True)
    with KubeApiServer() as api, FakeKubelet(**kubelet_options) as kubelet:
        api.write_kubeconfig(work / "kubeconfig")
        node = DeviceNode(work, netns, api, kubelet)
        if executor is not None:
            node.executor = executor
        else:
            node.plugin(MASTER_PLUGIN).script(ADD={"address": "10.244.0.5/24"})
        yield node
