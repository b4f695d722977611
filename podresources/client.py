"""A client of the kubelet's PodResources gRPC API that asks for one pod, not the whole node.

Why not do what Multus does (a new connection and a ``List`` of every pod on every CNI ADD): on a busy SR-IOV
node that hits the kubelet's rate limit -- 100 requests/s, burst 10, shared by *all* clients -- and Multus
fails the ADD on ``RESOURCE_EXHAUSTED`` without retrying (multus PR#1545); a dense node's List also grows
towards the 16 MiB message cap. This client:

* keeps one channel per instance (thread-safe, reused; ``close()`` or use it as a context manager);
* calls ``Get`` for the one pod (gate ``KubeletPodResourcesGet``: alpha in 1.27, on by default from 1.34);
  on ``UNIMPLEMENTED`` (kubelet < 1.27) or ``UNKNOWN "...Get method disabled"`` it falls back to ``List``
  filtered by name and namespace, and remembers that Get is unavailable so a long-lived client does not
  probe on every call (it probes again after the kubelet was unreachable: it may have been upgraded);
* treats ``UNKNOWN "pod <name> in namespace <ns> not found"`` as "no resources" (the kubelet has not seen
  the pod yet);
* retries ``RESOURCE_EXHAUSTED "rejected by rate limit"`` with jittered exponential backoff, and
  ``UNAVAILABLE`` the same way (gRPC's meaning of it: transient; e.g. the kubelet is restarting);
* falls back to ``v1alpha1.List`` when the kubelet predates v1 (< 1.20);
* reads the device manager checkpoint when the socket file does not exist, as Multus does (by pod UID).

Pods are matched by **name and namespace only**: PodResources carries no UID. During a StatefulSet
replacement, a terminating pod and its successor share a name, and List may return both (before 1.34 even
terminal pods); their devices are then merged, as Multus merges them. ``uid`` is used by the checkpoint
fallback alone.

grpc and the generated modules are imported on the first call, not with this module: grpc alone costs
~65 ms, which a per-call CNI process should only pay when it actually needs a device.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from podresources._convert import allocatable_from_v1, pod_from_v1, pod_from_v1alpha1
from podresources.checkpoint import pod_devices_from_checkpoint
from podresources.errors import (
    KubeletError,
    KubeletUnavailableError,
    MethodNotSupportedError,
    PodResourcesError,
    error_from_rpc,
    is_too_large,
    status_details,
    status_name,
)
from podresources.models import Allocatable, DynamicResource, PodResources

if TYPE_CHECKING:
    from podresources._proto.v1 import api_pb2 as v1_pb2
    from podresources._proto.v1alpha1 import api_pb2 as v1alpha1_pb2

__all__ = ["DEFAULT_KUBELET_ROOT_DIR", "PodResourcesClient", "default_checkpoint_path", "default_socket_path"]

log = logging.getLogger(__name__)

DEFAULT_KUBELET_ROOT_DIR = "/var/lib/kubelet"
METHODS = ("v1.List", "v1.Get", "v1.GetAllocatableResources", "v1alpha1.List")


def default_socket_path(kubelet_root_dir: str = DEFAULT_KUBELET_ROOT_DIR) -> str:
    """``<root>/pod-resources/kubelet.sock``: where the kubelet serves PodResources."""
    return os.path.join(kubelet_root_dir, "pod-resources", "kubelet.sock")


def default_checkpoint_path(kubelet_root_dir: str = DEFAULT_KUBELET_ROOT_DIR) -> str:
    """``<root>/device-plugins/kubelet_internal_checkpoint``: the device manager's checkpoint."""
    return os.path.join(kubelet_root_dir, "device-plugins", "kubelet_internal_checkpoint")


class PodResourcesClient:
    """Reads pod resources from the kubelet on this node; see the module docstring for the strategy."""

    def __init__(self, socket: str | None = None, *, kubelet_root_dir: str = DEFAULT_KUBELET_ROOT_DIR,
                 timeout: float = 10.0, max_receive_bytes: int = 16 * 1024 * 1024, retries: int = 5,
                 backoff: float = 0.05, checkpoint_path: str | None = None) -> None:
        self.socket = socket or default_socket_path(kubelet_root_dir)
        self.checkpoint_path = checkpoint_path or default_checkpoint_path(kubelet_root_dir)
        self.timeout = timeout
        self.max_receive_bytes = max_receive_bytes
        self.retries = max(0, retries)
        self.backoff = backoff
        self._lock = threading.Lock()
        self._channel: Any = None
        self._stubs: tuple[Any, Any] | None = None
        self._closed = False
        self._counts = dict.fromkeys(METHODS, 0)
        self._retry_count = 0
        self._get_available = True
        self._v1_list_available = True

    # ---- public API ----------------------------------------------------------------------------------

    def pod_devices(self, namespace: str, name: str, uid: str | None = None) -> dict[str, list[str]]:
        """Resource name -> sorted device-plugin IDs of the pod, over all its containers.

        ``{}`` when the kubelet does not know the pod or it has no devices. ``uid`` matters only when the
        socket does not exist and the checkpoint is read (which matches by UID and requires it).
        """
        if not self._socket_exists():
            log.debug("no PodResources socket at %s; reading the checkpoint %s", self.socket, self.checkpoint_path)
            return pod_devices_from_checkpoint(self.checkpoint_path, uid)
        pod = self.get(namespace, name)
        return pod.device_ids() if pod else {}

    def pod_dynamic_resources(self, namespace: str, name: str) -> list[DynamicResource]:
        """The pod's DRA claims as the kubelet reports them (empty before the gate is on, i.e. < 1.34)."""
        pod = self.get(namespace, name)
        return pod.dynamic_resources() if pod else []

    def get(self, namespace: str, name: str) -> PodResources | None:
        """The pod's resources, or None when the kubelet does not know it (Get, else List filtered)."""
        if self._get_available:
            from podresources._proto.v1 import api_pb2

            request = api_pb2.GetPodResourcesRequest(pod_name=name, pod_namespace=namespace)
            try:
                response: v1_pb2.GetPodResourcesResponse = self._call("v1.Get", request)
            except MethodNotSupportedError as exc:
                log.debug("Get is unavailable on %s (%s); using List from now on", self.socket, exc.details)
                self._get_available = False
            except KubeletError as exc:
                if exc.code == "UNKNOWN" and "not found" in (exc.details or ""):
                    return None
                raise
            else:
                return pod_from_v1(response.pod_resources) if response.HasField("pod_resources") else None
        matches = [pod for pod in self.list() if pod.namespace == namespace and pod.name == name]
        if not matches:
            return None
        return PodResources(name, namespace, tuple(c for pod in matches for c in pod.containers))

    def list(self) -> list[PodResources]:
        """Every pod the kubelet reports (only active ones from 1.34), via v1, else v1alpha1."""
        if self._v1_list_available:
            from podresources._proto.v1 import api_pb2

            try:
                response: v1_pb2.ListPodResourcesResponse = self._call("v1.List", api_pb2.ListPodResourcesRequest())
            except MethodNotSupportedError as exc:
                if exc.code != "UNIMPLEMENTED":
                    raise
                log.debug("v1 is unavailable on %s; using v1alpha1 from now on", self.socket)
                self._v1_list_available = False
            else:
                return [pod_from_v1(pod) for pod in response.pod_resources]
        from podresources._proto.v1alpha1 import api_pb2 as alpha

        old: v1alpha1_pb2.ListPodResourcesResponse = self._call("v1alpha1.List", alpha.ListPodResourcesRequest())
        return [pod_from_v1alpha1(pod) for pod in old.pod_resources]

    def allocatable(self) -> Allocatable:
        """The node's devices, CPUs and memory as the kubelet can hand them out (capacity, not free)."""
        from podresources._proto.v1 import api_pb2

        response: v1_pb2.AllocatableResourcesResponse = self._call(
            "v1.GetAllocatableResources", api_pb2.AllocatableResourcesRequest())
        return allocatable_from_v1(response)

    def rpc_counts(self) -> dict[str, int]:
        """RPC attempts so far per method (``"v1.Get"``, ...), retries included."""
        with self._lock:
            return dict(self._counts)

    @property
    def retry_count(self) -> int:
        """How many attempts were retried (after RESOURCE_EXHAUSTED or UNAVAILABLE)."""
        return self._retry_count

    def close(self) -> None:
        """Close the channel; later calls raise :class:`PodResourcesError`. Idempotent."""
        with self._lock:
            self._closed = True
            channel, self._channel, self._stubs = self._channel, None, None
        if channel is not None:
            channel.close()

    def __enter__(self) -> PodResourcesClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PodResourcesClient(socket={self.socket!r})"

    # ---- transport -----------------------------------------------------------------------------------

    def _socket_exists(self) -> bool:
        """Whether the socket file is there; when it is not, the kubelet may come back upgraded."""
        if os.path.exists(self.socket):
            return True
        self._forget_capabilities()
        return False

    def _forget_capabilities(self) -> None:
        """Probe Get and v1 again on the next call: the kubelet went away and may return as another version."""
        self._get_available = self._v1_list_available = True

    def _ensure_stubs(self) -> tuple[Any, Any]:
        """The (v1, v1alpha1) stubs on the one channel, created on first use."""
        with self._lock:
            if self._closed:
                raise PodResourcesError(f"the PodResources client for {self.socket} is closed", socket=self.socket)
            if self._stubs is None:
                import grpc  # type: ignore[import-untyped]  # grpc ships no type information

                from podresources._proto.v1 import api_pb2_grpc as v1_grpc
                from podresources._proto.v1alpha1 import api_pb2_grpc as alpha_grpc

                options = [
                    ("grpc.max_receive_message_length", self.max_receive_bytes),
                    # The default reconnect backoff grows to 120 s: after a kubelet restart every call would
                    # fail fast with UNAVAILABLE for minutes. A local socket is cheap to retry.
                    ("grpc.initial_reconnect_backoff_ms", 100),
                    ("grpc.min_reconnect_backoff_ms", 100),
                    ("grpc.max_reconnect_backoff_ms", 1000),
                ]
                self._channel = grpc.insecure_channel("unix:" + os.path.abspath(self.socket), options=options)
                self._stubs = (v1_grpc.PodResourcesListerStub(self._channel),  # type: ignore[no-untyped-call]
                               alpha_grpc.PodResourcesListerStub(self._channel))  # type: ignore[no-untyped-call]
            return self._stubs

    def _rpc(self, method: str) -> Callable[..., Any]:
        v1, alpha = self._ensure_stubs()
        version, name = method.split(".")
        return getattr(v1 if version == "v1" else alpha, name)  # type: ignore[no-any-return]

    def _call(self, method: str, request: Any) -> Any:
        """One unary call with the retry policy; any grpc error leaves as a :class:`PodResourcesError`."""
        if not self._socket_exists():
            raise KubeletUnavailableError(
                f"kubelet PodResources socket {self.socket} does not exist (kubelet not running, "
                "or another --root-dir?)", socket=self.socket, method=method, code="UNAVAILABLE")
        import grpc

        rpc = self._rpc(method)
        attempt = 0
        while True:
            with self._lock:
                self._counts[method] += 1
            try:
                return rpc(request, timeout=self.timeout)
            except grpc.RpcError as exc:
                code = status_name(exc)
                retryable = code == "UNAVAILABLE" or (code == "RESOURCE_EXHAUSTED"
                                                      and not is_too_large(status_details(exc)))
                if retryable and attempt < self.retries:
                    import random  # only on a retry: a few ms of import a per-call process rarely needs

                    delay = self.backoff * (2 ** attempt)
                    time.sleep(random.uniform(delay / 2, delay))
                    attempt += 1
                    with self._lock:
                        self._retry_count += 1
                    continue
                if code == "UNAVAILABLE":
                    self._forget_capabilities()
                raise error_from_rpc(exc, socket=self.socket, method=method, attempts=attempt + 1) from exc
