"""Delegate resolution: the ordered list of networks one pod is attached to.

The list is built in Go Multus's order (§3.6), and each step is a function here:

1. the master, ``[0]``: ``clusterNetwork`` (:func:`cluster_and_default_networks`) or the first static
   delegate (:func:`static_delegates`), replaced by the pod's ``v1.multus-cni.io/default-network``;
2. ``defaultNetworks`` (not for pods in ``systemNamespaces``) or the other static delegates;
3. the pod's ``k8s.v1.cni.cncf.io/networks`` in annotation order (:func:`pod_delegates`, which also
   runs the default-route check, :func:`check_gateway_config`);
4. the auxiliary chain (:func:`aux_chain_delegate`).

The outside world comes in through :class:`NadReader`, :class:`EventSink` and
:class:`DeviceAllocator` (defined in :mod:`multus.plugin.nads`, re-exported here). One allocator
serves the whole list, so NADs sharing a device resource get its devices in delegate order.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from typing import TYPE_CHECKING, Any

from multus.cni.errors import CniError
from multus.cni.netconf import NetworkConfigList, conf_from_file, conflist_from_file
from multus.logs import get_logger
from multus.plugin.delegate import Delegate, build_delegate, decode_delegate_config
from multus.plugin.gojson import go_marshal
from multus.plugin.nads import (
    DeviceAllocator,
    EventSink,
    NadReader,
    NetworkRef,
    ResolveError,
    config_from_conf_dir,
    nad_delegate,
    pod_annotations,
    pod_namespace,
    wrap,
)

if TYPE_CHECKING:
    from multus.plugin.config import MultusNetConf

__all__ = [
    "DeviceAllocator",
    "EventSink",
    "NadReader",
    "ResolveError",
    "aux_chain_delegate",
    "check_gateway_config",
    "cluster_and_default_networks",
    "pod_delegates",
    "static_delegates",
]

log = get_logger(__name__)

ECMP_ERROR = "multus does not support ECMP for default-route"
AUX_PASSTHRU = {"type": "passthru", "name": "passthru-cni"}


def _file_delegate(config: bytes) -> Delegate:
    """A delegate from a file: named after the config itself (there is no NAD to name it after)."""
    name = decode_delegate_config(config).get("name")
    return build_delegate(config, name=name if isinstance(name, str) else "")


# ---------------------------------------------------------------- clusterNetwork / defaultNetworks


def _stat_error(path: str, exc: OSError) -> ResolveError:
    """Go's ``os.Stat`` wording: ``stat <path>: no such file or directory``."""
    reason = exc.strerror or str(exc)
    return ResolveError(f"stat {path}: {reason[:1].lower()}{reason[1:]}")


def _path_config(path: str) -> bytes:
    """The config at a clusterNetwork/defaultNetworks path: a directory (its first config file), a
    ``.conflist`` (with its subdirectory chain) or any other file (a single config, which needs type)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise _stat_error(path, exc) from exc
    if stat.S_ISDIR(mode):
        return config_from_conf_dir("", path)
    if path.endswith(".conflist"):
        return conflist_from_file(path).to_bytes()
    return conf_from_file(path).to_bytes()


def _named_network(value: str, conf: MultusNetConf, reader: NadReader, pod: dict[str, Any] | None,
                   events: EventSink | None, allocator: DeviceAllocator | None) -> Delegate:
    """A network name: a NAD in multusNamespace, else the conf-dir file of that name. Both failures are
    folded into "cannot find network" (the NAD failure still reaches the pod as an event)."""
    try:
        return nad_delegate(reader, NetworkRef(value, conf.multus_namespace), conf.conf_dir, pod, events, allocator)
    except CniError as exc:
        log.debug("network %s is not a usable NAD in %s: %s", value, conf.multus_namespace, exc)
    try:
        return _file_delegate(config_from_conf_dir(value, conf.conf_dir))
    except CniError as exc:
        log.debug("network %s is not a usable config in %s: %s", value, conf.conf_dir, exc)
    raise ResolveError(f"getNetDelegate: cannot find network: {value}")


def _net_delegate(value: str, conf: MultusNetConf, reader: NadReader, pod: dict[str, Any] | None,
                  events: EventSink | None, allocator: DeviceAllocator | None) -> Delegate:
    """getNetDelegate: a value with a ``/`` is a path, anything else a network name."""
    if "/" in value:
        return _file_delegate(_path_config(value))
    return _named_network(value, conf, reader, pod, events, allocator)


def cluster_and_default_networks(conf: MultusNetConf, reader: NadReader | None, pod: dict[str, Any] | None,
                                 events: EventSink | None, allocator: DeviceAllocator | None) -> list[Delegate]:
    """The master from ``clusterNetwork`` followed by ``defaultNetworks`` (GetDefaultNetworks).

    Go needs a Kubernetes client here even when clusterNetwork is a path; so do we, to fail the same
    way on the same configs. System-namespace pods (kube-system by default) get no defaultNetworks;
    without a pod the namespace is unknown and they are added.
    """
    if reader is None:
        raise ResolveError("GetDefaultNetworks: must have either Kubernetes config or delegates")
    namespace = conf.multus_namespace
    if not conf.cluster_network:
        raise ResolveError(f"GetDefaultNetworks: failed to get clusterNetwork in namespace {namespace}: "
                           "clusterNetwork is not set")
    delegates: list[Delegate] = []
    for kind, value in [("clusterNetwork", conf.cluster_network), *_default_networks_for(conf, pod)]:
        try:
            delegate = _net_delegate(value, conf, reader, pod, events, allocator)
        except CniError as exc:
            raise wrap(f"GetDefaultNetworks: failed to get {kind} {value} in namespace {namespace}: ", exc) from exc
        delegates.append(delegate.with_master(not delegates))
    return delegates


def _default_networks_for(conf: MultusNetConf, pod: dict[str, Any] | None) -> list[tuple[str, str]]:
    if pod_namespace(pod) in conf.system_namespaces:
        return []
    return [("defaultNetwork", value) for value in conf.default_networks]


# ---------------------------------------------------------------- static delegates


def static_delegates(conf: MultusNetConf) -> list[Delegate]:
    """The config's ``delegates`` as Go re-marshals them; ``[0]`` is the master, each named after its
    config. Only meaningful without ``clusterNetwork``, which makes them ignored."""
    return [build_delegate(go_marshal(raw), name=str(raw.get("name") or "")).with_master(index == 0)
            for index, raw in enumerate(conf.delegates)]


# ---------------------------------------------------------------- the pod's annotations


def _pod_default_network(conf: MultusNetConf, reader: NadReader, pod: dict[str, Any],
                         events: EventSink | None, allocator: DeviceAllocator | None) -> Delegate | None:
    """The ``default-network`` annotation's NAD as the new master (namespace defaults to multusNamespace;
    no namespace isolation). Its interface request renames the master."""
    # The annotation parser (its NetworkSelection model, regexes) loads only for a pod's annotations:
    # a call with static delegates never needs it.
    from multus.plugin.selection import DEFAULT_NETWORK_ANNOTATION, parse_default_network

    selection = parse_default_network(pod_annotations(pod).get(DEFAULT_NETWORK_ANNOTATION, ""),
                                      conf.multus_namespace)
    if selection is None:
        return None
    try:
        delegate = nad_delegate(reader, selection, conf.conf_dir, pod, events, allocator)
    except CniError as exc:
        raise wrap("TryLoadPodDelegates: error in loading K8s cluster default network from pod annotation: "
                   "tryLoadK8sPodDefaultNetwork: failed getting the delegate: ", exc) from exc
    return delegate.with_master()


def _pod_networks(conf: MultusNetConf, reader: NadReader, pod: dict[str, Any],
                  events: EventSink | None, allocator: DeviceAllocator | None) -> list[Delegate]:
    """The ``networks`` annotation's NADs in order (GetNetworkDelegates), after namespace isolation."""
    from multus.plugin.selection import NETWORKS_ANNOTATION, check_namespace_isolation, parse_network_selections

    namespace = pod_namespace(pod)
    selections = parse_network_selections(pod_annotations(pod).get(NETWORKS_ANNOTATION, ""), namespace)
    if conf.namespace_isolation:
        check_namespace_isolation(selections, namespace, conf.non_isolated_namespaces)
    delegates = []
    for selection in selections:
        try:
            delegates.append(nad_delegate(reader, selection, conf.conf_dir, pod, events, allocator))
        except CniError as exc:
            raise wrap("GetNetworkDelegates: failed getting the delegate: ", exc) from exc
    return delegates


def pod_delegates(conf: MultusNetConf, reader: NadReader | None, pod: dict[str, Any] | None,
                  delegates: list[Delegate], events: EventSink | None,
                  allocator: DeviceAllocator | None) -> list[Delegate]:
    """The full list: ``delegates`` with the pod's default network as master and its networks appended,
    then the default-route check (TryLoadPodDelegates). Without Kubernetes or a pod, ``delegates``."""
    if reader is None or pod is None:
        return list(delegates)
    result = list(delegates)
    master = _pod_default_network(conf, reader, pod, events, allocator)
    if master is not None:
        result[:1] = [master]
    result.extend(_pod_networks(conf, reader, pod, events, allocator))
    return check_gateway_config(result)


# ---------------------------------------------------------------- default-route check (§7)


def _is_v6(gateway: str) -> bool:
    try:
        return ipaddress.ip_address(gateway).version == 6
    except ValueError:
        raise ResolveError(f"invalid default-route gateway {gateway!r}") from None


def check_gateway_config(delegates: list[Delegate]) -> list[Delegate]:
    """Once any delegate asks about default routes (even with ``[]``), Multus owns them everywhere:
    each family may have one gateway at most, and every delegate's default routes are filtered out
    except in the family of a gateway it asked for."""
    if all(d.gateway_request is None for d in delegates):
        return list(delegates)
    families = [[_is_v6(gw) for gw in d.gateway_request or ()] for d in delegates]
    flat = [v6 for requested in families for v6 in requested]
    if flat.count(True) > 1 or flat.count(False) > 1:
        raise ResolveError(ECMP_ERROR)
    return [d._replace(filter_v4_gateway=False not in requested, filter_v6_gateway=True not in requested)
            for d, requested in zip(delegates, families, strict=True)]


# ---------------------------------------------------------------- auxiliary chain (§6.7)


def _aux_chain_dir(cluster_network: str) -> str:
    """Where the chain's plugins live: beside the clusterNetwork file, or inside it when it is a directory."""
    return cluster_network if os.path.isdir(cluster_network) else os.path.dirname(cluster_network)


def aux_chain_delegate(conf: MultusNetConf) -> Delegate | None:
    """The auxiliary chain (``auxiliaryCNIChainName``): passthru followed by the ``.conf`` files of
    ``<clusterNetwork dir>/<name>/``, run last on the pod's master interface setup. ``None`` when it
    is not configured, has no plugins of its own, or cannot be loaded (logged: the pod still starts)."""
    name = conf.auxiliary_cni_chain_name
    if not name:
        return None
    if "/" not in conf.cluster_network:
        raise ResolveError("auxiliary chain used but ClusterNetwork must be a path, and it is not a path: "
                           f"{conf.cluster_network}")
    raw = {"cniVersion": conf.cni_version, "name": name, "plugins": [dict(AUX_PASSTHRU)]}
    try:
        chain = NetworkConfigList.from_object(raw, _aux_chain_dir(conf.cluster_network))
    except CniError as exc:
        log.error("failed to load the auxiliary CNI chain %s, skipping it: %s", name, exc)
        return None
    if len(chain.plugins) < 2:
        return None
    return build_delegate(chain.to_bytes(), name=name)
