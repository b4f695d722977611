"""multus.netns against the real kernel (root): namespace lifecycle and the read helpers.

Checked: create/exists/remove (idempotent, stale files, bad names, no silent re-creation), that
``ns_ipr`` talks to the target namespace without moving the calling thread (also from several threads
at once), and that addresses/routes/link helpers report what was configured.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from multus import netns as nsmod

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create network namespaces")]


def _own_netns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def _veth_with_address(path: str) -> None:
    """v0 <-> v0p inside the namespace, both up, v0 with IPv4, an IPv6 link-local and a default route."""
    with nsmod.ns_ipr(path) as ipr:
        ipr.link("add", ifname="v0", kind="veth", peer="v0p")
        v0, v0p = ipr.link_lookup(ifname="v0")[0], ipr.link_lookup(ifname="v0p")[0]
        ipr.link("set", index=v0p, state="up")
        ipr.link("set", index=v0, state="up", mtu=1400, address="02:00:00:00:00:aa")
        ipr.addr("add", index=v0, address="10.9.0.2", prefixlen=24)
        ipr.addr("add", index=v0, address="10.9.1.2", prefixlen=16)
        ipr.addr("add", index=v0, address="fe80::1234", prefixlen=64)
        ipr.route("add", dst="0.0.0.0/0", gateway="10.9.0.1")


def test_a_created_namespace_exists_holds_only_lo_and_is_gone_after_remove(
        make_netns: Callable[[], str]) -> None:
    path = make_netns()
    assert path.startswith(nsmod.NETNS_RUN_DIR + "/cnitest-")
    assert nsmod.netns_exists(path)
    assert nsmod.netns_exists(os.path.basename(path))  # a bare name means /var/run/netns/<name>
    assert nsmod.link_names(path) == ["lo"]
    nsmod.remove_netns(path)
    assert not nsmod.netns_exists(path)
    assert not os.path.lexists(path)


def test_removing_a_namespace_twice_or_one_that_never_existed_is_not_an_error() -> None:
    nsmod.remove_netns("cnitest-never-created")
    nsmod.remove_netns("/var/run/netns/cnitest-never-created")


def test_creating_a_namespace_whose_name_is_taken_fails_instead_of_reusing_it(netns: str) -> None:
    with pytest.raises(FileExistsError):
        nsmod.create_netns(os.path.basename(netns))


@pytest.mark.parametrize("name", ["", "a/b", "..", "."])
def test_invalid_namespace_names_are_rejected(name: str) -> None:
    with pytest.raises(ValueError):
        nsmod.create_netns(name)


def test_a_stale_plain_file_is_not_a_namespace_and_remove_deletes_it(tmp_path: Path) -> None:
    stale = tmp_path / "stale-ns"
    stale.touch()
    assert not nsmod.netns_exists(str(stale))
    nsmod.remove_netns(str(stale))
    assert not stale.exists()


def test_ns_ipr_on_a_missing_namespace_fails_and_does_not_create_it() -> None:
    path = "/var/run/netns/cnitest-missing-" + os.urandom(4).hex()
    with pytest.raises(FileNotFoundError):
        with nsmod.ns_ipr(path):
            pass
    assert not os.path.lexists(path)


def test_ns_ipr_changes_the_target_namespace_without_moving_the_calling_thread(netns: str) -> None:
    before = _own_netns()
    with nsmod.ns_ipr(netns) as ipr:
        ipr.link("add", ifname="probe0", kind="veth", peer="probe1")
        assert _own_netns() == before
    assert _own_netns() == before
    assert nsmod.link_exists(netns, "probe0")
    assert not os.path.exists("/sys/class/net/probe0")  # /sys was mounted in, and lists, the host namespace


def test_addresses_routes_and_link_info_report_what_was_configured(netns: str) -> None:
    _veth_with_address(netns)
    assert nsmod.addresses(netns, "v0") == ["10.9.0.2/24", "10.9.1.2/16"]
    assert nsmod.addresses(netns, "v0", family=socket.AF_INET6) == []
    assert "fe80::1234/64" in nsmod.addresses(netns, "v0", include_link_local=True)
    assert nsmod.link_names(netns) == ["lo", "v0", "v0p"]
    assert nsmod.link_info(netns, "v0") == nsmod.LinkInfo("v0", "02:00:00:00:00:aa", 1400, "veth", True)
    assert not nsmod.link_info(netns, "lo").up
    routes = nsmod.routes(netns)
    assert nsmod.Route("0.0.0.0/0", "10.9.0.1", "v0") in routes
    assert nsmod.Route("10.9.0.0/24", None, "v0") in routes
    with pytest.raises(LookupError):
        nsmod.addresses(netns, "nope0")
    assert not nsmod.link_exists(netns, "nope0")


def test_several_threads_can_query_different_namespaces_at_once(make_netns: Callable[[], str]) -> None:
    paths = [make_netns() for _ in range(3)]
    for index, path in enumerate(paths):
        with nsmod.ns_ipr(path) as ipr:
            ipr.link("add", ifname=f"only{index}", kind="veth", peer=f"peer{index}")
    before = _own_netns()
    with ThreadPoolExecutor(max_workers=3) as pool:
        names = list(pool.map(nsmod.link_names, paths * 3))
    assert names == [["lo", f"only{i}", f"peer{i}"] for i in range(3)] * 3
    assert _own_netns() == before
