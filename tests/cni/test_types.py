"""Decoding and printing CNI results (multus.cni.types).

Checked here:
  * the version -> family map covers exactly the supported versions; unknown versions are VersionError;
  * real-looking plugin output of each family (bridge 0.3.1 and 1.0.0, an old 0.2.0 plugin, a 1.1.0
    plugin with the newer optional fields) decodes into the right model with the right values;
  * to_dict/to_json reproduce Go libcni's JSON: key order, omitted empty fields, "dns" always present,
    pointer fields (interface index, route table/scope) printed when 0, host bits kept;
  * a result without cniVersion takes the default version, then 0.1.0;
  * unknown keys and JSON nulls are tolerated; malformed results are CniError code 6 saying why;
  * models are immutable and refuse a version of another family;
  * models built from Python are checked and normalized like decoded ones, lists becoming tuples, and a
    bad field is a ValueError naming it; a decoding failure lists every problem with its path.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from multus.cni.errors import CniError, ErrorCode, VersionError
from multus.cni.types import family_of, parse_result, v020, v040, v100
from multus.cni.types.common import FrozenModelError
from multus.cni.types.fields import FAMILIES
from multus.cni.version import ALL_VERSIONS

# What the bridge plugin (with host-local IPAM) prints for a 0.3.1 config.
BRIDGE_031 = """{
    "cniVersion": "0.3.1",
    "interfaces": [
        {"name": "cni0", "mac": "0a:58:0a:f4:00:01"},
        {"name": "veth3f1c2a9b", "mac": "6e:2f:9b:4a:11:02"},
        {"name": "eth0", "mac": "0a:58:0a:f4:00:05", "sandbox": "/var/run/netns/cni-5c1e0d2a"}
    ],
    "ips": [{"version": "4", "interface": 2, "address": "10.244.0.5/24", "gateway": "10.244.0.1"}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {}
}"""

# The same plugin, dual-stack, for a 1.0.0 config.
BRIDGE_100 = """{
    "cniVersion": "1.0.0",
    "interfaces": [
        {"name": "cni0", "mac": "0a:58:0a:f4:00:01"},
        {"name": "veth3f1c2a9b", "mac": "6e:2f:9b:4a:11:02"},
        {"name": "eth0", "mac": "0a:58:0a:f4:00:05", "sandbox": "/var/run/netns/cni-5c1e0d2a"}
    ],
    "ips": [
        {"interface": 2, "address": "10.244.0.5/24", "gateway": "10.244.0.1"},
        {"interface": 2, "address": "fd00:10:244::5/64", "gateway": "fd00:10:244::1"}
    ],
    "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0"}],
    "dns": {}
}"""

# An old plugin speaking 0.2.0.
OLD_020 = """{
    "cniVersion": "0.2.0",
    "ip4": {"ip": "10.1.0.5/16", "gateway": "10.1.0.1", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1"}]},
    "dns": {"nameservers": ["10.96.0.10"], "domain": "cluster.local"}
}"""

# A 1.1.0 plugin using the fields 1.1.0 added.
NEW_110 = {
    "cniVersion": "1.1.0",
    "interfaces": [{"name": "net1", "mac": "52:54:00:12:34:56", "mtu": 9000, "sandbox": "/var/run/netns/x",
                    "socketPath": "/run/vhost/net1.sock", "pciID": "0000:3b:00.2"}],
    "ips": [{"interface": 0, "address": "192.168.10.7/24"}],
    "routes": [{"dst": "192.168.20.0/24", "gw": "192.168.10.1", "mtu": 8950, "advmss": 8910,
                "priority": 10, "table": 100, "scope": 0}],
    "dns": {"nameservers": ["192.168.10.1"], "search": ["svc.local"], "options": ["ndots:5"]},
}


def minimal(version: str) -> dict[str, Any]:
    return {"cniVersion": version}


# --- versions and families --------------------------------------------------------------------------

def test_the_family_map_covers_exactly_the_supported_versions() -> None:
    assert set(FAMILIES) == set(ALL_VERSIONS)


@pytest.mark.parametrize(("version", "family"), [
    ("0.1.0", "020"), ("0.2.0", "020"), ("0.3.0", "040"), ("0.3.1", "040"), ("0.4.0", "040"),
    ("1.0.0", "100"), ("1.1.0", "100"),
])
def test_each_version_belongs_to_its_family(version: str, family: str) -> None:
    assert family_of(version) == family


@pytest.mark.parametrize("version", ["", "0.5.0", "1.0", "2.0.0", "v1.0.0"])
def test_an_unknown_version_has_no_family_and_is_a_version_error(version: str) -> None:
    with pytest.raises(VersionError) as info:
        family_of(version)
    assert info.value.code == ErrorCode.INCOMPATIBLE_CNI_VERSION


# --- decoding real output -----------------------------------------------------------------------------

def test_bridge_031_output_decodes_into_the_040_model() -> None:
    result = parse_result(BRIDGE_031)
    assert isinstance(result, v040.Result)
    assert result.cni_version == "0.3.1"
    assert [i.name for i in result.interfaces] == ["cni0", "veth3f1c2a9b", "eth0"]
    assert result.interfaces[2].sandbox == "/var/run/netns/cni-5c1e0d2a"
    assert result.ips == (
        v040.IPConfig(version="4", interface=2, address="10.244.0.5/24", gateway="10.244.0.1"),
    )
    assert result.routes == (v040.Route(dst="0.0.0.0/0"),)


def test_bridge_100_output_decodes_into_the_100_model_and_prints_back_the_same_json() -> None:
    result = parse_result(BRIDGE_100.encode())
    assert isinstance(result, v100.Result)
    assert [ip.address for ip in result.ips] == ["10.244.0.5/24", "fd00:10:244::5/64"]
    assert result.to_dict() == json.loads(BRIDGE_100)


def test_an_old_020_plugin_output_decodes_into_the_020_model() -> None:
    result = parse_result(OLD_020)
    assert isinstance(result, v020.Result)
    assert result.ip4 == v020.IPConfig(
        ip="10.1.0.5/16", gateway="10.1.0.1", routes=(v020.Route(dst="0.0.0.0/0", gw="10.1.0.1"),)
    )
    assert result.ip6 is None
    assert result.dns == v020.DNS(nameservers=("10.96.0.10",), domain="cluster.local")


def test_the_110_only_fields_are_decoded_and_printed_in_spec_order() -> None:
    result = parse_result(NEW_110)
    assert isinstance(result, v100.Result)
    assert result.interfaces[0].socket_path == "/run/vhost/net1.sock"
    assert result.interfaces[0].pci_id == "0000:3b:00.2"
    wire = result.to_dict()
    assert wire == NEW_110
    assert list(wire["interfaces"][0]) == ["name", "mac", "mtu", "sandbox", "socketPath", "pciID"]
    assert list(wire["routes"][0]) == ["dst", "gw", "mtu", "advmss", "priority", "table", "scope"]
    assert list(wire["dns"]) == ["nameservers", "search", "options"]


def test_unknown_keys_a_plugin_adds_are_ignored_and_not_printed_back() -> None:
    data = {**json.loads(BRIDGE_031), "x-vendor": {"debug": True}}
    data["ips"][0]["x-pool"] = "blue"
    result = parse_result(data)
    assert result.to_dict() == json.loads(BRIDGE_031)


def test_json_nulls_are_read_as_absent_fields() -> None:
    result = parse_result('{"cniVersion": "1.0.0", "interfaces": null, "ips": [{"address": "10.1.0.5/24",'
                          ' "gateway": null, "interface": null}], "routes": null, "dns": null}')
    assert result.to_dict() == {"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.5/24"}], "dns": {}}


def test_a_dict_given_to_parse_result_is_not_modified() -> None:
    data: dict[str, Any] = {"ips": [{"address": "10.1.0.5/24"}]}
    parse_result(data, default_version="1.0.0")
    assert data == {"ips": [{"address": "10.1.0.5/24"}]}


# --- the wire form -------------------------------------------------------------------------------------

def test_a_100_result_with_one_ip_prints_exactly_like_libcni() -> None:
    result = v100.Result(cni_version="1.0.0", ips=(v100.IPConfig(address="10.1.0.5/24", gateway="10.1.0.1"),))
    assert result.to_json() == (
        '{"cniVersion":"1.0.0","ips":[{"address":"10.1.0.5/24","gateway":"10.1.0.1"}],"dns":{}}'
    )


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_an_empty_result_prints_only_cniversion_and_an_empty_dns(version: str) -> None:
    result = parse_result(minimal(version))
    assert list(result.to_dict().items()) == [("cniVersion", version), ("dns", {})]
    assert json.loads(result.to_json()) == {"cniVersion": version, "dns": {}}


def test_a_040_ip_prints_version_first_and_interface_index_zero() -> None:
    result = parse_result({"cniVersion": "0.4.0", "interfaces": [{"name": "eth0"}],
                           "ips": [{"address": "10.1.0.5/24", "interface": 0, "gateway": "10.1.0.1",
                                    "version": "4"}]})
    ip = result.to_dict()["ips"][0]
    assert list(ip.items()) == [
        ("version", "4"), ("interface", 0), ("address", "10.1.0.5/24"), ("gateway", "10.1.0.1"),
    ]


def test_a_100_ip_prints_interface_index_zero_but_omits_an_absent_one() -> None:
    result = parse_result({"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
                           "ips": [{"interface": 0, "address": "10.1.0.5/24"}, {"address": "10.2.0.5/24"}]})
    assert result.to_dict()["ips"] == [{"interface": 0, "address": "10.1.0.5/24"}, {"address": "10.2.0.5/24"}]


def test_a_route_prints_table_and_scope_zero_but_omits_zero_mtu_advmss_and_priority() -> None:
    route = v100.Route(dst="0.0.0.0/0", mtu=0, advmss=0, priority=0, table=0, scope=0)
    assert list(route.to_dict().items()) == [("dst", "0.0.0.0/0"), ("table", 0), ("scope", 0)]


def test_empty_strings_and_lists_are_omitted_but_an_interface_name_is_always_printed() -> None:
    result = v040.Result(cni_version="0.3.1", interfaces=(v040.Interface(name="", mac="", sandbox=""),),
                         dns=v040.DNS(nameservers=(), domain="", search=(), options=()))
    assert result.to_dict() == {"cniVersion": "0.3.1", "interfaces": [{"name": ""}], "dns": {}}


def test_a_020_result_prints_keys_in_spec_order() -> None:
    # Keys deliberately in reverse order: the output order must not depend on the input's.
    result = parse_result(json.dumps({
        "dns": {},
        "ip6": {"routes": [{"gw": "fd00::1", "dst": "::/0"}], "ip": "fd00::5/64"},
        "ip4": {"gateway": "10.1.0.1", "ip": "10.1.0.5/24"},
        "cniVersion": "0.2.0",
    }))
    wire = result.to_dict()
    assert list(wire) == ["cniVersion", "ip4", "ip6", "dns"]
    assert list(wire["ip4"]) == ["ip", "gateway"]
    assert list(wire["ip6"]) == ["ip", "routes"]
    assert list(wire["ip6"]["routes"][0]) == ["dst", "gw"]


@pytest.mark.parametrize(("given", "printed"), [
    ("10.1.0.5/24", "10.1.0.5/24"),              # host bits kept, as Go's IPNet keeps them
    ("2001:DB8:0:0::5/64", "2001:db8::5/64"),    # canonical form, as Go prints it
])
def test_addresses_keep_host_bits_and_print_canonically(given: str, printed: str) -> None:
    result = parse_result({"cniVersion": "1.0.0", "ips": [{"address": given}], "routes": [{"dst": given}]})
    wire = result.to_dict()
    assert wire["ips"][0]["address"] == printed
    assert wire["routes"][0]["dst"] == printed


def test_to_json_is_the_json_of_to_dict() -> None:
    result = parse_result(NEW_110)
    assert json.loads(result.to_json()) == result.to_dict()


# --- versions of results without cniVersion -------------------------------------------------------------

@pytest.mark.parametrize(("default", "version", "model"), [
    ("0.3.1", "0.3.1", v040.Result),
    ("1.1.0", "1.1.0", v100.Result),
    ("", "0.1.0", v020.Result),
])
def test_a_result_without_cniversion_takes_the_default_version_then_010(
    default: str, version: str, model: type[Any]
) -> None:
    result = parse_result("{}", default_version=default)
    assert isinstance(result, model)
    assert result.cni_version == version
    assert result.to_dict()["cniVersion"] == version


def test_the_results_own_version_wins_over_the_default() -> None:
    result = parse_result(BRIDGE_031, default_version="1.0.0")
    assert isinstance(result, v040.Result)
    assert result.cni_version == "0.3.1"


def test_a_result_of_an_unknown_version_is_a_version_error() -> None:
    with pytest.raises(VersionError, match="0.9.0"):
        parse_result('{"cniVersion": "0.9.0"}')


# --- decoding errors ---------------------------------------------------------------------------------------

ETH0 = [{"name": "eth0"}]


def v100_ips(*ips: dict[str, Any], interfaces: list[dict[str, Any]] | None = None) -> str:
    """A 1.0.0 result text with these ips (and interfaces)."""
    return json.dumps({"cniVersion": "1.0.0", "interfaces": interfaces or [], "ips": list(ips)})


def v040_ips(*ips: dict[str, Any]) -> str:
    return json.dumps({"cniVersion": "0.3.1", "ips": list(ips)})


@pytest.mark.parametrize(("data", "says"), [
    pytest.param('{"cniVersion": "1.0.0",', "invalid JSON", id="truncated JSON"),
    pytest.param(b"\xff\xfe", "invalid JSON", id="not UTF-8"),
    pytest.param('[{"cniVersion": "1.0.0"}]', "not a JSON object", id="array"),
    pytest.param('{"cniVersion": 1}', "cniVersion must be a string", id="numeric version"),
    pytest.param(v100_ips({"address": "10.1.0.300/24"}), "10.1.0.300/24", id="bad CIDR"),
    pytest.param(v100_ips({"address": "10.1.0.5"}), "prefix-length", id="address without prefix"),
    pytest.param(v100_ips({"address": "10.1.0.5/255.255.255.0"}), "prefix-length", id="netmask not prefix"),
    pytest.param(v100_ips({"address": "fe80::1%eth0/64"}), "zone", id="zoned address"),
    pytest.param(v100_ips({"gateway": "10.1.0.1"}), "ips.0.address", id="missing address"),
    pytest.param(v040_ips({"version": "4", "address": "10.1.0.5/24", "gateway": "gw"}),
                 "invalid IP address 'gw'", id="bad gateway"),
    pytest.param('{"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.0.1/24"}]}',
                 "routes.0.gw", id="route gateway with prefix"),
    pytest.param(v100_ips({"interface": 1, "address": "10.1.0.5/24"}, interfaces=ETH0),
                 "interface index 1", id="index too big"),
    pytest.param(v040_ips({"version": "4", "interface": 0, "address": "10.1.0.5/24"}),
                 "0 interface(s)", id="index without interfaces"),
    pytest.param(v100_ips({"interface": -1, "address": "10.1.0.5/24"}, interfaces=ETH0),
                 "interface index -1", id="negative index"),
    pytest.param(v100_ips({"interface": "0", "address": "10.1.0.5/24"}, interfaces=ETH0),
                 "ips.0.interface", id="string index"),
    pytest.param(v040_ips({"version": "6", "address": "10.1.0.5/24"}), "does not match",
                 id="version label contradicts address"),
    pytest.param(v040_ips({"version": 4, "address": "10.1.0.5/24"}), "ips.0.version", id="numeric label"),
    pytest.param('{"cniVersion": "0.2.0", "ip4": {"ip": "fd00::5/64"}}', "ip4 holds the IPv6",
                 id="ip4 is v6"),
    pytest.param('{"cniVersion": "1.1.0", "routes": [{"dst": "10.0.0.0/8", "mtu": "1500"}]}',
                 "routes.0.mtu", id="string mtu"),
    pytest.param('{"cniVersion": "1.0.0", "dns": {"nameservers": "10.96.0.10"}}', "dns.nameservers",
                 id="nameservers not a list"),
])
def test_a_malformed_result_is_a_decoding_failure_that_says_what_is_wrong(
    data: str | bytes, says: str
) -> None:
    with pytest.raises(CniError) as info:
        parse_result(data)
    assert info.value.code == ErrorCode.DECODING_FAILURE
    assert info.value.code == 6
    assert says in str(info.value)


# --- immutability and family checks ----------------------------------------------------------------------

def test_a_result_cannot_be_modified_in_place() -> None:
    result = parse_result(BRIDGE_031)
    assert isinstance(result, v040.Result)
    with pytest.raises(FrozenModelError):
        result.cni_version = "0.4.0"
    with pytest.raises(FrozenModelError):
        result.ips[0].address = "10.9.9.9/24"
    assert isinstance(result.ips, tuple)


@pytest.mark.parametrize(("model", "version"), [
    (v020.Result, "0.3.0"), (v040.Result, "1.0.0"), (v040.Result, "0.2.0"), (v100.Result, "0.4.0"),
])
def test_a_model_refuses_a_version_of_another_family(model: type[Any], version: str) -> None:
    with pytest.raises(ValueError, match="does not belong"):
        model(cni_version=version)


# --- building models from Python --------------------------------------------------------------------------

def test_a_model_built_from_python_is_checked_normalized_and_holds_tuples() -> None:
    result = v100.Result(
        cni_version="1.0.0",
        interfaces=[v100.Interface(name="eth0")],  # type: ignore[arg-type]
        ips=[v100.IPConfig(interface=0, address="2001:DB8:0:0::5/64", gateway="2001:db8:0::1")],  # type: ignore[arg-type]
        dns=v100.DNS(nameservers=["10.96.0.10"]),  # type: ignore[arg-type]
    )
    assert isinstance(result.interfaces, tuple) and isinstance(result.ips, tuple)
    assert result.dns.nameservers == ("10.96.0.10",)
    assert (result.ips[0].address, result.ips[0].gateway) == ("2001:db8::5/64", "2001:db8::1")
    assert result == parse_result(result.to_json())
    assert hash(result) == hash(parse_result(result.to_json()))


@pytest.mark.parametrize(("build", "says"), [
    pytest.param(lambda: v100.IPConfig(address="10.1.0.300/24"), "address: invalid CIDR", id="bad address"),
    pytest.param(lambda: v100.Route(dst="0.0.0.0/0", mtu="1500"),  # type: ignore[arg-type]
                 "mtu: expected an integer", id="string mtu"),
    pytest.param(lambda: v040.IPConfig(version="6", address="10.1.0.5/24"), "does not match", id="wrong label"),
    pytest.param(lambda: v100.Result(cni_version="1.0.0", ips=(v100.IPConfig(interface=0, address="10.1.0.5/24"),)),
                 "ips.0.interface: ip 10.1.0.5/24 refers to interface index 0", id="dangling index"),
    pytest.param(lambda: v020.Result(cni_version="0.2.0", ip6=v020.IPConfig(ip="10.1.0.5/24")),
                 "ip6 holds the IPv4 address", id="ip6 is v4"),
    pytest.param(lambda: v100.Result(cni_version="1.0.0", routes=({"dst": "0.0.0.0/0"},)),  # type: ignore[arg-type]
                 "routes.0: expected a Route", id="dict instead of a model"),
])
def test_a_model_built_from_python_with_a_bad_field_is_a_value_error_naming_it(build: Any, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        build()


def test_a_decoding_failure_lists_every_problem_with_its_path() -> None:
    data = {"cniVersion": "1.1.0", "ips": [{"address": "10.0.0.300/24"}, {"address": "10.0.0.5/24", "interface": "0"}],
            "routes": [{"gw": "10.0.0.1"}, {"dst": "10.0.0.0/8", "table": 1.5}],
            "dns": {"nameservers": ["10.96.0.10", 53]}}
    with pytest.raises(CniError) as info:
        parse_result(data)
    assert info.value.details.split("; ") == [
        "ips.0.address: invalid CIDR address '10.0.0.300/24'",
        "ips.1.interface: expected an integer, got string",
        "routes.0.dst: field required",
        "routes.1.table: expected an integer, got number",
        "dns.nameservers.1: expected a string, got number",
    ]
