"""Kubelet PodResources API client for multus-py: which devices the kubelet gave a pod.

Multus needs, on every CNI ADD of an SR-IOV (device-plugin) network, the device IDs the kubelet allocated
to the pod. This package asks the kubelet's PodResources gRPC API for just that pod (``Get``, with ``List``
and checkpoint fallbacks), returns frozen dataclasses instead of protobuf messages, and raises one tree of
exceptions instead of ``grpc.RpcError``. Importing it does not import grpc; the first RPC does.

    from podresources import PodResourcesClient
    with PodResourcesClient() as client:
        client.pod_devices("default", "pod-a")     # {"intel.com/sriov_net_A": ["0000:03:02.3"]}

The test double of the kubelet's server is :class:`podresources.testing.FakeKubelet` (not imported here:
it needs grpc). The command line is ``podresources`` (:mod:`podresources.cli`).
"""

from podresources.checkpoint import CheckpointEntry, pod_devices_from_checkpoint, read_checkpoint
from podresources.client import PodResourcesClient, default_checkpoint_path, default_socket_path
from podresources.errors import (
    CheckpointError,
    KubeletError,
    KubeletTimeoutError,
    KubeletUnavailableError,
    MethodNotSupportedError,
    PodResourcesError,
    RateLimitedError,
    ResponseTooLargeError,
)
from podresources.models import (
    Allocatable,
    ClaimResource,
    ContainerDevices,
    ContainerMemory,
    ContainerResources,
    DynamicResource,
    PodResources,
)

__all__ = [
    "Allocatable",
    "CheckpointEntry",
    "CheckpointError",
    "ClaimResource",
    "ContainerDevices",
    "ContainerMemory",
    "ContainerResources",
    "DynamicResource",
    "KubeletError",
    "KubeletTimeoutError",
    "KubeletUnavailableError",
    "MethodNotSupportedError",
    "PodResources",
    "PodResourcesClient",
    "PodResourcesError",
    "RateLimitedError",
    "ResponseTooLargeError",
    "default_checkpoint_path",
    "default_socket_path",
    "pod_devices_from_checkpoint",
    "read_checkpoint",
]
