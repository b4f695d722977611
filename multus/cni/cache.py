"""libcni's on-disk result cache, in its exact format, so caches are shared with cnitool, containerd and CRI-O.

One file per attachment at ``<cacheDir>/results/<network>-<containerID>-<ifname>``, holding::

    {"kind": "cniCacheV1", "containerId": ..., "config": <base64 of the network config>, "ifName": ...,
     "networkName": ..., "netns": ..., "cniArgs": [[k, v], ...], "capabilityArgs": {...}, "result": {...}}

DEL and CHECK read the cached result back as ``prevResult``; GC lists the cache to find attachments.
Files are written atomically (temp file, rename; synced to disk before the call answers: see
:mod:`multus.cni.durable`) so a reader never sees a truncated one.
A file written by an old libcni holds only the bare result; it is still read as one.
"""

from __future__ import annotations

import binascii
import json
import os
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from multus.cni.durable import write_atomically
from multus.cni.errors import CniError, ErrorCode

DEFAULT_CACHE_DIR = "/var/lib/cni"
CACHE_KIND = "cniCacheV1"


class CachedAttachment(NamedTuple):
    """One cache entry: what was attached, with which config and arguments, and the final result.

    A NamedTuple rather than a frozen dataclass, like :class:`multus.cni.runtime.RuntimeConf`: every
    plugin process defines it.
    """

    container_id: str
    if_name: str
    network_name: str
    config: bytes = b""
    netns: str = ""
    cni_args: tuple[tuple[str, str], ...] = ()
    capability_args: Mapping[str, Any] = MappingProxyType({})  # one shared default, so read-only
    result: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": CACHE_KIND,
            "containerId": self.container_id,
            "config": binascii.b2a_base64(self.config, newline=False).decode(),
            "ifName": self.if_name,
            "networkName": self.network_name,
        }
        # The optional keys are omitted when empty, as Go's omitempty does.
        if self.netns:
            body["netns"] = self.netns
        if self.cni_args:
            body["cniArgs"] = [list(pair) for pair in self.cni_args]
        if self.capability_args:
            body["capabilityArgs"] = dict(self.capability_args)
        if self.result:
            body["result"] = self.result
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> CachedAttachment:
        try:
            config = binascii.a2b_base64(body.get("config") or "", strict_mode=True)  # = b64decode(validate=True)
            pairs = tuple((str(k), str(v)) for k, v in (body.get("cniArgs") or []))
        except (ValueError, TypeError) as exc:
            raise CniError("invalid cached attachment", str(exc), ErrorCode.DECODING_FAILURE) from exc
        result = body.get("result")
        return cls(
            container_id=str(body.get("containerId", "")),
            if_name=str(body.get("ifName", "")),
            network_name=str(body.get("networkName", "")),
            config=config,
            netns=str(body.get("netns", "")),
            cni_args=pairs,
            capability_args=dict(body.get("capabilityArgs") or {}),
            result=result if isinstance(result, dict) else None,
        )


class ResultCache:
    """The ``results/`` directory of a CNI cache dir."""

    def __init__(self, cache_dir: str | os.PathLike[str] = DEFAULT_CACHE_DIR) -> None:
        self.cache_dir = os.fspath(cache_dir)
        self.results_dir = os.path.join(self.cache_dir, "results")

    def path(self, network_name: str, container_id: str, if_name: str) -> str:
        return os.path.join(self.results_dir, f"{network_name}-{container_id}-{if_name}")

    def save(self, entry: CachedAttachment) -> str:
        """Write an entry atomically: readers see the old file or the new one, never a partial one."""
        target = self.path(entry.network_name, entry.container_id, entry.if_name)
        data = json.dumps(entry.to_dict()).encode()
        try:
            os.makedirs(self.results_dir, mode=0o700, exist_ok=True)
            write_atomically(target, data, mode=0o600, deferrable=True)
        except OSError as exc:
            raise CniError(f"failed to write result cache {target}", str(exc), ErrorCode.IO_FAILURE) from exc
        return target

    def load(self, network_name: str, container_id: str, if_name: str) -> CachedAttachment | None:
        """The entry for an attachment, or None when there is none; a corrupt file is an error."""
        target = self.path(network_name, container_id, if_name)
        try:
            data = _read(target)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CniError(f"failed to read result cache {target}", str(exc), ErrorCode.IO_FAILURE) from exc
        return _decode(target, data, network_name, container_id, if_name)

    def remove(self, network_name: str, container_id: str, if_name: str) -> None:
        try:
            os.unlink(self.path(network_name, container_id, if_name))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise CniError("failed to remove result cache", str(exc), ErrorCode.IO_FAILURE) from exc

    def entries(self, container_id: str | None = None) -> Iterator[CachedAttachment]:
        """Every readable cache entry (for GC), or those of ``container_id``; unreadable or foreign files
        are skipped. With ``container_id``, only files whose name holds ``-<container_id>-`` (as every
        file of that container's does) are read: a DEL must not read the whole node's cache."""
        try:
            names = sorted(os.listdir(self.results_dir))
        except FileNotFoundError:
            return
        if container_id is not None:
            names = [name for name in names if f"-{container_id}-" in name]
        for name in names:
            try:
                data = _read(os.path.join(self.results_dir, name))
                body = json.loads(data)
            except (OSError, ValueError):
                continue
            if isinstance(body, dict) and body.get("kind") == CACHE_KIND:
                try:
                    entry = CachedAttachment.from_dict(body)
                except CniError:
                    continue
                if container_id is None or entry.container_id == container_id:
                    yield entry


def _read(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _decode(target: str, data: bytes, network_name: str, container_id: str, if_name: str) -> CachedAttachment:
    try:
        body = json.loads(data)
    except ValueError as exc:
        raise CniError(f"failed to decode result cache {target}", str(exc), ErrorCode.DECODING_FAILURE) from exc
    if not isinstance(body, dict):
        raise CniError(f"failed to decode result cache {target}", "not a JSON object", ErrorCode.DECODING_FAILURE)
    if body.get("kind") == CACHE_KIND:
        return CachedAttachment.from_dict(body)
    # An old libcni cached the bare result under the same name.
    return CachedAttachment(container_id=container_id, if_name=if_name, network_name=network_name, result=body)
