"""Handing a pod's devices to its networks, one ADD at a time.

The pod's resource map (resource name -> sorted device IDs) is fetched once per ADD, at the first network
that names a resource, with exactly one kubelet call; networks sharing a resource then consume its IDs in
delegate order. A resource of which the pod holds no device yields "" (Go's behaviour: some resources,
such as KubeVirt's bridge-marker ones, exist only for scheduling), but it is logged, reported as a
Warning event on the pod, and remembered so a failing delegate can say why (see hints.py).
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from multus.cni.errors import CniError, ErrorCode
from multus.devices.hints import missing_device_message, pod_resource_requests
from multus.devices.source import DeviceSource
from multus.logs import get_logger

log = get_logger(__name__)

NO_DEVICE_EVENT_REASON = "NoDeviceForResource"


class EventSink(Protocol):
    def emit(self, pod: dict[str, Any], event_type: str, reason: str, message: str) -> None: ...


class PodDeviceAllocator:
    """The DeviceAllocator of one ADD for one pod."""

    def __init__(self, source: DeviceSource, pod: dict[str, Any], events: EventSink | None = None) -> None:
        self._source = source
        self._pod = pod
        self._events = events
        self._resources: dict[str, list[str]] | None = None
        self._next: dict[str, int] = {}
        self._lock = threading.Lock()
        self.missing: list[str] = []

    def allocate(self, resource_name: str) -> str:
        with self._lock:
            devices = self._resource_map().get(resource_name, [])
            index = self._next.get(resource_name, 0)
            if index < len(devices):
                self._next[resource_name] = index + 1
                return devices[index]
        self._report_missing(resource_name, have=len(devices))
        return ""

    def _resource_map(self) -> dict[str, list[str]]:
        if self._resources is None:
            meta = self._pod.get("metadata", {})
            namespace, name, uid = meta.get("namespace", ""), meta.get("name", ""), meta.get("uid") or None
            try:
                found = self._source.pod_devices(namespace, name, uid)
            except CniError:
                raise
            except Exception as exc:  # the podresources error tree: fail the ADD with a CNI error
                raise CniError(f"getKubernetesDelegate: failed to get resourceMap from ResourceClient: {exc}",
                               code=_code_for(exc)) from exc
            self._resources = {res: sorted(ids) for res, ids in found.items()}
        return self._resources

    def _report_missing(self, resource_name: str, have: int) -> None:
        self.missing.append(resource_name)
        message = missing_device_message(self._pod, resource_name, have, pod_resource_requests(self._pod))
        log.warning("%s", message)
        if self._events is not None:
            self._events.emit(self._pod, "Warning", NO_DEVICE_EVENT_REASON, message)


def _code_for(exc: Exception) -> int:
    """11 (try again later) when the kubelet is busy, restarting or slow; 999 for everything else."""
    from podresources.errors import KubeletTimeoutError, KubeletUnavailableError, RateLimitedError

    transient = (KubeletTimeoutError, KubeletUnavailableError, RateLimitedError)
    return ErrorCode.TRY_AGAIN_LATER if isinstance(exc, transient) else ErrorCode.INTERNAL
