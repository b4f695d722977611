"""Network configurations: single plugin configs (.conf) and plugin lists (.conflist).

A config is kept twice: the decoded JSON object (``raw``) that the runtime edits before each exec, and the
header fields the runtime itself needs (name, cniVersion, type, capabilities, disableCheck/disableGC),
validated so that a bad file fails naming every key that is wrong. Plugins receive everything else
untouched. Stdlib only: this module is on every CNI call's path, where pydantic's ~90 ms start-up cost
per process would be most of the call.

Conf-dir loading follows libcni: files with .conf/.json/.conflist, sorted by name; the first file whose
network name matches wins; a .conflist may continue in a subdirectory named after the list
(``<dir>/<name>/*.conf``), unless it sets ``loadOnlyInlinedPlugins``.
"""

from __future__ import annotations

import json
import os
from typing import Any, NamedTuple

from multus.cni.errors import CniError, ConfigError
from multus.cni.validation import validate_network_name
from multus.cni.version import ALL_VERSIONS, IMPLICIT_VERSION, parse_version

CONF_EXTENSIONS = (".conf", ".json")
CONFLIST_EXTENSIONS = (".conflist",)
ALL_EXTENSIONS = (".conf", ".conflist", ".json")


class NotFoundError(ConfigError):
    """No config in the directory has the requested network name."""


def _strict_bool(raw: dict[str, Any], key: str, problems: list[str]) -> bool:
    # libcni accepts a JSON bool or the strings "true"/"false" (any case) and nothing else.
    value = raw.get(key, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    problems.append(f"{key}: invalid value {value!r}: want true or false")
    return False


def _string(raw: dict[str, Any], key: str, problems: list[str], required: bool = False) -> str:
    value = raw.get(key)
    if value is None:
        if required:
            problems.append(f"{key}: missing")
        return ""
    if not isinstance(value, str):
        problems.append(f"{key}: want a string, got {type(value).__name__}")
        return ""
    return value


def _known_version(raw: dict[str, Any], problems: list[str]) -> str:
    value = _string(raw, "cniVersion", problems)
    if value and value not in ALL_VERSIONS:
        try:
            parse_version(value)
        except CniError as exc:  # a malformed version gets the parser's message
            problems.append(f"cniVersion: {exc.msg}")
        else:
            problems.append(f"cniVersion: {value!r} is not supported (supported: {', '.join(ALL_VERSIONS)})")
    return value


def _capabilities(raw: dict[str, Any], problems: list[str]) -> dict[str, bool]:
    value = raw.get("capabilities", {})
    if not isinstance(value, dict) or not all(isinstance(v, bool) for v in value.values()):
        problems.append("capabilities: want an object of booleans")
        return {}
    return value


def _fail_if(problems: list[str], msg: str) -> None:
    if problems:
        raise ConfigError(msg, "; ".join(problems))


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


class NetworkConfig(NamedTuple):
    """One plugin's configuration, as a .conf file or as a member of a list.

    This and :class:`NetworkConfigList` are NamedTuples (immutable, compared by value) rather than
    frozen dataclasses: every plugin process defines them, and a dataclass costs ~0.5 ms to create.
    """

    raw: dict[str, Any]
    type: str
    name: str
    cni_version: str
    capabilities: dict[str, bool]

    @classmethod
    def from_object(cls, raw: dict[str, Any], where: str = "network config") -> NetworkConfig:
        problems: list[str] = []
        plugin_type = _string(raw, "type", problems, required=True)
        if "type" in raw and not plugin_type and not problems:
            problems.append("type: must not be empty")
        conf = cls(raw=raw, type=plugin_type, name=_string(raw, "name", problems),
                   cni_version=_known_version(raw, problems), capabilities=_capabilities(raw, problems))
        _fail_if(problems, f"invalid {where}")
        return conf

    @classmethod
    def from_bytes(cls, data: bytes | str) -> NetworkConfig:
        raw = _decode_object(data, "network config")
        if "type" not in raw and "plugins" in raw:
            raise ConfigError("invalid network config", "no 'type'; perhaps this is a .conflist?")
        return cls.from_object(raw)

    def to_bytes(self) -> bytes:
        return json.dumps(self.raw).encode()


class NetworkConfigList(NamedTuple):
    """A network: a name, a version and the chain of plugins run in order on ADD."""

    raw: dict[str, Any]
    name: str
    cni_version: str
    disable_check: bool
    disable_gc: bool
    plugins: tuple[NetworkConfig, ...]

    @classmethod
    def from_object(cls, raw: dict[str, Any], chain_dir: str | os.PathLike[str] | None = None) -> NetworkConfigList:
        """Build a list from its JSON object; with ``chain_dir``, plugins in ``<chain_dir>/<name>/*.conf``
        are appended unless the list sets ``loadOnlyInlinedPlugins``."""
        problems: list[str] = []
        name = _string(raw, "name", problems, required=True)
        version = _known_version(raw, problems)
        disable_check = _strict_bool(raw, "disableCheck", problems)
        disable_gc = _strict_bool(raw, "disableGC", problems)
        only_inlined = _strict_bool(raw, "loadOnlyInlinedPlugins", problems)
        versions = raw.get("cniVersions") or []
        if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
            problems.append("cniVersions: want a list of strings")
            versions = []
        inline = raw.get("plugins") or []
        if not isinstance(inline, list) or not all(isinstance(p, dict) for p in inline):
            problems.append("plugins: want a list of objects")
            inline = []
        _fail_if(problems, "invalid network config list")
        validate_network_name(name)
        extra_plugins: tuple[NetworkConfig, ...] = ()
        if chain_dir is not None and not only_inlined:
            extra_plugins = tuple(conf_from_file(p) for p in conf_files(os.path.join(chain_dir, name), (".conf",)))
        if versions:
            version = _highest_supported(versions) or version
        plugins = tuple(
            NetworkConfig.from_object(plugin, f"plugin {index} of network {name!r}")
            for index, plugin in enumerate(inline)
        ) + extra_plugins
        if not plugins:
            raise ConfigError(f"error parsing configuration list: no plugins in list for network {name!r}")
        return cls(raw=raw, name=name, cni_version=version or IMPLICIT_VERSION,
                   disable_check=disable_check, disable_gc=disable_gc, plugins=plugins)

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


def conf_files(directory: str | os.PathLike[str], extensions: tuple[str, ...] = ALL_EXTENSIONS) -> list[str]:
    """Config files in ``directory`` with one of ``extensions``, sorted by name; [] if it does not exist."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    except OSError as exc:
        raise ConfigError(f"error reading config directory {directory}", str(exc)) from exc
    return [e.path for e in entries if e.is_file() and e.name.endswith(extensions)]


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise ConfigError(f"error reading {path}", str(exc)) from exc


def conf_from_file(path: str | os.PathLike[str]) -> NetworkConfig:
    path = os.fspath(path)
    try:
        return NetworkConfig.from_bytes(_read(path))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc.msg}", exc.details) from exc


def conflist_from_file(path: str | os.PathLike[str]) -> NetworkConfigList:
    """Load a .conflist, appending the plugins of its subdirectory chain ``<dir>/<name>/*.conf``."""
    path = os.fspath(path)
    try:
        return NetworkConfigList.from_object(_decode_object(_read(path), "network config list"),
                                             os.path.dirname(path))
    except ConfigError as exc:
        if path in exc.msg:
            raise
        raise ConfigError(f"{path}: {exc.msg}", exc.details) from exc


def load_conf(directory: str | os.PathLike[str], name: str) -> NetworkConfig:
    """The first .conf/.json in ``directory`` whose network name is ``name``."""
    for path in conf_files(directory, CONF_EXTENSIONS):
        conf = conf_from_file(path)
        if conf.name == name:
            return conf
    raise NotFoundError(f'no net configuration with name "{name}" in {directory}')


def load_conflist(directory: str | os.PathLike[str], name: str) -> NetworkConfigList:
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
