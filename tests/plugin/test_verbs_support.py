"""Shared harness of ``test_verbs.py`` and ``test_verbs_*.py``: the thin plugin driven through its CNI entry point.

Not a test module of its own (it holds no tests); those files import it. A
:class:`Node` is one simulated node:

* ``bin/`` holds scripted fake CNI plugins (:mod:`multus.testing.fake_plugin`), one per plugin type
  (``weave-net``, ``other-plugin``...). Each records every call it gets (CNI_* environment and the
  decoded stdin) and answers per command as scripted;
* every plugin exec also goes through a :class:`~multus.testing.recording_executor.RecordingExecutor`,
  which keeps the order of calls *across* plugins (the fake plugins' own logs are per plugin);
* ``cni/`` is Multus's ``cniDir`` (scratch cache and libcni result cache), ``net.d/`` its ``confDir``;
* the pod's network namespace is a fresh, empty one (the ADD path looks for interface-name
  collisions in it);
* with ``kube=True``, a Kubernetes API server *test double* (:mod:`multus.testing.kube_api`) is
  started and the Multus config points at it through a kubeconfig; the real client talks to it over
  HTTP. It holds the pod ``test/testpod`` (uid ``testUID``) once :meth:`Node.add_pod` is called.

:meth:`Node.call` runs one CNI command in-process exactly as the ``multus`` binary does
(:func:`multus.testing.thin_plugin.call_thin_plugin`) and returns the exit code and the decoded stdout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multus.testing.fake_plugin import FakePlugin, make_fake_plugin
from multus.testing.kube_api import KubeApiServer
from multus.testing.recording_executor import RecordingExecutor
from multus.testing.thin_plugin import Outcome, call_thin_plugin

CONTAINER_ID = "123456789"
POD_NAMESPACE = "test"
POD_NAME = "testpod"
POD_UID = "testUID"
POD_CNI_ARGS = f"K8S_POD_NAMESPACE={POD_NAMESPACE};K8S_POD_NAME={POD_NAME};K8S_POD_UID={POD_UID}"
NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"


# ---- plugin results and configs ------------------------------------------------------------------------


def result_body(version: str, address: str, *, gateway: str = "", ifname: str = "", sandbox: str = ""
                ) -> dict[str, Any]:
    """A plugin's ADD result in ``version``'s shape with one IPv4 address (and one interface if named)."""
    if version in ("0.1.0", "0.2.0"):
        ip4: dict[str, Any] = {"ip": address}
        if gateway:
            ip4["gateway"] = gateway
        return {"cniVersion": version, "ip4": ip4, "dns": {}}
    ip: dict[str, Any] = {"address": address}
    if gateway:
        ip["gateway"] = gateway
    if version.startswith("0."):
        ip["version"] = "4"
    body: dict[str, Any] = {"cniVersion": version, "ips": [ip], "dns": {}}
    if ifname:
        body["interfaces"] = [{"name": ifname, "mac": "0a:58:0a:00:00:01", "sandbox": sandbox}]
        ip["interface"] = 0
    return body


def plugin_error(code: int, msg: str, details: str = "") -> dict[str, Any]:
    """A fake plugin's scripted failure: the CNI error object on stdout, exit 1."""
    body: dict[str, Any] = {"code": code, "msg": msg}
    if details:
        body["details"] = details
    return {"stdout": json.dumps(body), "exit": 1}


def conf(version: str, name: str, plugin_type: str, **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": name, "type": plugin_type, **extra}


def conflist(version: str, name: str, *plugins: dict[str, Any]) -> dict[str, Any]:
    return {"cniVersion": version, "name": name, "plugins": list(plugins)}


# ---- the node ------------------------------------------------------------------------------------------


@dataclass
class Node:
    work: Path
    netns: str
    api: KubeApiServer | None = None
    executor: RecordingExecutor = field(default_factory=RecordingExecutor)
    plugins: dict[str, FakePlugin] = field(default_factory=dict)

    @property
    def bin_dir(self) -> Path:
        return self.work / "bin"

    @property
    def cni_dir(self) -> Path:
        return self.work / "cni"

    @property
    def conf_dir(self) -> Path:
        return self.work / "net.d"

    @property
    def kubeconfig(self) -> Path:
        return self.work / "kubeconfig"

    @property
    def scratch(self) -> Path:
        return self.cni_dir / CONTAINER_ID

    @property
    def results_dir(self) -> Path:
        return self.cni_dir / "results"

    def plugin(self, plugin_type: str) -> FakePlugin:
        """The fake plugin of this type, created on first use."""
        if plugin_type not in self.plugins:
            self.plugins[plugin_type] = make_fake_plugin(self.bin_dir, plugin_type)
        return self.plugins[plugin_type]

    def multus(self, version: str, *, delegates: Sequence[dict[str, Any]] = (), **extra: Any) -> dict[str, Any]:
        """The Multus config: fake-plugin dir, private cniDir/confDir, the API double when there is one."""
        body: dict[str, Any] = {"cniVersion": version, "name": "node-cni-network", "type": "multus",
                                "binDir": str(self.bin_dir), "cniDir": str(self.cni_dir),
                                "confDir": str(self.conf_dir)}
        if delegates:
            body["delegates"] = list(delegates)
        if self.api is not None:
            body["kubeconfig"] = str(self.kubeconfig)
        body.update(extra)
        return body

    def call(self, command: str, config: dict[str, Any] | bytes, *, cni_args: str = "",
             netns: str | None = None, ifname: str = "eth0", container_id: str = CONTAINER_ID) -> Outcome:
        """One CNI call into the thin plugin, as the ``multus`` binary makes it."""
        environ = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_IFNAME": ifname,
                   "CNI_PATH": str(self.bin_dir), "CNI_ARGS": cni_args,
                   "CNI_NETNS": self.netns if netns is None else netns}
        return call_thin_plugin(environ, config, executor=self.executor)

    # ---- Kubernetes --------------------------------------------------------------------------------------

    @property
    def kube(self) -> KubeApiServer:
        assert self.api is not None, "this node has no API server double (kube=True)"
        return self.api

    def add_pod(self, networks: str | list[dict[str, Any]] | None = None, *, namespace: str = POD_NAMESPACE,
                name: str = POD_NAME, uid: str = POD_UID) -> None:
        annotations = {}
        if networks is not None:
            annotations[NETWORKS_ANNOTATION] = networks if isinstance(networks, str) else json.dumps(networks)
        self.kube.add_pod(namespace, name, uid=uid, annotations=annotations)

    def added_interface_events(self) -> list[tuple[str, str, str]]:
        return [(e["type"], e["reason"], e["message"]) for e in self.kube.events(POD_NAMESPACE)
                if e["reason"] == "AddedInterface"]

    def network_status(self, namespace: str = POD_NAMESPACE) -> list[dict[str, Any]] | None:
        annotations = self.kube.get_pod(namespace, POD_NAME)["metadata"].get("annotations") or {}
        value = annotations.get(NETWORK_STATUS_ANNOTATION)
        return json.loads(value) if value is not None else None


def make_node(work: Path, netns: str, *, kube: bool) -> Iterator[Node]:
    """A node under ``work`` (removed with tmp_path); the API double, if any, stops when it is done."""
    for sub in ("bin", "net.d"):
        (work / sub).mkdir(parents=True)
    if not kube:
        yield Node(work, netns)
        return
    with KubeApiServer() as api:
        api.write_kubeconfig(work / "kubeconfig")
        yield Node(work, netns, api)
