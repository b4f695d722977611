"""Typed, frozen views of the kubelet's PodResources answers.

Why not hand out the protobuf messages: callers (the Multus resource map, the CLI, tests) would then import
generated code and protobuf, deal with mutable repeated fields and proto3's "unset equals empty", and break
on the next regeneration. These dataclasses are plain, hashable and comparable, and carry only what the API
says. ``share_id`` keeps proto3's optional-ness: ``None`` when the kubelet did not set it (before 1.35).

Topology is reduced to the NUMA node IDs (``TopologyInfo.nodes[].ID``), since that is all it carries.
PodResources has no UID: the kubelet identifies pods by name and namespace only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "Allocatable",
    "ClaimResource",
    "ContainerDevices",
    "ContainerMemory",
    "ContainerResources",
    "DynamicResource",
    "PodResources",
    "merge_device_ids",
]


@dataclass(frozen=True)
class ContainerDevices:
    """Device-plugin devices of one resource, e.g. ``intel.com/sriov_net_A`` and VF PCI addresses."""

    resource_name: str
    device_ids: tuple[str, ...] = ()
    numa_nodes: tuple[int, ...] = ()


@dataclass(frozen=True)
class ContainerMemory:
    """Memory pinned by the memory manager: ``memory_type`` is ``memory`` or ``hugepages-<size>``."""

    memory_type: str
    size: int = 0
    numa_nodes: tuple[int, ...] = ()


@dataclass(frozen=True)
class ClaimResource:
    """One device allocated to a DRA claim: its CDI names, and driver/pool/device (1.32+)."""

    cdi_devices: tuple[str, ...] = ()
    driver_name: str = ""
    pool_name: str = ""
    device_name: str = ""
    share_id: str | None = None


@dataclass(frozen=True)
class DynamicResource:
    """A ResourceClaim used by a container (gate KubeletPodResourcesDynamicResources, on from 1.34)."""

    claim_name: str
    claim_namespace: str = ""
    claim_resources: tuple[ClaimResource, ...] = ()


@dataclass(frozen=True)
class ContainerResources:
    """One container's resources: sidecar init containers and regular containers, never plain init ones."""

    name: str
    devices: tuple[ContainerDevices, ...] = ()
    cpu_ids: tuple[int, ...] = ()
    memory: tuple[ContainerMemory, ...] = ()
    dynamic_resources: tuple[DynamicResource, ...] = ()


def merge_device_ids(devices: Iterable[ContainerDevices]) -> dict[str, list[str]]:
    """Resource name -> sorted device IDs, merged across entries (what Multus's resource map holds).

    Sorting makes the pick deterministic: N networks on one resource take the IDs in this order.
    """
    merged: dict[str, list[str]] = {}
    for entry in devices:
        merged.setdefault(entry.resource_name, []).extend(entry.device_ids)
    return {name: sorted(ids) for name, ids in sorted(merged.items())}


@dataclass(frozen=True)
class PodResources:
    """A pod as the kubelet reports it: name, namespace and its containers' resources."""

    name: str
    namespace: str
    containers: tuple[ContainerResources, ...] = ()

    def device_ids(self) -> dict[str, list[str]]:
        """Resource name -> sorted device-plugin IDs over all containers."""
        return merge_device_ids(dev for container in self.containers for dev in container.devices)

    def dynamic_resources(self) -> list[DynamicResource]:
        """Every container's DRA claims, in container order (a claim shared by two containers appears twice)."""
        return [claim for container in self.containers for claim in container.dynamic_resources]


@dataclass(frozen=True)
class Allocatable:
    """The node's capacity as the kubelet sees it (not what is still free)."""

    devices: tuple[ContainerDevices, ...] = ()
    cpu_ids: tuple[int, ...] = ()
    memory: tuple[ContainerMemory, ...] = ()

    def device_ids(self) -> dict[str, list[str]]:
        """Resource name -> sorted allocatable device IDs."""
        return merge_device_ids(self.devices)
