"""Delegates (multus.plugin.delegate): Go Multus's scratch-cache shape, config injection, validation.

Checked here:
* ``to_cache()`` of a conf and of a conflist delegate is Go's ``DelegateNetConf`` JSON (features §6.5),
  key for key and in Go's order: ``Conf`` (libcni's NetConf: cniVersion, name, type, capabilities with
  sorted keys, ``ipam`` with only its type, ``dns`` with only the four DNS fields, both always present),
  ``ConfList``, ``Name``, the optional requests, ``IsFilterV4Gateway``/``IsFilterV6Gateway`` (always),
  ``deviceID``/``resourceName`` (when set), ``Bytes`` (base64). The expected JSON is written out here
  literally, as Go's ``json.Marshal`` would print it. ``"default-route": []`` is kept (Go's pointer to
  an empty slice is not omitted), and a selection's ``deviceID`` is cached when the resource map gave
  none, as Go stores it in ``DelegateNetConf.DeviceID``;
* ``from_cache()`` of an entry written by Go, and bad ``Bytes``;
* a round trip keeps everything the cache holds (and drops what Go does not cache);
* ``deviceID``/``pciBusID`` injection: at the top of a conf, in every plugin of a list;
* ``cni-args`` injection into ``args.cni``: the selection wins, ``args`` without ``cni`` gets one, every
  plugin of a list; a non-object ``args``, ``args.cni`` or plugin is a ConfigError (Go panics);
* ``build_delegate`` with a selection: the requests, injection and what is *not* injected;
* validation errors with Go's texts.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from multus.cni.errors import ConfigError
from multus.plugin.delegate import (
    Delegate,
    build_delegate,
    decode_delegate_config,
    inject_cni_args,
    inject_device_id,
)
from multus.plugin.selection import parse_network_selections

# A NAD's config: capabilities in non-sorted order, ipam with more than a type, dns with an unknown key
# and its fields out of Go's struct order.
CONF = (b'{"cniVersion":"1.0.0","name":"macvlan-conf","type":"macvlan","master":"eth1",'
        b'"capabilities":{"mac":true,"ips":true},"ipam":{"type":"host-local","subnet":"10.1.1.0/24"},'
        b'"dns":{"search":["svc"],"nameservers":["10.96.0.10"],"bogus":1}}')
CONF_B64 = ("eyJjbmlWZXJzaW9uIjoiMS4wLjAiLCJuYW1lIjoibWFjdmxhbi1jb25mIiwidHlwZSI6Im1hY3ZsYW4iLCJtYXN0ZXIiOiJldGgx"
            "IiwiY2FwYWJpbGl0aWVzIjp7Im1hYyI6dHJ1ZSwiaXBzIjp0cnVlfSwiaXBhbSI6eyJ0eXBlIjoiaG9zdC1sb2NhbCIsInN1Ym5l"
            "dCI6IjEwLjEuMS4wLzI0In0sImRucyI6eyJzZWFyY2giOlsic3ZjIl0sIm5hbWVzZXJ2ZXJzIjpbIjEwLjk2LjAuMTAiXSwiYm9n"
            "dXMiOjF9fQ==")

CONFLIST = (b'{"cniVersion":"0.4.0","name":"chain","disableCheck":true,"plugins":['
            b'{"type":"bridge","bridge":"br0","ipam":{"type":"host-local","subnet":"10.2.0.0/24"}},'
            b'{"type":"tuning","capabilities":{"mac":true},"dns":{"domain":"example.org"}}]}')
CONFLIST_B64 = ("eyJjbmlWZXJzaW9uIjoiMC40LjAiLCJuYW1lIjoiY2hhaW4iLCJkaXNhYmxlQ2hlY2siOnRydWUsInBsdWdpbnMiOlt7InR5"
                "cGUiOiJicmlkZ2UiLCJicmlkZ2UiOiJicjAiLCJpcGFtIjp7InR5cGUiOiJob3N0LWxvY2FsIiwic3VibmV0IjoiMTAuMi4w"
                "LjAvMjQifX0seyJ0eXBlIjoidHVuaW5nIiwiY2FwYWJpbGl0aWVzIjp7Im1hYyI6dHJ1ZX0sImRucyI6eyJkb21haW4iOiJl"
                "eGFtcGxlLm9yZyJ9fV19")


def go_json(value: Any) -> str:
    """Compact JSON in the object's own key order: what Go's json.Marshal prints for a struct."""
    return json.dumps(value, separators=(",", ":"))


# ---- to_cache: Go's DelegateNetConf ------------------------------------------------------------------


def test_a_conf_delegate_is_cached_in_go_s_layout_and_key_order() -> None:
    delegate = Delegate(config=CONF, name="default/macvlan-conf", ifname_request="net5",
                        mac_request="c2:11:22:33:44:66", infiniband_guid_request="00:11:22:33:44:55:66:77",
                        ip_request=("10.1.1.11/24",), gateway_request=("10.1.1.254",), filter_v6_gateway=True,
                        device_id="0000:03:00.1", resource_name="intel.com/sriov")
    assert go_json(delegate.to_cache()) == (
        '{"Conf":{"cniVersion":"1.0.0","name":"macvlan-conf","type":"macvlan",'
        '"capabilities":{"ips":true,"mac":true},"ipam":{"type":"host-local"},'
        '"dns":{"nameservers":["10.96.0.10"],"search":["svc"]}},'
        '"ConfList":{},'
        '"Name":"default/macvlan-conf",'
        '"ifnameRequest":"net5","macRequest":"c2:11:22:33:44:66",'
        '"infinibandGUIDRequest":"00:11:22:33:44:55:66:77","ipRequest":["10.1.1.11/24"],'
        '"default-route":["10.1.1.254"],'
        '"IsFilterV4Gateway":false,"IsFilterV6Gateway":true,'
        '"deviceID":"0000:03:00.1","resourceName":"intel.com/sriov",'
        f'"Bytes":"{CONF_B64}"}}')


def test_a_conflist_delegate_is_cached_in_go_s_layout_and_key_order() -> None:
    # Go unmarshals the list's bytes into Conf too, so Conf carries the list's cniVersion and name.
    delegate = Delegate(config=CONFLIST, name="chain", master=True)
    assert go_json(delegate.to_cache()) == (
        '{"Conf":{"cniVersion":"0.4.0","name":"chain","ipam":{},"dns":{}},'
        '"ConfList":{"cniVersion":"0.4.0","name":"chain","disableCheck":true,"plugins":['
        '{"type":"bridge","ipam":{"type":"host-local"},"dns":{}},'
        '{"type":"tuning","capabilities":{"mac":true},"ipam":{},"dns":{"domain":"example.org"}}]},'
        '"Name":"chain",'
        '"IsFilterV4Gateway":false,"IsFilterV6Gateway":false,'
        f'"Bytes":"{CONFLIST_B64}"}}')


def test_a_bare_delegate_has_only_the_fields_go_never_omits() -> None:
    delegate = Delegate(config=b'{"type":"loopback"}')
    assert go_json(delegate.to_cache()) == (
        '{"Conf":{"type":"loopback","ipam":{},"dns":{}},"ConfList":{},"Name":"",'
        '"IsFilterV4Gateway":false,"IsFilterV6Gateway":false,"Bytes":"eyJ0eXBlIjoibG9vcGJhY2sifQ=="}')


def test_an_empty_default_route_request_is_cached_as_an_empty_list() -> None:
    # Go's *[]net.IP pointing to an empty slice is not omitted: "default-route": [] stays in the cache.
    body = Delegate(config=CONF, gateway_request=(), filter_v4_gateway=True, filter_v6_gateway=True).to_cache()
    assert body["default-route"] == []
    assert list(body).index("default-route") == list(body).index("IsFilterV4Gateway") - 1
    assert Delegate.from_cache(body).gateway_request == ()


def test_no_default_route_request_leaves_the_key_out() -> None:
    body = Delegate(config=CONF).to_cache()
    assert "default-route" not in body
    assert Delegate.from_cache(body).gateway_request is None


def test_a_selection_device_id_is_cached_when_the_resource_map_gave_none() -> None:
    body = Delegate(config=CONF, device_id_request="0000:04:00.2").to_cache()
    assert body["deviceID"] == "0000:04:00.2" and "resourceName" not in body
    assert Delegate.from_cache(body).device_id == "0000:04:00.2"


def test_the_resource_map_device_id_wins_in_the_cache() -> None:
    body = Delegate(config=CONF, device_id="0000:03:00.1", device_id_request="0000:04:00.2",
                    resource_name="r").to_cache()
    assert (body["deviceID"], body["resourceName"]) == ("0000:03:00.1", "r")


def test_ports_bandwidth_master_and_cni_args_are_not_cached_as_in_go() -> None:
    body = Delegate(config=CONF, master=True, port_mappings=({"hostPort": 1, "containerPort": 2},),
                    bandwidth={"ingressRate": 1}, cni_args={"a": 1}).to_cache()
    assert set(body) == {"Conf", "ConfList", "Name", "IsFilterV4Gateway", "IsFilterV6Gateway", "Bytes"}


# ---- from_cache --------------------------------------------------------------------------------------

GO_BYTES = (b'{"cniVersion":"0.3.1","deviceID":"0000:af:06.0","ipam":{"type":"host-local",'
            b'"subnet":"10.56.217.0/24"},"name":"sriov-net","pciBusID":"0000:af:06.0","type":"sriov"}')


def go_written_entry() -> str:
    """One scratch-cache element exactly as Go Multus writes it (compact, struct order)."""
    return ('{"Conf":{"cniVersion":"0.3.1","name":"sriov-net","type":"sriov","ipam":{"type":"host-local"},'
            '"dns":{}},"ConfList":{},"Name":"default/sriov-net","ifnameRequest":"sr1",'
            '"macRequest":"ca:fe:c0:ff:ee:01","ipRequest":["10.56.217.10/24"],"default-route":["10.56.217.1"],'
            '"IsFilterV4Gateway":false,"IsFilterV6Gateway":true,"deviceID":"0000:af:06.0",'
            '"resourceName":"intel.com/intel_sriov_netdevice",'
            f'"Bytes":"{base64.b64encode(GO_BYTES).decode()}"}}')


def test_an_entry_written_by_go_multus_is_read_back() -> None:
    delegate = Delegate.from_cache(json.loads(go_written_entry()))
    assert delegate.config == GO_BYTES
    assert (delegate.name, delegate.ifname_request, delegate.mac_request, delegate.ip_request) == (
        "default/sriov-net", "sr1", "ca:fe:c0:ff:ee:01", ("10.56.217.10/24",))
    assert delegate.gateway_request == ("10.56.217.1",)
    assert (delegate.filter_v4_gateway, delegate.filter_v6_gateway) == (False, True)
    assert (delegate.device_id, delegate.resource_name) == ("0000:af:06.0", "intel.com/intel_sriov_netdevice")
    assert delegate.master is False and not delegate.is_conflist
    assert delegate.network_name == "sriov-net"


def test_an_entry_written_by_go_multus_is_cached_back_unchanged() -> None:
    assert go_json(Delegate.from_cache(json.loads(go_written_entry())).to_cache()) == go_written_entry()


def test_a_go_written_conflist_entry_is_a_conflist_by_its_bytes() -> None:
    entry = {"Conf": {"ipam": {}, "dns": {}}, "ConfList": {"name": "chain", "plugins": [{"type": "bridge"}]},
             "Name": "chain", "IsFilterV4Gateway": False, "IsFilterV6Gateway": False, "Bytes": CONFLIST_B64}
    delegate = Delegate.from_cache(entry)
    assert delegate.is_conflist and delegate.config == CONFLIST
    assert [p.type for p in delegate.network().plugins] == ["bridge", "tuning"]


@pytest.mark.parametrize("bytes_field", [None, "%%%not-base64", base64.b64encode(b"{not json").decode(), 42])
def test_an_entry_without_usable_bytes_is_a_config_error(bytes_field: Any) -> None:
    entry: dict[str, Any] = {"Name": "x"}
    if bytes_field is not None:
        entry["Bytes"] = bytes_field
    with pytest.raises(ConfigError, match="cached delegate has no usable Bytes"):
        Delegate.from_cache(entry)


def test_a_round_trip_keeps_everything_the_cache_holds() -> None:
    original = Delegate(config=CONFLIST, name="ns/chain", master=True, ifname_request="c0",
                        mac_request="c2:00:00:00:00:01", infiniband_guid_request="00:11:22:33:44:55:66:77",
                        ip_request=("10.2.0.9/24", "fd00::9/64"), gateway_request=("fd00::1",),
                        filter_v4_gateway=True, device_id="dev", resource_name="res",
                        port_mappings=({"hostPort": 1, "containerPort": 2},), bandwidth={"egressRate": 3})
    back = Delegate.from_cache(json.loads(json.dumps(original.to_cache())))
    assert back.config == original.config
    kept = ("name", "ifname_request", "mac_request", "infiniband_guid_request", "ip_request", "gateway_request",
            "filter_v4_gateway", "filter_v6_gateway", "device_id", "resource_name")
    assert {k: getattr(back, k) for k in kept} == {k: getattr(original, k) for k in kept}
    # not cached, in Go either: the master flag (the scratch loader restores it), ports, bandwidth
    assert (back.master, back.port_mappings, back.bandwidth) == (False, (), None)


# ---- deviceID injection ------------------------------------------------------------------------------


def test_the_device_id_goes_to_the_top_of_a_conf() -> None:
    raw = {"cniVersion": "1.0.0", "type": "sriov", "name": "n"}
    edited = inject_device_id(raw, "0000:03:00.1")
    assert edited == dict(raw, deviceID="0000:03:00.1", pciBusID="0000:03:00.1")
    assert "deviceID" not in raw  # the input is not modified


def test_the_device_id_goes_into_every_plugin_of_a_list() -> None:
    raw = json.loads(CONFLIST)
    edited = inject_device_id(raw, "0000:03:00.1")
    assert "deviceID" not in edited and "pciBusID" not in edited
    assert [(p["deviceID"], p["pciBusID"]) for p in edited["plugins"]] == [("0000:03:00.1", "0000:03:00.1")] * 2
    assert edited["plugins"][0]["bridge"] == "br0" and "deviceID" not in raw["plugins"][0]


def test_a_non_object_plugin_cannot_get_a_device_id() -> None:
    raw = {"name": "l", "plugins": [{"type": "bridge"}, "junk"]}
    with pytest.raises(ConfigError, match=r"unable to typecast plugin #1"):
        inject_device_id(raw, "dev")


# ---- cni-args injection ------------------------------------------------------------------------------


@pytest.mark.parametrize("args, expected", [
    (None, {"cni": {"a": "sel", "b": 2}}),
    ({"other": {"x": 1}}, {"other": {"x": 1}, "cni": {"a": "sel", "b": 2}}),
    ({"cni": {"a": "conf", "c": 3}, "other": 1}, {"cni": {"a": "sel", "c": 3, "b": 2}, "other": 1}),
])
def test_cni_args_are_merged_into_args_cni_and_the_selection_wins(
        args: dict[str, Any] | None, expected: dict[str, Any]) -> None:
    raw: dict[str, Any] = {"type": "macvlan", "name": "n"}
    if args is not None:
        raw["args"] = args
    edited = inject_cni_args(raw, {"a": "sel", "b": 2})
    assert edited["args"] == expected
    assert edited["type"] == "macvlan"


def test_cni_args_go_into_every_plugin_of_a_list() -> None:
    raw: dict[str, Any] = {"name": "l", "plugins": [{"type": "bridge", "args": {"cni": {"keep": True}}},
                                                    {"type": "tuning"}]}
    edited = inject_cni_args(raw, {"k": "v"})
    assert [p["args"] for p in edited["plugins"]] == [{"cni": {"keep": True, "k": "v"}}, {"cni": {"k": "v"}}]
    assert "args" not in edited
    assert raw["plugins"][0]["args"] == {"cni": {"keep": True}}  # the input is not modified


@pytest.mark.parametrize("raw, fragment", [
    ({"type": "macvlan", "name": "n", "args": "str"}, '"args" of network \'n\' is not an object'),
    ({"type": "macvlan", "name": "n", "args": {"cni": [1]}}, '"args.cni" of network \'n\' is not an object'),
    ({"name": "l", "plugins": [{"type": "bridge", "args": 5}]}, '"args" of network'),
    ({"name": "l", "plugins": [{"type": "bridge"}, 7]}, "unable to typecast plugin #1"),
])
def test_non_object_args_are_a_config_error_where_go_panics(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        inject_cni_args(raw, {"a": 1})
    assert fragment in info.value.msg


# ---- build_delegate ----------------------------------------------------------------------------------


def selection(element: dict[str, Any]) -> Any:
    return parse_network_selections(json.dumps([element]), "default")[0]


def test_build_delegate_takes_the_selection_s_requests() -> None:
    sel = selection({"name": "macvlan-conf", "interface": "net7", "mac": "c2:11:22:33:44:66",
                     "ips": ["10.1.1.11/24"], "infiniband-guid": "00:11:22:33:44:55:66:77",
                     "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
                     "bandwidth": {"ingressRate": 1, "ingressBurst": 2, "egressRate": 3, "egressBurst": 4},
                     "default-route": ["10.1.1.254"], "deviceID": "0000:04:00.2"})
    d = build_delegate(CONF, name="default/macvlan-conf", selection=sel)
    assert d.config == CONF  # nothing to inject: bytes kept verbatim
    assert (d.name, d.ifname_request, d.mac_request, d.ip_request) == (
        "default/macvlan-conf", "net7", "c2:11:22:33:44:66", ("10.1.1.11/24",))
    assert d.infiniband_guid_request == "00:11:22:33:44:55:66:77"
    assert d.port_mappings == ({"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},)
    assert d.bandwidth == {"ingressRate": 1, "ingressBurst": 2, "egressRate": 3, "egressBurst": 4}
    assert d.gateway_request == ("10.1.1.254",)
    # a selection's deviceID reaches runtimeConfig only: it is not injected into the config
    assert (d.device_id, d.device_id_request) == ("", "0000:04:00.2")
    assert "deviceID" not in d.raw


def test_build_delegate_injects_the_resource_map_device_and_the_cni_args() -> None:
    sel = selection({"name": "macvlan-conf", "cni-args": {"foo": "bar"}, "deviceID": "ignored"})
    d = build_delegate(CONF, name="default/macvlan-conf", selection=sel, device_id="0000:03:00.1",
                       resource_name="intel.com/sriov")
    assert d.raw["deviceID"] == d.raw["pciBusID"] == "0000:03:00.1"
    assert d.raw["args"] == {"cni": {"foo": "bar"}}
    assert d.raw["master"] == "eth1" and d.raw["ipam"]["subnet"] == "10.1.1.0/24"
    assert (d.device_id, d.resource_name, d.cni_args) == ("0000:03:00.1", "intel.com/sriov", {"foo": "bar"})
    assert d.gateway_request is None


def test_an_empty_default_route_selection_is_kept_apart_from_none() -> None:
    assert build_delegate(CONF, selection=selection({"name": "n", "default-route": []})).gateway_request == ()


def test_build_delegate_without_a_selection_keeps_the_bytes() -> None:
    d = build_delegate(CONFLIST, name="chain")
    assert d.config == CONFLIST and d.is_conflist and d.name == "chain"
    assert (d.ifname_request, d.ip_request, d.gateway_request, d.device_id) == ("", (), None, "")


# ---- validation --------------------------------------------------------------------------------------

PREFIX = "LoadDelegateNetConf: failed with: LoadDelegateNetConfList:"


@pytest.mark.parametrize("config, message", [
    (b'{"name":"x"}', f"{PREFIX} delegate must have the 'type' or 'plugin' field"),
    (b'{"name":"x","plugins":[]}', f"{PREFIX} delegate must have the 'type' or 'plugin' field"),
    (b'{"name":"x","plugins":"no"}', f"{PREFIX} delegate must have the 'type' or 'plugin' field"),
    (b'{"name":"x","plugins":[{"name":"p"}]}', f"{PREFIX} a plugin delegate must have the 'type' field"),
    (b'{"name":"x","plugins":[{"type":""}]}', f"{PREFIX} a plugin delegate must have the 'type' field"),
])
def test_invalid_delegates_fail_with_go_s_texts(config: bytes, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        decode_delegate_config(config)
    assert info.value.msg == message
    with pytest.raises(ConfigError):
        build_delegate(config)


@pytest.mark.parametrize("config", [b"{not json", b"[1,2]", b'"text"'])
def test_undecodable_delegates_fail_with_go_s_prefix(config: bytes) -> None:
    with pytest.raises(ConfigError, match="^LoadDelegateNetConf: error unmarshalling delegate config: "):
        decode_delegate_config(config)


def test_a_valid_conf_and_list_decode() -> None:
    assert decode_delegate_config(CONF)["type"] == "macvlan"
    assert decode_delegate_config(CONFLIST)["plugins"][1]["type"] == "tuning"
