"""The kubelet device manager's checkpoint file, read as a fallback when the PodResources socket is absent.

Why this exists: Multus reads ``<kubelet root>/device-plugins/kubelet_internal_checkpoint`` when the socket
file does not exist (very old kubelets, or a node where the API is not mounted into the daemon). The file
is JSON written by Go without tags::

    {"Data": {"PodDeviceEntries": [{"PodUID": "...", "ContainerName": "c", "ResourceName": "intel.com/x",
                                    "DeviceIDs": {"-1": ["0000:03:02.3"]}, "AllocResp": "<base64>"}],
              "RegisteredDevices": {...}},
     "Checksum": 229855270, "BootID": "..."}

``DeviceIDs`` is a map from NUMA node (string keys, ``"-1"`` = none) to IDs since Kubernetes 1.20; earlier
kubelets wrote a flat list. Multus only understands the map and fails the whole ADD on the old form
(multus#665), so both are accepted here. Entries carry no pod name or namespace: they match by pod UID
only. ``Checksum`` is a hash of a Go-specific dump of ``Data`` and cannot be recomputed in Python; like
Multus, it is not verified. It also cannot show DRA devices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from podresources.errors import CheckpointError

__all__ = ["CheckpointEntry", "pod_devices_from_checkpoint", "read_checkpoint"]


@dataclass(frozen=True)
class CheckpointEntry:
    """One ``PodDeviceEntries`` element: the devices of one resource in one container of one pod."""

    pod_uid: str
    container_name: str
    resource_name: str
    device_ids: tuple[str, ...]


def _device_ids(raw: Any, path: str, index: int) -> tuple[str, ...]:
    """All IDs of an entry: NUMA buckets concatenated in node order, or the pre-1.20 flat list."""
    if raw is None:
        return ()
    if isinstance(raw, list):
        buckets: list[Any] = [raw]
    elif isinstance(raw, dict):
        try:
            buckets = [raw[key] for key in sorted(raw, key=int)]
        except ValueError as exc:
            raise CheckpointError(f"checkpoint {path}: entry {index} has a non-numeric NUMA key: {exc}") from exc
    else:
        raise CheckpointError(f"checkpoint {path}: entry {index} has DeviceIDs of type {type(raw).__name__}, "
                              "expected a NUMA map or a list")
    ids: list[str] = []
    for bucket in buckets:
        if bucket is None:
            continue
        if not isinstance(bucket, list) or not all(isinstance(i, str) for i in bucket):
            raise CheckpointError(f"checkpoint {path}: entry {index} has DeviceIDs that are not lists of strings")
        ids.extend(bucket)
    return tuple(ids)


def read_checkpoint(path: str) -> list[CheckpointEntry]:
    """Parse every pod device entry of the checkpoint at ``path``; :class:`CheckpointError` on any problem."""
    try:
        with open(path, "rb") as handle:
            doc = json.loads(handle.read())
    except FileNotFoundError as exc:
        raise CheckpointError(f"error reading file {path}: the checkpoint does not exist") from exc
    except OSError as exc:
        raise CheckpointError(f"error reading file {path}: {exc.strerror or exc}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"error reading file {path}: not valid JSON ({exc})") from exc
    data = doc.get("Data") if isinstance(doc, dict) else None
    if not isinstance(data, dict):
        raise CheckpointError(f"error reading file {path}: no \"Data\" object; not a device manager checkpoint")
    raw_entries = data.get("PodDeviceEntries")
    if raw_entries is None:  # Go writes a nil slice as null
        raw_entries = []
    if not isinstance(raw_entries, list):
        raise CheckpointError(f"error reading file {path}: \"PodDeviceEntries\" is not a list")
    entries = []
    for index, raw in enumerate(raw_entries):
        if not isinstance(raw, dict):
            raise CheckpointError(f"checkpoint {path}: entry {index} is not an object")
        entries.append(CheckpointEntry(
            pod_uid=str(raw.get("PodUID") or ""),
            container_name=str(raw.get("ContainerName") or ""),
            resource_name=str(raw.get("ResourceName") or ""),
            device_ids=_device_ids(raw.get("DeviceIDs"), path, index),
        ))
    return entries


def pod_devices_from_checkpoint(path: str, uid: str | None) -> dict[str, list[str]]:
    """Resource name -> sorted device IDs of every entry with pod UID ``uid``, over all its containers."""
    if not uid:
        raise CheckpointError(
            f"the checkpoint {path} identifies pods by UID only, and no pod UID was given "
            "(pass uid= when the PodResources socket may be missing)")
    merged: dict[str, list[str]] = {}
    for entry in read_checkpoint(path):
        if entry.pod_uid == uid:
            merged.setdefault(entry.resource_name, []).extend(entry.device_ids)
    return {name: sorted(ids) for name, ids in sorted(merged.items())}
