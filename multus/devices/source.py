"""Where a pod's device IDs come from: the kubelet's PodResources API, or its checkpoint file.

The client (``podresources``) imports grpc on its first call, about 80 ms in a fresh process, so the
thin plugin creates it only when a network actually names a resource; the daemon keeps one for good.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from podresources import PodResourcesClient

DEFAULT_KUBELET_ROOT_DIR = "/var/lib/kubelet"


class DeviceSource(Protocol):
    def pod_devices(self, namespace: str, name: str, uid: str | None = None) -> dict[str, list[str]]: ...


class LazyPodResources:
    """A DeviceSource that opens the PodResources client on first use and keeps it."""

    def __init__(self, kubelet_root_dir: str = DEFAULT_KUBELET_ROOT_DIR, socket: str | None = None) -> None:
        self.kubelet_root_dir = kubelet_root_dir
        self.socket = socket
        self._client: PodResourcesClient | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> PodResourcesClient:
        with self._lock:
            if self._client is None:
                from podresources import PodResourcesClient

                self._client = PodResourcesClient(self.socket, kubelet_root_dir=self.kubelet_root_dir)
            return self._client

    def pod_devices(self, namespace: str, name: str, uid: str | None = None) -> dict[str, list[str]]:
        return self.client.pod_devices(namespace, name, uid)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
