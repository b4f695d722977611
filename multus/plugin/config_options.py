"""The optional nested objects of the Multus config: ``runtimeConfig`` (with its ``portMappings`` and
``bandwidth``) and ``logOptions``, decoded with Go's JSON rules like the rest of it (:mod:`.gojson`).

A module of their own so a call loads them only when its config carries one of these keys (every
thin-plugin process pays for the structs and tables it defines, and most configs have neither key).
:mod:`multus.plugin.config` still exports the four names. ``PortMapping`` and ``Bandwidth`` are also the
types of a network selection's ``portMappings`` and ``bandwidth``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from multus.plugin.gojson import JsonField, JsonStruct, read_bool, read_int, read_str, struct_of, tuple_of

__all__ = [
    "BANDWIDTH_JSON", "LOG_OPTIONS_JSON", "PORT_MAPPING_JSON", "RUNTIME_CONFIG_JSON",
    "Bandwidth", "LogOptions", "PortMapping", "RuntimeConfig",
]


class PortMapping(NamedTuple):
    """One ``portMappings`` entry (runtimeConfig capability and selection-element key)."""

    host_port: int = 0
    container_port: int = 0
    protocol: str = ""
    host_ip: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Go's shape: both ports always, ``protocol``/``hostIP`` only when set."""
        out: dict[str, Any] = {"hostPort": self.host_port, "containerPort": self.container_port}
        if self.protocol:
            out["protocol"] = self.protocol
        if self.host_ip:
            out["hostIP"] = self.host_ip
        return out


PORT_MAPPING_JSON = JsonStruct(PortMapping, (
    JsonField("host_port", "hostPort", read_int),
    JsonField("container_port", "containerPort", read_int),
    JsonField("protocol", "protocol", read_str),
    JsonField("host_ip", "hostIP", read_str),
))


class Bandwidth(NamedTuple):
    """The ``bandwidth`` capability: rates and bursts as plain integers."""

    ingress_rate: int = 0
    ingress_burst: int = 0
    egress_rate: int = 0
    egress_burst: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"ingressRate": self.ingress_rate, "ingressBurst": self.ingress_burst,
                "egressRate": self.egress_rate, "egressBurst": self.egress_burst}


BANDWIDTH_JSON = JsonStruct(Bandwidth, (
    JsonField("ingress_rate", "ingressRate", read_int),
    JsonField("ingress_burst", "ingressBurst", read_int),
    JsonField("egress_rate", "egressRate", read_int),
    JsonField("egress_burst", "egressBurst", read_int),
))


class LogOptions(NamedTuple):
    """Log rotation overrides; ``None`` means "keep the logger's default"."""

    max_age: int | None = None
    max_size: int | None = None
    max_backups: int | None = None
    compress: bool | None = None


LOG_OPTIONS_JSON = JsonStruct(LogOptions, (
    JsonField("max_age", "maxAge", read_int),
    JsonField("max_size", "maxSize", read_int),
    JsonField("max_backups", "maxBackups", read_int),
    JsonField("compress", "compress", read_bool),
))


class RuntimeConfig(NamedTuple):
    """Top-level ``runtimeConfig``: the capability args every delegate starts from (§5)."""

    port_mappings: tuple[PortMapping, ...] = ()
    bandwidth: Bandwidth | None = None
    ips: tuple[str, ...] = ()
    mac: str = ""
    infiniband_guid: str = ""
    device_id: str = ""
    cni_device_info_file: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Only the non-empty values: Go's omitempty shape, which is also the CapabilityArgs rule."""
        out: dict[str, Any] = {}
        if self.port_mappings:
            out["portMappings"] = [p.to_dict() for p in self.port_mappings]
        if self.bandwidth is not None:
            out["bandwidth"] = self.bandwidth.to_dict()
        if self.ips:
            out["ips"] = list(self.ips)
        for key, value in (("mac", self.mac), ("infinibandGUID", self.infiniband_guid),
                           ("deviceID", self.device_id), ("CNIDeviceInfoFile", self.cni_device_info_file)):
            if value:
                out[key] = value
        return out


RUNTIME_CONFIG_JSON = JsonStruct(RuntimeConfig, (
    JsonField("port_mappings", "portMappings", tuple_of(struct_of(PORT_MAPPING_JSON))),
    JsonField("bandwidth", "bandwidth", struct_of(BANDWIDTH_JSON)),
    JsonField("ips", "ips", tuple_of(read_str)),
    JsonField("mac", "mac", read_str),
    JsonField("infiniband_guid", "infinibandGUID", read_str),
    JsonField("device_id", "deviceID", read_str),
    JsonField("cni_device_info_file", "CNIDeviceInfoFile", read_str),
))
