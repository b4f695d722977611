"""Identifier rules shared by the runtime side and the plugin side of CNI.

The spec constrains container IDs, network names and interface names; libcni and skel both check them
before anything runs, so a bad value fails fast with a clear message instead of half-way through a chain.
"""

from __future__ import annotations

import re

from multus.cni.errors import CniError, ConfigError, ErrorCode

# Container IDs and network names: alphanumeric first, then alphanumerics, '_', '.', '-'.
_IDENTIFIER = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.\-]*")
# Linux IFNAMSIZ is 16 including the terminating NUL.
MAX_INTERFACE_NAME_LENGTH = 15


def validate_container_id(container_id: str) -> None:
    if not container_id:
        raise CniError("missing containerID", code=ErrorCode.INVALID_ENVIRONMENT_VARIABLES)
    if not _IDENTIFIER.fullmatch(container_id):
        raise CniError(f"invalid characters in containerID {container_id!r}",
                       code=ErrorCode.INVALID_ENVIRONMENT_VARIABLES)


def validate_network_name(name: str) -> None:
    if not name:
        raise ConfigError("missing network name")
    if not _IDENTIFIER.fullmatch(name):
        raise ConfigError(f"invalid characters found in network name {name!r}")


def validate_interface_name(if_name: str) -> None:
    problem = interface_name_problem(if_name)
    if problem:
        raise CniError(problem, code=ErrorCode.INVALID_ENVIRONMENT_VARIABLES)


def interface_name_problem(if_name: str) -> str:
    """Why ``if_name`` is not a usable Linux interface name, or "" when it is."""
    if not if_name:
        return "interface name is empty"
    # The kernel's limit is in bytes, not characters.
    if len(if_name.encode()) > MAX_INTERFACE_NAME_LENGTH:
        return f"interface name {if_name!r} is too long (more than {MAX_INTERFACE_NAME_LENGTH} bytes)"
    if if_name in (".", ".."):
        return f"interface name {if_name!r} is . or .."
    for char in if_name:
        if char == "/" or char == ":" or char.isspace():
            return f"interface name {if_name!r} contains / or : or whitespace characters"
    return ""
