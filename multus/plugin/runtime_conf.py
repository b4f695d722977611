"""What each delegate plugin is run with: interface name, CNI_ARGS and capability arguments (§5, §6.2).

The delegate's config says which capabilities it accepts; this module computes the values Multus offers,
and the CNI runtime passes each plugin only those it declares.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from multus.cni.runtime import RuntimeConf
from multus.plugin.delegate import Delegate
from multus.plugin.k8s_args import K8sArgs

DEVINFO_CNI_DIR = "/var/run/k8s.cni.cncf.io/devinfo/cni"


def delegate_ifname(delegate: Delegate, index: int, cni_ifname: str) -> str:
    """The requested name; else CNI_IFNAME for the master; else ``net<index>`` (index in the whole list)."""
    if delegate.ifname_request:
        return delegate.ifname_request
    if delegate.master:
        return cni_ifname
    return f"net{index}"


def device_info_path(delegate_name: str, container_id: str, ifname: str, base: str = DEVINFO_CNI_DIR) -> str:
    """The CNI device-info file of an attachment: ``<name>-<containerID>_<ifname>`` with ``/`` -> ``-``."""
    return f"{base}/" + f"{delegate_name}-{container_id}_{ifname}".replace("/", "-")


def delegate_cni_args(k8s: K8sArgs, env_cni_args: str, *, mac: str = "", ips: tuple[str, ...] = ()
                      ) -> tuple[tuple[str, str], ...]:
    """The delegate's CNI_ARGS: Multus's base five, then the runtime's own, then MAC/IP requests.

    A runtime pair with a value, whose key is already present with an empty value, fills it in; any other pair is
    appended, so duplicates can occur (Go does the same, and plugins take the first).
    """
    pairs: list[list[str]] = [
        ["IgnoreUnknown", "true"],
        ["K8S_POD_NAMESPACE", k8s.pod_namespace],
        ["K8S_POD_NAME", k8s.pod_name],
        ["K8S_POD_INFRA_CONTAINER_ID", k8s.pod_infra_container_id],
        ["K8S_POD_UID", k8s.pod_uid],
    ]
    for item in env_cni_args.split(";") if env_cni_args else ():
        if "=" not in item:
            continue  # Go skips (and logs) items without '='
        key, value = item.split("=", 1)
        # Only a non-empty value fills an empty slot (as in Go); an empty one is appended.
        empty_slot = next((pair for pair in pairs if pair[0] == key and not pair[1]), None) if value else None
        if empty_slot is not None:
            empty_slot[1] = value
        else:
            pairs.append([key, value])
    if mac:
        pairs.append(["MAC", mac])
    if ips:
        pairs.append(["IP", ",".join(ips)])
    return tuple((key, value) for key, value in pairs)


def capability_args(delegate: Delegate, base: Mapping[str, Any], container_id: str, ifname: str,
                    devinfo_dir: str = DEVINFO_CNI_DIR) -> dict[str, Any]:
    """Capability args for one delegate: the top-level runtimeConfig, the pod's requests, the device.

    The master gets the top-level runtimeConfig unchanged (that is how kubelet's portMappings reach the
    cluster network); other delegates have it overridden by their selection's requests. Only non-empty
    values are offered.
    """
    args = dict(base)
    if not delegate.master:
        requests: dict[str, Any] = {
            "portMappings": list(delegate.port_mappings), "bandwidth": delegate.bandwidth,
            "ips": list(delegate.ip_request), "mac": delegate.mac_request,
            "infinibandGUID": delegate.infiniband_guid_request,
            "deviceID": delegate.device_id or delegate.device_id_request,
        }
        args.update((key, value) for key, value in requests.items() if value)
    if args.get("deviceID"):
        args["CNIDeviceInfoFile"] = device_info_path(delegate.name, container_id, ifname, devinfo_dir)
    return {key: value for key, value in args.items() if value}


def delegate_runtime_conf(delegate: Delegate, *, index: int, container_id: str, netns: str, cni_ifname: str,
                          k8s: K8sArgs, env_cni_args: str, base_runtime_config: Mapping[str, Any],
                          for_add: bool, cache_dir: str | None = None,
                          devinfo_dir: str = DEVINFO_CNI_DIR) -> RuntimeConf:
    """The RuntimeConf one delegate is ADDed, CHECKed or DELed with."""
    ifname = delegate_ifname(delegate, index, cni_ifname)
    cni_args = delegate_cni_args(k8s, env_cni_args, mac=delegate.mac_request if for_add else "",
                                 ips=delegate.ip_request if for_add else ())
    return RuntimeConf(container_id=container_id, netns=netns, if_name=ifname, args=cni_args,
                       capability_args=capability_args(delegate, base_runtime_config, container_id, ifname,
                                                       devinfo_dir),
                       cache_dir=cache_dir)
