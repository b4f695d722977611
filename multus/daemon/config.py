"""The daemon's own config file (``daemon-config.json``): Go's keys, defaults and checks (§9.1).

One file serves three readers, as in Go Multus: the daemon itself (socket, logging, limits, metrics),
the auto-config manager (``multusConfigFile``, ``cniConfigDir``...), and every CNI request, because the
whole file is overlaid on the request's config (:func:`override_request_config`; the server wins). So
the file is kept twice: as typed settings (:class:`DaemonConfig`) and as the raw JSON object.

Decoding follows Go's ``encoding/json`` (:mod:`multus.plugin.gojson`): keys match case-insensitively,
``null`` keeps the default, types are strict, so ``"metricsPort": "9091"`` is refused with a message
naming the key instead of being silently ignored (a common stumbling block with Go's daemon).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from multus.plugin.gojson import (
    JsonField,
    JsonStruct,
    JsonTypeError,
    decode_fields,
    decode_json,
    go_marshal,
    read_bool,
    read_int,
    read_str,
    struct_of,
)

DEFAULT_CONFIG_PATH = "/etc/cni/net.d/multus.d/daemon-config.json"
DEFAULT_SOCKET_DIR = "/run/multus/"
DEFAULT_CNI_CONFIG_DIR = "/etc/cni/net.d"
DEFAULT_CERT_DURATION = "10m"
SOCKET_NAME = "multus.sock"
AUTO = "auto"
READINESS_KEY = "readinessindicatorfile"

# Go's daemon has no bound when connectionLimit is unset, and a burst of pods after a node reboot drove it
# into OOM loops (multus#1346): every request runs delegate plugin processes in the daemon's cgroup
# (~55 MB each for some CNIs). 16 concurrent connections keep a burst CPU-bound rather than memory-bound
# on a typical node; everything beyond waits in the listen backlog, costing nothing.
DEFAULT_CONNECTION_LIMIT = 16


class DaemonConfigError(Exception):
    """A daemon config that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class PerNodeCertificate:
    """``perNodeCertificate``: per-node client certificates (§9.8)."""

    enabled: bool = False
    bootstrap_kubeconfig: str = ""
    cert_dir: str = ""
    cert_duration: str = DEFAULT_CERT_DURATION


PER_NODE_CERTIFICATE_JSON = JsonStruct(PerNodeCertificate, (
    JsonField("enabled", "enabled", read_bool),
    JsonField("bootstrap_kubeconfig", "bootstrapKubeconfig", read_str),
    JsonField("cert_dir", "certDir", read_str),
    JsonField("cert_duration", "certDuration", read_str),
))


@dataclass(frozen=True)
class DaemonConfig:
    """The typed settings of ``daemon-config.json``; ``raw`` is the file's JSON object as written."""

    chroot_dir: str = ""
    socket_dir: str = DEFAULT_SOCKET_DIR
    log_file: str = ""
    log_level: str = ""
    log_to_stderr: bool = False
    per_node_certificate: PerNodeCertificate | None = None
    connection_limit: int | None = None
    metrics_port: int | None = None
    enable_pprof: bool = False
    cni_version: str = ""
    multus_config_file: str = AUTO
    cni_config_dir: str = DEFAULT_CNI_CONFIG_DIR
    multus_autoconfig_dir: str = ""
    multus_master_cni: str = ""
    force_cni_version: bool = False
    override_network_name: bool = False
    readiness_indicator_file: str = ""
    kubeconfig: str = ""

    path: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def socket_path(self) -> str:
        return f"{self.socket_dir.rstrip('/')}/{SOCKET_NAME}"

    @property
    def auto_mode(self) -> bool:
        """``multusConfigFile: auto``: the daemon generates 00-multus.conf and owns readiness."""
        return self.multus_config_file == AUTO

    @property
    def effective_connection_limit(self) -> int:
        return self.connection_limit if self.connection_limit is not None else DEFAULT_CONNECTION_LIMIT


DAEMON_CONFIG_JSON = JsonStruct(DaemonConfig, (
    JsonField("chroot_dir", "chrootDir", read_str),
    JsonField("socket_dir", "socketDir", read_str),
    JsonField("log_file", "logFile", read_str),
    JsonField("log_level", "logLevel", read_str),
    JsonField("log_to_stderr", "logToStderr", read_bool),
    JsonField("per_node_certificate", "perNodeCertificate", struct_of(PER_NODE_CERTIFICATE_JSON)),
    JsonField("connection_limit", "connectionLimit", read_int),
    JsonField("metrics_port", "metricsPort", read_int),
    JsonField("enable_pprof", "enablePprof", read_bool),
    JsonField("cni_version", "cniVersion", read_str),
    JsonField("multus_config_file", "multusConfigFile", read_str),
    JsonField("cni_config_dir", "cniConfigDir", read_str),
    JsonField("multus_autoconfig_dir", "multusAutoconfigDir", read_str),
    JsonField("multus_master_cni", "multusMasterCNI", read_str),
    JsonField("force_cni_version", "forceCNIVersion", read_bool),
    JsonField("override_network_name", "overrideNetworkName", read_bool),
    JsonField("readiness_indicator_file", READINESS_KEY, read_str),
    JsonField("kubeconfig", "kubeconfig", read_str),
))


def parse_daemon_config(data: bytes, path: str = "") -> DaemonConfig:
    """Decode and check a daemon config; raises DaemonConfigError naming ``path`` and the key."""
    where = path or "daemon config"
    try:
        raw = decode_json(data)
    except ValueError as exc:
        raise DaemonConfigError(f"failed to load the daemon config {where}: {exc}") from None
    if not isinstance(raw, dict):
        raise DaemonConfigError(f"failed to load the daemon config {where}: it must be a JSON object")
    try:
        values, _ = decode_fields(DAEMON_CONFIG_JSON, raw)
    except JsonTypeError as exc:
        raise DaemonConfigError(f"failed to load the daemon config {where}: {exc}") from None
    config = DaemonConfig(**values, path=path, raw=raw)
    _check(config)
    return _with_defaults(config)


def load_daemon_config(path: str = DEFAULT_CONFIG_PATH) -> DaemonConfig:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise DaemonConfigError(f"failed to read the daemon config {path}: {exc.strerror or exc}") from None
    return parse_daemon_config(data, path)


def _check(config: DaemonConfig) -> None:
    if config.connection_limit is not None and config.connection_limit <= 0:
        raise DaemonConfigError(f"connection limit must be greater than 0, got {config.connection_limit}")
    if config.metrics_port is not None and not 0 < config.metrics_port < 65536:
        raise DaemonConfigError(f"metricsPort must be a TCP port (1-65535), got {config.metrics_port}")
    cert = config.per_node_certificate
    if cert is not None and cert.enabled:
        if not cert.bootstrap_kubeconfig or not cert.cert_dir:
            raise DaemonConfigError("failed to configure PerNodeCertificate: enabled is true but "
                                    "bootstrapKubeconfig and certDir are not both set")
        # Silently using other credentials than the ones asked for would be worse than refusing.
        raise DaemonConfigError("perNodeCertificate is not supported by multus-py yet; "
                                "set kubeconfig to a per-node kubeconfig instead")


def _with_defaults(config: DaemonConfig) -> DaemonConfig:
    """Go puts a default back for an empty socketDir/cniConfigDir; so do we (an empty dir means cwd)."""
    return replace(config, socket_dir=config.socket_dir or DEFAULT_SOCKET_DIR,
                   cni_config_dir=config.cni_config_dir or DEFAULT_CNI_CONFIG_DIR)


def override_request_config(request_config: bytes, server_config: dict[str, Any], *,
                            ignore_readiness_indicator: bool) -> bytes:
    """The request's stdin config with every top-level key of the daemon config laid over it.

    The server wins on every key it has; keys only the request has are kept. With
    ``ignore_readiness_indicator`` (auto mode, where the daemon itself owns readiness), the request's
    ``readinessindicatorfile`` is dropped and the server's is not copied. Raises ValueError when the
    request's config is not a JSON object. Keys come out sorted and compact, as Go marshals its map.
    """
    if not server_config:
        return request_config
    merged = decode_json(request_config)
    if not isinstance(merged, dict):
        raise ValueError("the CNI config is not a JSON object")
    if ignore_readiness_indicator:
        merged.pop(READINESS_KEY, None)
    for key, value in server_config.items():
        if ignore_readiness_indicator and key == READINESS_KEY:
            continue
        merged[key] = value
    return go_marshal(merged)

