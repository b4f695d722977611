"""Conversions between the generated protobuf messages and :mod:`podresources.models`.

Kept apart from the models so that importing the models (or the client) costs no protobuf import: the
functions only read attributes, and the generated modules are imported for type checking alone, except in
the ``to_*`` direction, which only the test double (:mod:`podresources.testing`) uses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from podresources.models import (
    Allocatable,
    ClaimResource,
    ContainerDevices,
    ContainerMemory,
    ContainerResources,
    DynamicResource,
    PodResources,
)

if TYPE_CHECKING:
    from podresources._proto.v1 import api_pb2 as v1
    from podresources._proto.v1alpha1 import api_pb2 as v1alpha1


def _numa(topology: v1.TopologyInfo) -> tuple[int, ...]:
    return tuple(node.ID for node in topology.nodes)


def _devices(msg: v1.ContainerDevices) -> ContainerDevices:
    return ContainerDevices(msg.resource_name, tuple(msg.device_ids), _numa(msg.topology))


def _memory(msg: v1.ContainerMemory) -> ContainerMemory:
    return ContainerMemory(msg.memory_type, msg.size, _numa(msg.topology))


def _claim(msg: v1.ClaimResource) -> ClaimResource:
    return ClaimResource(
        cdi_devices=tuple(cdi.name for cdi in msg.cdi_devices),
        driver_name=msg.driver_name,
        pool_name=msg.pool_name,
        device_name=msg.device_name,
        share_id=msg.share_id if msg.HasField("share_id") else None,
    )


def _dynamic(msg: v1.DynamicResource) -> DynamicResource:
    return DynamicResource(msg.claim_name, msg.claim_namespace, tuple(_claim(c) for c in msg.claim_resources))


def pod_from_v1(msg: v1.PodResources) -> PodResources:
    """A v1 ``PodResources`` message as a frozen dataclass."""
    containers = tuple(
        ContainerResources(
            name=c.name,
            devices=tuple(_devices(d) for d in c.devices),
            cpu_ids=tuple(c.cpu_ids),
            memory=tuple(_memory(m) for m in c.memory),
            dynamic_resources=tuple(_dynamic(r) for r in c.dynamic_resources),
        )
        for c in msg.containers
    )
    return PodResources(msg.name, msg.namespace, containers)


def pod_from_v1alpha1(msg: v1alpha1.PodResources) -> PodResources:
    """A v1alpha1 ``PodResources`` message (devices only, no topology) as a frozen dataclass."""
    containers = tuple(
        ContainerResources(c.name, tuple(ContainerDevices(d.resource_name, tuple(d.device_ids)) for d in c.devices))
        for c in msg.containers
    )
    return PodResources(msg.name, msg.namespace, containers)


def allocatable_from_v1(msg: v1.AllocatableResourcesResponse) -> Allocatable:
    """A v1 ``AllocatableResourcesResponse`` as a frozen dataclass."""
    return Allocatable(
        devices=tuple(_devices(d) for d in msg.devices),
        cpu_ids=tuple(msg.cpu_ids),
        memory=tuple(_memory(m) for m in msg.memory),
    )


# ---- models -> messages (the test double's direction) ----------------------------------------------

def _topology(nodes: Iterable[int]) -> v1.TopologyInfo | None:
    from podresources._proto.v1 import api_pb2

    ids = list(nodes)
    return api_pb2.TopologyInfo(nodes=[api_pb2.NUMANode(ID=i) for i in ids]) if ids else None


def devices_to_v1(dev: ContainerDevices) -> v1.ContainerDevices:
    """One device entry as a v1 message (topology only when NUMA nodes are known)."""
    from podresources._proto.v1 import api_pb2

    return api_pb2.ContainerDevices(resource_name=dev.resource_name, device_ids=list(dev.device_ids),
                                    topology=_topology(dev.numa_nodes))


def memory_to_v1(mem: ContainerMemory) -> v1.ContainerMemory:
    """One memory entry as a v1 message."""
    from podresources._proto.v1 import api_pb2

    return api_pb2.ContainerMemory(memory_type=mem.memory_type, size=mem.size, topology=_topology(mem.numa_nodes))


def _claim_to_v1(claim: ClaimResource) -> v1.ClaimResource:
    from podresources._proto.v1 import api_pb2

    return api_pb2.ClaimResource(
        cdi_devices=[api_pb2.CDIDevice(name=n) for n in claim.cdi_devices], driver_name=claim.driver_name,
        pool_name=claim.pool_name, device_name=claim.device_name, share_id=claim.share_id)


def pod_to_v1(pod: PodResources) -> v1.PodResources:
    """A pod as the v1 message the kubelet would send."""
    from podresources._proto.v1 import api_pb2

    return api_pb2.PodResources(name=pod.name, namespace=pod.namespace, containers=[
        api_pb2.ContainerResources(
            name=c.name,
            devices=[devices_to_v1(d) for d in c.devices],
            cpu_ids=list(c.cpu_ids),
            memory=[memory_to_v1(m) for m in c.memory],
            dynamic_resources=[
                api_pb2.DynamicResource(claim_name=r.claim_name, claim_namespace=r.claim_namespace,
                                        claim_resources=[_claim_to_v1(x) for x in r.claim_resources])
                for r in c.dynamic_resources
            ],
        )
        for c in pod.containers
    ])


def pod_to_v1alpha1(pod: PodResources) -> v1alpha1.PodResources:
    """A pod as the v1alpha1 message: device-plugin devices only."""
    from podresources._proto.v1alpha1 import api_pb2

    return api_pb2.PodResources(name=pod.name, namespace=pod.namespace, containers=[
        api_pb2.ContainerResources(name=c.name, devices=[
            api_pb2.ContainerDevices(resource_name=d.resource_name, device_ids=list(d.device_ids))
            for d in c.devices
        ])
        for c in pod.containers
    ])
