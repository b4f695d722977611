"""Network configurations: single plugin configs (.conf) and plugin lists (.conflist).

A config is kept twice: the decoded JSON object (``raw``) that the runtime edits before each exec, and the
header fields the runtime itself needs (name, cniVersion, type, capabilities, disableCheck/disableGC),
validated with pydantic so a bad file fails with the key that is wrong. Plugins receive everything else
untouched.

Conf-dir loading follows libcni: files with .conf/.json/.conflist, sorted by name; the first file whose
network name matches wins; a .conflist may continue in a subdirectory named after the list
(``<dir>/<name>/*.conf``), unless it sets ``loadOnlyInlinedPlugins``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from multus.cni.errors import CniError, ConfigError
from multus.cni.validation import validate_network_name
from multus.cni.version import ALL_VERSIONS, IMPLICIT_VERSION, parse_version

CONF_EXTENSIONS = (".conf", ".json")
CONFLIST_EXTENSIONS = (".conflist",)
ALL_EXTENSIONS = (".conf", ".conflist", ".json")


class NotFoundError(ConfigError):
    """No config in the directory has the requested network name."""


def _strict_bool(value: Any) -> Any:
    # libcni accepts a JSON bool or the strings "true"/"false" (any case) and nothing else.
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError(f"invalid value {value!r}: want true or false")
    if not isinstance(value, bool):
        raise ValueError(f"invalid type {type(value).__name__}: want a boolean")
    return value


def _known_version(value: str) -> str:
    if value and value not in ALL_VERSIONS:
        try:
            parse_version(value)
        except CniError as exc:  # a malformed version gets the parser's message
            raise ValueError(exc.msg) from None
        raise ValueError(f"cniVersion {value!r} is not supported (supported: {', '.join(ALL_VERSIONS)})")
    return value


class _PluginHeader(BaseModel):
    """The keys of a plugin config that the runtime reads; everything else belongs to the plugin."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str = Field(min_length=1)
    name: str = ""
    cni_version: str = Field("", alias="cniVersion")
    capabilities: dict[str, bool] = Field(default_factory=dict)

    _check_version = field_validator("cni_version")(_known_version)


class _ListHeader(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str
    cni_version: str = Field("", alias="cniVersion")
    cni_versions: list[str] | None = Field(None, alias="cniVersions")
    disable_check: bool = Field(False, alias="disableCheck")
    disable_gc: bool = Field(False, alias="disableGC")
    load_only_inlined_plugins: bool = Field(False, alias="loadOnlyInlinedPlugins")
    plugins: list[dict[str, Any]] = Field(default_factory=list)

    _check_version = field_validator("cni_version")(_known_version)
    _check_bools = field_validator("disable_check", "disable_gc", "load_only_inlined_plugins",
                                   mode="before")(_strict_bool)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        location = ".".join(str(p) for p in err["loc"]) or "config"
        parts.append(f"{location}: {err['msg']}")
    return "; ".join(parts)


def _decode_object(data: bytes | str | dict[str, Any], what: str) -> dict[str, Any]:
    if isinstance(data, dict):
        return data
    try:
        decoded = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"error parsing {what}", str(exc)) from exc
    if not isinstance(decoded, dict):
        raise ConfigError(f"error parsing {what}", f"want a JSON object, got {type(decoded).__name__}")
    return decoded


@dataclass(frozen=True)
class NetworkConfig:
    """One plugin's configuration, as a .conf file or as a member of a list."""

    raw: dict[str, Any]
    type: str
    name: str
    cni_version: str
    capabilities: dict[str, bool]

    @classmethod
    def from_object(cls, raw: dict[str, Any], where: str = "network config") -> NetworkConfig:
        try:
            header = _PluginHeader.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(f"invalid {where}", _describe(exc)) from exc
        return cls(raw=raw, type=header.type, name=header.name, cni_version=header.cni_version,
                   capabilities=header.capabilities)

    @classmethod
    def from_bytes(cls, data: bytes | str) -> NetworkConfig:
        raw = _decode_object(data, "network config")
        if "type" not in raw and "plugins" in raw:
            raise ConfigError("invalid network config", "no 'type'; perhaps this is a .conflist?")
        return cls.from_object(raw)

    def to_bytes(self) -> bytes:
        return json.dumps(self.raw).encode()


@dataclass(frozen=True)
class NetworkConfigList:
    """A network: a name, a version and the chain of plugins run in order on ADD."""

    raw: dict[str, Any]
    name: str
    cni_version: str
    disable_check: bool
    disable_gc: bool
    plugins: tuple[NetworkConfig, ...]

    @classmethod
    def from_object(cls, raw: dict[str, Any], chain_dir: Path | None = None) -> NetworkConfigList:
        """Build a list from its JSON object; with ``chain_dir``, plugins in ``<chain_dir>/<name>/*.conf``
        are appended unless the list sets ``loadOnlyInlinedPlugins``."""
        try:
            header = _ListHeader.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError("invalid network config list", _describe(exc)) from exc
        validate_network_name(header.name)
        extra_plugins: tuple[NetworkConfig, ...] = ()
        if chain_dir is not None and not header.load_only_inlined_plugins:
            extra_plugins = tuple(conf_from_file(p) for p in conf_files(chain_dir / header.name, (".conf",)))
        version = header.cni_version
        if header.cni_versions:
            version = _highest_supported(header.cni_versions) or version
        plugins = tuple(
            NetworkConfig.from_object(plugin, f"plugin {index} of network {header.name!r}")
            for index, plugin in enumerate(header.plugins)
        ) + extra_plugins
        if not plugins:
            raise ConfigError(f"error parsing configuration list: no plugins in list for network {header.name!r}")
        return cls(raw=raw, name=header.name, cni_version=version or IMPLICIT_VERSION,
                   disable_check=header.disable_check, disable_gc=header.disable_gc, plugins=plugins)

    @classmethod
    def from_bytes(cls, data: bytes | str) -> NetworkConfigList:
        return cls.from_object(_decode_object(data, "network config list"))

    @classmethod
    def from_conf(cls, conf: NetworkConfig) -> NetworkConfigList:
        """Wrap a single .conf as a one-plugin list, the way libcni runs single configs."""
        validate_network_name(conf.name)
        raw = {"cniVersion": conf.cni_version, "name": conf.name, "plugins": [conf.raw]}
        return cls(raw=raw, name=conf.name, cni_version=conf.cni_version or IMPLICIT_VERSION,
                   disable_check=False, disable_gc=False, plugins=(conf,))

    def to_bytes(self) -> bytes:
        """The list as one JSON document, subdirectory plugins included (what the result cache stores)."""
        raw = dict(self.raw)
        raw["plugins"] = [plugin.raw for plugin in self.plugins]
        return json.dumps(raw).encode()


def _highest_supported(versions: list[str]) -> str:
    # cniVersions lists what the file may be read as; pick the newest one we speak.
    known = [v for v in versions if v in ALL_VERSIONS]
    return max(known, key=parse_version) if known else ""


def conf_files(directory: str | Path, extensions: tuple[str, ...] = ALL_EXTENSIONS) -> list[Path]:
    """Config files in ``directory`` with one of ``extensions``, sorted by name; [] if it does not exist."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise ConfigError(f"error reading config directory {directory}", str(exc)) from exc
    return [Path(e.path) for e in entries if e.is_file() and e.name.endswith(extensions)]


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"error reading {path}", str(exc)) from exc


def conf_from_file(path: str | Path) -> NetworkConfig:
    path = Path(path)
    try:
        return NetworkConfig.from_bytes(_read(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.msg}", exc.details) from exc


def conflist_from_file(path: str | Path) -> NetworkConfigList:
    """Load a .conflist, appending the plugins of its subdirectory chain ``<dir>/<name>/*.conf``."""
    path = Path(path)
    try:
        return NetworkConfigList.from_object(_decode_object(_read(path), "network config list"), path.parent)
    except ConfigError as exc:
        if str(path) in exc.msg:
            raise
        raise ConfigError(f"{path}: {exc.msg}", exc.details) from exc


def load_conf(directory: str | Path, name: str) -> NetworkConfig:
    """The first .conf/.json in ``directory`` whose network name is ``name``."""
    for path in conf_files(directory, CONF_EXTENSIONS):
        conf = conf_from_file(path)
        if conf.name == name:
            return conf
    raise NotFoundError(f'no net configuration with name "{name}" in {directory}')


def load_conflist(directory: str | Path, name: str) -> NetworkConfigList:
    """The network ``name`` from ``directory``: a .conflist first, else a .conf wrapped as a list."""
    for path in conf_files(directory, CONFLIST_EXTENSIONS):
        conflist = conflist_from_file(path)
        if conflist.name == name:
            return conflist
    try:
        return NetworkConfigList.from_conf(load_conf(directory, name))
    except NotFoundError:
        raise NotFoundError(f'no net configuration with name "{name}" in {directory}') from None


def load_any(data: bytes | str) -> NetworkConfigList:
    """Bytes that may hold either a list or a single config, as a list."""
    raw = _decode_object(data, "network config")
    if "plugins" in raw:
        return NetworkConfigList.from_object(raw)
    return NetworkConfigList.from_conf(NetworkConfig.from_object(raw))
