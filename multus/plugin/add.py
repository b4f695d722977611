"""ADD: attach every network of a pod, or nothing at all.

The steps, each a function below: wait for the cluster network's readiness file; find the pod; resolve
the delegates (cluster network, default networks, the pod's annotations, the auxiliary chain); save the
scratch cache before anything runs; ADD each delegate in order, fixing default routes after each; on a
failure, DEL what was added (the failed one included, last first) and drop the cache; finally write the
network-status annotation. The master's result is what the runtime gets.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from multus.cni import types as cnitypes
from multus.cni.errors import CniError
from multus.devices import deviceinfo
from multus.devices.allocator import PodDeviceAllocator
from multus.devices.hints import delegate_failure_hint
from multus.plugin import gateway, scratch
from multus.plugin.context import CallContext
from multus.plugin.delegate import Delegate
from multus.plugin.execute import DelegateNotRun, delegate_add, delegate_del, runtime_conf_for
from multus.plugin.pods import PodNotFound, check_uid, get_pod
from multus.plugin.readiness import wait_for_readiness
from multus.plugin.resolve import aux_chain_delegate, cluster_and_default_networks, pod_delegates, static_delegates
from multus.plugin.status import added_interface_message, network_statuses
from multus.plugin.status_writer import write_network_status

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attached:
    """One delegate ADDed: where it went and what it returned (in 1.x form, for status and events)."""

    delegate: Delegate
    ifname: str
    result: cnitypes.Result
    current: cnitypes.v100.Result
    device_info: dict[str, Any] | None = None


def cmd_add(ctx: CallContext) -> cnitypes.Result:
    wait_for_readiness(ctx.conf.readiness_indicator_file)
    try:
        pod = find_pod(ctx)
    except PodNotFound:
        log.warning("pod %s/%s not found; reporting an empty result as Go Multus does",
                    ctx.k8s.pod_namespace, ctx.k8s.pod_name)
        return empty_result(ctx)
    allocator = PodDeviceAllocator(ctx.devices, pod, ctx.events) if pod is not None and ctx.devices else None
    delegates = resolve_delegates(ctx, pod, allocator)
    scratch.save_delegates(ctx.conf.cni_dir, ctx.container_id, delegates)
    attached = add_all(ctx, delegates, pod)
    if pod is not None and ctx.kube is not None:
        statuses = [entry for a in attached
                    for entry in network_statuses(a.current, a.delegate.name, a.delegate.master, a.device_info)]
        write_network_status(ctx, pod, statuses)
    master = next((a for a in attached if a.delegate.master), attached[0])
    return master.result


def find_pod(ctx: CallContext) -> dict[str, Any] | None:
    """The pod, or None without Kubernetes or pod arguments; PodNotFound when the API has none."""
    if ctx.kube is None or not ctx.k8s.has_pod:
        return None
    pod = get_pod(ctx.kube, ctx.k8s.pod_namespace, ctx.k8s.pod_name)
    check_uid(pod, ctx.k8s)
    return pod


def resolve_delegates(ctx: CallContext, pod: dict[str, Any] | None,
                      allocator: PodDeviceAllocator | None = None) -> list[Delegate]:
    """The delegates in order; ``allocator`` hands out device IDs (DEL's re-resolution passes one too)."""
    conf = ctx.conf
    if conf.cluster_network:
        delegates = cluster_and_default_networks(conf, ctx.kube, pod, ctx.events, allocator)
    else:
        delegates = static_delegates(conf)
    if pod is not None and ctx.kube is not None:
        delegates = pod_delegates(conf, ctx.kube, pod, delegates, ctx.events, allocator)
    aux = aux_chain_delegate(conf)
    if aux is not None:
        delegates.append(aux)
    return delegates


def add_all(ctx: CallContext, delegates: list[Delegate], pod: dict[str, Any] | None) -> list[Attached]:
    attached: list[Attached] = []
    for index, delegate in enumerate(delegates):
        cni_file = deviceinfo.cni_file_of(dict(runtime_conf_for(ctx, delegate, index, for_add=True).capability_args))
        deviceinfo.copy_from_device_plugin(delegate, cni_file, ctx.devinfo_dir)
        try:
            rt, result = delegate_add(ctx, delegate, index)
        except DelegateNotRun:
            roll_back(ctx, delegates, index, failed_ran=False)
            raise
        except CniError as exc:
            roll_back(ctx, delegates, index)
            if delegate.resource_name and not delegate.device_id:
                raise CniError(exc.msg, "; ".join(filter(None, [exc.details,
                               delegate_failure_hint(delegate.resource_name)])), exc.code) from exc
            raise
        device_info = deviceinfo.read_for_status(delegate, cni_file, from_sysfs=ctx.device_info_from_sysfs,
                                                 sysfs_root=ctx.sysfs_root)
        current = cnitypes.to_current(result)
        fix_default_route(ctx, delegate, rt.if_name, current)
        if pod is not None:
            message = added_interface_message(rt.if_name, current, delegate.name)
            if message:
                ctx.events.emit(pod, "Normal", "AddedInterface", message)
        attached.append(Attached(delegate, rt.if_name, result, current, device_info))
    return attached


def roll_back(ctx: CallContext, delegates: list[Delegate], failed: int, *, failed_ran: bool = True) -> None:
    """DEL delegates ``failed`` down to 0, so a failed ADD leaves nothing behind.

    The failed delegate is included: a plugin may have allocated an address before it failed. Not so
    when it was refused before its plugin ran (``failed_ran=False``: its interface name was taken): Go
    DELs it too, and its plugin then deletes the link of that name, which was never its own. The
    scratch cache goes too, unless the DEL of a delegate that had been added failed: then the runtime's
    DEL retries from it. (The failed delegate's own DEL often fails for the reason its ADD did, e.g. a
    bad config; keeping the cache for that would make every later DEL fail the same way.)
    """
    clean = True
    for index in range(failed if failed_ran else failed - 1, -1, -1):
        try:
            rt = delegate_del(ctx, delegates[index], index)
        except CniError as exc:
            log.error("rollback: %s", exc)
            clean = clean and index == failed
            rt = runtime_conf_for(ctx, delegates[index], index, for_add=False)
        deviceinfo.remove(deviceinfo.cni_file_of(dict(rt.capability_args)))
    if clean:
        scratch.remove_delegates(ctx.conf.cni_dir, ctx.container_id)


def fix_default_route(ctx: CallContext, delegate: Delegate, ifname: str, current: cnitypes.v100.Result) -> None:
    plan = gateway.plan(delegate, current)
    if not plan.changes_anything:
        return
    network_name = delegate.network(ctx.conf.cni_version).name
    gateway.apply_in_netns(ctx.netns, ifname, plan)
    gateway.apply_to_cache(ctx.conf.cni_dir, network_name, ctx.container_id, ifname, plan)


def empty_result(ctx: CallContext) -> cnitypes.Result:
    """Go's answer when the pod is gone: success, with a placeholder address and no delegate run."""
    version = ctx.conf.cni_version or "1.0.0"
    body = {"cniVersion": "1.1.0",
            "interfaces": [{"name": ctx.ifname, "sandbox": ctx.netns}],
            "ips": [{"address": "0.0.0.0/0", "gateway": "0.0.0.0"}]}
    return cnitypes.convert_result(cnitypes.parse_result(body), version)
