"""libcni's on-disk result cache, in its exact format, so caches are shared with cnitool, containerd and CRI-O.

One file per attachment at ``<cacheDir>/results/<network>-<containerID>-<ifname>``, holding::

    {"kind": "cniCacheV1", "containerId": ..., "config": <base64 of the network config>, "ifName": ...,
     "networkName": ..., "netns": ..., "cniArgs": [[k, v], ...], "capabilityArgs": {...}, "result": {...}}

DEL and CHECK read the cached result back as ``prevResult``; GC lists the cache to find attachments.
Files are written atomically (temp file, fsync, rename) so a crash or a reboot never leaves a truncated one.
A file written by an old libcni holds only the bare result; it is still read as one.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from multus.cni.errors import CniError, ErrorCode

DEFAULT_CACHE_DIR = "/var/lib/cni"
CACHE_KIND = "cniCacheV1"


@dataclass(frozen=True)
class CachedAttachment:
    """One cache entry: what was attached, with which config and arguments, and the final result."""

    container_id: str
    if_name: str
    network_name: str
    config: bytes = b""
    netns: str = ""
    cni_args: tuple[tuple[str, str], ...] = ()
    capability_args: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": CACHE_KIND,
            "containerId": self.container_id,
            "config": base64.b64encode(self.config).decode(),
            "ifName": self.if_name,
            "networkName": self.network_name,
        }
        # The optional keys are omitted when empty, as Go's omitempty does.
        if self.netns:
            body["netns"] = self.netns
        if self.cni_args:
            body["cniArgs"] = [list(pair) for pair in self.cni_args]
        if self.capability_args:
            body["capabilityArgs"] = self.capability_args
        if self.result:
            body["result"] = self.result
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> CachedAttachment:
        try:
            config = base64.b64decode(body.get("config") or "", validate=True)
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
        self.cache_dir = Path(cache_dir)
        self.results_dir = self.cache_dir / "results"

    def path(self, network_name: str, container_id: str, if_name: str) -> Path:
        return self.results_dir / f"{network_name}-{container_id}-{if_name}"

    def save(self, entry: CachedAttachment) -> Path:
        """Write an entry atomically: readers see the old file or the new one, never a partial one."""
        target = self.path(entry.network_name, entry.container_id, entry.if_name)
        data = json.dumps(entry.to_dict()).encode()
        try:
            self.results_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_atomically(target, data, mode=0o600)
        except OSError as exc:
            raise CniError(f"failed to write result cache {target}", str(exc), ErrorCode.IO_FAILURE) from exc
        return target

    def load(self, network_name: str, container_id: str, if_name: str) -> CachedAttachment | None:
        """The entry for an attachment, or None when there is none; a corrupt file is an error."""
        target = self.path(network_name, container_id, if_name)
        try:
            data = target.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CniError(f"failed to read result cache {target}", str(exc), ErrorCode.IO_FAILURE) from exc
        return _decode(target, data, network_name, container_id, if_name)

    def remove(self, network_name: str, container_id: str, if_name: str) -> None:
        try:
            self.path(network_name, container_id, if_name).unlink()
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
                data = (self.results_dir / name).read_bytes()
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


def _decode(target: Path, data: bytes, network_name: str, container_id: str, if_name: str) -> CachedAttachment:
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


def _create_temp_file(target: Path) -> tuple[int, str]:
    """A new mode-0600 file ``.<name>.<random>.tmp`` beside ``target``, created exclusively as mkstemp does.

    Not ``tempfile.mkstemp`` itself: importing tempfile pulls in shutil and random (~3 ms), paid by every
    thin-plugin ADD, which writes caches.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        tmp_name = os.path.join(target.parent, f".{target.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(tmp_name, flags, 0o600), tmp_name
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temp file name beside {target}")


def write_atomically(target: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``target`` through a synced temp file in the same directory and a rename."""
    fd, tmp_name = _create_temp_file(target)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            # fdatasync: the data (and the size that finds it) must be on disk before the rename makes
            # the file visible; its timestamps need not be, which saves a metadata write per cache entry.
            os.fdatasync(handle.fileno())
        os.chmod(tmp_name, mode)
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
