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

from multus.plugin.config import LogOptions
from multus.plugin.gojson import JsonTypeError, decode_fields, json_field, map_of, read_bool, read_str, struct_of

DEFAULT_CNI_CONFIG_DIR = "/etc/cni/net.d"
DEFAULT_NETWORK_NAME = "multus-cni-network"
SHIM_TYPE = "multus-shim"


class AutoconfigError(Exception):
    """Multus's config cannot be generated (yet); the message is meant for the operator."""


@dataclass(frozen=True)
class AutoconfigSettings:
    """What drives generation of ``00-multus.conf``; the second group is copied into the output."""

    cni_version: str = json_field(read_str, "", key="cniVersion")
    cni_config_dir: str = json_field(read_str, DEFAULT_CNI_CONFIG_DIR, key="cniConfigDir")
    multus_autoconfig_dir: str = json_field(read_str, "", key="multusAutoconfigDir")
    multus_master_cni: str = json_field(read_str, "", key="multusMasterCNI")
    force_cni_version: bool = json_field(read_bool, False, key="forceCNIVersion")
    override_network_name: bool = json_field(read_bool, False, key="overrideNetworkName")
    readiness_indicator_file: str = json_field(read_str, "", key="readinessindicatorfile")

    bin_dir: str = json_field(read_str, "", key="binDir")
    capabilities: dict[str, bool] = json_field(map_of(read_bool), key="capabilities", factory=dict)
    log_file: str = json_field(read_str, "", key="logFile")
    log_level: str = json_field(read_str, "", key="logLevel")
    log_to_stderr: bool = json_field(read_bool, False, key="logToStderr")
    log_options: LogOptions | None = json_field(struct_of(LogOptions), key="logOptions")
    namespace_isolation: bool = json_field(read_bool, False, key="namespaceIsolation")
    global_namespaces: str = json_field(read_str, "", key="globalNamespaces")
    cni_dir: str = json_field(read_str, "", key="cniDir")
    auxiliary_cni_chain_name: str = json_field(read_str, "", key="auxiliaryCNIChainName")
    daemon_socket_dir: str = json_field(read_str, "", key="daemonSocketDir")

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
            values, unknown = decode_fields(cls, dict(raw))
        except JsonTypeError as exc:
            raise AutoconfigError(f"invalid daemon config for auto-config: {exc}") from None
        return cls(**values, extra=unknown)
