"""Converting results between spec versions (multus.cni.types.convert).

Checked here:
  * the table has a step for every pair of families, and every version converts to every version,
    producing the target family's model with the target label;
  * same version returns the same object; same family only relabels and leaves the original alone;
  * 020 -> 040 (ips labelled, routes concatenated ip4 first), 040 -> 100 (label dropped),
    100 -> 040 (label derived, 1.1.0-only fields dropped), 040/100 -> 020 (first address per family,
    routes split by family, interfaces dropped);
  * round trips 020->040->020 and 040->100->040 are lossless, 100->020 keeps what 0.2.0 can hold,
    for single-stack and dual-stack results;
  * our deviation: more than one address of a family cannot go into 0.1.0/0.2.0 and is an error
    naming the addresses; converting to an unsupported version is an error.
"""

from __future__ import annotations

import itertools

import pytest

from multus.cni.errors import ResultConversionError
from multus.cni.types import Result, convert_result, family_of, parse_result, to_current, v020, v040, v100
from multus.cni.types.convert import CONVERSIONS
from multus.cni.version import ALL_VERSIONS

DNS = v100.DNS(nameservers=("10.96.0.10",), search=("default.svc.cluster.local",))

V4_ONLY_020 = v020.Result(
    cni_version="0.2.0",
    ip4=v020.IPConfig(
        ip="10.1.0.5/24", gateway="10.1.0.1", routes=(v020.Route(dst="0.0.0.0/0", gw="10.1.0.1"),)
    ),
    dns=DNS,
)
DUAL_020 = v020.Result(
    cni_version="0.2.0",
    ip4=v020.IPConfig(ip="10.1.0.5/24", gateway="10.1.0.1", routes=(v020.Route(dst="0.0.0.0/0"),)),
    ip6=v020.IPConfig(ip="fd00::5/64", gateway="fd00::1", routes=(v020.Route(dst="::/0", gw="fd00::1"),)),
    dns=DNS,
)

INTERFACES_040 = (v040.Interface(name="eth0", mac="0a:58:0a:01:00:05", sandbox="/var/run/netns/x"),)
V4_ONLY_040 = v040.Result(
    cni_version="0.3.1",
    interfaces=INTERFACES_040,
    ips=(v040.IPConfig(version="4", interface=0, address="10.1.0.5/24", gateway="10.1.0.1"),),
    routes=(v040.Route(dst="0.0.0.0/0"),),
    dns=DNS,
)
DUAL_040 = v040.Result(
    cni_version="0.4.0",
    interfaces=INTERFACES_040,
    ips=(
        v040.IPConfig(version="4", interface=0, address="10.1.0.5/24", gateway="10.1.0.1"),
        v040.IPConfig(version="6", interface=0, address="fd00::5/64", gateway="fd00::1"),
    ),
    routes=(v040.Route(dst="0.0.0.0/0"), v040.Route(dst="::/0", gw="fd00::1")),
    dns=DNS,
)

INTERFACES_100 = (v100.Interface(name="eth0", mac="0a:58:0a:01:00:05", sandbox="/var/run/netns/x"),)
V6_ONLY_100 = v100.Result(
    cni_version="1.0.0",
    interfaces=INTERFACES_100,
    ips=(v100.IPConfig(interface=0, address="fd00::5/64", gateway="fd00::1"),),
    routes=(v100.Route(dst="::/0"),),
    dns=DNS,
)
DUAL_100 = v100.Result(
    cni_version="1.0.0",
    interfaces=INTERFACES_100,
    ips=(
        v100.IPConfig(interface=0, address="10.1.0.5/24", gateway="10.1.0.1"),
        v100.IPConfig(interface=0, address="fd00::5/64", gateway="fd00::1"),
    ),
    routes=(v100.Route(dst="0.0.0.0/0"), v100.Route(dst="::/0", gw="fd00::1")),
    dns=DNS,
)

SAMPLES: dict[str, Result] = {"020": DUAL_020, "040": DUAL_040, "100": DUAL_100}
MODELS: dict[str, type[Result]] = {"020": v020.Result, "040": v040.Result, "100": v100.Result}


# --- the table and the general contract ------------------------------------------------------------------

def test_the_table_has_a_step_for_every_pair_of_families() -> None:
    assert set(CONVERSIONS) == set(itertools.product(MODELS, repeat=2))


@pytest.mark.parametrize(("source", "target"), list(itertools.product(ALL_VERSIONS, repeat=2)))
def test_every_version_converts_to_every_version_with_the_target_label_and_model(
    source: str, target: str
) -> None:
    original = convert_result(SAMPLES[family_of(source)], source)
    converted = convert_result(original, target)
    assert isinstance(converted, MODELS[family_of(target)])
    assert converted.cni_version == target
    assert converted.to_dict()["cniVersion"] == target
    assert parse_result(converted.to_json()) == converted


def test_converting_to_the_same_version_returns_the_same_object() -> None:
    assert convert_result(DUAL_040, "0.4.0") is DUAL_040


@pytest.mark.parametrize(("result", "target"), [
    (V4_ONLY_020, "0.1.0"), (DUAL_040, "0.3.0"), (DUAL_100, "1.1.0"),
])
def test_within_a_family_only_the_label_changes_and_the_original_is_untouched(
    result: Result, target: str
) -> None:
    before = result.cni_version
    converted = convert_result(result, target)
    assert converted.to_dict() == {**result.to_dict(), "cniVersion": target}
    assert result.cni_version == before


@pytest.mark.parametrize("target", ["0.5.0", "1.2.0", "", "1.0"])
def test_converting_to_an_unsupported_version_is_an_error(target: str) -> None:
    with pytest.raises(ResultConversionError, match="cannot convert result to unsupported version"):
        convert_result(DUAL_100, target)


def test_to_current_gives_a_110_result() -> None:
    current = to_current(V4_ONLY_020)
    assert isinstance(current, v100.Result)
    assert current.cni_version == "1.1.0"
    assert [ip.address for ip in current.ips] == ["10.1.0.5/24"]


# --- individual steps --------------------------------------------------------------------------------------

def test_020_to_040_labels_ips_and_concatenates_routes_ip4_first() -> None:
    converted = convert_result(DUAL_020, "0.3.1")
    assert converted.to_dict() == {
        "cniVersion": "0.3.1",
        "ips": [
            {"version": "4", "address": "10.1.0.5/24", "gateway": "10.1.0.1"},
            {"version": "6", "address": "fd00::5/64", "gateway": "fd00::1"},
        ],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd00::1"}],
        "dns": {"nameservers": ["10.96.0.10"], "search": ["default.svc.cluster.local"]},
    }


def test_040_to_100_drops_the_ip_version_label_and_copies_the_rest() -> None:
    converted = convert_result(DUAL_040, "1.0.0")
    assert converted.to_dict() == {
        "cniVersion": "1.0.0",
        "interfaces": [{"name": "eth0", "mac": "0a:58:0a:01:00:05", "sandbox": "/var/run/netns/x"}],
        "ips": [
            {"interface": 0, "address": "10.1.0.5/24", "gateway": "10.1.0.1"},
            {"interface": 0, "address": "fd00::5/64", "gateway": "fd00::1"},
        ],
        "routes": [{"dst": "0.0.0.0/0"}, {"dst": "::/0", "gw": "fd00::1"}],
        "dns": {"nameservers": ["10.96.0.10"], "search": ["default.svc.cluster.local"]},
    }


def test_100_to_040_derives_the_label_and_drops_the_110_only_fields() -> None:
    rich = v100.Result(
        cni_version="1.1.0",
        interfaces=(v100.Interface(name="net1", mac="52:54:00:12:34:56", mtu=9000, sandbox="/ns",
                                   socket_path="/run/s.sock", pci_id="0000:3b:00.2"),),
        ips=(v100.IPConfig(address="fd00::7/64"), v100.IPConfig(interface=0, address="192.168.10.7/24")),
        routes=(v100.Route(dst="192.168.20.0/24", gw="192.168.10.1", mtu=8950, advmss=8910, priority=10,
                           table=100, scope=0),),
    )
    assert convert_result(rich, "0.4.0").to_dict() == {
        "cniVersion": "0.4.0",
        "interfaces": [{"name": "net1", "mac": "52:54:00:12:34:56", "sandbox": "/ns"}],
        "ips": [
            {"version": "6", "address": "fd00::7/64"},
            {"version": "4", "interface": 0, "address": "192.168.10.7/24"},
        ],
        "routes": [{"dst": "192.168.20.0/24", "gw": "192.168.10.1"}],
        "dns": {},
    }


def test_040_to_020_splits_routes_by_family_and_drops_interfaces() -> None:
    result = v040.Result(
        cni_version="0.3.1",
        interfaces=INTERFACES_040,
        ips=(v040.IPConfig(version="6", interface=0, address="fd00::5/64"),
             v040.IPConfig(version="4", interface=0, address="10.1.0.5/24", gateway="10.1.0.1")),
        routes=(v040.Route(dst="::/0"), v040.Route(dst="10.0.0.0/8", gw="10.1.0.254"),
                v040.Route(dst="fd01::/64", gw="fd00::1"), v040.Route(dst="0.0.0.0/0")),
    )
    assert convert_result(result, "0.2.0").to_dict() == {
        "cniVersion": "0.2.0",
        "ip4": {"ip": "10.1.0.5/24", "gateway": "10.1.0.1",
                "routes": [{"dst": "10.0.0.0/8", "gw": "10.1.0.254"}, {"dst": "0.0.0.0/0"}]},
        "ip6": {"ip": "fd00::5/64", "routes": [{"dst": "::/0"}, {"dst": "fd01::/64", "gw": "fd00::1"}]},
        "dns": {},
    }


def test_040_to_020_drops_routes_of_a_family_without_an_address() -> None:
    result = v040.Result(
        cni_version="0.3.1",
        ips=(v040.IPConfig(version="4", address="10.1.0.5/24"),),
        routes=(v040.Route(dst="0.0.0.0/0"), v040.Route(dst="::/0")),
    )
    converted = convert_result(result, "0.1.0")
    assert isinstance(converted, v020.Result)
    assert converted.ip6 is None
    assert converted.ip4 == v020.IPConfig(ip="10.1.0.5/24", routes=(v020.Route(dst="0.0.0.0/0"),))


# --- round trips --------------------------------------------------------------------------------

@pytest.mark.parametrize("result", [V4_ONLY_020, DUAL_020], ids=["single-stack", "dual-stack"])
def test_020_to_040_and_back_is_lossless(result: v020.Result) -> None:
    assert convert_result(convert_result(result, "0.4.0"), "0.2.0") == result


@pytest.mark.parametrize("result", [V4_ONLY_040, DUAL_040], ids=["single-stack", "dual-stack"])
def test_040_to_100_and_back_is_lossless(result: v040.Result) -> None:
    assert convert_result(convert_result(result, "1.1.0"), result.cni_version) == result


V6_CONFIG_020 = v020.IPConfig(ip="fd00::5/64", gateway="fd00::1", routes=(v020.Route(dst="::/0"),))


@pytest.mark.parametrize(("result", "expected"), [
    pytest.param(V6_ONLY_100, v020.Result(cni_version="0.2.0", ip6=V6_CONFIG_020, dns=DNS),
                 id="single-stack"),
    # DUAL_100 is DUAL_020 plus an interface, which 0.2.0 cannot hold.
    pytest.param(DUAL_100, DUAL_020, id="dual-stack"),
])
def test_100_to_020_keeps_one_address_per_family_with_its_routes(
    result: v100.Result, expected: v020.Result
) -> None:
    assert convert_result(result, "0.2.0") == expected


def test_100_to_020_to_100_keeps_addresses_routes_and_dns_but_not_interfaces() -> None:
    back = to_current(convert_result(DUAL_100, "0.2.0"))
    assert back.interfaces == ()
    assert [(ip.interface, ip.address, ip.gateway) for ip in back.ips] == [
        (None, "10.1.0.5/24", "10.1.0.1"), (None, "fd00::5/64", "fd00::1"),
    ]
    assert back.routes == DUAL_100.routes
    assert back.dns == DUAL_100.dns


# --- our deviation: no silent loss of addresses --------------------------------------------------

@pytest.mark.parametrize(("addresses", "lost"), [
    (["10.1.0.5/24", "10.2.0.5/24"], ["10.2.0.5/24"]),
    (["fd00::5/64", "10.1.0.5/24", "fd01::5/64", "fd02::5/64"], ["fd01::5/64", "fd02::5/64"]),
])
@pytest.mark.parametrize("source", ["0.3.1", "1.0.0"])
@pytest.mark.parametrize("target", ["0.1.0", "0.2.0"])
def test_more_than_one_address_of_a_family_cannot_go_into_020_and_the_error_names_them(
    addresses: list[str], lost: list[str], source: str, target: str
) -> None:
    result = to_current(parse_result({"cniVersion": "1.0.0", "ips": [{"address": a} for a in addresses]}))
    with pytest.raises(ResultConversionError) as info:
        convert_result(convert_result(result, source), target)
    assert ", ".join(lost) in info.value.details
    kept = [a for a in addresses if a not in lost]
    assert not any(a in info.value.details for a in kept)
