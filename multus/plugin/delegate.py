"""Delegates: the networks Multus attaches for one pod, and their edits before a plugin sees them.

A :class:`Delegate` holds the exact config bytes a delegate plugin receives (after ``deviceID`` and
``cni-args`` injection) plus what the pod asked for it (interface name, MAC, IPs, ports, bandwidth,
default route, device). Raw edits of delegate JSON happen here and nowhere else.

The scratch-cache shape (:meth:`Delegate.to_cache` / :meth:`Delegate.from_cache`) is Go Multus's
``DelegateNetConf`` JSON, key for key, so either implementation can DEL what the other ADDed.
"""

from __future__ import annotations

import binascii
import json
from typing import Any, NamedTuple

from multus.cni.errors import ConfigError
from multus.cni.netconf import NetworkConfigList, load_any

_LOAD_PREFIX = "LoadDelegateNetConf: failed with: LoadDelegateNetConfList:"


class Delegate(NamedTuple):
    """One network to attach: its config and the pod's requests for it (an immutable record:
    ``_replace`` gives an edited copy)."""

    config: bytes
    name: str = ""
    master: bool = False
    ifname_request: str = ""
    mac_request: str = ""
    infiniband_guid_request: str = ""
    ip_request: tuple[str, ...] = ()
    port_mappings: tuple[dict[str, Any], ...] = ()
    bandwidth: dict[str, Any] | None = None
    # None: the pod said nothing; (): "default-route": [] (strip default routes everywhere).
    gateway_request: tuple[str, ...] | None = None
    filter_v4_gateway: bool = False
    filter_v6_gateway: bool = False
    # From the pod's resource map (injected into the config and cached) ...
    device_id: str = ""
    resource_name: str = ""
    # ... and from the selection element, which only reaches runtimeConfig (and the cache) when the map gave none.
    device_id_request: str = ""
    cni_args: dict[str, Any] | None = None

    @property
    def raw(self) -> dict[str, Any]:
        value = json.loads(self.config)
        assert isinstance(value, dict)
        return value

    @property
    def is_conflist(self) -> bool:
        """Go's rule: a delegate is a list exactly when its top-level ``type`` is empty."""
        return not self.raw.get("type")

    @property
    def network_name(self) -> str:
        """The config's own ``name``: what libcni caches under (not the status name)."""
        return str(self.raw.get("name", ""))

    def network(self, default_version: str = "") -> NetworkConfigList:
        """The delegate as a runnable list; a list without cniVersion takes ``default_version``."""
        raw = self.raw
        if self.is_conflist and not raw.get("cniVersion") and default_version:
            raw["cniVersion"] = default_version
        return load_any(json.dumps(raw).encode())

    def with_master(self, master: bool = True) -> Delegate:
        return self._replace(master=master)

    # ---- Go's scratch-cache shape ----------------------------------------------------------------

    def to_cache(self) -> dict[str, Any]:
        raw = self.raw
        body: dict[str, Any] = {
            # Go unmarshals every delegate's bytes into Conf, so a list's cniVersion and name show there too.
            "Conf": _conf_header(raw),
            "ConfList": _list_header(raw) if self.is_conflist else {},
            "Name": self.name,
        }
        optional: tuple[tuple[str, Any], ...] = (
            ("ifnameRequest", self.ifname_request), ("macRequest", self.mac_request),
            ("infinibandGUIDRequest", self.infiniband_guid_request), ("ipRequest", list(self.ip_request)))
        body.update((key, value) for key, value in optional if value)
        if self.gateway_request is not None:  # Go's *[]net.IP: an empty list is not omitted
            body["default-route"] = list(self.gateway_request)
        body["IsFilterV4Gateway"] = self.filter_v4_gateway
        body["IsFilterV6Gateway"] = self.filter_v6_gateway
        # Go keeps a selection's deviceID in DelegateNetConf.DeviceID when the resource map gave none.
        if self.device_id or self.device_id_request:
            body["deviceID"] = self.device_id or self.device_id_request
        if self.resource_name:
            body["resourceName"] = self.resource_name
        body["Bytes"] = binascii.b2a_base64(self.config, newline=False).decode()
        return body

    @classmethod
    def from_cache(cls, body: dict[str, Any]) -> Delegate:
        """Rebuild a cached delegate; ``Bytes`` is what runs, the headers are only bookkeeping."""
        try:
            config = binascii.a2b_base64(body["Bytes"], strict_mode=True)  # = b64decode(validate=True)
            json.loads(config)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError("cached delegate has no usable Bytes", str(exc)) from exc
        gateways = body.get("default-route")
        return cls(
            config=config,
            name=str(body.get("Name", "")),
            ifname_request=str(body.get("ifnameRequest", "")),
            mac_request=str(body.get("macRequest", "")),
            infiniband_guid_request=str(body.get("infinibandGUIDRequest", "")),
            ip_request=tuple(str(ip) for ip in body.get("ipRequest") or ()),
            gateway_request=tuple(str(gw) for gw in gateways) if gateways is not None else None,
            filter_v4_gateway=bool(body.get("IsFilterV4Gateway", False)),
            filter_v6_gateway=bool(body.get("IsFilterV6Gateway", False)),
            device_id=str(body.get("deviceID", "")),
            resource_name=str(body.get("resourceName", "")),
        )


def _conf_header(raw: dict[str, Any]) -> dict[str, Any]:
    """libcni's types.NetConf as Go marshals it: omitempty strings, ``ipam`` and ``dns`` always."""
    header: dict[str, Any] = {}
    for key in ("cniVersion", "name", "type"):
        if raw.get(key):
            header[key] = raw[key]
    capabilities = raw.get("capabilities")
    if isinstance(capabilities, dict) and capabilities:
        header["capabilities"] = dict(sorted(capabilities.items()))  # a Go map marshals sorted
    ipam = raw.get("ipam")
    header["ipam"] = {"type": ipam["type"]} if isinstance(ipam, dict) and ipam.get("type") else {}
    dns = raw.get("dns")
    if not isinstance(dns, dict):
        dns = {}
    header["dns"] = {key: dns[key] for key in ("nameservers", "domain", "search", "options") if dns.get(key)}
    return header


def _list_header(raw: dict[str, Any]) -> dict[str, Any]:
    header: dict[str, Any] = {}
    for key in ("cniVersion", "name", "disableCheck", "disableGC"):
        if raw.get(key):
            header[key] = raw[key]
    plugins = raw.get("plugins") or []
    if plugins:
        header["plugins"] = [_conf_header(p) for p in plugins if isinstance(p, dict)]
    return header


# ---- loading and injection ---------------------------------------------------------------------------


def validate_delegate_config(raw: dict[str, Any]) -> None:
    """Go's LoadDelegateNetConf checks: a conf needs ``type``; a list needs plugins whose first has one."""
    if raw.get("type"):
        return
    plugins = raw.get("plugins")
    if not isinstance(plugins, list) or not plugins:
        raise ConfigError(f"{_LOAD_PREFIX} delegate must have the 'type' or 'plugin' field")
    if not isinstance(plugins[0], dict) or not plugins[0].get("type"):
        raise ConfigError(f"{_LOAD_PREFIX} a plugin delegate must have the 'type' field")


def decode_delegate_config(config: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(config)
    except ValueError as exc:
        raise ConfigError(f"LoadDelegateNetConf: error unmarshalling delegate config: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError("LoadDelegateNetConf: error unmarshalling delegate config: not a JSON object")
    validate_delegate_config(raw)
    return raw


def inject_device_id(raw: dict[str, Any], device_id: str) -> dict[str, Any]:
    """Set ``deviceID`` and ``pciBusID``: at the top of a conf, in every plugin of a list."""
    edited = dict(raw)
    if edited.get("type"):
        edited["deviceID"] = device_id
        edited["pciBusID"] = device_id
        return edited
    plugins = _plugin_objects(edited, "LoadDelegateNetConf: failed to add deviceID in NetConfList bytes: "
                                      "addDeviceIDInConfList: ")
    edited["plugins"] = [dict(p, deviceID=device_id, pciBusID=device_id) for p in plugins]
    return edited


def _plugin_objects(raw: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """A list's plugins, each a JSON object (Go fails, or panics, on any other)."""
    plugins = raw["plugins"]
    for index, plugin in enumerate(plugins):
        if not isinstance(plugin, dict):
            raise ConfigError(f"{prefix}unable to typecast plugin #{index}")
    return list(plugins)


def inject_cni_args(raw: dict[str, Any], cni_args: dict[str, Any]) -> dict[str, Any]:
    """Merge a selection's ``cni-args`` into ``args.cni`` (the selection wins), in every plugin of a list.

    Go panics on a non-object ``args`` or ``args.cni``; we refuse the config with a clear error instead.
    """

    def merged(conf: dict[str, Any]) -> dict[str, Any]:
        args = conf.get("args", {})
        if not isinstance(args, dict):
            raise ConfigError(f'cannot add cni-args: "args" of network {conf.get("name", "")!r} is not an object')
        existing = args.get("cni", {})
        if not isinstance(existing, dict):
            raise ConfigError(f'cannot add cni-args: "args.cni" of network {conf.get("name", "")!r} '
                              "is not an object")
        return dict(conf, args=dict(args, cni={**existing, **cni_args}))

    if raw.get("type"):
        return merged(raw)
    return dict(raw, plugins=[merged(p) for p in _plugin_objects(raw, "cannot add cni-args: ")])


def build_delegate(config: bytes, *, name: str = "", selection: Any = None, device_id: str = "",
                   resource_name: str = "") -> Delegate:
    """A delegate from config bytes and (optionally) the pod's selection element for it.

    ``selection`` is a :class:`multus.plugin.selection.NetworkSelection` (typed loosely to keep this
    module free of the annotation parser). The device ID from the resource map is injected into the
    config; a selection's own ``deviceID`` only reaches runtimeConfig (see runtime_conf).
    """
    raw = decode_delegate_config(config)
    edited = False
    if device_id:
        raw, edited = inject_device_id(raw, device_id), True
    cni_args = getattr(selection, "cni_args", None) if selection is not None else None
    if cni_args:
        raw, edited = inject_cni_args(raw, dict(cni_args)), True
    if edited:
        config = json.dumps(raw).encode()
    if selection is None:
        return Delegate(config=config, name=name, device_id=device_id, resource_name=resource_name)
    gateways = selection.default_route
    return Delegate(
        config=config,
        name=name,
        ifname_request=selection.interface,
        mac_request=selection.mac,
        infiniband_guid_request=selection.infiniband_guid,
        ip_request=tuple(selection.ips),
        port_mappings=tuple(p.to_dict() for p in selection.port_mappings),
        bandwidth=selection.bandwidth.to_dict() if selection.bandwidth is not None else None,
        gateway_request=tuple(gateways) if gateways is not None else None,
        device_id=device_id,
        resource_name=resource_name,
        device_id_request=selection.device_id,
        cni_args=dict(cni_args) if cni_args else None,
    )
