"""The CNI error object and the exception tree raised by the runtime.

Every failure that can reach a container runtime is a :class:`CniError`: it carries the spec's
``code``/``msg``/``details`` triple and renders itself as the error JSON a plugin prints on stdout.
Callers branch on the class (or on ``code``), never on message text.

    CniError
     ├── PluginError            a plugin answered with an error object (or garbage)
     ├── PluginNotFoundError    no executable of that type in the plugin directories
     ├── PluginTimeoutError     the plugin did not finish within the call's timeout
     ├── ConfigError            an invalid network config or list (code 7)
     ├── VersionError           an unsupported or incompatible cniVersion (code 1)
     └── ResultConversionError  a result cannot be expressed in the requested version
"""

from __future__ import annotations

import json
from enum import IntEnum
from typing import Any


class ErrorCode(IntEnum):
    """Well-known error codes from the CNI specification (SPEC.md, "Error")."""

    INCOMPATIBLE_CNI_VERSION = 1
    UNSUPPORTED_FIELD = 2
    UNKNOWN_CONTAINER = 3
    INVALID_ENVIRONMENT_VARIABLES = 4
    IO_FAILURE = 5
    DECODING_FAILURE = 6
    INVALID_NETWORK_CONFIG = 7
    TRY_AGAIN_LATER = 11
    PLUGIN_NOT_AVAILABLE = 50
    LIMITED_CONNECTIVITY = 51
    INTERNAL = 999


class CniError(Exception):
    """A CNI error: what a plugin prints on failure and what the runtime raises."""

    default_code: int = ErrorCode.INTERNAL

    def __init__(self, msg: str, details: str = "", code: int | None = None) -> None:
        super().__init__(msg)
        self.code: int = int(code if code is not None else self.default_code)
        self.msg = msg
        self.details = details

    def __str__(self) -> str:
        return f"{self.msg}; {self.details}" if self.details else self.msg

    def to_dict(self, cni_version: str | None = None) -> dict[str, Any]:
        """The spec's error object; ``cniVersion`` first when known, as plugins print it."""
        body: dict[str, Any] = {}
        if cni_version:
            body["cniVersion"] = cni_version
        body["code"] = self.code
        body["msg"] = self.msg
        if self.details:
            body["details"] = self.details
        return body

    def to_json(self, cni_version: str | None = None) -> str:
        return json.dumps(self.to_dict(cni_version), indent=1)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CniError:
        """Rebuild an error from a decoded error object (e.g. one a plugin printed)."""
        return cls(str(data.get("msg", "")), str(data.get("details", "") or ""), int(data.get("code", 0)))


class PluginError(CniError):
    """A plugin exited non-zero; ``code``/``msg``/``details`` are the plugin's own when it printed them."""

    def __init__(
        self, msg: str, details: str = "", code: int | None = None, *, plugin: str = "", stderr: str = ""
    ) -> None:
        super().__init__(msg, details, code)
        self.plugin = plugin
        self.stderr = stderr


class PluginNotFoundError(CniError):
    default_code = ErrorCode.PLUGIN_NOT_AVAILABLE


class PluginTimeoutError(CniError):
    default_code = ErrorCode.TRY_AGAIN_LATER


class ConfigError(CniError):
    default_code = ErrorCode.INVALID_NETWORK_CONFIG


class VersionError(CniError):
    default_code = ErrorCode.INCOMPATIBLE_CNI_VERSION


class ResultConversionError(CniError):
    default_code = ErrorCode.INCOMPATIBLE_CNI_VERSION
