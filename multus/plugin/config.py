"""The Multus top-level network config (NetConf): Go's key names, defaults and load-time checks.

Configs written for Go Multus must load unchanged, so the config is decoded the way Go's
``encoding/json`` fills a struct (see :mod:`multus.plugin.gojson`): keys match their field
case-insensitively (the last spelling given wins), ``null`` leaves a field at its default, types
are strict (a number is never a string, ``1.0`` is not an int), and unknown keys ride along
untouched because delegates' settings live beside ours.

The models are frozen dataclasses rather than pydantic models: this module is imported by every
thin-plugin call, a fresh process on each pod's start path, where importing pydantic alone would
cost more (~90 ms) than the whole call may take. The Go-JSON helpers (``go_quote``,
``decode_json``...) live in :mod:`multus.plugin.gojson` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from multus.cni.errors import ConfigError
from multus.cni.version import ALL_VERSIONS
from multus.plugin.gojson import (
    JsonTypeError,
    decode_fields,
    decode_json,
    decode_struct,
    go_json_error,
    go_json_type,
    go_marshal,
    go_quote,
    json_field,
    list_of,
    map_of,
    read_bool,
    read_int,
    read_object,
    read_str,
)

if TYPE_CHECKING:
    from multus.plugin.config_options import Bandwidth, LogOptions, PortMapping, RuntimeConfig

__all__ = [
    "DEFAULT_BIN_DIR", "DEFAULT_CNI_DIR", "DEFAULT_CONF_DIR", "DEFAULT_DAEMON_SOCKET_DIR",
    "DEFAULT_MULTUS_NAMESPACE", "DEFAULT_NON_ISOLATED_NAMESPACES", "DEFAULT_SYSTEM_NAMESPACES",
    "Bandwidth", "LogOptions", "MultusNetConf", "PortMapping", "RuntimeConfig",
    "decode_json", "go_json_error", "go_json_type", "go_marshal", "go_quote",
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
    from multus.plugin.config_options import LogOptions

    return decode_struct(LogOptions, value, path)


def _read_runtime_config(value: Any, path: str) -> RuntimeConfig:
    from multus.plugin.config_options import RuntimeConfig

    return decode_struct(RuntimeConfig, value, path)


if not TYPE_CHECKING:
    def __getattr__(name: str) -> Any:
        if name in ("Bandwidth", "LogOptions", "PortMapping", "RuntimeConfig"):
            from multus.plugin import config_options

            return getattr(config_options, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# An empty directory or namespace would send lookups to the cwd or nowhere; Go puts the default back.
# (delegateConcurrency 0 is Go's zero value: the default, one at a time.)
_EMPTY_MEANS_DEFAULT = (
    ("conf_dir", DEFAULT_CONF_DIR), ("cni_dir", DEFAULT_CNI_DIR), ("bin_dir", DEFAULT_BIN_DIR),
    ("multus_namespace", DEFAULT_MULTUS_NAMESPACE), ("daemon_socket_dir", DEFAULT_DAEMON_SOCKET_DIR),
    ("delegate_concurrency", 1),
)


@dataclass(frozen=True)
class MultusNetConf:
    """The top-level Multus config (§2). Attributes are snake_case; JSON names are Go's.

    Besides the decoded keys: ``extras`` holds the keys Multus has no field for (original spelling),
    ``raw`` the decoded config exactly as given (original key spelling, unknown keys, nulls) and
    ``raw_bytes`` the config bytes as read (delegate plugins and the daemon forward them).
    """

    cni_version: str = json_field(read_str, "", key="cniVersion")
    name: str = json_field(read_str, "")
    type: str = json_field(read_str, "")
    capabilities: dict[str, bool] = json_field(map_of(read_bool), factory=dict)
    ipam: dict[str, Any] | None = json_field(read_object)
    dns: dict[str, Any] | None = json_field(read_object)
    prev_result: dict[str, Any] | None = json_field(read_object, key="prevResult")
    conf_dir: str = json_field(read_str, DEFAULT_CONF_DIR, key="confDir")
    cni_dir: str = json_field(read_str, DEFAULT_CNI_DIR, key="cniDir")
    bin_dir: str = json_field(read_str, DEFAULT_BIN_DIR, key="binDir")
    delegates: list[dict[str, Any]] = json_field(list_of(read_object), factory=list)
    cluster_network: str = json_field(read_str, "", key="clusterNetwork")
    default_networks: list[str] = json_field(list_of(read_str), key="defaultNetworks", factory=list)
    kubeconfig: str = json_field(read_str, "")
    log_file: str = json_field(read_str, "", key="logFile")
    log_level: str = json_field(read_str, "", key="logLevel")
    log_to_stderr: bool = json_field(read_bool, True, key="logToStderr")
    log_options: LogOptions | None = json_field(_read_log_options, key="logOptions")
    runtime_config: RuntimeConfig | None = json_field(_read_runtime_config, key="runtimeConfig")
    readiness_indicator_file: str = json_field(read_str, "", key="readinessindicatorfile")
    namespace_isolation: bool = json_field(read_bool, False, key="namespaceIsolation")
    global_namespaces: str = json_field(read_str, "", key="globalNamespaces")
    auxiliary_cni_chain_name: str = json_field(read_str, "", key="auxiliaryCNIChainName")
    system_namespaces: list[str] = json_field(list_of(read_str), key="systemNamespaces",
                                              factory=lambda: list(DEFAULT_SYSTEM_NAMESPACES))
    multus_namespace: str = json_field(read_str, DEFAULT_MULTUS_NAMESPACE, key="multusNamespace")
    retry_delete_on_error: bool = json_field(read_bool, False, key="retryDeleteOnError")
    daemon_socket_dir: str = json_field(read_str, DEFAULT_DAEMON_SOCKET_DIR, key="daemonSocketDir")
    # Ours (Go runs delegates one by one): how many delegates of one pod may ADD at once (multus.plugin.add).
    delegate_concurrency: int = json_field(read_int, 1, key="delegateConcurrency")

    extras: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    raw_bytes: bytes = field(default=b"", repr=False, compare=False)

    def __post_init__(self) -> None:
        for attr, default in _EMPTY_MEANS_DEFAULT:
            if not getattr(self, attr):
                object.__setattr__(self, attr, default)  # frozen: the documented way to finish __init__

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
        values, extras = decode_fields(MultusNetConf, raw)
    except JsonTypeError as exc:
        raise ConfigError(f"{prefix} {exc}") from None
    conf = MultusNetConf(**values, extras=extras, raw=raw, raw_bytes=bytes(data))
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
