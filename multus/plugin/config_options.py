"""The optional nested objects of the Multus config: ``runtimeConfig`` (with its ``portMappings`` and
``bandwidth``) and ``logOptions``, decoded with Go's JSON rules like the rest of it (:mod:`.gojson`).

A module of their own so a call loads them only when its config carries one of these keys: each frozen
dataclass costs ~0.5 ms to create, in every thin-plugin process, and most configs have neither key.
:mod:`multus.plugin.config` still exports the four names. ``PortMapping`` and ``Bandwidth`` are also the
types of a network selection's ``portMappings`` and ``bandwidth``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from multus.plugin.gojson import json_field, list_of, read_bool, read_int, read_str, struct_of

__all__ = ["Bandwidth", "LogOptions", "PortMapping", "RuntimeConfig"]


@dataclass(frozen=True)
class PortMapping:
    """One ``portMappings`` entry (runtimeConfig capability and selection-element key)."""

    host_port: int = json_field(read_int, 0, key="hostPort")
    container_port: int = json_field(read_int, 0, key="containerPort")
    protocol: str = json_field(read_str, "")
    host_ip: str = json_field(read_str, "", key="hostIP")

    def to_dict(self) -> dict[str, Any]:
        """Go's shape: both ports always, ``protocol``/``hostIP`` only when set."""
        out: dict[str, Any] = {"hostPort": self.host_port, "containerPort": self.container_port}
        if self.protocol:
            out["protocol"] = self.protocol
        if self.host_ip:
            out["hostIP"] = self.host_ip
        return out


@dataclass(frozen=True)
class Bandwidth:
    """The ``bandwidth`` capability: rates and bursts as plain integers."""

    ingress_rate: int = json_field(read_int, 0, key="ingressRate")
    ingress_burst: int = json_field(read_int, 0, key="ingressBurst")
    egress_rate: int = json_field(read_int, 0, key="egressRate")
    egress_burst: int = json_field(read_int, 0, key="egressBurst")

    def to_dict(self) -> dict[str, Any]:
        return {"ingressRate": self.ingress_rate, "ingressBurst": self.ingress_burst,
                "egressRate": self.egress_rate, "egressBurst": self.egress_burst}


@dataclass(frozen=True)
class LogOptions:
    """Log rotation overrides; ``None`` means "keep the logger's default"."""

    max_age: int | None = json_field(read_int, key="maxAge")
    max_size: int | None = json_field(read_int, key="maxSize")
    max_backups: int | None = json_field(read_int, key="maxBackups")
    compress: bool | None = json_field(read_bool)


@dataclass(frozen=True)
class RuntimeConfig:
    """Top-level ``runtimeConfig``: the capability args every delegate starts from (§5)."""

    port_mappings: list[PortMapping] = json_field(list_of(struct_of(PortMapping)), key="portMappings", factory=list)
    bandwidth: Bandwidth | None = json_field(struct_of(Bandwidth))
    ips: list[str] = json_field(list_of(read_str), factory=list)
    mac: str = json_field(read_str, "")
    infiniband_guid: str = json_field(read_str, "", key="infinibandGUID")
    device_id: str = json_field(read_str, "", key="deviceID")
    cni_device_info_file: str = json_field(read_str, "", key="CNIDeviceInfoFile")

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
