"""The scratch cache: ``<cniDir>/<containerID>``, the delegates an ADD ran, kept for the DEL.

Written atomically *before* any delegate runs, so a DEL after a crash, a reboot or the pod's deletion
from the API still knows what to release. The file is Go Multus's JSON array of DelegateNetConf, so
either implementation can DEL what the other ADDed. A truncated or corrupt file raises
:class:`ScratchCacheError` instead of reading as "nothing to do" (Go's silent no-op leaks IPs).
"""

from __future__ import annotations

import json
import os

from multus.cni.durable import write_atomically
from multus.cni.errors import CniError, ErrorCode
from multus.plugin.delegate import Delegate


class ScratchCacheError(CniError):
    default_code = ErrorCode.IO_FAILURE


def scratch_path(cni_dir: str, container_id: str) -> str:
    return os.path.join(cni_dir, container_id)


def save_delegates(cni_dir: str, container_id: str, delegates: list[Delegate]) -> str:
    path = scratch_path(cni_dir, container_id)
    try:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        write_atomically(path, json.dumps([d.to_cache() for d in delegates]).encode(), mode=0o600,
                         deferrable=True)
    except OSError as exc:
        raise ScratchCacheError("error saving the delegates",
                                f"saveScratchNetConf: failed to write {path}: {exc}") from exc
    return path


def load_delegates(cni_dir: str, container_id: str) -> list[Delegate] | None:
    """The cached delegates, master first; None when there is no cache file."""
    path = scratch_path(cni_dir, container_id)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ScratchCacheError(f"failed to read the cached delegates {path}", str(exc)) from exc
    try:
        body = json.loads(data)
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise ValueError("want a JSON array of delegate objects")
        delegates = [Delegate.from_cache(item) for item in body]
    except (ValueError, CniError) as exc:
        raise ScratchCacheError(f"the cached delegates {path} are corrupt", str(exc),
                                ErrorCode.DECODING_FAILURE) from exc
    return [d.with_master(index == 0) for index, d in enumerate(delegates)]


def remove_delegates(cni_dir: str, container_id: str) -> None:
    try:
        os.unlink(scratch_path(cni_dir, container_id))
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise ScratchCacheError("failed to remove the cached delegates", str(exc)) from exc
