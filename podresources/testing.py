"""FakeKubelet: a test double of the kubelet's PodResources gRPC server, on a real unix socket.

Why a real server and not a mocked stub: what breaks in production is the transport and the kubelet's
behaviour around it -- the error *codes and messages* (Get answers UNKNOWN, not NOT_FOUND, for a pod it
does not know), the feature gates, the shared rate limit -- and a mock would only echo the client's
assumptions. FakeKubelet runs ``grpc.server`` on ``<root>/pod-resources/kubelet.sock`` (the kubelet's layout,
so ``PodResourcesClient(kubelet_root_dir=fake.root_dir)`` finds it) and behaves as the kubelet does:

* serves ``v1.PodResourcesLister`` (List, Get, GetAllocatableResources) and ``v1alpha1.PodResourcesLister``
  (List) on one socket; ``serve_v1=False`` plays a kubelet older than 1.20;
* ``get_mode``: ``"enabled"``; ``"unimplemented"`` (kubelet < 1.27: UNIMPLEMENTED); ``"disabled"`` (gate off:
  UNKNOWN "PodResources API Get method disabled");
* Get of an unknown pod: UNKNOWN "pod <name> in namespace <ns> not found";
* one token bucket for every method and caller, 100/s with burst 10 by default (``rate=None`` turns it
  off); a call over the limit gets RESOURCE_EXHAUSTED "rejected by rate limit";
* counts calls per method (``"v1.Get"`` ...), rejected ones included, and rejections separately;
* ``latency`` seconds of delay per admitted call, to exercise client timeouts.

The root directory defaults to a short fresh temporary directory, because a unix socket path must stay under
108 bytes and pytest's ``tmp_path`` often does not. ``stop()`` leaves no server threads behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Literal, NoReturn

import grpc  # type: ignore[import-untyped]  # grpc ships no type information

from podresources._convert import devices_to_v1, memory_to_v1, pod_to_v1, pod_to_v1alpha1
from podresources._proto.v1 import api_pb2 as v1
from podresources._proto.v1 import api_pb2_grpc as v1_grpc
from podresources._proto.v1alpha1 import api_pb2 as v1alpha1
from podresources._proto.v1alpha1 import api_pb2_grpc as v1alpha1_grpc
from podresources.models import (
    Allocatable,
    ContainerDevices,
    ContainerMemory,
    ContainerResources,
    DynamicResource,
    PodResources,
)

__all__ = ["FakeKubelet", "GetMode", "TokenBucket", "write_checkpoint"]

GetMode = Literal["enabled", "unimplemented", "disabled"]


class TokenBucket:
    """The kubelet's limiter: ``rate`` tokens per second, at most ``burst`` banked; thread-safe."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()

    def allow(self) -> bool:
        """Take a token if one is available."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            return False


def _abort(context: Any, code: Any, message: str) -> NoReturn:
    """``context.abort`` raises to end the RPC; this tells the type checker so."""
    context.abort(code, message)
    raise AssertionError("grpc's context.abort returned")


class _V1(v1_grpc.PodResourcesListerServicer):
    def __init__(self, fake: FakeKubelet) -> None:
        self.fake = fake

    def List(self, request: v1.ListPodResourcesRequest, context: Any) -> v1.ListPodResourcesResponse:
        self.fake._admit("v1.List", context)
        return v1.ListPodResourcesResponse(pod_resources=[pod_to_v1(p) for p in self.fake.pods()])

    def Get(self, request: v1.GetPodResourcesRequest, context: Any) -> v1.GetPodResourcesResponse:
        self.fake._admit("v1.Get", context)
        if self.fake.get_mode == "unimplemented":
            _abort(context, grpc.StatusCode.UNIMPLEMENTED, "unknown method Get for service v1.PodResourcesLister")
        if self.fake.get_mode == "disabled":
            _abort(context, grpc.StatusCode.UNKNOWN, "PodResources API Get method disabled")
        pod = self.fake.pod(request.pod_namespace, request.pod_name)
        if pod is None:
            _abort(context, grpc.StatusCode.UNKNOWN,
                   f"pod {request.pod_name} in namespace {request.pod_namespace} not found")
        return v1.GetPodResourcesResponse(pod_resources=pod_to_v1(pod))

    def GetAllocatableResources(self, request: v1.AllocatableResourcesRequest,
                                context: Any) -> v1.AllocatableResourcesResponse:
        self.fake._admit("v1.GetAllocatableResources", context)
        alloc = self.fake.allocatable
        return v1.AllocatableResourcesResponse(devices=[devices_to_v1(d) for d in alloc.devices],
                                               cpu_ids=list(alloc.cpu_ids),
                                               memory=[memory_to_v1(m) for m in alloc.memory])


class _V1Alpha1(v1alpha1_grpc.PodResourcesListerServicer):
    def __init__(self, fake: FakeKubelet) -> None:
        self.fake = fake

    def List(self, request: v1alpha1.ListPodResourcesRequest,
             context: Any) -> v1alpha1.ListPodResourcesResponse:
        self.fake._admit("v1alpha1.List", context)
        return v1alpha1.ListPodResourcesResponse(pod_resources=[pod_to_v1alpha1(p) for p in self.fake.pods()])


class FakeKubelet:
    """A double of the kubelet's PodResources server; see the module docstring. Use as a context manager."""

    def __init__(self, root_dir: str | None = None, *, get_mode: GetMode = "enabled", serve_v1: bool = True,
                 rate: float | None = 100.0, burst: int = 10, latency: float = 0.0, max_workers: int = 16) -> None:
        self._own_root = root_dir is None
        self.root_dir = root_dir or tempfile.mkdtemp(prefix="fkl-")
        self.socket_path = os.path.join(self.root_dir, "pod-resources", "kubelet.sock")
        self.get_mode: GetMode = get_mode
        self.serve_v1 = serve_v1
        self.limiter = TokenBucket(rate, burst) if rate is not None else None
        self.allocatable = Allocatable()
        self.latency = latency
        self.max_workers = max_workers
        self._pods: dict[tuple[str, str], PodResources] = {}
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._rejected = 0
        self._server: Any = None
        self._executor: ThreadPoolExecutor | None = None

    # ---- allocations ---------------------------------------------------------------------------------

    def add_pod(self, namespace: str, name: str, containers: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
                *, dynamic_resources: Mapping[str, Sequence[DynamicResource]] | None = None,
                cpu_ids: Mapping[str, Sequence[int]] | None = None) -> PodResources:
        """Add (or replace) a pod: ``containers={container: {resource: [device ids]}}``, plus DRA claims
        and exclusive CPUs per container name. Containers keep the order in which they are first named."""
        containers, dynamic_resources, cpu_ids = containers or {}, dynamic_resources or {}, cpu_ids or {}
        names = list(dict.fromkeys([*containers, *dynamic_resources, *cpu_ids]))
        pod = PodResources(name, namespace, tuple(
            ContainerResources(
                name=cname,
                devices=tuple(ContainerDevices(res, tuple(ids)) for res, ids in containers.get(cname, {}).items()),
                cpu_ids=tuple(cpu_ids.get(cname, ())),
                dynamic_resources=tuple(dynamic_resources.get(cname, ())),
            )
            for cname in names
        ))
        return self.add_pod_resources(pod)

    def add_pod_resources(self, pod: PodResources) -> PodResources:
        """Add (or replace) a pod given as a model, for full control (NUMA nodes, memory, ...)."""
        with self._lock:
            self._pods[(pod.namespace, pod.name)] = pod
        return pod

    def remove_pod(self, namespace: str, name: str) -> bool:
        """Forget a pod; True if it was known."""
        with self._lock:
            return self._pods.pop((namespace, name), None) is not None

    def pods(self) -> list[PodResources]:
        """Every pod, in insertion order."""
        with self._lock:
            return list(self._pods.values())

    def pod(self, namespace: str, name: str) -> PodResources | None:
        """One pod, or None."""
        with self._lock:
            return self._pods.get((namespace, name))

    def set_allocatable(self, devices: Mapping[str, Sequence[str]] | None = None, cpu_ids: Sequence[int] = (),
                        memory: Mapping[str, int] | None = None) -> None:
        """The node capacity GetAllocatableResources reports: ``{resource: [ids]}``, CPUs, ``{type: bytes}``."""
        self.allocatable = Allocatable(
            devices=tuple(ContainerDevices(res, tuple(ids)) for res, ids in (devices or {}).items()),
            cpu_ids=tuple(cpu_ids),
            memory=tuple(ContainerMemory(kind, size) for kind, size in (memory or {}).items()))

    # ---- counters ------------------------------------------------------------------------------------

    def calls(self) -> dict[str, int]:
        """Calls received per method (``"v1.List"``, ``"v1.Get"``, ...), rate-limited ones included."""
        with self._lock:
            return dict(self._calls)

    @property
    def rejected(self) -> int:
        """Calls refused by the rate limit."""
        return self._rejected

    def reset_counts(self) -> None:
        """Zero the call and rejection counters."""
        with self._lock:
            self._calls.clear()
            self._rejected = 0

    def _admit(self, method: str, context: Any) -> None:
        """Count the call and apply the rate limit, as the kubelet's server interceptor does."""
        with self._lock:
            self._calls[method] = self._calls.get(method, 0) + 1
        if self.limiter is not None and not self.limiter.allow():
            with self._lock:
                self._rejected += 1
            _abort(context, grpc.StatusCode.RESOURCE_EXHAUSTED, "rejected by rate limit")
        if self.latency:
            time.sleep(self.latency)

    # ---- lifecycle -----------------------------------------------------------------------------------

    def start(self) -> FakeKubelet:
        """Bind the socket and serve; restartable after :meth:`stop` on the same path."""
        if self._server is not None:
            return self
        os.makedirs(os.path.dirname(self.socket_path), exist_ok=True)
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        self._executor = ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="fake-kubelet")
        server = grpc.server(self._executor)
        if self.serve_v1:
            v1_grpc.add_PodResourcesListerServicer_to_server(_V1(self), server)  # type: ignore[no-untyped-call]
        v1alpha1_grpc.add_PodResourcesListerServicer_to_server(_V1Alpha1(self), server)  # type: ignore[no-untyped-call]
        server.add_insecure_port("unix:" + self.socket_path)
        server.start()
        self._server = server
        return self

    def stop(self, *, cleanup: bool = True) -> None:
        """Stop serving, join the worker threads and remove the socket (and our temporary root)."""
        server, self._server = self._server, None
        if server is not None:
            server.stop(grace=None).wait()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if os.path.exists(self.socket_path):
            os.unlink(self.socket_path)
        if cleanup and self._own_root:
            shutil.rmtree(self.root_dir, ignore_errors=True)

    def __enter__(self) -> FakeKubelet:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def write_checkpoint(path: str, entries: Iterable[tuple[str, str, str, Mapping[int, Sequence[str]] | Sequence[str]]],
                     *, boot_id: str = "") -> None:
    """Write a device manager checkpoint: entries are ``(pod_uid, container, resource, ids)``.

    ``ids`` as a mapping ``{numa_node: [ids]}`` gives the current format (string keys, -1 = no NUMA); as a
    plain list it gives the pre-1.20 flat format. The checksum is a dummy, as no reader can verify it.
    """
    rows = []
    registered: dict[str, list[str]] = {}
    for uid, container, resource, ids in entries:
        device_ids: Any = ({str(k): list(v) for k, v in ids.items()} if isinstance(ids, Mapping) else list(ids))
        flat = [i for bucket in ids.values() for i in bucket] if isinstance(ids, Mapping) else list(ids)
        registered.setdefault(resource, []).extend(flat)
        rows.append({"PodUID": uid, "ContainerName": container, "ResourceName": resource,
                     "DeviceIDs": device_ids, "AllocResp": ""})
    doc: dict[str, Any] = {"Data": {"PodDeviceEntries": rows, "RegisteredDevices": registered}, "Checksum": 1}
    if boot_id:
        doc["BootID"] = boot_id
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as handle:
        json.dump(doc, handle)
