"""CNI specification versions: the supported set, comparison, and VERSION answers."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from multus.cni.errors import CniError, ErrorCode, VersionError

ALL_VERSIONS: tuple[str, ...] = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
CURRENT_VERSION = "1.1.0"
# A config or result without cniVersion is 0.1.0 (the version before the field existed).
IMPLICIT_VERSION = "0.1.0"
# What a plugin that predates the VERSION command is assumed to speak.
LEGACY_SUPPORTED_VERSIONS: tuple[str, ...] = ("0.1.0", "0.2.0")


def parse_version(version: str) -> tuple[int, int, int]:
    """``"1.0.0"`` -> ``(1, 0, 0)``; a missing patch or minor counts as 0, as libcni does."""
    parts = version.split(".")
    if not version or len(parts) > 3:
        raise VersionError(f"invalid version {version!r}: the version is empty or has too many parts")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        raise VersionError(f"invalid version {version!r}: every part must be a number") from None
    while len(numbers) < 3:
        numbers.append(0)
    return numbers[0], numbers[1], numbers[2]


def at_least(version: str, minimum: str) -> bool:
    """True when ``version`` >= ``minimum``; an empty version is the implicit 0.1.0."""
    return parse_version(version or IMPLICIT_VERSION) >= parse_version(minimum)


def supports_check(version: str) -> bool:
    return at_least(version, "0.4.0")


def supports_gc_and_status(version: str) -> bool:
    return at_least(version, "1.1.0")


def decode_version(config: bytes | str | dict[str, Any]) -> str:
    """Read only ``cniVersion`` from a config or result; an absent one is the implicit 0.1.0."""
    if not isinstance(config, dict):
        try:
            config = json.loads(config)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CniError("decoding version from network config", str(exc), ErrorCode.DECODING_FAILURE) from exc
        if not isinstance(config, dict):
            raise CniError("decoding version from network config", "not a JSON object", ErrorCode.DECODING_FAILURE)
    version = config.get("cniVersion", "")
    if not isinstance(version, str):
        raise CniError("decoding version from network config", "cniVersion must be a string",
                       ErrorCode.DECODING_FAILURE)
    return version or IMPLICIT_VERSION


class PluginInfo(NamedTuple):
    """A plugin's answer to VERSION.

    A NamedTuple (immutable, compared by value) rather than a frozen dataclass: every plugin process
    defines it, and a dataclass costs ~0.5 ms to create at import.
    """

    cni_version: str = CURRENT_VERSION
    supported_versions: tuple[str, ...] = ALL_VERSIONS

    def to_dict(self) -> dict[str, Any]:
        return {"cniVersion": self.cni_version, "supportedVersions": list(self.supported_versions)}

    def supports(self, version: str) -> bool:
        return (version or IMPLICIT_VERSION) in self.supported_versions

    @classmethod
    def from_bytes(cls, output: bytes) -> PluginInfo:
        """Decode a VERSION answer; a pre-0.3 plugin that printed only cniVersion speaks 0.1.0 and 0.2.0."""
        try:
            data = json.loads(output)
        except (ValueError, UnicodeDecodeError) as exc:
            raise CniError("decoding version info", str(exc), ErrorCode.DECODING_FAILURE) from exc
        if not isinstance(data, dict):
            raise CniError("decoding version info", "not a JSON object", ErrorCode.DECODING_FAILURE)
        version = data.get("cniVersion") or IMPLICIT_VERSION
        supported = data.get("supportedVersions")
        if supported is None:
            if version in LEGACY_SUPPORTED_VERSIONS:
                return cls(version, LEGACY_SUPPORTED_VERSIONS)
            raise CniError("decoding version info", "missing field supportedVersions", ErrorCode.DECODING_FAILURE)
        if not isinstance(supported, list) or not all(isinstance(v, str) for v in supported):
            raise CniError("decoding version info", "supportedVersions must be a list of strings",
                           ErrorCode.DECODING_FAILURE)
        return cls(version, tuple(supported))


def check_supported(config_version: str, info: PluginInfo, plugin: str) -> None:
    """Raise when a plugin cannot speak the config's version (libcni's reconcile step)."""
    if not info.supports(config_version):
        raise VersionError(
            f"plugin {plugin} does not support config version {config_version!r}",
            f"plugin supports only {', '.join(info.supported_versions)}",
        )
