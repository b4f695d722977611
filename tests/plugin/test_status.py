"""Behaviour of the network-status entries and the AddedInterface message (multus.plugin.status).

Checked here (features §8, §3.6):
* exactly one interface: one entry with every IP (indexed or not), the interface's name/mac/mtu only
  when it has a sandbox, ``default`` from ``master``, gateways of the default routes, dns, device-info;
* 0 or >= 2 interfaces: one entry per sandbox interface; IPs placed by index, unindexed IPs on the
  last entry, IPs of host-side interfaces dropped; shared gateways; no entry without sandbox
  interfaces (IPAM-only and 0.2.0 results);
* ``default`` on the master only: the interface of the first IP with a gateway, else the first
  sandbox interface (an IP with a gateway on a host-side interface does not count: our fix);
* JSON shape: Go's key order, omitempty on everything but name and dns (``{}``), IPs without prefix,
  IPv4-mapped addresses as Go prints them, default routes however spelled, gateway-less ones skipped;
* the annotation value byte for byte: 4-space MarshalIndent per entry, ``,``-joined inside ``[]``,
  HTML-safe escapes (``<`` ``>`` ``&`` U+2028 U+2029) while other non-ASCII stays raw;
* the event message: ``Add <if> [<ip/prefix> ...] from <name>``, no ``from`` without a name, None
  for results with neither interfaces nor IPs;
* importing the module pulls in no heavy library (it is on every CNI call's path).
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from multus.cni.types import parse_result
from multus.plugin.status import (
    added_interface_message,
    default_route_family,
    format_network_status,
    go_cidr,
    go_ip,
    network_statuses,
)

NETNS = "/var/run/netns/pod"
MAC = "0a:58:0a:01:01:0b"
DEVICE_INFO = {"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:03:00.1"}}


def statuses(result: dict[str, Any], name: str = "default/net", master: bool = False,
             device_info: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return network_statuses(parse_result(result), name, master, device_info)


# ---- one interface ------------------------------------------------------------------------------------

MACVLAN_RESULT = {
    "cniVersion": "0.3.1",
    "interfaces": [{"name": "net1", "mac": MAC, "sandbox": NETNS}],
    "ips": [{"version": "4", "interface": 0, "address": "10.1.1.11/24", "gateway": "10.1.1.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.1"}, {"dst": "10.9.0.0/16", "gw": "10.1.1.2"}],
    "dns": {},
}


def test_a_single_interface_result_gives_the_documented_entry() -> None:
    assert statuses(MACVLAN_RESULT, "default/macvlan-conf") == [{
        "name": "default/macvlan-conf",
        "interface": "net1",
        "ips": ["10.1.1.11"],
        "mac": MAC,
        "dns": {},
        "gateway": ["10.1.1.1"],
    }]


def test_a_full_entry_keeps_go_key_order() -> None:
    result = {
        "cniVersion": "1.1.0",
        "interfaces": [{"name": "eth0", "mac": MAC, "mtu": 1400, "sandbox": NETNS}],
        "ips": [{"interface": 0, "address": "10.1.1.11/24", "gateway": "10.1.1.1"}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.1"}],
        "dns": {"nameservers": ["10.96.0.10"], "domain": "cluster.local", "search": ["svc.cluster.local"],
                "options": ["ndots:5"]},
    }
    [entry] = statuses(result, "k8s-pod-network", master=True, device_info=DEVICE_INFO)
    assert list(entry) == ["name", "interface", "ips", "mac", "mtu", "default", "dns", "device-info", "gateway"]
    assert entry["mtu"] == 1400 and entry["default"] is True
    assert entry["device-info"] == DEVICE_INFO
    assert list(entry["dns"]) == ["nameservers", "domain", "search", "options"]


def test_a_single_interface_entry_holds_every_ip_indexed_or_not() -> None:
    result = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "net1", "sandbox": NETNS}],
        "ips": [{"interface": 0, "address": "10.1.1.11/24"}, {"address": "fd00::11/64"}],
    }
    [entry] = statuses(result)
    assert entry["ips"] == ["10.1.1.11", "fd00::11"]


def test_a_single_interface_without_sandbox_gives_an_entry_without_interface_fields() -> None:
    result = {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "cni0", "mac": MAC, "mtu": 1500}],
        "ips": [{"interface": 0, "address": "10.1.1.11/24"}],
    }
    assert statuses(result) == [{"name": "default/net", "ips": ["10.1.1.11"], "dns": {}}]


def test_the_master_entry_is_marked_default_and_others_are_not() -> None:
    assert statuses(MACVLAN_RESULT, master=True)[0]["default"] is True
    assert "default" not in statuses(MACVLAN_RESULT, master=False)[0]


# ---- zero or several interfaces -----------------------------------------------------------------------

BRIDGE_RESULT = {
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "cni0", "mac": "aa:aa:aa:aa:aa:01"},
        {"name": "veth1234", "mac": "aa:aa:aa:aa:aa:02"},
        {"name": "eth0", "mac": MAC, "sandbox": NETNS},
    ],
    "ips": [{"interface": 2, "address": "10.244.1.5/24", "gateway": "10.244.1.1"}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.1.1"}],
    "dns": {"nameservers": ["10.96.0.10"]},
}


def test_a_bridge_result_gives_one_entry_for_the_sandbox_interface_only() -> None:
    assert statuses(BRIDGE_RESULT, "cbr0", master=True) == [{
        "name": "cbr0",
        "interface": "eth0",
        "ips": ["10.244.1.5"],
        "mac": MAC,
        "default": True,
        "dns": {"nameservers": ["10.96.0.10"]},
        "gateway": ["10.244.1.1"],
    }]


MULTI_RESULT = {
    "cniVersion": "1.1.0",
    "interfaces": [
        {"name": "eth0", "mac": "aa:aa:aa:aa:aa:01", "mtu": 9000, "sandbox": NETNS},
        {"name": "vethhost", "mac": "aa:aa:aa:aa:aa:02"},
        {"name": "net1", "mac": "aa:aa:aa:aa:aa:03", "sandbox": NETNS},
    ],
    "ips": [
        {"interface": 0, "address": "10.0.0.2/24"},
        {"interface": 2, "address": "fd00::2/64", "gateway": "fd00::1"},
        {"address": "10.9.9.9/32"},
        {"interface": 1, "address": "192.168.0.1/24"},
    ],
    "routes": [{"dst": "::/0", "gw": "fd00::1"}, {"dst": "0.0.0.0/0", "gw": "10.0.0.1"}],
}


def test_several_sandbox_interfaces_get_their_indexed_ips_and_the_last_gets_unindexed_ones() -> None:
    assert statuses(MULTI_RESULT, "multi", device_info=DEVICE_INFO) == [
        {"name": "multi", "interface": "eth0", "ips": ["10.0.0.2"], "mac": "aa:aa:aa:aa:aa:01", "mtu": 9000,
         "dns": {}, "device-info": DEVICE_INFO, "gateway": ["fd00::1", "10.0.0.1"]},
        # 192.168.0.1 belongs to the host-side veth and appears nowhere.
        {"name": "multi", "interface": "net1", "ips": ["fd00::2", "10.9.9.9"], "mac": "aa:aa:aa:aa:aa:03",
         "dns": {}, "device-info": DEVICE_INFO, "gateway": ["fd00::1", "10.0.0.1"]},
    ]


def _default_interfaces(result: dict[str, Any], master: bool = True) -> list[str]:
    return [entry["interface"] for entry in statuses(result, master=master) if entry.get("default")]


def test_the_master_default_goes_to_the_interface_of_the_first_ip_with_a_gateway() -> None:
    assert _default_interfaces(MULTI_RESULT) == ["net1"]


def test_without_a_gateway_ip_the_master_default_goes_to_the_first_sandbox_interface() -> None:
    result = {**MULTI_RESULT, "ips": [{"interface": 2, "address": "10.0.0.3/24"}]}
    assert _default_interfaces(result) == ["eth0"]


def test_a_gateway_ip_on_a_host_side_interface_does_not_take_the_default_away() -> None:
    # Go would mark no entry at all here; the master keeps a default interface.
    result = {**MULTI_RESULT, "ips": [{"interface": 1, "address": "192.168.0.1/24", "gateway": "192.168.0.254"},
                                      {"interface": 2, "address": "10.0.0.3/24", "gateway": "10.0.0.1"}]}
    assert _default_interfaces(result) == ["net1"]


def test_a_non_master_network_has_no_default_entry() -> None:
    assert _default_interfaces(MULTI_RESULT, master=False) == []


@pytest.mark.parametrize("result", [
    pytest.param({"cniVersion": "1.0.0", "ips": [{"address": "10.1.1.5/24", "gateway": "10.1.1.1"}]},
                 id="ipam-only"),
    pytest.param({"cniVersion": "0.2.0", "ip4": {"ip": "10.1.1.5/24", "gateway": "10.1.1.1"}}, id="0.2.0"),
    pytest.param({"cniVersion": "1.0.0", "interfaces": [{"name": "br0"}, {"name": "veth0"}],
                  "ips": [{"address": "10.1.1.5/24"}]}, id="host-side-only"),
    pytest.param({"cniVersion": "1.0.0"}, id="empty"),
])
def test_a_result_without_sandbox_interfaces_gives_no_entry(result: dict[str, Any]) -> None:
    assert statuses(result, master=True) == []


# ---- values -------------------------------------------------------------------------------------------


def test_gateways_come_from_default_routes_of_both_families_only() -> None:
    result = {**MACVLAN_RESULT, "cniVersion": "1.0.0", "ips": [], "routes": [
        {"dst": "10.0.0.0/8", "gw": "10.1.1.9"},
        {"dst": "0.0.0.0/0", "gw": "10.1.1.1"},
        {"dst": "::0/0", "gw": "fd00::1"},
        {"dst": "0.0.0.0/0"},  # a device route: no gateway to report (Go prints "<nil>")
    ]}
    assert statuses(result)[0]["gateway"] == ["10.1.1.1", "fd00::1"]


def test_a_result_without_default_routes_has_no_gateway_key() -> None:
    result = {**MACVLAN_RESULT, "routes": [{"dst": "10.9.0.0/16", "gw": "10.1.1.2"}]}
    assert "gateway" not in statuses(result)[0]


def test_dns_is_always_present_and_keeps_only_what_is_set() -> None:
    assert statuses({**MACVLAN_RESULT, "dns": {"domain": "example.org"}})[0]["dns"] == {"domain": "example.org"}
    assert statuses({**MACVLAN_RESULT, "dns": {}})[0]["dns"] == {}


def test_device_info_is_left_out_when_not_given() -> None:
    assert "device-info" not in statuses(MACVLAN_RESULT, device_info=None)[0]


def test_entries_do_not_share_lists_with_each_other() -> None:
    first, second = statuses(MULTI_RESULT)
    first["gateway"].append("10.9.9.9")
    assert second["gateway"] == ["fd00::1", "10.0.0.1"]


@pytest.mark.parametrize(("address", "ip", "cidr"), [
    ("10.1.1.11/24", "10.1.1.11", "10.1.1.11/24"),
    ("fd00:0:0:0::11/64", "fd00::11", "fd00::11/64"),
    ("::ffff:10.1.1.11/120", "10.1.1.11", "10.1.1.11/24"),
    ("::ffff:10.1.1.11/64", "10.1.1.11", "10.1.1.11/0"),
])
def test_addresses_print_as_go_prints_them(address: str, ip: str, cidr: str) -> None:
    assert (go_ip(address), go_cidr(address)) == (ip, cidr)


@pytest.mark.parametrize(("dst", "family"), [
    ("0.0.0.0/0", 4), ("::/0", 6), ("::0/0", 6), ("0:0::0/0", 6), ("10.0.0.0/8", None), ("::/64", None),
    ("not-a-route", None),
])
def test_a_default_route_is_one_with_prefix_length_zero(dst: str, family: int | None) -> None:
    assert default_route_family(dst) == family


# ---- the annotation value -----------------------------------------------------------------------------


def test_one_entry_is_formatted_as_go_marshal_indent_inside_brackets() -> None:
    entries = statuses(MACVLAN_RESULT, "default/macvlan-conf")
    assert format_network_status(entries) == (
        '[{\n'
        '    "name": "default/macvlan-conf",\n'
        '    "interface": "net1",\n'
        '    "ips": [\n'
        '        "10.1.1.11"\n'
        '    ],\n'
        f'    "mac": "{MAC}",\n'
        '    "dns": {},\n'
        '    "gateway": [\n'
        '        "10.1.1.1"\n'
        '    ]\n'
        '}]'
    )


def test_entries_are_joined_by_a_bare_comma_and_nested_objects_are_indented() -> None:
    entries: list[dict[str, Any]] = [
        {"name": "a", "dns": {}},
        {"name": "b", "default": True, "dns": {"nameservers": ["1.1.1.1"]}, "device-info": DEVICE_INFO},
    ]
    assert format_network_status(entries) == (
        '[{\n    "name": "a",\n    "dns": {}\n},{\n'
        '    "name": "b",\n'
        '    "default": true,\n'
        '    "dns": {\n        "nameservers": [\n            "1.1.1.1"\n        ]\n    },\n'
        '    "device-info": {\n'
        '        "type": "pci",\n'
        '        "version": "1.1.0",\n'
        '        "pci": {\n            "pci-address": "0000:03:00.1"\n        }\n'
        '    }\n'
        '}]'
    )


def test_no_entries_format_as_empty_brackets() -> None:
    assert format_network_status([]) == "[]"


def test_html_characters_are_escaped_like_go_and_other_text_stays_raw() -> None:
    text = format_network_status([{"name": "a<b>&c\u2028\u2029 café \"q\" \\ \n\t\x01", "dns": {}}])
    assert '"name": "a\\u003cb\\u003e\\u0026c\\u2028\\u2029 café \\"q\\" \\\\ \\n\\t\\u0001"' in text
    assert json.loads(text) == [{"name": "a<b>&c\u2028\u2029 café \"q\" \\ \n\t\x01", "dns": {}}]


def test_a_lone_surrogate_is_written_as_the_replacement_escape() -> None:
    assert '"name": "x\\ufffdy"' in format_network_status([{"name": "x\ud800y", "dns": {}}])


# ---- the AddedInterface message -----------------------------------------------------------------------


@pytest.mark.parametrize(("result", "name", "message"), [
    pytest.param(MACVLAN_RESULT, "default/macvlan-conf", "Add net1 [10.1.1.11/24] from default/macvlan-conf",
                 id="one-ip"),
    pytest.param(MULTI_RESULT, "multi", "Add net1 [10.0.0.2/24 fd00::2/64 10.9.9.9/32 192.168.0.1/24] from multi",
                 id="every-ip-host-bits-kept"),
    pytest.param(MACVLAN_RESULT, "", "Add net1 [10.1.1.11/24]", id="no-name"),
    pytest.param({"cniVersion": "1.0.0", "interfaces": [{"name": "net1", "sandbox": NETNS}]}, "x",
                 "Add net1 [] from x", id="interfaces-without-ips"),
    pytest.param({"cniVersion": "0.2.0", "ip4": {"ip": "10.1.1.5/24"}}, "old", "Add net1 [10.1.1.5/24] from old",
                 id="0.2.0-ips-only"),
])
def test_the_added_interface_message_lists_the_addresses(result: dict[str, Any], name: str, message: str) -> None:
    assert added_interface_message("net1", parse_result(result), name) == message


@pytest.mark.parametrize("result", [
    {"cniVersion": "1.0.0"},
    {"cniVersion": "1.0.0", "interfaces": [], "ips": [], "routes": [], "dns": {}},
    {"cniVersion": "0.2.0"},
])
def test_no_message_for_a_result_with_neither_interfaces_nor_ips(result: dict[str, Any]) -> None:
    assert added_interface_message("net1", parse_result(result), "passthru") is None


# ---- import cost ---------------------------------------------------------------------------------------


def test_importing_the_module_loads_no_heavy_library() -> None:
    code = ("import sys, multus.plugin.status; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pyroute2', 'kubernetes'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
