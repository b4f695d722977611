"""The Multus top-level network config (NetConf): Go's key names, defaults and load-time checks.

Configs written for Go Multus must load unchanged, so the config is decoded the way Go's
``encoding/json`` fills a struct (see :mod:`multus.plugin.gojson`): keys match their field
case-insensitively (the last spelling given wins), ``null`` leaves a field at its default, types
are strict (a number is never a string, ``1.0`` is not an int), and unknown keys ride along
untouched because delegates' settings live beside ours.

The config is a ``typing.NamedTuple`` with a Go-JSON table (:data:`NETCONF_JSON`), neither a pydantic
model nor a stdlib data class: this module is imported by every thin-plugin call, a fresh process on
each pod's start path, where importing pydantic alone would cost more (~90 ms) than the whole call may
take, and the data-class module ~6 ms (see :mod:`multus.plugin.gojson`). The Go-JSON helpers
(``go_quote``, ``decode_json``...) live in :mod:`multus.plugin.gojson` and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from multus.cni.errors import ConfigError
from multus.cni.version import ALL_VERSIONS
from multus.plugin.gojson import (
    JsonField,
    JsonStruct,
    JsonTypeError,
    decode_fields,
    decode_json,
    decode_struct,
    go_json_error,
    go_json_type,
    go_marshal,
    go_quote,
    map_of,
    read_bool,
    read_int,
    read_object,
    read_str,
    tuple_of,
)

if TYPE_CHECKING:
    from multus.plugin.config_options import Bandwidth, LogOptions, PortMapping, RuntimeConfig

__all__ = [
    "DEFAULT_BIN_DIR", "DEFAULT_CNI_DIR", "DEFAULT_CONF_DIR", "DEFAULT_DAEMON_SOCKET_DIR",
    "DEFAULT_MULTUS_NAMESPACE", "DEFAULT_NON_ISOLATED_NAMESPACES", "DEFAULT_SYSTEM_NAMESPACES",
    "NETCONF_JSON", "Bandwidth", "LogOptions", "MultusNetConf", "PortMapping", "RuntimeConfig",
    "decode_json", "decode_netconf", "go_json_error", "go_json_type", "go_marshal", "go_quote",
    "is_conflist", "load_netconf", "validate_delegate",
]

DEFAULT_CONF_DIR = "/etc/cni/multus/net.d"
DEFAULT_CNI_DIR = "/var/lib/cni/multus"
DEFAULT_BIN_DIR = "/opt/cni/bin"
DEFAULT_MULTUS_NAMESPACE = "kube-system"
DEFAULT_SYSTEM_NAMESPACES: tuple[str, ...] = ("kube-system",)
DEFAULT_NON_ISOLATED_NAMESPACES: tuple[str, ...] = ("default",)
DEFAULT_DAEMON_SOCKET_DIR = "/run/multus/"


# runtimeConfig and logOptions are decoded by structs of multus.plugin.config_options, imported when a
# config has the key (see that module); their names are still importable from here.
def _read_log_options(value: Any, path: str) -> LogOptions:
    from multus.plugin.config_options import LOG_OPTIONS_JSON

    return decode_struct(LOG_OPTIONS_JSON, value, path)


def _read_runtime_config(value: Any, path: str) -> RuntimeConfig:
    from multus.plugin.config_options import RUNTIME_CONFIG_JSON

    return decode_struct(RUNTIME_CONFIG_JSON, value, path)


if not TYPE_CHECKING:
    def __getattr__(name: str) -> Any:
        if name in ("Bandwidth", "LogOptions", "PortMapping", "RuntimeConfig"):
            from multus.plugin import config_options

            return getattr(config_options, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_NO_KEYS: Mapping[str, Any] = MappingProxyType({})  # the default of the map fields: read-only, so shareable


class MultusNetConf(NamedTuple):
    """The top-level Multus config (§2). Attributes are snake_case; JSON names are Go's (:data:`NETCONF_JSON`).

    Besides the decoded keys: ``extras`` holds the keys Multus has no field for (original spelling),
    ``raw`` the decoded config exactly as given (original key spelling, unknown keys, nulls) and
    ``raw_bytes`` the config bytes as read (delegate plugins and the daemon forward them). Build one
    from JSON with :func:`decode_netconf` (or :func:`load_netconf`), which also puts Go's defaults
    back for empty values.
    """

    cni_version: str = ""
    name: str = ""
    type: str = ""
    capabilities: Mapping[str, bool] = _NO_KEYS
    ipam: dict[str, Any] | None = None
    dns: dict[str, Any] | None = None
    prev_result: dict[str, Any] | None = None
    conf_dir: str = DEFAULT_CONF_DIR
    cni_dir: str = DEFAULT_CNI_DIR
    bin_dir: str = DEFAULT_BIN_DIR
    delegates: tuple[dict[str, Any], ...] = ()
    cluster_network: str = ""
    default_networks: tuple[str, ...] = ()
    kubeconfig: str = ""
    log_file: str = ""
    log_level: str = ""
    log_to_stderr: bool = True
    log_options: LogOptions | None = None
    runtime_config: RuntimeConfig | None = None
    readiness_indicator_file: str = ""
    namespace_isolation: bool = False
    global_namespaces: str = ""
    auxiliary_cni_chain_name: str = ""
    system_namespaces: tuple[str, ...] = DEFAULT_SYSTEM_NAMESPACES
    multus_namespace: str = DEFAULT_MULTUS_NAMESPACE
    retry_delete_on_error: bool = False
    daemon_socket_dir: str = DEFAULT_DAEMON_SOCKET_DIR
    # Ours (Go runs delegates one by one): how many delegates of one pod may ADD at once (multus.plugin.add).
    delegate_concurrency: int = 1

    extras: Mapping[str, Any] = _NO_KEYS
    raw: Mapping[str, Any] = _NO_KEYS
    raw_bytes: bytes = b""

    @property
    def non_isolated_namespaces(self) -> list[str]:
        """``globalNamespaces`` split on commas and trimmed; it replaces ``["default"]`` entirely."""
        if not self.global_namespaces:
            return list(DEFAULT_NON_ISOLATED_NAMESPACES)
        return [ns.strip() for ns in self.global_namespaces.split(",") if ns.strip()]

    @property
    def uses_cluster_network(self) -> bool:
        """With ``clusterNetwork`` set, the static ``delegates`` are ignored."""
        return bool(self.cluster_network)

    def delegate_bytes(self, index: int) -> bytes:
        """Delegate ``index`` re-encoded as Go re-marshals its map (what the plugin reads on stdin)."""
        return go_marshal(self.delegates[index])


NETCONF_JSON = JsonStruct(MultusNetConf, (
    JsonField("cni_version", "cniVersion", read_str),
    JsonField("name", "name", read_str),
    JsonField("type", "type", read_str),
    JsonField("capabilities", "capabilities", map_of(read_bool)),
    JsonField("ipam", "ipam", read_object),
    JsonField("dns", "dns", read_object),
    JsonField("prev_result", "prevResult", read_object),
    JsonField("conf_dir", "confDir", read_str),
    JsonField("cni_dir", "cniDir", read_str),
    JsonField("bin_dir", "binDir", read_str),
    JsonField("delegates", "delegates", tuple_of(read_object)),
    JsonField("cluster_network", "clusterNetwork", read_str),
    JsonField("default_networks", "defaultNetworks", tuple_of(read_str)),
    JsonField("kubeconfig", "kubeconfig", read_str),
    JsonField("log_file", "logFile", read_str),
    JsonField("log_level", "logLevel", read_str),
    JsonField("log_to_stderr", "logToStderr", read_bool),
    JsonField("log_options", "logOptions", _read_log_options),
    JsonField("runtime_config", "runtimeConfig", _read_runtime_config),
    JsonField("readiness_indicator_file", "readinessindicatorfile", read_str),
    JsonField("namespace_isolation", "namespaceIsolation", read_bool),
    JsonField("global_namespaces", "globalNamespaces", read_str),
    JsonField("auxiliary_cni_chain_name", "auxiliaryCNIChainName", read_str),
    JsonField("system_namespaces", "systemNamespaces", tuple_of(read_str)),
    JsonField("multus_namespace", "multusNamespace", read_str),
    JsonField("retry_delete_on_error", "retryDeleteOnError", read_bool),
    JsonField("daemon_socket_dir", "daemonSocketDir", read_str),
    JsonField("delegate_concurrency", "delegateConcurrency", read_int),
))

# An empty directory or namespace would send lookups to the cwd or nowhere; Go puts the default back.
# (delegateConcurrency 0 is Go's zero value: the default, one at a time.)
_EMPTY_MEANS_DEFAULT = (
    ("conf_dir", DEFAULT_CONF_DIR), ("cni_dir", DEFAULT_CNI_DIR), ("bin_dir", DEFAULT_BIN_DIR),
    ("multus_namespace", DEFAULT_MULTUS_NAMESPACE), ("daemon_socket_dir", DEFAULT_DAEMON_SOCKET_DIR),
    ("delegate_concurrency", 1),
)


def decode_netconf(raw: dict[str, Any], raw_bytes: bytes = b"") -> MultusNetConf:
    """``raw`` as Go fills its NetConf, with the defaults put back for empty values (JsonTypeError
    names a mistyped key); ``raw_bytes`` are the bytes it was decoded from."""
    values, extras = decode_fields(NETCONF_JSON, raw)
    for attr, default in _EMPTY_MEANS_DEFAULT:
        if attr in values and not values[attr]:
            values[attr] = default
    return MultusNetConf(**values, extras=extras, raw=raw, raw_bytes=raw_bytes)


# ---------------------------------------------------------------- loading


def is_conflist(delegate: dict[str, Any]) -> bool:
    """Go's rule: a delegate is a conflist exactly when its top-level ``type`` is empty."""
    return not delegate.get("type")


def validate_delegate(delegate: dict[str, Any]) -> None:
    """The checks Go's LoadDelegateNetConf makes before a delegate can run."""
    for key in ("type", "name", "cniVersion"):
        if delegate.get(key) is not None:
            try:
                read_str(delegate[key], key)
            except JsonTypeError as exc:
                raise ConfigError(f"LoadDelegateNetConf: error unmarshalling delegate config: {exc}") from None
    if not is_conflist(delegate):
        return
    prefix = "LoadDelegateNetConf: failed with: LoadDelegateNetConfList:"
    plugins = delegate.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise ConfigError(f"{prefix} delegate must have the 'type' or 'plugin' field")
    first = plugins[0]
    if not isinstance(first, dict) or not first.get("type"):
        raise ConfigError(f"{prefix} a plugin delegate must have the 'type' field")


def _check_prev_result(conf: MultusNetConf) -> None:
    """Go converts prevResult with the config's cniVersion; an unknown version cannot be parsed."""
    if conf.prev_result is None:
        return
    if conf.cni_version and conf.cni_version not in ALL_VERSIONS:
        raise ConfigError("LoadNetConf: could not parse prevResult: "
                          f"unsupported CNI result version {go_quote(conf.cni_version)}")


def load_netconf(data: bytes) -> MultusNetConf:
    """Parse and validate the Multus config a runtime sent on stdin (Go's LoadNetConf)."""
    prefix = "LoadNetConf: failed to load netconf:"
    try:
        raw = decode_json(data)
    except ValueError as exc:  # includes undecodable bytes
        raise ConfigError(f"{prefix} {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{prefix} the config must be a JSON object, got {go_json_type(raw)}")
    try:
        conf = decode_netconf(raw, bytes(data))
    except JsonTypeError as exc:
        raise ConfigError(f"{prefix} {exc}") from None
    _check_prev_result(conf)
    if conf.delegate_concurrency < 0:
        raise ConfigError(f"{prefix} delegateConcurrency must not be negative, got {conf.delegate_concurrency}")
    if not conf.delegates and not conf.cluster_network:
        raise ConfigError("LoadNetConf: at least one delegate/clusterNetwork must be specified")
    for index, delegate in enumerate(conf.delegates):
        try:
            validate_delegate(delegate)
        except ConfigError as exc:
            raise ConfigError(f"LoadNetConf: failed to load delegate {index} config: {exc.msg}") from None
    return conf
