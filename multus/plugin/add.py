"""ADD: attach every network of a pod, or nothing at all.

The steps, each a function below: wait for the cluster network's readiness file; find the pod; resolve
the delegates (cluster network, default networks, the pod's annotations, the auxiliary chain); save the
scratch cache before anything runs; ADD each delegate in order, fixing default routes after each; on a
failure, DEL what was added (the failed one included, last first) and drop the cache; finally write the
network-status annotation. The master's result is what the runtime gets.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from multus.cni import types as cnitypes
from multus.cni.errors import CniError
from multus.devices import deviceinfo
from multus.devices.allocator import PodDeviceAllocator
from multus.devices.hints import delegate_failure_hint
from multus.logs import get_logger
from multus.plugin import gateway, scratch
from multus.plugin.concurrency import run_concurrently
from multus.plugin.context import CallContext
from multus.plugin.delegate import Delegate
from multus.plugin.execute import DelegateNotRun, delegate_add, delegate_del, runtime_conf_for
from multus.plugin.pods import PodNotFound, check_uid, get_pod
from multus.plugin.readiness import wait_for_readiness
from multus.plugin.resolve import aux_chain_delegate, cluster_and_default_networks, pod_delegates, static_delegates
from multus.plugin.status import added_interface_message, network_statuses
from multus.plugin.status_writer import write_network_status

log = get_logger(__name__)


class Attached(NamedTuple):
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
    """ADD every delegate (one at a time, as Go, unless ``delegateConcurrency`` allows more)."""
    if ctx.conf.delegate_concurrency > 1 and len(delegates) > 1:
        return add_concurrently(ctx, delegates, pod, ctx.conf.delegate_concurrency)
    attached: list[Attached] = []
    for index, delegate in enumerate(delegates):
        try:
            one = attach(ctx, delegate, index)
        except DelegateNotRun:
            roll_back(ctx, delegates, index, failed_ran=False)
            raise
        except CniError as exc:
            roll_back(ctx, delegates, index)
            raise with_device_hint(delegate, exc) from exc
        settle(ctx, one, pod)
        attached.append(one)
    return attached


def attach(ctx: CallContext, delegate: Delegate, index: int) -> Attached:
    """One delegate's ADD, with its device-info: copied from the device plugin's before, read after."""
    cni_file = deviceinfo.cni_file_of(dict(runtime_conf_for(ctx, delegate, index, for_add=True).capability_args))
    deviceinfo.copy_from_device_plugin(delegate, cni_file, ctx.devinfo_dir)
    rt, result = delegate_add(ctx, delegate, index)
    device_info = deviceinfo.read_for_status(delegate, cni_file, from_sysfs=ctx.device_info_from_sysfs,
                                             sysfs_root=ctx.sysfs_root)
    return Attached(delegate, rt.if_name, result, cnitypes.to_current(result), device_info)


def settle(ctx: CallContext, one: Attached, pod: dict[str, Any] | None) -> None:
    """After a delegate's ADD: its default-route edits and its AddedInterface event."""
    fix_default_route(ctx, one.delegate, one.ifname, one.current)
    if pod is not None:
        message = added_interface_message(one.ifname, one.current, one.delegate.name)
        if message:
            ctx.events.emit(pod, "Normal", "AddedInterface", message)


def with_device_hint(delegate: Delegate, exc: CniError) -> CniError:
    """A delegate's failure; for a device network that got no device ID, what the operator should check."""
    if delegate.resource_name and not delegate.device_id:
        return CniError(exc.msg, "; ".join(filter(None, [exc.details, delegate_failure_hint(delegate.resource_name)])),
                        exc.code)
    return exc


def add_concurrently(ctx: CallContext, delegates: list[Delegate], pod: dict[str, Any] | None,
                     limit: int) -> list[Attached]:
    """ADD up to ``limit`` delegates at once (``delegateConcurrency``), for pods whose plugins are slow.

    Everything that decides *what* runs is as in the sequential order: interface names, device IDs and
    the scratch cache are fixed before; the result, network-status and events keep delegate order;
    default-route edits and events come after every ADD has finished, in delegate order. Interface names
    are checked for duplicates up front (one at a time, the second of a pair fails its name check). On
    any failure, no further delegate starts, every delegate whose plugin ran is DELed (last first), and
    the failure of the lowest index is reported.
    """
    try:
        refuse_duplicate_ifnames(ctx, delegates)
    except DelegateNotRun:
        undo(ctx, delegates, [], failed=set())  # nothing ran: only the scratch cache goes
        raise
    outcomes = run_concurrently([functools.partial(attach, ctx, delegate, index)
                                 for index, delegate in enumerate(delegates)], limit, stop_after_failure=True)
    attached = [o for o in outcomes if isinstance(o, Attached)]
    if len(attached) != len(delegates):
        ran = [i for i, o in enumerate(outcomes) if o is not None and not isinstance(o, DelegateNotRun)]
        index, error = next((i, o) for i, o in enumerate(outcomes) if isinstance(o, BaseException))
        undo(ctx, delegates, ran[::-1], failed={i for i, o in enumerate(outcomes) if isinstance(o, BaseException)})
        if isinstance(error, CniError) and not isinstance(error, DelegateNotRun):
            raise with_device_hint(delegates[index], error) from error
        raise error
    for one in attached:
        settle(ctx, one, pod)
    return attached


def refuse_duplicate_ifnames(ctx: CallContext, delegates: list[Delegate]) -> None:
    """Two delegates asking for one interface name: the later one's name check would fail in order."""
    seen: set[str] = set()
    for index, delegate in enumerate(delegates):
        ifname = runtime_conf_for(ctx, delegate, index, for_add=True).if_name
        if ifname in seen:
            plugin_type = delegate.network(ctx.conf.cni_version).plugins[0].type
            raise DelegateNotRun(f"[{ctx.pod_ref}:{delegate.name}]: error adding container to network "
                                 f'"{delegate.name}": DelegateAdd: cannot set "{plugin_type}" interface name to '
                                 f'"{ifname}": validateIfName: interface name {ifname} already exists')
        seen.add(ifname)


def roll_back(ctx: CallContext, delegates: list[Delegate], failed: int, *, failed_ran: bool = True) -> None:
    """DEL delegates ``failed`` down to 0, so a failed ADD leaves nothing behind.

    The failed delegate is included: a plugin may have allocated an address before it failed. Not so
    when it was refused before its plugin ran (``failed_ran=False``: its interface name was taken): Go
    DELs it too, and its plugin then deletes the link of that name, which was never its own.
    """
    undo(ctx, delegates, list(range(failed if failed_ran else failed - 1, -1, -1)), failed={failed})


def undo(ctx: CallContext, delegates: list[Delegate], indices: list[int], failed: set[int]) -> None:
    """DEL the delegates at ``indices``, in that order, and their device-info files.

    The scratch cache goes too, unless the DEL of a delegate that had been added failed: then the
    runtime's DEL retries from it. (A failed delegate's own DEL often fails for the reason its ADD did,
    e.g. a bad config; keeping the cache for that would make every later DEL fail the same way.)
    """
    clean = True
    for index in indices:
        try:
            rt = delegate_del(ctx, delegates[index], index)
        except CniError as exc:
            log.error("rollback: %s", exc)
            clean = clean and index in failed
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
