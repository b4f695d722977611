"""Finding and reading the primary (cluster network) CNI config that Multus wraps.

Shared by the daemon's auto-config (thick) and the thin entrypoint. The primary is ``master`` when one
is named, else the sorted-first ``*.conf``/``*.conflist`` of the directory that is not Multus's own.

Why the content check: the file name alone (Go skips names starting with ``00-multus``) does not stop
Multus from wrapping itself. A copied or renamed Multus config (``70-multus.conf``, a Helm chart's own
name) was picked as the primary after restarts, and the nested config looped (multus#1162, #1108).
So a config whose ``type`` or any plugin's ``type`` is ``multus``/``multus-shim`` is never a primary.

A file that cannot be read or parsed is still *selected* (it is not skipped): a primary caught
half-written must not make Multus switch to the next file for a moment; generation then fails and the
caller keeps its previous output.
"""

from __future__ import annotations

import json
import os
import posixpath
from pathlib import Path
from typing import Any

MULTUS_FILE_PREFIX = "00-multus"
MULTUS_TYPES = frozenset({"multus", "multus-shim"})
PRIMARY_EXTENSIONS = (".conf", ".conflist")


class PrimaryConfigError(Exception):
    """The primary config cannot be used; the message says which file and why."""


def join_config_path(directory: str, name: str) -> str:
    """``directory/name`` cleaned, as Go's ``filepath.Join`` (a leading ``/`` in ``name`` stays inside)."""
    return posixpath.normpath(f"{directory}/{name}")


def is_multus_config(raw: Any) -> bool:
    """True for a config (or list) that runs Multus itself: wrapping it would nest Multus in Multus."""
    if not isinstance(raw, dict):
        return False
    if raw.get("type") in MULTUS_TYPES:
        return True
    plugins = raw.get("plugins")
    return isinstance(plugins, list) and any(isinstance(p, dict) and p.get("type") in MULTUS_TYPES
                                             for p in plugins)


def _peek(path: Path) -> Any:
    """The decoded file, or None when it cannot be read or decoded (it is then kept as a candidate)."""
    try:
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def is_own_file(name: str) -> bool:
    return name.startswith(MULTUS_FILE_PREFIX)


def select_primary(directory: str | Path, master: str = "") -> Path | None:
    """The primary config's path, or None when there is none (yet).

    ``master`` (``multusMasterCNI``) names the file in ``directory``; it is None while that file is
    absent. Raises PrimaryConfigError when ``master`` names a Multus config, which would recurse, and
    OSError when the directory cannot be listed for another reason than not existing.
    """
    if master:
        path = Path(join_config_path(str(directory), master))
        if is_own_file(path.name) or is_multus_config(_peek(path)):
            raise PrimaryConfigError(f"cannot specify {path} to prevent recursive config load")
        return path if path.is_file() else None
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return None
    for entry in entries:
        if is_own_file(entry.name) or not entry.name.endswith(PRIMARY_EXTENSIONS):
            continue
        try:
            if not entry.is_file():
                continue
        except OSError:
            continue
        path = Path(entry.path)
        if not is_multus_config(_peek(path)):
            return path
    return None


def read_primary(path: str | Path) -> dict[str, Any]:
    """The primary config as a JSON object; PrimaryConfigError with Go's wording when it is not one."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PrimaryConfigError(f"failed to read the cluster primary CNI config {path}: "
                                 f"{exc.strerror or exc}") from None
    if not data.strip():
        raise PrimaryConfigError(f"the cluster primary CNI config {path} is empty")
    try:
        raw = json.loads(data)
    except ValueError as exc:
        raise PrimaryConfigError(f"failed to unmarshall primary CNI config {path}: {exc}") from None
    if not isinstance(raw, dict):
        raise PrimaryConfigError(f"failed to unmarshall primary CNI config {path}: not a JSON object")
    return raw


def enabled_capabilities(primary: dict[str, Any]) -> dict[str, bool]:
    """The capabilities set to true in the primary: from its plugins for a list, else from the top level.

    Only JSON ``true`` counts; anything else (false, a string, a wrong type) is ignored, where Go's
    daemon panics on a non-bool value. The result is recomputed from the current file every time, so a
    capability the primary drops disappears from Multus's config too.
    """
    plugins = primary.get("plugins")
    sources = [p for p in plugins if isinstance(p, dict)] if isinstance(plugins, list) and plugins else [primary]
    enabled: dict[str, bool] = {}
    for source in sources:
        caps = source.get("capabilities")
        if isinstance(caps, dict):
            enabled.update({name: True for name, value in caps.items() if value is True})
    return dict(sorted(enabled.items()))
