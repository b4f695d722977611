"""Plain words for the most common SR-IOV support question: "VF pci addr is required".

That error comes from sriov-cni when Multus gave it no deviceID, because the pod holds no device of the
resource its network names (usually: the pod does not request the resource, or requests fewer devices
than it has networks of that resource). These messages say so, with what the pod does request.
"""

from __future__ import annotations

from typing import Any


def pod_resource_requests(pod: dict[str, Any]) -> dict[str, str]:
    """Extended resources (``vendor/name``) the pod's containers request, summed where they are counts."""
    totals: dict[str, int] = {}
    other: dict[str, str] = {}
    spec = pod.get("spec") or {}
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        resources = container.get("resources") or {}
        asked = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
        for name, value in asked.items():
            if "/" not in name:
                continue  # cpu, memory, ...: not devices
            try:
                totals[name] = totals.get(name, 0) + int(str(value))
            except ValueError:
                other[name] = str(value)
    return {**{name: str(count) for name, count in totals.items()}, **other}


def describe_requests(requests: dict[str, str]) -> str:
    if not requests:
        return "no extended resources"
    return ", ".join(f"{name}={value}" for name, value in sorted(requests.items()))


def missing_device_message(pod: dict[str, Any], resource_name: str, have: int, requests: dict[str, str]) -> str:
    meta = pod.get("metadata", {})
    pod_ref = f"{meta.get('namespace', '')}/{meta.get('name', '')}"
    if have:
        situation = f"all {have} {resource_name} device(s) of pod {pod_ref} are already used by earlier networks"
    else:
        situation = f"the kubelet allocated no {resource_name} device to pod {pod_ref}"
    return (f"a network names resource {resource_name}, but {situation}; the pod requests "
            f"{describe_requests(requests)}. The delegate runs without a deviceID (SR-IOV plugins then fail "
            f'with "VF pci addr is required"): request one {resource_name} per network that uses it.')


def delegate_failure_hint(resource_name: str) -> str:
    return (f"hint: this network names resource {resource_name}, but the pod was given no {resource_name} device, "
            "so the plugin got no deviceID; check that the pod requests the resource (one per network)")
