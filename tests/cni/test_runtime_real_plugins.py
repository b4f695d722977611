"""CNIRuntime driving Debian's real CNI plugins (root; every plugin runs in a test-owned "host" namespace).

Checked here:
  * bridge + host-local, per cniVersion (0.3.1, 0.4.0, 1.0.0, 1.1.0 when the plugins speak it):
    ADD puts the result's addresses, gateway route and interface into the pod namespace and a bridge
    into the host namespace; the cache entry is libcni's cniCacheV1 (base64 config, cniArgs, result);
    CHECK passes from 0.4.0 on and is refused for 0.3.1; DEL gets the cached prevResult (0.4.0 on),
    removes the interface, the cache entry and the lease, and can be repeated;
  * a bridge + tuning + portmap list: capability arguments reach only the plugins declaring them
    (portMappings -> portmap, mac -> tuning, nothing -> bridge), each plugin gets the previous one's
    result, tuning's MTU/MAC/sysctl are applied, portmap's DNAT rule appears and goes with DEL;
  * macvlan on a veth master, and ptp (host-side veth and routes);
  * failures: a plugin's own error code and message come back as PluginError; a missing plugin is
    PluginNotFoundError before anything runs; a failed ADD leaves no cache entry;
  * a 0.3.1 bridge result converts to 1.0.0 and back unchanged;
  * GC DELs the attachment not named valid (interface, cache and lease gone) and keeps the valid one;
    from 1.1.0 every plugin also receives GC with the valid attachments;
  * STATUS: skipped for pre-1.1.0 lists, answered by the real plugins for 1.1.0 ones.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from multus import netns as nsmod
from multus.cni import types as cnitypes
from multus.cni.errors import ErrorCode, PluginError, PluginNotFoundError, VersionError
from multus.cni.netconf import NetworkConfigList
from multus.cni.runtime import Attachment, CNIRuntime, RuntimeConf

pytestmark = pytest.mark.netns

VERSIONS = ["0.3.1", "0.4.0", "1.0.0", "1.1.0"]
NET = "testnet"
SUBNET = "10.1.0.0/24"
GATEWAY = "10.1.0.1"
ARGS = (("IgnoreUnknown", "1"), ("K8S_POD_NAME", "pod-a"))


# ---- helpers ---------------------------------------------------------------------------------------

def host_local(data_dir: Path, subnet: str = SUBNET) -> dict[str, Any]:
    return {"type": "host-local", "subnet": subnet, "dataDir": str(data_dir), "routes": [{"dst": "0.0.0.0/0"}]}


def bridge_plugin(data_dir: Path, **extra: Any) -> dict[str, Any]:
    return {"type": "bridge", "bridge": "cni0", "isGateway": True, "ipam": host_local(data_dir), **extra}


def conflist(version: str, *plugins: dict[str, Any], name: str = NET) -> NetworkConfigList:
    return NetworkConfigList.from_object({"cniVersion": version, "name": name, "plugins": list(plugins)})


def leases(data_dir: Path, net: str = NET) -> dict[str, str]:
    """host-local's lease files (named after the address) -> the container ID they hold."""
    directory = data_dir / net
    found = {}
    for path in directory.iterdir() if directory.exists() else ():
        try:
            ipaddress.ip_address(path.name)
        except ValueError:
            continue  # lock, last_reserved_ip.0
        found[path.name] = path.read_text().split()[0]
    return found


def result_addresses(result: cnitypes.Result) -> list[str]:
    return sorted(ip.address for ip in result.ips)  # type: ignore[union-attr]


def in_netns(path: str, *argv: str) -> str:
    """Run a command in a namespace (for what pyroute2 cannot read: sysctls, iptables)."""
    return subprocess.run(["nsenter", f"--net={path}", "--", *argv], capture_output=True, text=True, check=True,
                          timeout=30).stdout


@pytest.fixture(params=VERSIONS)
def cni_version(request: pytest.FixtureRequest, require_cni_version: Callable[..., None]) -> str:
    version: str = request.param
    require_cni_version(version, "bridge", "host-local")
    return version


@pytest.fixture
def rt(netns: str) -> RuntimeConf:
    return RuntimeConf(container_id="ctr-a", netns=netns, if_name="eth0", args=ARGS)


# ---- bridge + host-local, per version --------------------------------------------------------------

def test_add_puts_the_results_addresses_and_routes_into_the_pod_and_a_bridge_into_the_host(
        host_runtime: CNIRuntime, rt: RuntimeConf, netns: str, host_ns: str, ipam_data_dir: Path,
        cni_version: str) -> None:
    result = host_runtime.add_network_list(conflist(cni_version, bridge_plugin(ipam_data_dir)), rt)

    assert result.cni_version == cni_version
    assert result_addresses(result) == nsmod.addresses(netns, "eth0")
    assert [ip.gateway for ip in result.ips] == [GATEWAY]  # type: ignore[union-attr]
    assert nsmod.Route("0.0.0.0/0", GATEWAY, "eth0") in nsmod.routes(netns)
    pod_if = [i for i in result.interfaces if i.sandbox]  # type: ignore[union-attr]
    assert [(i.name, i.sandbox, i.mac) for i in pod_if] == [("eth0", netns, nsmod.link_info(netns, "eth0").mac)]
    assert nsmod.link_info(host_ns, "cni0").kind == "bridge"
    assert nsmod.addresses(host_ns, "cni0") == [f"{GATEWAY}/24"]
    assert list(leases(ipam_data_dir).values()) == ["ctr-a"]


def test_add_writes_a_libcni_cache_entry_with_config_args_and_result(
        host_runtime: CNIRuntime, rt: RuntimeConf, netns: str, ipam_data_dir: Path, cni_cache_dir: Path,
        cni_version: str) -> None:
    net = conflist(cni_version, bridge_plugin(ipam_data_dir))
    result = host_runtime.add_network_list(net, rt)

    entry = json.loads((cni_cache_dir / "results" / f"{NET}-ctr-a-eth0").read_text())
    assert entry["kind"] == "cniCacheV1"
    assert (entry["containerId"], entry["ifName"], entry["networkName"], entry["netns"]) == \
        ("ctr-a", "eth0", NET, netns)
    assert json.loads(base64.b64decode(entry["config"])) == json.loads(net.to_bytes())
    assert entry["cniArgs"] == [list(pair) for pair in ARGS]
    assert entry["result"] == result.to_dict()
    cached = host_runtime.get_cached_result(net, rt)
    assert cached is not None and cached.to_dict() == result.to_dict()


def test_check_passes_after_add_from_0_4_0_on_and_is_refused_for_older_versions(
        host_runtime: CNIRuntime, rt: RuntimeConf, ipam_data_dir: Path, cni_version: str,
        host_executor: Any) -> None:
    net = conflist(cni_version, bridge_plugin(ipam_data_dir))
    result = host_runtime.add_network_list(net, rt)
    if cni_version == "0.3.1":
        with pytest.raises(VersionError):
            host_runtime.check_network_list(net, rt)
        assert host_executor.calls_of("bridge", "CHECK") == []
        return
    host_runtime.check_network_list(net, rt)
    [check] = host_executor.calls_of("bridge", "CHECK")
    assert check.stdin["prevResult"] == result.to_dict()


def test_del_removes_the_interface_cache_and_lease_and_can_be_repeated(
        host_runtime: CNIRuntime, rt: RuntimeConf, netns: str, ipam_data_dir: Path, cni_cache_dir: Path,
        cni_version: str, host_executor: Any) -> None:
    net = conflist(cni_version, bridge_plugin(ipam_data_dir))
    result = host_runtime.add_network_list(net, rt)

    host_runtime.del_network_list(net, rt)
    assert not nsmod.link_exists(netns, "eth0")
    assert not (cni_cache_dir / "results" / f"{NET}-ctr-a-eth0").exists()
    assert leases(ipam_data_dir) == {}
    [delete] = host_executor.calls_of("bridge", "DEL")
    if cni_version == "0.3.1":
        assert "prevResult" not in delete.stdin  # cached prevResult on DEL came with 0.4.0
    else:
        assert delete.stdin["prevResult"] == result.to_dict()

    host_runtime.del_network_list(net, rt)  # the second DEL finds nothing and must still succeed
    assert len(host_executor.calls_of("bridge", "DEL")) == 2


# ---- a chained list: capabilities and prevResult -----------------------------------------------------

PORT_MAPPINGS = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
TUNED_MAC = "02:11:22:33:44:55"


def test_capability_args_reach_only_the_plugins_that_declare_them_and_the_chain_is_applied(
        host_runtime: CNIRuntime, netns: str, host_ns: str, ipam_data_dir: Path, host_executor: Any,
        require_cni_version: Callable[..., None]) -> None:
    require_cni_version("1.0.0", "bridge", "tuning", "portmap")
    net = conflist(
        "1.0.0",
        bridge_plugin(ipam_data_dir),
        {"type": "tuning", "capabilities": {"mac": True}, "mtu": 1400,
         "sysctl": {"net.ipv4.conf.eth0.arp_ignore": "1"}},
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
    )
    rt = RuntimeConf("ctr-chain", netns, "eth0", ARGS,
                     capability_args={"portMappings": PORT_MAPPINGS, "mac": TUNED_MAC})
    result = host_runtime.add_network_list(net, rt)

    [bridge], [tuning], [portmap] = (host_executor.calls_of(p, "ADD") for p in ("bridge", "tuning", "portmap"))
    assert "runtimeConfig" not in bridge.stdin
    assert tuning.stdin["runtimeConfig"] == {"mac": TUNED_MAC}
    assert portmap.stdin["runtimeConfig"] == {"portMappings": PORT_MAPPINGS}
    assert "prevResult" not in bridge.stdin
    assert tuning.stdin["prevResult"]["ips"] == portmap.stdin["prevResult"]["ips"] == result.to_dict()["ips"]

    eth0 = nsmod.link_info(netns, "eth0")
    assert (eth0.mtu, eth0.mac) == (1400, TUNED_MAC)
    assert in_netns(netns, "cat", "/proc/sys/net/ipv4/conf/eth0/arp_ignore").strip() == "1"
    assert "--dport 8080" in in_netns(host_ns, "iptables", "-t", "nat", "-S")

    host_runtime.del_network_list(net, rt)
    assert [c.plugin for c in host_executor.calls if c.command == "DEL"] == ["portmap", "tuning", "bridge"]
    assert "--dport 8080" not in in_netns(host_ns, "iptables", "-t", "nat", "-S")
    assert leases(ipam_data_dir) == {}


# ---- other interface plugins -----------------------------------------------------------------------

def test_macvlan_on_a_veth_master_in_the_host_namespace_gets_the_results_address(
        host_runtime: CNIRuntime, netns: str, host_ns: str, ipam_data_dir: Path,
        require_cni_version: Callable[..., None]) -> None:
    require_cni_version("1.0.0", "macvlan", "host-local")
    with nsmod.ns_ipr(host_ns) as ipr:
        ipr.link("add", ifname="mvmaster0", kind="veth", peer="mvpeer0")
        for name in ("mvmaster0", "mvpeer0"):
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
    net = conflist("1.0.0", {"type": "macvlan", "master": "mvmaster0", "mode": "bridge",
                             "ipam": host_local(ipam_data_dir, "10.3.0.0/24")})
    rt = RuntimeConf("ctr-mv", netns, "net1")

    result = host_runtime.add_network_list(net, rt)
    assert nsmod.link_info(netns, "net1").kind == "macvlan"
    assert result_addresses(result) == nsmod.addresses(netns, "net1") == ["10.3.0.2/24"]

    host_runtime.del_network_list(net, rt)
    assert not nsmod.link_exists(netns, "net1")
    assert nsmod.link_exists(host_ns, "mvmaster0")
    assert leases(ipam_data_dir) == {}


def test_ptp_connects_the_pod_through_a_host_side_veth_and_del_removes_it(
        host_runtime: CNIRuntime, netns: str, host_ns: str, ipam_data_dir: Path,
        require_cni_version: Callable[..., None]) -> None:
    require_cni_version("1.0.0", "ptp", "host-local")
    net = conflist("1.0.0", {"type": "ptp", "ipMasq": False, "ipam": host_local(ipam_data_dir, "10.4.0.0/24")})
    rt = RuntimeConf("ctr-ptp", netns, "eth0")

    result = host_runtime.add_network_list(net, rt)
    assert nsmod.link_info(netns, "eth0").kind == "veth"
    assert result_addresses(result) == nsmod.addresses(netns, "eth0")
    [host_if] = [i.name for i in result.interfaces if not i.sandbox]  # type: ignore[union-attr]
    assert nsmod.link_exists(host_ns, host_if)
    pod_address = result_addresses(result)[0].split("/")[0]
    assert any(r.dst == f"{pod_address}/32" and r.ifname == host_if for r in nsmod.routes(host_ns))
    assert any(r.dst == "0.0.0.0/0" for r in nsmod.routes(netns))

    host_runtime.del_network_list(net, rt)
    assert not nsmod.link_exists(host_ns, host_if)
    assert leases(ipam_data_dir) == {}


# ---- failures ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "code", "msg_part"), [
    ({"mtu": "abc"}, ErrorCode.INTERNAL, "failed to load netconf"),
    ({"ipam": {"type": "host-local", "subnet": "garbage"}}, ErrorCode.INTERNAL, "invalid CIDR address"),
    ({"cniVersion": "1.1.0"}, ErrorCode.INCOMPATIBLE_CNI_VERSION, "incompatible CNI versions"),
], ids=["bad-mtu-type", "bad-subnet", "version-too-new"])
def test_a_plugin_failure_comes_back_with_the_plugins_own_code_and_message(
        host_runtime: CNIRuntime, rt: RuntimeConf, ipam_data_dir: Path, cni_cache_dir: Path,
        plugin_versions: Callable[[str], tuple[str, ...]], change: dict[str, Any], code: int,
        msg_part: str) -> None:
    change = dict(change)  # the parametrize dict is shared between runs: never edit it
    version = change.pop("cniVersion", "1.0.0")
    if version == "1.1.0" and "1.1.0" in plugin_versions("bridge"):
        pytest.skip("the installed bridge speaks 1.1.0, so it cannot be used to provoke a version error")
    net = conflist(version, bridge_plugin(ipam_data_dir, **change))

    with pytest.raises(PluginError) as caught:
        host_runtime.add_network_list(net, rt)
    assert caught.value.code == code
    assert caught.value.plugin == "bridge"
    assert msg_part in caught.value.msg
    assert not (cni_cache_dir / "results").exists() or not any((cni_cache_dir / "results").iterdir())
    assert leases(ipam_data_dir) == {}


def test_a_missing_plugin_is_plugin_not_found_and_nothing_runs(
        host_runtime: CNIRuntime, rt: RuntimeConf, ipam_data_dir: Path, host_executor: Any) -> None:
    net = conflist("1.0.0", {"type": "no-such-plugin"})
    with pytest.raises(PluginNotFoundError) as caught:
        host_runtime.add_network_list(net, rt)
    assert caught.value.code == ErrorCode.PLUGIN_NOT_AVAILABLE
    assert "no-such-plugin" in caught.value.msg
    assert host_executor.calls == []


# ---- result versions --------------------------------------------------------------------------------

def test_a_0_3_1_bridge_result_converts_to_1_0_0_and_back_unchanged(
        host_runtime: CNIRuntime, rt: RuntimeConf, netns: str, ipam_data_dir: Path,
        require_cni_version: Callable[..., None]) -> None:
    require_cni_version("0.3.1", "bridge", "host-local")
    old = host_runtime.add_network_list(conflist("0.3.1", bridge_plugin(ipam_data_dir)), rt)
    assert [ip["version"] for ip in old.to_dict()["ips"]] == ["4"]

    new = cnitypes.convert_result(old, "1.0.0")
    assert new.cni_version == "1.0.0"
    assert all("version" not in ip for ip in new.to_dict()["ips"])
    assert result_addresses(new) == result_addresses(old) == nsmod.addresses(netns, "eth0")
    assert [i.to_dict() for i in new.interfaces] == [i.to_dict() for i in old.interfaces]  # type: ignore[union-attr]
    assert [r.to_dict() for r in new.routes] == [r.to_dict() for r in old.routes]  # type: ignore[union-attr]

    assert cnitypes.convert_result(new, "0.3.1").to_dict() == old.to_dict()


# ---- GC and STATUS ----------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_gc_deletes_the_attachment_not_named_valid_and_keeps_the_valid_one(
        host_runtime: CNIRuntime, netns: str, ipam_data_dir: Path, cni_cache_dir: Path, host_executor: Any,
        require_cni_version: Callable[..., None], version: str) -> None:
    require_cni_version(version, "bridge", "host-local")
    net = conflist(version, bridge_plugin(ipam_data_dir))
    keep, stale = RuntimeConf("ctr-keep", netns, "eth0"), RuntimeConf("ctr-stale", netns, "eth1")
    host_runtime.add_network_list(net, keep)
    host_runtime.add_network_list(net, stale)
    assert sorted(leases(ipam_data_dir).values()) == ["ctr-keep", "ctr-stale"]

    host_runtime.gc_network_list(net, [Attachment("ctr-keep", "eth0")])

    assert [c.if_name for c in host_executor.calls_of("bridge", "DEL")] == ["eth1"]
    assert not nsmod.link_exists(netns, "eth1") and nsmod.link_exists(netns, "eth0")
    assert sorted(p.name for p in (cni_cache_dir / "results").iterdir()) == [f"{NET}-ctr-keep-eth0"]
    assert list(leases(ipam_data_dir).values()) == ["ctr-keep"]
    gc_calls = [c for c in host_executor.calls if c.command == "GC"]
    if version == "1.0.0":
        assert gc_calls == []  # GC is a 1.1.0 verb; older lists only get the stale DELs
    else:
        assert [c.plugin for c in gc_calls] == ["bridge"]
        assert gc_calls[0].stdin["cni.dev/valid-attachments"] == [{"containerID": "ctr-keep", "ifname": "eth0"}]


def test_status_of_a_pre_1_1_0_list_passes_without_running_any_plugin(
        host_runtime: CNIRuntime, ipam_data_dir: Path, host_executor: Any) -> None:
    host_runtime.get_status_network_list(conflist("1.0.0", bridge_plugin(ipam_data_dir)))
    assert host_executor.calls == []


def test_status_of_a_1_1_0_list_is_answered_by_every_real_plugin(
        host_runtime: CNIRuntime, ipam_data_dir: Path, host_executor: Any,
        require_cni_version: Callable[..., None]) -> None:
    require_cni_version("1.1.0", "bridge", "host-local", "portmap")
    net = conflist("1.1.0", bridge_plugin(ipam_data_dir),
                   {"type": "portmap", "capabilities": {"portMappings": True}})
    host_runtime.get_status_network_list(net)
    assert [c.plugin for c in host_executor.calls if c.command == "STATUS"] == ["bridge", "portmap"]

