"""The daemon-config keys the auto-config manager reads (§9.1), decoded as Go decodes its MultusConf.

A small typed view of ``daemon-config.json`` of its own, rather than the daemon's DaemonConfig, for two
reasons: the manager also copies keys the daemon never interprets (binDir, capabilities, logOptions,
cniDir...), and a caller (a test, another tool) can build one without a whole daemon config. Decoding
uses :mod:`multus.plugin.gojson`: keys match case-insensitively, ``null`` keeps the default, and a
wrong type is an error naming the key instead of a value silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from multus.plugin.config_options import LOG_OPTIONS_JSON, LogOptions
from multus.plugin.gojson import (
    JsonField,
    JsonStruct,
    JsonTypeError,
    decode_fields,
    map_of,
    read_bool,
    read_str,
    struct_of,
)

DEFAULT_CNI_CONFIG_DIR = "/etc/cni/net.d"
DEFAULT_NETWORK_NAME = "multus-cni-network"
SHIM_TYPE = "multus-shim"


class AutoconfigError(Exception):
    """Multus's config cannot be generated (yet); the message is meant for the operator."""


@dataclass(frozen=True)
class AutoconfigSettings:
    """What drives generation of ``00-multus.conf``; the second group is copied into the output."""

    cni_version: str = ""
    cni_config_dir: str = DEFAULT_CNI_CONFIG_DIR
    multus_autoconfig_dir: str = ""
    multus_master_cni: str = ""
    force_cni_version: bool = False
    override_network_name: bool = False
    readiness_indicator_file: str = ""

    bin_dir: str = ""
    capabilities: dict[str, bool] = field(default_factory=dict)
    log_file: str = ""
    log_level: str = ""
    log_to_stderr: bool = False
    log_options: LogOptions | None = None
    namespace_isolation: bool = False
    global_namespaces: str = ""
    cni_dir: str = ""
    auxiliary_cni_chain_name: str = ""
    daemon_socket_dir: str = ""

    extra: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def config_dir(self) -> str:
        """Where 00-multus.conf goes; an empty cniConfigDir means the default, as in Go's daemon."""
        return self.cni_config_dir or DEFAULT_CNI_CONFIG_DIR

    @property
    def autoconfig_dir(self) -> str:
        """Where the primary is looked for: multusAutoconfigDir, else the CNI config dir itself."""
        return self.multus_autoconfig_dir or self.config_dir

    @classmethod
    def from_daemon_config(cls, raw: Mapping[str, Any]) -> AutoconfigSettings:
        """Decode the daemon config's JSON object; AutoconfigError names a key of the wrong type."""
        try:
            values, unknown = decode_fields(AUTOCONFIG_SETTINGS_JSON, dict(raw))
        except JsonTypeError as exc:
            raise AutoconfigError(f"invalid daemon config for auto-config: {exc}") from None
        return cls(**values, extra=unknown)


AUTOCONFIG_SETTINGS_JSON = JsonStruct(AutoconfigSettings, (
    JsonField("cni_version", "cniVersion", read_str),
    JsonField("cni_config_dir", "cniConfigDir", read_str),
    JsonField("multus_autoconfig_dir", "multusAutoconfigDir", read_str),
    JsonField("multus_master_cni", "multusMasterCNI", read_str),
    JsonField("force_cni_version", "forceCNIVersion", read_bool),
    JsonField("override_network_name", "overrideNetworkName", read_bool),
    JsonField("readiness_indicator_file", "readinessindicatorfile", read_str),
    JsonField("bin_dir", "binDir", read_str),
    JsonField("capabilities", "capabilities", map_of(read_bool)),
    JsonField("log_file", "logFile", read_str),
    JsonField("log_level", "logLevel", read_str),
    JsonField("log_to_stderr", "logToStderr", read_bool),
    JsonField("log_options", "logOptions", struct_of(LOG_OPTIONS_JSON)),
    JsonField("namespace_isolation", "namespaceIsolation", read_bool),
    JsonField("global_namespaces", "globalNamespaces", read_str),
    JsonField("cni_dir", "cniDir", read_str),
    JsonField("auxiliary_cni_chain_name", "auxiliaryCNIChainName", read_str),
    JsonField("daemon_socket_dir", "daemonSocketDir", read_str),
))
