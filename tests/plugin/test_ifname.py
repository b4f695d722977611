"""Behaviour of the interface-name collision check before each delegate ADD (multus.plugin.ifname, §3.6).

Checked here, with real namespaces (the pod's ``netns``; veth pairs created in ``host_ns``):
* a name that no link of the pod's namespace has passes; ``lo`` and a veth end placed in the pod's
  namespace fail with Go's ``validateIfName: interface name <x> already exists``;
* the lookup happens in the pod's namespace, not the caller's (a name only the pod has is found, a
  name only the caller's namespace has is free);
* a path that does not exist, a regular file and another kind of namespace fail with
  ``validateIfName: no net namespace <p> found: <reason>``;
* the calling thread stays in its namespace (also after an error), no helper thread or file
  descriptor outlives a call, and the ``ctypes`` fallback for Pythons without ``os.setns`` works;
* it is cheap: the median of 100 calls stays far below a millisecond-scale budget, and importing
  the module loads neither pyroute2, pydantic nor ctypes.
"""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from multus import nsenter as nsenter_module
from multus.cni.errors import CniError
from multus.plugin.ifname import check_interface_free


def thread_netns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def put_veth_end_in(host_ns: str, pod_ns: str, name: str) -> None:
    """A veth pair made in ``host_ns`` whose peer ``name`` is placed in ``pod_ns``; both namespaces (and
    so both ends) are removed by the fixtures, whatever the test's outcome."""
    from multus.netns import ns_ipr

    with ns_ipr(host_ns) as ipr:
        fd = os.open(pod_ns, os.O_RDONLY)
        try:
            ipr.link("add", ifname="ift" + secrets.token_hex(4), kind="veth", peer={"ifname": name, "net_ns_fd": fd})
        finally:
            os.close(fd)


def test_a_name_no_link_has_is_free(netns: str) -> None:
    check_interface_free(netns, "net1")


def test_loopback_exists_in_every_namespace(netns: str) -> None:
    with pytest.raises(CniError, match="^validateIfName: interface name lo already exists$"):
        check_interface_free(netns, "lo")


def test_a_link_only_the_pod_namespace_has_is_found(netns: str, host_ns: str) -> None:
    name = "n" + secrets.token_hex(4)
    put_veth_end_in(host_ns, netns, name)
    assert name not in {n for _, n in socket.if_nameindex()}  # not visible from the caller's namespace
    with pytest.raises(CniError, match=f"^validateIfName: interface name {name} already exists$"):
        check_interface_free(netns, name)
    check_interface_free(netns, name + "x")


def test_a_link_only_the_callers_namespace_has_is_free_in_the_pod(netns: str) -> None:
    mine = sorted(n for _, n in socket.if_nameindex() if n != "lo")
    if not mine:
        pytest.skip("the test's own namespace has no link but lo")
    check_interface_free(netns, mine[0])


@pytest.mark.parametrize(("path", "reason"), [
    ("/nonexistent/netns", "No such file or directory"),
    ("/proc/self/ns/mnt", "not a network namespace"),
])
def test_a_path_that_is_no_network_namespace_is_reported(path: str, reason: str) -> None:
    with pytest.raises(CniError, match=f"^validateIfName: no net namespace {path} found: {reason}$"):
        check_interface_free(path, "net1")


def test_a_regular_file_is_no_network_namespace(tmp_path: Path) -> None:
    path = tmp_path / "not-a-netns"
    path.write_text("")
    with pytest.raises(CniError, match=f"^validateIfName: no net namespace {path} found: not a network namespace$"):
        check_interface_free(str(path), "net1")


def test_the_calling_thread_never_leaves_its_namespace(netns: str, tmp_path: Path) -> None:
    before = thread_netns()
    check_interface_free(netns, "net1")
    assert thread_netns() == before
    with pytest.raises(CniError):
        check_interface_free(netns, "lo")
    assert thread_netns() == before
    with pytest.raises(CniError):
        check_interface_free(str(tmp_path), "net1")
    assert thread_netns() == before


def test_no_helper_thread_or_file_descriptor_outlives_a_call(netns: str) -> None:
    check_interface_free(netns, "net1")  # first call: lazy setup (ctypes) is not a leak
    threads, fds = threading.active_count(), open_fds()
    for name in ("net1", "lo", "eth0"):
        try:
            check_interface_free(netns, name)
        except CniError:
            pass
    assert threading.active_count() == threads
    assert open_fds() == fds


def test_the_libc_fallback_enters_the_namespace_when_os_has_no_setns(
    netns: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(os, "setns", raising=False)
    nsenter_module._setns.cache_clear()
    try:
        with pytest.raises(CniError, match="interface name lo already exists"):
            check_interface_free(netns, "lo")
        check_interface_free(netns, "net1")
    finally:
        nsenter_module._setns.cache_clear()


def test_a_check_costs_well_under_a_few_milliseconds(netns: str) -> None:
    check_interface_free(netns, "net1")
    timings = []
    for _ in range(100):
        start = time.perf_counter()
        check_interface_free(netns, "net1")
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.005


def test_importing_the_module_loads_no_heavy_library_and_no_ctypes() -> None:
    code = ("import sys, multus.plugin.ifname; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'pydantic', 'pyroute2', 'kubernetes', 'ctypes'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
