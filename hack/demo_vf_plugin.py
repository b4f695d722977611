"""demo-sriov: a test double of sriov-cni for the demo, built on :mod:`multus.cni.skel`.

It follows sriov-cni's contract as Multus sees it, on a node where the "VFs" are veth ends described in
a :class:`devinfo.testing.FakeSysfs` tree (so nothing needs SR-IOV hardware):

* ADD needs ``deviceID`` in its config (Multus injects the PCI address the kubelet allocated); without
  one it fails with code 7 ``VF pci addr is required``, sriov-cni's error;
* the VF's netdev is found from sysfs (``devinfo.sysfs.discover``; the tree's root is the config key
  ``sysfsRoot``, default ``/sys``) and moved from the plugin's own network namespace (the node's) into
  the pod's as CNI_IFNAME; the IPAM plugin (e.g. host-local, found in CNI_PATH) gives its addresses;
* the result is a 1.0.0 result: the interface (name, mac, sandbox) and the IPAM addresses and routes;
* the VF's original name, MAC and admin state are kept in ``<dataDir>/<containerID>-<ifname>`` (as
  sriov-cni keeps its own cache); DEL releases the IPAM addresses, moves the netdev back into the node
  namespace under its original name, restores its state and drops that file. DEL is idempotent.

Not on the project's call path: it is only ever run by the demo's daemon, as a plugin binary.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from multus.cni.errors import CniError, ErrorCode
from multus.cni.invoke import InvokeArgs, SubprocessExecutor, exec_with_result, exec_without_result, find_in_path
from multus.cni.skel import CmdArgs, PluginFuncs, plugin_main
from multus.cni.types import Result, parse_result
from multus.cni.version import PluginInfo

SUPPORTED = ("0.4.0", "1.0.0", "1.1.0")
DEFAULT_DATA_DIR = "/var/lib/cni/demo-sriov"
IPAM_TIMEOUT = 60.0


def _ipr() -> Any:
    from pyroute2 import IPRoute  # type: ignore[import-untyped]

    return IPRoute()


def _ns_ipr(netns: str) -> Any:
    from multus.netns import ns_ipr

    return ns_ipr(netns)


def _index(ipr: Any, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return int(found[0]) if found else None


def _state_file(conf: dict[str, Any], args: CmdArgs) -> Path:
    return Path(str(conf.get("dataDir") or DEFAULT_DATA_DIR)) / f"{args.container_id}-{args.if_name}"


def _ipam(args: CmdArgs, command: str) -> dict[str, Any] | None:
    """Run the IPAM plugin of the config (ADD: its result), as sriov-cni delegates to it."""
    ipam = args.config.get("ipam") or {}
    plugin = ipam.get("type") if isinstance(ipam, dict) else None
    if not plugin:
        return None
    executor = SubprocessExecutor()
    path = find_in_path(str(plugin), args.path.split(os.pathsep))
    invoke = InvokeArgs(command=command, container_id=args.container_id, netns=args.netns, if_name=args.if_name,
                        plugin_args=args.args, path=args.path)
    if command == "ADD":
        return exec_with_result(executor, path, args.stdin_data, invoke, IPAM_TIMEOUT, args.cni_version)
    exec_without_result(executor, path, args.stdin_data, invoke, IPAM_TIMEOUT)
    return None


def _vf_netdev(conf: dict[str, Any]) -> tuple[str, str]:
    """(deviceID, the VF's netdev name in the node) from sysfs; CniError as sriov-cni words it."""
    device_id = conf.get("deviceID")
    if not isinstance(device_id, str) or not device_id:
        raise CniError("VF pci addr is required", code=ErrorCode.INVALID_NETWORK_CONFIG)
    from devinfo.errors import DevInfoError
    from devinfo.sysfs import discover

    try:
        facts = discover(device_id, sysfs_root=conf.get("sysfsRoot") or None)
    except DevInfoError as exc:
        raise CniError(f"failed to get VF information for {device_id}", str(exc)) from None
    if not facts.is_vf:
        raise CniError(f"{device_id} is not an SR-IOV VF", code=ErrorCode.INVALID_NETWORK_CONFIG)
    if not facts.netdevs:
        raise CniError(f"VF {device_id} has no netdev (bound to {facts.driver or 'no driver'})")
    return device_id, facts.netdevs[0]


def cmd_add(args: CmdArgs) -> Result:
    conf = args.config
    device_id, host_name = _vf_netdev(conf)
    with _ipr() as ipr:
        index = _index(ipr, host_name)
        if index is None:
            raise CniError(f"VF {device_id}: netdev {host_name} is not in the node's network namespace "
                           "(in use by another pod?)", code=ErrorCode.TRY_AGAIN_LATER)
        link = ipr.get_links(index)[0]
        saved = {"deviceID": device_id, "name": host_name, "mac": link.get("address"),
                 "up": bool(link["flags"] & 1)}
    ipam = _ipam(args, "ADD")
    try:
        mac = _move_into_pod(args, host_name, ipam)
    except BaseException:
        _ipam(args, "DEL")
        raise
    state = _state_file(conf, args)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps(saved))
    body: dict[str, Any] = {"cniVersion": "1.0.0",
                            "interfaces": [{"name": args.if_name, "mac": mac, "sandbox": args.netns}],
                            "ips": [dict(ip, interface=0) for ip in (ipam or {}).get("ips", [])],
                            "routes": (ipam or {}).get("routes", []), "dns": (ipam or {}).get("dns", {})}
    return parse_result(body)


def _move_into_pod(args: CmdArgs, host_name: str, ipam: dict[str, Any] | None) -> str:
    """Move the VF's netdev into the pod as CNI_IFNAME with the IPAM addresses; its MAC."""
    with _ipr() as ipr:
        index = _index(ipr, host_name)
        ipr.link("set", index=index, state="down")
        ipr.link("set", index=index, net_ns_fd=args.netns)
    try:
        with _ns_ipr(args.netns) as pod:
            index = _index(pod, host_name)
            pod.link("set", index=index, ifname=args.if_name)
            pod.link("set", index=index, state="up")
            for ip in (ipam or {}).get("ips", []):
                address, prefix = str(ip["address"]).split("/")
                pod.addr("add", index=index, address=address, prefixlen=int(prefix))
            for route in (ipam or {}).get("routes", []):
                pod.route("add", dst=route["dst"], gateway=route.get("gw"), oif=index)
            return str(pod.get_links(index)[0].get("address"))
    except BaseException:
        _move_back(args.netns, args.if_name, host_name)
        _move_back(args.netns, host_name, host_name)
        raise


def _move_back(netns: str, pod_name: str, host_name: str, mac: str | None = None, up: bool = True) -> bool:
    """Move ``pod_name`` out of the pod into this process's namespace as ``host_name``; False if absent."""
    from multus.netns import netns_exists

    if not netns or not netns_exists(netns):
        return False
    with _ns_ipr(netns) as pod:
        index = _index(pod, pod_name)
        if index is None:
            return False
        pod.link("set", index=index, state="down")
        pod.link("set", index=index, ifname=host_name)
        pod.link("set", index=index, net_ns_pid=os.getpid())
    with _ipr() as ipr:
        index = _index(ipr, host_name)
        if index is not None:
            if mac:
                ipr.link("set", index=index, address=mac)
            if up:
                ipr.link("set", index=index, state="up")
    return True


def cmd_del(args: CmdArgs) -> None:
    conf = args.config
    state_file = _state_file(conf, args)
    try:
        saved = json.loads(state_file.read_text())
    except FileNotFoundError:
        saved = None  # already deleted, or the ADD never finished: only the IPAM release is left
    _ipam(args, "DEL")
    if saved is not None:
        _move_back(args.netns, args.if_name, saved["name"], saved.get("mac"), bool(saved.get("up")))
        state_file.unlink(missing_ok=True)


def cmd_check(args: CmdArgs) -> None:
    _vf_netdev(args.config)
    with _ns_ipr(args.netns) as pod:
        if _index(pod, args.if_name) is None:
            raise CniError(f"interface {args.if_name} not found in {args.netns}")


def main() -> None:
    funcs = PluginFuncs(add=cmd_add, delete=cmd_del, check=cmd_check)
    sys.exit(plugin_main(funcs, PluginInfo("1.0.0", SUPPORTED), "demo-sriov: the demo's sriov-cni double"))


if __name__ == "__main__":
    main()
