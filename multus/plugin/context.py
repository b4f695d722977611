"""One CNI call's context: its config, pod identity, Kubernetes access and delegate runtime.

Everything a verb needs travels in a :class:`CallContext` built per call; nothing is kept in module
globals, so the same verbs can run concurrently inside a long-lived daemon.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from multus.cni.invoke import PluginExecutor
from multus.cni.runtime import CNIRuntime
from multus.devices import DEFAULT_DEVINFO_DIR
from multus.devices.source import DeviceSource
from multus.plugin.config import MultusNetConf
from multus.plugin.k8s_args import K8sArgs


class KubeAPI(Protocol):
    """What the meta-plugin asks of the Kubernetes API (multus.k8s.client.KubeClient provides it)."""

    def get_pod(self, namespace: str, name: str, *, timeout: float | None = None) -> dict[str, Any]:
        """The pod; ``timeout`` bounds this call in seconds, retries included (None: the client's default)."""
        ...

    def get_network_attachment_definition(self, namespace: str, name: str) -> dict[str, Any]: ...

    def patch_pod_status(self, namespace: str, name: str, patch: dict[str, Any], *,
                         uid: str | None = None) -> dict[str, Any]: ...

    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]: ...


class EventSink(Protocol):
    def emit(self, pod: dict[str, Any], event_type: str, reason: str, message: str) -> None: ...


class CallContext(NamedTuple):
    """One CNI call's configuration, pod identity and clients (a NamedTuple: defined in every thin-plugin
    process, where a dataclass costs ~0.8 ms to create; change it with ``_replace``)."""

    conf: MultusNetConf
    k8s: K8sArgs
    container_id: str
    netns: str
    ifname: str
    env_cni_args: str
    runtime: CNIRuntime
    kube: KubeAPI | None
    events: EventSink
    base_runtime_config: Mapping[str, Any] = MappingProxyType({})  # read-only: shared by every context
    # The SR-IOV path: where device IDs come from, where device-info files live, and whether to build
    # device-info from sysfs when neither the device plugin nor the delegate wrote any.
    devices: DeviceSource | None = None
    devinfo_dir: str = DEFAULT_DEVINFO_DIR
    device_info_from_sysfs: bool = True
    sysfs_root: str | None = None

    @property
    def pod_ref(self) -> str:
        """``<ns>/<name>/<uid>`` as Go's error messages show the pod."""
        return f"{self.k8s.pod_namespace}/{self.k8s.pod_name}/{self.k8s.pod_uid}"


def plugin_dirs(conf: MultusNetConf, cni_path: str) -> list[str]:
    """binDir first, then CNI_PATH, as Go Multus searches them."""
    return [conf.bin_dir, *[p for p in cni_path.split(os.pathsep) if p]]


def make_runtime(conf: MultusNetConf, cni_path: str, executor: PluginExecutor | None = None) -> CNIRuntime:
    return CNIRuntime(plugin_dirs(conf, cni_path), cache_dir=conf.cni_dir, executor=executor)


def connect_kube(conf: MultusNetConf, environ: Mapping[str, str]) -> KubeAPI | None:
    """The API client from ``kubeconfig`` or in-cluster settings; None when Multus runs without Kubernetes."""
    if not conf.kubeconfig and not (environ.get("KUBERNETES_SERVICE_HOST") and environ.get("KUBERNETES_SERVICE_PORT")):
        # resolve_access would return None (its in-cluster rule needs both variables): answer without
        # importing the client (http.client, ssl: ~10 ms of every static-delegate call).
        return None
    from multus.k8s.access import resolve_access  # imported here: static-delegate calls never pay for it
    from multus.k8s.client import KubeClient

    access = resolve_access(conf.kubeconfig, environ)
    return KubeClient(access) if access is not None else None
