"""Behaviour of the network-selection annotation parser (multus.plugin.selection).

Checked here:
* blank annotations ask for nothing; any ``[``, ``{`` or ``"`` selects the JSON form;
* text form: ``ns/name@ifname`` pieces, spaces, order and duplicates, the namespace default,
  Go's '/' and '@' failures, DNS-label names, interface-name rules, empty names (§11.2 #15, #16);
* JSON form: every NetworkSelectionElement key under its Go name, unknown keys ignored,
  case-insensitive keys, no name regex, ``interfaceRequest`` filling ``interface``, ``to_dict``;
* JSON failures: syntax in Go's words (§11.2 #4), non-array, non-object elements, wrong types;
* MAC / InfiniBand GUID formats (net.ParseMAC), IPs and CIDRs (net.ParseIP/ParseCIDR),
  default-route canonical form and ``[]`` vs absent;
* errors name the element; SelectionError is a CniError with Go's generic code;
* the default-network annotation (Multus namespace, one entry) and namespace isolation (§3.4).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from multus.cni.errors import CniError, ErrorCode
from multus.plugin.selection import (
    NetworkSelection,
    SelectionError,
    check_namespace_isolation,
    is_json_form,
    parse_default_network,
    parse_mac,
    parse_network_selections,
)

POD_NS = "test"


def parse(annotation: str) -> list[NetworkSelection]:
    return parse_network_selections(annotation, POD_NS)


def parse_one(element: dict[str, Any]) -> NetworkSelection:
    (sel,) = parse(json.dumps([{"name": "net1", **element}]))
    return sel


def error_of(annotation: str) -> SelectionError:
    with pytest.raises(SelectionError) as info:
        parse(annotation)
    return info.value


def triples(selections: list[NetworkSelection]) -> list[tuple[str, str, str]]:
    return [(s.namespace, s.name, s.interface) for s in selections]


# ---------------------------------------------------------------- form detection


@pytest.mark.parametrize("annotation", ["", "   ", "\n\t"])
def test_a_blank_annotation_asks_for_no_networks(annotation: str) -> None:
    assert parse(annotation) == []


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("net1", False),
        ("ns/net1@eth1, net2", False),
        ('[{"name":"x"}]', True),
        ("{", True),
        ('"net1"', True),
    ],
)
def test_any_bracket_brace_or_quote_selects_the_json_form(annotation: str, expected: bool) -> None:
    assert is_json_form(annotation) is expected


def test_a_quoted_name_is_json_and_therefore_not_a_list() -> None:
    assert "cannot unmarshal string" in error_of('"net1"').msg


# ---------------------------------------------------------------- text form


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("net1", ("test", "net1", "")),
        ("default/net1", ("default", "net1", "")),
        ("net1@my_interface", ("test", "net1", "my_interface")),
        ("default/net1@my_interface", ("default", "net1", "my_interface")),
        ("  default/net1@eth1  ", ("default", "net1", "eth1")),
        ("default / net1 @ eth1", ("default", "net1", "eth1")),
        ("/net1", ("test", "net1", "")),
        ("net1@", ("test", "net1", "")),
        ("a-1/b-2", ("a-1", "b-2", "")),
    ],
)
def test_the_text_form_reads_namespace_name_and_interface(annotation: str, expected: tuple[str, str, str]) -> None:
    assert triples(parse(annotation)) == [expected]


def test_text_items_keep_their_order_and_duplicates_with_spaces_around_commas() -> None:
    assert triples(parse("net1 , other/net2@eth5,net1")) == [
        ("test", "net1", ""),
        ("other", "net2", "eth5"),
        ("test", "net1", ""),
    ]


@pytest.mark.parametrize(
    ("annotation", "fragment"),
    [
        ("root@someIP/root@someOtherIP/root@thirdIP", "Invalid network object (failed at '/')"),
        ("root@someIP/root@someOtherIP@garbagevalue", "Invalid network object (failed at '@')"),
        ("net1@eth0@eth1", "Invalid network object (failed at '@')"),
        ("root@someIP/root@someOtherIP", 'namespace "root@someIP" must consist of lower case'),
        ("net1@my interface", "interface name 'my interface' contains"),
        ("net1@a123456789012345", "longer than 15 characters"),
    ],
)
def test_text_annotations_that_go_rejects_fail(annotation: str, fragment: str) -> None:
    err = error_of(annotation)
    assert err.msg.startswith("parsePodNetworkAnnotation: ") and fragment in err.msg


@pytest.mark.parametrize(
    ("annotation", "bad"),
    [
        ("Net1", 'name "Net1"'),
        ("-net", 'name "-net"'),
        ("net-", 'name "net-"'),
        ("net_1", 'name "net_1"'),
        ("net.1", 'name "net.1"'),
        ("Default/net1", 'namespace "Default"'),
        ("my.ns/net1", 'namespace "my.ns"'),
    ],
)
def test_text_names_and_namespaces_must_be_dns_labels(annotation: str, bad: str) -> None:
    assert f"{bad} must consist of lower case alphanumeric" in error_of(annotation).msg


def test_a_fifteen_character_interface_name_is_the_longest_allowed() -> None:
    assert parse("net1@a12345678901234")[0].interface == "a12345678901234"


@pytest.mark.parametrize("annotation", ["net1@eth:0", "net1@.", "net1@.."])
def test_text_interface_names_follow_libcni_rules(annotation: str) -> None:
    assert "interface name" in error_of(annotation).msg


@pytest.mark.parametrize(
    ("annotation", "index"), [("net1,", 1), (",net1", 0), ("ns/", 0), ("@eth0", 0), ("net1,,net2", 1)]
)
def test_a_text_item_without_a_name_is_rejected_naming_its_position(annotation: str, index: int) -> None:
    err = error_of(annotation)
    assert f"network selection element {index} " in err.msg and "the network name is empty" in err.msg


# ---------------------------------------------------------------- JSON form


@pytest.mark.parametrize(
    ("element", "attr", "expected"),
    [
        ({"namespace": "other-ns"}, "namespace", "other-ns"),
        ({"ips": ["10.1.1.11/24", "fd00::1"]}, "ips", ("10.1.1.11/24", "fd00::1")),
        ({"mac": "c2:11:22:33:44:66"}, "mac", "c2:11:22:33:44:66"),
        ({"infiniband-guid": "c2:11:22:33:44:66:77:88"}, "infiniband_guid", "c2:11:22:33:44:66:77:88"),
        ({"interface": "net9"}, "interface", "net9"),
        ({"interfaceRequest": "net8"}, "interface_request", "net8"),
        ({"deviceID": "0000:00:01.0"}, "device_id", "0000:00:01.0"),
        ({"cni-args": {"foo": "bar", "n": 1}}, "cni_args", {"foo": "bar", "n": 1}),
        ({"default-route": ["10.1.1.254"]}, "default_route", ("10.1.1.254",)),
    ],
)
def test_each_json_key_is_read_under_gos_name(element: dict[str, Any], attr: str, expected: Any) -> None:
    assert getattr(parse_one(element), attr) == expected


def test_port_mappings_and_bandwidth_are_read_under_gos_names() -> None:
    sel = parse_one(
        {
            "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": "1.2.3.4"}],
            "bandwidth": {"ingressRate": 2048, "ingressBurst": 1600, "egressRate": 4096, "egressBurst": 1600},
        }
    )
    pm, bw = sel.port_mappings[0], sel.bandwidth
    assert (pm.host_port, pm.container_port, pm.protocol, pm.host_ip) == (8080, 80, "tcp", "1.2.3.4")
    assert bw is not None and (bw.ingress_rate, bw.ingress_burst, bw.egress_rate, bw.egress_burst) == (
        2048,
        1600,
        4096,
        1600,
    )


def test_a_json_element_without_namespace_gets_the_pods_namespace() -> None:
    assert parse_one({}).namespace == POD_NS
    assert parse_one({"namespace": ""}).namespace == POD_NS


def test_the_deprecated_interface_request_fills_an_empty_interface() -> None:
    assert parse_one({"interfaceRequest": "eth7"}).interface == "eth7"


def test_interface_wins_over_the_deprecated_interface_request() -> None:
    assert parse_one({"interface": "eth1", "interfaceRequest": "eth7"}).interface == "eth1"


def test_json_keys_match_case_insensitively_like_go() -> None:
    (sel,) = parse('[{"Name": "net1", "NAMESPACE": "ns1", "Interface": "eth3"}]')
    assert (sel.namespace, sel.name, sel.interface) == ("ns1", "net1", "eth3")


def test_json_names_are_not_held_to_the_text_forms_name_rule() -> None:
    assert triples(parse('[{"name": "My.Net", "namespace": "Other.NS"}]')) == [("Other.NS", "My.Net", "")]


def test_json_annotation_keeps_order_and_ignores_unknown_keys() -> None:
    annotation = json.dumps(
        [
            {"name": "net1"},
            {"name": "net2", "namespace": "other-ns", "junk": [1, 2]},
            {"name": "net3", "whatever": {"a": 1}},
        ]
    )
    assert triples(parse(annotation)) == [("test", "net1", ""), ("other-ns", "net2", ""), ("test", "net3", "")]


def test_an_empty_json_list_asks_for_nothing() -> None:
    assert parse("[]") == []


def test_to_dict_gives_gos_json_names_with_empty_values_left_out() -> None:
    element = {
        "name": "net1",
        "namespace": "ns",
        "ips": ["10.0.0.1"],
        "mac": "c2:11:22:33:44:66",
        "infiniband-guid": "00:11:22:33:44:55:66:77",
        "interface": "net1",
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
        "bandwidth": {"ingressRate": 1, "ingressBurst": 2, "egressRate": 3, "egressBurst": 4},
        "deviceID": "0000:00:01.0",
        "cni-args": {"a": "b"},
        "default-route": ["10.0.0.254"],
    }
    (sel,) = parse(json.dumps([element]))
    assert sel.to_dict() == element
    assert list(sel.to_dict()) == list(element)
    assert parse("net1")[0].to_dict() == {"name": "net1", "namespace": "test"}


def test_to_dict_keeps_an_empty_cni_args_object() -> None:
    assert parse_one({"cni-args": {}}).to_dict()["cni-args"] == {}


def test_runtime_config_requests_from_a_json_annotation_survive_to_dict() -> None:
    # §11.1 #8: mac/ips/bandwidth/portMappings reach the delegate as runtimeConfig
    sel = parse_one(
        {
            "ips": ["10.0.0.1"],
            "mac": "c2:11:22:33:44:66",
            "bandwidth": {"ingressRate": 2048, "ingressBurst": 1600, "egressRate": 4096, "egressBurst": 1600},
            "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
        }
    )
    out = sel.to_dict()
    assert (out["ips"], out["mac"]) == (["10.0.0.1"], "c2:11:22:33:44:66")
    assert out["portMappings"] == [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
    assert out["bandwidth"]["egressRate"] == 4096


def test_invalid_json_is_reported_in_gos_words() -> None:
    assert error_of("[adsfasdfasdfasf]").msg == (
        "parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format: "
        "invalid character 'a' looking for beginning of value"
    )


@pytest.mark.parametrize(("annotation", "kind"), [('{"name": "net1"}', "object"), ('"x"', "string")])
def test_json_that_is_not_a_list_is_rejected(annotation: str, kind: str) -> None:
    assert f"cannot unmarshal {kind}" in error_of(annotation).msg


@pytest.mark.parametrize(("annotation", "kind"), [("[null]", "null"), ('["net1"]', "string"), ("[[]]", "array")])
def test_a_json_element_that_is_not_an_object_is_rejected(annotation: str, kind: str) -> None:
    assert f"network selection element 0: must be an object, got {kind}" in error_of(annotation).msg


@pytest.mark.parametrize(
    ("element", "where"),
    [
        ({"name": 1}, "name"),
        ({"namespace": ["a"]}, "namespace"),
        ({"ips": "10.0.0.1"}, "ips"),
        ({"ips": [1]}, "ips[0]"),
        ({"mac": 1}, "mac"),
        ({"interface": True}, "interface"),
        ({"portMappings": {"hostPort": 1}}, "portMappings"),
        ({"portMappings": [{"hostPort": "80"}]}, "portMappings[0].hostPort"),
        ({"bandwidth": {"ingressRate": 1.5}}, "bandwidth.ingressRate"),
        ({"cni-args": ["a"]}, "cni-args"),
        ({"default-route": "10.0.0.1"}, "default-route"),
        ({"deviceID": 3}, "deviceID"),
    ],
)
def test_a_wrong_json_type_fails_naming_the_element_and_key(element: dict[str, Any], where: str) -> None:
    err = error_of(json.dumps([{"name": "ok"}, {"name": "net1", **element}]))
    assert "JSON format: network selection element 1" in err.msg and f"{where}: " in err.msg


@pytest.mark.parametrize("element", [{}, {"name": ""}, {"name": None, "namespace": "x"}])
def test_a_json_element_without_a_name_is_rejected(element: dict[str, Any]) -> None:
    assert "network selection element 0" in (err := error_of(json.dumps([element]))).msg
    assert "the network name is empty" in err.msg


# ---------------------------------------------------------------- MAC / GUID / IP / interface checks


@pytest.mark.parametrize(
    ("text", "octets"),
    [
        ("c2:11:22:33:44:66", 6),
        ("C2-11-22-33-44-66", 6),
        ("c211.2233.4466", 6),
        ("00:11:22:33:44:55:66:77", 8),
        ("0011.2233.4455.6677", 8),
        (":".join(["aa"] * 20), 20),
        (".".join(["aabb"] * 10), 20),
    ],
)
def test_mac_formats_go_accepts_parse_to_their_octets(text: str, octets: int) -> None:
    assert len(parse_mac(text)) == octets
    assert parse_one({"mac": text}).mac == text


@pytest.mark.parametrize(
    "text",
    [
        "zz:11:22:33:44:66",
        "c2:11:22:33:44",
        "c2:11:22:33:44:66:77",
        "c2:11-22:33:44:66",
        "c211:2233:4466",
        "c2:11:22:33:44:6",
        "c2:11:22:33:44:666",
        "c2112233446",
        "c2.11.22.33.44.66",
        "c2:11:22:33:44:66 ",
    ],
)
def test_an_invalid_mac_is_rejected_naming_the_element(text: str) -> None:
    with pytest.raises(ValueError):
        parse_mac(text)
    err = error_of(json.dumps([{"name": "net1", "mac": text}]))
    assert 'network selection element 0 ("net1"): mac: ' in err.msg and "invalid MAC address" in err.msg


def test_an_invalid_infiniband_guid_is_rejected() -> None:
    assert "infiniband-guid: " in error_of('[{"name": "ib", "infiniband-guid": "nonsense-guid"}]').msg


@pytest.mark.parametrize("ip", ["10.0.0.1", "10.0.0.1/24", "2001:db8::1", "2001:db8::1/64", "0.0.0.0/0"])
def test_ips_accepts_addresses_and_cidrs(ip: str) -> None:
    assert parse_one({"ips": [ip]}).ips == (ip,)


@pytest.mark.parametrize(
    "ip",
    [
        "10.0.0.256",
        "10.0.0.1/33",
        "2001:db8::1/129",
        "10.0.0.1/255.255.255.0",
        "10.0.0.1/",
        "fe80::1%eth0",
        "",
        "garbage",
        "010.0.0.1",
        "10.0.0.1/-1",
    ],
)
def test_ips_rejects_what_go_cannot_parse(ip: str) -> None:
    assert "ips: invalid" in error_of(json.dumps([{"name": "net1", "ips": ["10.0.0.1", ip]}])).msg


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("10.1.1.254", "10.1.1.254"),
        ("2001:0db8:0000::0001", "2001:db8::1"),
        ("::ffff:10.1.1.1", "10.1.1.1"),
    ],
)
def test_default_route_gateways_are_kept_in_canonical_form(given: str, canonical: str) -> None:
    assert parse_one({"default-route": [given]}).default_route == (canonical,)


@pytest.mark.parametrize("gw", ["10.1.1.0/24", "", "gateway", "fe80::1%eth0"])
def test_default_route_rejects_anything_but_a_plain_ip(gw: str) -> None:
    assert "default-route: invalid IP address" in error_of(json.dumps([{"name": "n", "default-route": [gw]}])).msg


def test_an_empty_default_route_list_still_counts_as_a_request() -> None:
    assert parse_one({"default-route": []}).requests_default_route
    assert parse_one({"default-route": []}).default_route == ()
    assert not parse_one({}).requests_default_route


@pytest.mark.parametrize("ifname", ["a12345678901234x", "my if", "a/b", "a:b", ".", "..", "tab\there"])
@pytest.mark.parametrize("key", ["interface", "interfaceRequest"])
def test_json_interface_names_follow_libcni_rules(key: str, ifname: str) -> None:
    assert f"{key}: interface name" in error_of(json.dumps([{"name": "n", key: ifname}])).msg


def test_an_interface_name_of_fifteen_utf8_bytes_is_measured_in_bytes() -> None:
    assert "longer than 15" in error_of(json.dumps([{"name": "n", "interface": "é" * 8}])).msg


def test_selection_errors_are_cni_errors_with_gos_generic_code() -> None:
    err = error_of("Bad")
    assert isinstance(err, CniError) and err.code == ErrorCode.INTERNAL


# ---------------------------------------------------------------- default-network annotation, isolation


@pytest.mark.parametrize(
    ("annotation", "expected"),
    [
        ("net1", ("kube-system", "net1", "")),
        ("ns1/net1", ("ns1", "net1", "")),
        ("net1@eth9", ("kube-system", "net1", "eth9")),
        ('[{"name": "net1"}]', ("kube-system", "net1", "")),
    ],
)
def test_the_default_network_defaults_to_the_multus_namespace(annotation: str, expected: tuple[str, str, str]) -> None:
    sel = parse_default_network(annotation, "kube-system")
    assert sel is not None and (sel.namespace, sel.name, sel.interface) == expected


def test_a_blank_default_network_annotation_means_none() -> None:
    assert parse_default_network("", "kube-system") is None


def test_more_than_one_default_network_is_rejected_with_gos_text() -> None:
    with pytest.raises(SelectionError) as info:
        parse_default_network("net1,net2", "kube-system")
    assert info.value.msg == "tryLoadK8sPodDefaultNetwork: more than one default network is specified: net1,net2"


def test_a_bad_default_network_annotation_says_which_annotation() -> None:
    with pytest.raises(SelectionError) as info:
        parse_default_network("a/b/c", "kube-system")
    assert info.value.msg.startswith("tryLoadK8sPodDefaultNetwork: parsePodNetworkAnnotation: ")


def test_namespace_isolation_rejects_another_namespace_with_gos_text() -> None:
    with pytest.raises(SelectionError) as info:
        check_namespace_isolation(parse("net1,kube-system/net2"), "test", ["default"])
    assert info.value.msg == (
        "GetNetworkDelegates: namespace isolation enabled, annotation violates permission, "
        "pod is in namespace test but refers to target namespace kube-system"
    )


@pytest.mark.parametrize(
    ("annotation", "allowed"),
    [
        ("net1,test/net2", ["default"]),
        ("default/net1", ["default"]),
        ("kube-system/net1,donkey-kong/net2", ["kube-system", "donkey-kong"]),
    ],
)
def test_namespace_isolation_allows_own_and_non_isolated_namespaces(annotation: str, allowed: list[str]) -> None:
    check_namespace_isolation(parse(annotation), "test", allowed)
