"""Behaviour of the default-route handling after each delegate ADD (multus.plugin.gateway, features §7).

Checked here:
* planning (pure): ``gateway_request`` None vs ``()`` vs gateways, the per-family filters, nothing
  planned for results with neither interfaces nor IPs, gateways in canonical form, bad gateways;
* the pod's namespace (real namespaces: the pod's ``netns`` and a ``host_ns`` holding the veth peers):
  the link's default routes of the planned families only are deleted (Go deletes both: our fix),
  every default of the link including several metrics, other links untouched, requested gateways
  added for IPv4 and IPv6, an existing route is no error, a missing link changes nothing when only
  deleting (Go strips every link) and fails when adding, a no-op plan never opens the namespace,
  the calling thread stays in its own namespace;
* libcni's cache entry: 0.3.1, 1.0.0/1.1.0 and 0.2.0 (``ip4``/``ip6`` routes) results, v4 and v6,
  any spelling of the IPv6 default (Go matches only ``::0/0``: our fix), consecutive defaults all
  removed, an emptied ``routes`` key dropped, other fields of the entry kept, atomic 0600 rewrite,
  ``not supported version``, a missing or malformed entry is an error, a no-op plan reads nothing.

Every link is created inside the test's own namespaces (never in the real host namespace) and goes
away with them when the fixtures remove the namespaces, whether or not the test passed.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import stat
from pathlib import Path
from typing import Any

import pytest

from multus.cni.cache import CachedAttachment, ResultCache
from multus.cni.errors import CniError, ConfigError, ErrorCode
from multus.cni.types import parse_result
from multus.plugin.delegate import Delegate
from multus.plugin.gateway import GatewayPlan, apply_in_netns, apply_to_cache, edit_cached_result, plan

IFA_F_NODAD = 0x02  # an IPv6 address usable at once, without duplicate address detection

RESULT = parse_result({
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "net1", "sandbox": "/var/run/netns/pod"}],
    "ips": [{"interface": 0, "address": "10.1.1.2/24", "gateway": "10.1.1.1"}],
})
IPS_ONLY_RESULT = parse_result({"cniVersion": "0.2.0", "ip4": {"ip": "10.1.1.2/24"}})
EMPTY_RESULT = parse_result({"cniVersion": "1.0.0", "interfaces": [], "ips": [], "dns": {}})


def delegate(request: tuple[str, ...] | None = None, v4: bool = False, v6: bool = False) -> Delegate:
    return Delegate(config=b'{"cniVersion":"1.0.0","name":"n","type":"macvlan"}', name="default/n",
                    gateway_request=request, filter_v4_gateway=v4, filter_v6_gateway=v6)


# ---- planning -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("request_", "filter_v4", "filter_v6", "expected"), [
    pytest.param(None, False, False, GatewayPlan(), id="nobody-asked"),
    pytest.param(None, True, True, GatewayPlan(True, True), id="filtered-because-another-delegate-asked"),
    pytest.param(None, True, False, GatewayPlan(True, False), id="v4-filtered-only"),
    pytest.param((), True, True, GatewayPlan(True, True), id="empty-request-strips-defaults"),
    pytest.param((), False, False, GatewayPlan(), id="empty-request-without-filters"),
    pytest.param(("10.1.1.254",), False, True, GatewayPlan(True, True, ("10.1.1.254",)), id="v4-gateway"),
    pytest.param(("fd00::fe",), True, False, GatewayPlan(True, True, ("fd00::fe",)), id="v6-gateway"),
    pytest.param(("10.1.1.254", "fd00::fe"), False, False, GatewayPlan(True, True, ("10.1.1.254", "fd00::fe")),
                 id="dual-stack-unfiltered"),
])
def test_the_plan_follows_the_request_and_the_filters(
    request_: tuple[str, ...] | None, filter_v4: bool, filter_v6: bool, expected: GatewayPlan
) -> None:
    assert plan(delegate(request_, filter_v4, filter_v6), RESULT) == expected


def test_nothing_is_planned_for_a_result_with_neither_interfaces_nor_ips() -> None:
    assert plan(delegate(("10.1.1.254",), True, True), EMPTY_RESULT) == GatewayPlan()


def test_a_result_with_ips_only_is_planned() -> None:
    assert plan(delegate((), True, True), IPS_ONLY_RESULT) == GatewayPlan(True, True)


def test_planned_gateways_are_in_canonical_form() -> None:
    planned = plan(delegate(("::ffff:10.1.1.254", "FD00:0::FE")), RESULT)
    assert planned.gateways == ("10.1.1.254", "fd00::fe")


def test_a_gateway_that_is_not_an_address_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="invalid default-route gateway 'gw'"):
        plan(delegate(("gw",)), RESULT)


def test_a_plan_reports_whether_it_changes_anything_and_which_families_it_deletes() -> None:
    assert not GatewayPlan().changes_anything
    assert GatewayPlan(gateways=("10.1.1.1",)).changes_anything
    assert GatewayPlan(delete_v6=True).delete_families == frozenset({6})
    assert GatewayPlan(True, True).delete_families == frozenset({4, 6})


# ---- the pod's namespace ------------------------------------------------------------------------------


def add_pod_link(host_ns: str, pod_ns: str, ifname: str, v4: str, v6: str) -> None:
    """A veth whose peer ``ifname`` sits in the pod namespace, up, with one IPv4 and one IPv6 address.

    The pair is created in ``host_ns`` with its peer placed in ``pod_ns`` at creation, so no link ever
    exists in the real host namespace; removing the namespaces (fixture teardown) destroys both ends.
    """
    from multus.netns import ns_ipr

    host_end = "gwt" + secrets.token_hex(4)
    with ns_ipr(host_ns) as ipr:
        fd = os.open(pod_ns, os.O_RDONLY)
        try:
            ipr.link("add", ifname=host_end, kind="veth", peer={"ifname": ifname, "net_ns_fd": fd})
        finally:
            os.close(fd)
        ipr.link("set", index=ipr.link_lookup(ifname=host_end)[0], state="up")
    with ns_ipr(pod_ns) as ipr:
        index = ipr.link_lookup(ifname=ifname)[0]
        ipr.link("set", index=index, state="up")
        address, prefix = v4.split("/")
        ipr.addr("add", index=index, address=address, prefixlen=int(prefix))
        address, prefix = v6.split("/")
        ipr.addr("add", index=index, address=address, prefixlen=int(prefix), flags=IFA_F_NODAD)


def add_default(pod_ns: str, ifname: str, gateway: str, metric: int | None = None) -> None:
    from multus.netns import ns_ipr

    v6 = ":" in gateway
    with ns_ipr(pod_ns) as ipr:
        spec: dict[str, Any] = {"family": socket.AF_INET6 if v6 else socket.AF_INET, "dst": "::/0" if v6 else
                                "0.0.0.0/0", "gateway": gateway, "oif": ipr.link_lookup(ifname=ifname)[0]}
        if metric is not None:
            spec["priority"] = metric
        ipr.route("add", **spec)


def defaults(pod_ns: str) -> set[tuple[str, str | None]]:
    """(device, gateway) of every main-table default route, both families."""
    from multus.netns import routes

    return {(r.ifname, r.gw) for family in (socket.AF_INET, socket.AF_INET6) for r in routes(pod_ns, family)
            if r.dst in ("0.0.0.0/0", "::/0")}


def subnet_routes(pod_ns: str) -> set[tuple[str, str]]:
    from multus.netns import routes

    return {(r.ifname, r.dst) for family in (socket.AF_INET, socket.AF_INET6) for r in routes(pod_ns, family)
            if r.dst not in ("0.0.0.0/0", "::/0") and not r.dst.startswith("fe80:")}


@pytest.fixture
def pod(netns: str, host_ns: str) -> str:
    """The pod namespace with ``eth0`` (10.1.1.2/24, fd00:1::2/64) and default routes of both families."""
    add_pod_link(host_ns, netns, "eth0", "10.1.1.2/24", "fd00:1::2/64")
    add_default(netns, "eth0", "10.1.1.1")
    add_default(netns, "eth0", "fd00:1::1")
    assert defaults(netns) == {("eth0", "10.1.1.1"), ("eth0", "fd00:1::1")}
    return netns


@pytest.fixture
def pod_two_links(pod: str, host_ns: str) -> str:
    """``pod`` plus ``net1`` (10.2.2.2/24, fd00:2::2/64) with its own defaults at a higher metric."""
    add_pod_link(host_ns, pod, "net1", "10.2.2.2/24", "fd00:2::2/64")
    add_default(pod, "net1", "10.2.2.1", metric=200)
    add_default(pod, "net1", "fd00:2::1", metric=2048)
    return pod


def test_a_requested_gateway_replaces_the_links_default_routes(pod: str) -> None:
    apply_in_netns(pod, "eth0", GatewayPlan(True, True, ("10.1.1.254",)))
    assert defaults(pod) == {("eth0", "10.1.1.254")}
    assert subnet_routes(pod) == {("eth0", "10.1.1.0/24"), ("eth0", "fd00:1::/64")}


def test_only_the_planned_family_loses_its_default_routes(pod: str) -> None:
    # Go deletes both families here; the IPv6 default must survive an IPv4-only plan.
    apply_in_netns(pod, "eth0", GatewayPlan(delete_v4=True))
    assert defaults(pod) == {("eth0", "fd00:1::1")}


def test_an_empty_request_strips_both_families_and_keeps_other_routes(pod: str) -> None:
    apply_in_netns(pod, "eth0", GatewayPlan(True, True))
    assert defaults(pod) == set()
    assert subnet_routes(pod) == {("eth0", "10.1.1.0/24"), ("eth0", "fd00:1::/64")}


def test_an_ipv6_gateway_becomes_an_ipv6_default_route(pod: str) -> None:
    apply_in_netns(pod, "eth0", GatewayPlan(delete_v6=True, gateways=("fd00:1::fe",)))
    assert defaults(pod) == {("eth0", "10.1.1.1"), ("eth0", "fd00:1::fe")}


def test_every_default_route_of_the_link_is_deleted_whatever_its_metric(pod: str) -> None:
    add_default(pod, "eth0", "10.1.1.3", metric=100)
    add_default(pod, "eth0", "fd00:1::3", metric=100)
    apply_in_netns(pod, "eth0", GatewayPlan(True, True))
    assert defaults(pod) == set()


def test_other_links_keep_their_default_routes(pod_two_links: str) -> None:
    apply_in_netns(pod_two_links, "eth0", GatewayPlan(True, True, ("10.1.1.254",)))
    assert defaults(pod_two_links) == {("eth0", "10.1.1.254"), ("net1", "10.2.2.1"), ("net1", "fd00:2::1")}


def test_adding_a_default_route_that_already_exists_is_not_an_error(pod: str) -> None:
    apply_in_netns(pod, "eth0", GatewayPlan(gateways=("10.1.1.1", "10.1.1.1")))
    assert defaults(pod) == {("eth0", "10.1.1.1"), ("eth0", "fd00:1::1")}


def test_a_missing_link_with_only_deletions_leaves_every_route_alone(pod: str) -> None:
    # Go falls back to the routes of every link and strips the pod's default routes everywhere.
    apply_in_netns(pod, "net9", GatewayPlan(True, True))
    assert defaults(pod) == {("eth0", "10.1.1.1"), ("eth0", "fd00:1::1")}


def test_a_missing_link_cannot_get_a_gateway(pod: str) -> None:
    with pytest.raises(CniError, match="SetDefaultGW: no link net9 in network namespace"):
        apply_in_netns(pod, "net9", GatewayPlan(True, True, ("10.1.1.254",)))


def test_a_gateway_the_link_cannot_reach_is_an_error(pod: str) -> None:
    with pytest.raises(CniError, match="SetDefaultGW: failed to add a default route via 192.0.2.1 on eth0"):
        apply_in_netns(pod, "eth0", GatewayPlan(gateways=("192.0.2.1",)))


def test_the_calling_thread_stays_in_its_own_namespace(pod: str) -> None:
    before = os.readlink("/proc/thread-self/ns/net")
    apply_in_netns(pod, "eth0", GatewayPlan(True, True, ("10.1.1.254",)))
    assert os.readlink("/proc/thread-self/ns/net") == before


def test_a_plan_that_changes_nothing_never_opens_the_namespace(tmp_path: Path) -> None:
    apply_in_netns(str(tmp_path / "no-such-netns"), "eth0", GatewayPlan())
    with pytest.raises(CniError, match="failed to set the default route of eth0"):
        apply_in_netns(str(tmp_path / "no-such-netns"), "eth0", GatewayPlan(delete_v4=True))


# ---- libcni's result cache ----------------------------------------------------------------------------

CONTAINER = "3f1c0a"
IFNAME = "net1"
NETWORK = "macvlan-net"


def write_entry(cache_dir: Path, result: dict[str, Any]) -> Path:
    entry = CachedAttachment(container_id=CONTAINER, if_name=IFNAME, network_name=NETWORK,
                             config=b'{"cniVersion":"0.3.1","name":"macvlan-net","type":"macvlan"}',
                             netns="/var/run/netns/pod", cni_args=(("K8S_POD_NAME", "p"),), result=result)
    return Path(ResultCache(cache_dir).save(entry))


def cached_result(cache_dir: Path) -> dict[str, Any]:
    body = json.loads(Path(ResultCache(cache_dir).path(NETWORK, CONTAINER, IFNAME)).read_bytes())
    result = body["result"]
    assert isinstance(result, dict)
    return result


def test_a_0_3_1_entry_loses_its_ipv4_default_and_gains_the_requested_one(tmp_path: Path) -> None:
    write_entry(tmp_path, {"cniVersion": "0.3.1", "routes": [
        {"dst": "0.0.0.0/0", "gw": "10.1.1.1"},
        {"dst": "10.9.0.0/16", "gw": "10.1.1.2"},
        {"dst": "::/0", "gw": "fd00::1"},
    ], "dns": {}})
    apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(delete_v4=True, gateways=("10.1.1.254",)))
    assert cached_result(tmp_path) == {"cniVersion": "0.3.1", "routes": [
        {"dst": "10.9.0.0/16", "gw": "10.1.1.2"},
        {"dst": "::/0", "gw": "fd00::1"},
        {"dst": "0.0.0.0/0", "gw": "10.1.1.254"},
    ], "dns": {}}


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_a_1_x_entry_loses_every_ipv6_default_however_spelled(tmp_path: Path, version: str) -> None:
    # Go only matches the string "::0/0", which libcni never writes: its "::/0" routes stayed.
    write_entry(tmp_path, {"cniVersion": version, "routes": [
        {"dst": "::/0", "gw": "fd00::1"},
        {"dst": "::0/0", "gw": "fd00::2"},
        {"dst": "0:0::0/0"},
        {"dst": "0.0.0.0/0", "gw": "10.1.1.1"},
        {"dst": "fd00:9::/64", "gw": "fd00::3"},
    ]})
    apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(delete_v6=True, gateways=("fd00::fe",)))
    assert cached_result(tmp_path)["routes"] == [
        {"dst": "0.0.0.0/0", "gw": "10.1.1.1"},
        {"dst": "fd00:9::/64", "gw": "fd00::3"},
        {"dst": "::/0", "gw": "fd00::fe"},
    ]


def test_consecutive_ipv4_defaults_are_all_removed(tmp_path: Path) -> None:
    write_entry(tmp_path, {"cniVersion": "0.4.0", "routes": [
        {"dst": "0.0.0.0/0", "gw": "10.1.1.1"}, {"dst": "0.0.0.0/0", "gw": "10.1.1.3"},
        {"dst": "10.9.0.0/16"}]})
    apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(delete_v4=True))
    assert cached_result(tmp_path)["routes"] == [{"dst": "10.9.0.0/16"}]


def test_a_routes_list_left_empty_is_removed(tmp_path: Path) -> None:
    write_entry(tmp_path, {"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.1"}], "dns": {}})
    apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(True, True))
    assert cached_result(tmp_path) == {"cniVersion": "1.0.0", "dns": {}}


def test_a_gateway_is_added_to_a_result_without_routes(tmp_path: Path) -> None:
    write_entry(tmp_path, {"cniVersion": "1.0.0", "dns": {}})
    apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(True, True, ("10.1.1.254", "fd00::fe")))
    assert cached_result(tmp_path)["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.1.1.254"},
                                                 {"dst": "::/0", "gw": "fd00::fe"}]


def test_a_0_2_0_entry_is_edited_per_family_slot(tmp_path: Path) -> None:
    write_entry(tmp_path, {
        "cniVersion": "0.2.0",
        "ip4": {"ip": "10.1.1.2/24", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.1"}, {"dst": "10.9.0.0/16"}]},
        "ip6": {"ip": "fd00::2/64", "routes": [{"dst": "::/0", "gw": "fd00::1"}]},
        "dns": {},
    })
    apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(True, True, ("10.1.1.254", "fd00::fe")))
    result = cached_result(tmp_path)
    assert result["ip4"]["routes"] == [{"dst": "10.9.0.0/16"}, {"dst": "0.0.0.0/0", "gw": "10.1.1.254"}]
    assert result["ip6"]["routes"] == [{"dst": "::/0", "gw": "fd00::fe"}]


def test_a_0_2_0_slot_left_without_routes_drops_the_key_and_a_missing_slot_gets_nothing(tmp_path: Path) -> None:
    write_entry(tmp_path, {"cniVersion": "0.2.0",
                           "ip4": {"ip": "10.1.1.2/24", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.1"}]}})
    apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(True, True, ("fd00::fe",)))
    assert cached_result(tmp_path) == {"cniVersion": "0.2.0", "ip4": {"ip": "10.1.1.2/24"}}


def test_the_rest_of_the_entry_is_kept_and_the_file_replaced_atomically(tmp_path: Path) -> None:
    path = write_entry(tmp_path, {"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.1"}]})
    before = ResultCache(tmp_path).load(NETWORK, CONTAINER, IFNAME)
    inode = path.stat().st_ino
    apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(delete_v4=True, gateways=("10.1.1.254",)))
    after = ResultCache(tmp_path).load(NETWORK, CONTAINER, IFNAME)
    assert before is not None and after is not None
    assert (after.config, after.netns, after.cni_args, after.container_id) == (
        before.config, before.netns, before.cni_args, before.container_id)
    assert after.result == {"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.254"}]}
    assert path.stat().st_ino != inode  # a new file renamed into place, not an in-place rewrite
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temp file left


@pytest.mark.parametrize("version", ["0.5.0", "2.0", "x"])
def test_an_unknown_result_version_is_not_supported(tmp_path: Path, version: str) -> None:
    write_entry(tmp_path, {"cniVersion": version, "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.1"}]})
    with pytest.raises(CniError, match=f"^not supported version: {version}$"):
        apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(delete_v4=True))


def test_a_missing_cache_entry_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CniError, match="failed to update the default route in result cache") as caught:
        apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(delete_v4=True))
    assert caught.value.code == ErrorCode.IO_FAILURE


def test_a_plan_that_changes_nothing_reads_no_cache_entry(tmp_path: Path) -> None:
    apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan())
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(("body", "message"), [
    ({"kind": "cniCacheV1", "containerId": CONTAINER}, "cannot get result from cache"),
    ({"kind": "cniCacheV1", "result": {"cniVersion": "1.0.0", "routes": {"dst": "0.0.0.0/0"}}},
     "wrong routes format"),
    ({"kind": "cniCacheV1", "result": {"cniVersion": "1.0.0", "routes": ["0.0.0.0/0"]}}, "wrong route format"),
    ({"kind": "cniCacheV1", "result": {"cniVersion": "1.0.0", "routes": [{"dst": 0}]}}, "wrong dst format"),
])
def test_a_malformed_cache_entry_is_an_error_and_is_left_as_it_was(
    tmp_path: Path, body: dict[str, Any], message: str
) -> None:
    path = Path(ResultCache(tmp_path).path(NETWORK, CONTAINER, IFNAME))
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(body))
    with pytest.raises(CniError, match=message):
        apply_to_cache(tmp_path, NETWORK, CONTAINER, IFNAME, GatewayPlan(delete_v4=True))
    assert json.loads(path.read_text()) == body


def test_editing_a_cached_result_leaves_the_input_untouched() -> None:
    original = {"cniVersion": "1.0.0", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.1"}]}
    snapshot = json.loads(json.dumps(original))
    edited = edit_cached_result(original, GatewayPlan(delete_v4=True, gateways=("10.1.1.254",)))
    assert original == snapshot
    assert edited["routes"] == [{"dst": "0.0.0.0/0", "gw": "10.1.1.254"}]


def test_a_result_without_cni_version_is_edited_as_0_2_0_like_go() -> None:
    edited = edit_cached_result({"ip4": {"ip": "10.1.1.2/24", "routes": [{"dst": "0.0.0.0/0"}]}},
                                GatewayPlan(delete_v4=True, gateways=("10.1.1.254",)))
    assert edited == {"ip4": {"ip": "10.1.1.2/24", "routes": [{"dst": "0.0.0.0/0", "gw": "10.1.1.254"}]}}


def test_importing_the_module_does_not_load_pyroute2() -> None:
    import subprocess
    import sys

    code = ("import sys, multus.plugin.gateway; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pyroute2', 'kubernetes'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
