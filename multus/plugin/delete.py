"""DEL: release every network of a pod, even when the pod, the API or the scratch cache is gone.

Which delegates to DEL, in order of trust:
  1. the scratch cache ``<cniDir>/<containerID>`` written by the ADD;
  2. if it is missing or corrupt, the delegates re-resolved from the pod (when the API still has it);
  3. in every case, libcni result-cache entries of this container that neither covered: each holds the
     exact config, interface and arguments its ADD used, so an attachment whose ADD completed can be
     released even when the scratch cache was truncated by a reboot and the pod is gone.
Go Multus returns success without running any plugin when its cache is corrupt, and leaks the IPs.

DELs run last delegate first (with ``delegateConcurrency`` N, up to N at once, started last first);
errors are collected and reported together, last first. DEL is idempotent: plugins are asked again,
and a second DEL finds nothing cached.
"""

from __future__ import annotations

import functools
from typing import Any

from multus.cni.cache import CachedAttachment, ResultCache
from multus.cni.errors import CniError
from multus.cni.netconf import load_any
from multus.cni.runtime import RuntimeConf
from multus.devices import deviceinfo
from multus.devices.allocator import PodDeviceAllocator
from multus.logs import get_logger
from multus.plugin import scratch
from multus.plugin.concurrency import run_concurrently
from multus.plugin.context import CallContext
from multus.plugin.delegate import Delegate
from multus.plugin.execute import delegate_del, runtime_conf_for
from multus.plugin.pods import PodNotFound, PodUIDMismatch, check_uid, get_pod
from multus.plugin.readiness import check_readiness_once

log = get_logger(__name__)


def cmd_del(ctx: CallContext) -> None:
    check_readiness_once(ctx.conf.readiness_indicator_file)
    pod = pod_if_available(ctx)
    delegates, cache_problem = cached_or_resolved_delegates(ctx, pod)
    last_first = [(i, runtime_conf_for(ctx, delegates[i], i, for_add=False)) for i in range(len(delegates) - 1, -1, -1)]
    covered = {(delegates[i].network(ctx.conf.cni_version).name, rt.if_name) for i, rt in last_first}
    # One at a time unless delegateConcurrency allows more; either way in last-first order.
    outcomes = run_concurrently([functools.partial(release_delegate, ctx, delegates[i], i, rt) for i, rt in last_first],
                                ctx.conf.delegate_concurrency, stop_after_failure=False)
    errors: list[str] = []
    for outcome in outcomes:  # in last-first order, however they finished
        if isinstance(outcome, BaseException):
            raise outcome  # not a plugin's failure (those are reported below): a bug, as in sequence
        if outcome:
            errors.append(outcome)
    errors.extend(release_uncovered_attachments(ctx, covered))
    if cache_problem and not delegates:
        log.warning("%s; released what the result cache recorded", cache_problem)
    # retryDeleteOnError keeps the cache for the runtime's retry, unless what failed is already gone
    # (Go's "no such file or directory" test): a retry could never succeed then.
    retry_can_help = not any("no such file or directory" in error for error in errors)
    if not errors or not ctx.conf.retry_delete_on_error or not retry_can_help:
        scratch.remove_delegates(ctx.conf.cni_dir, ctx.container_id)
    if errors:
        raise CniError(f"Multus: [{ctx.pod_ref}]: errors: " + " / ".join(errors))


def release_delegate(ctx: CallContext, delegate: Delegate, index: int, rt: RuntimeConf) -> str:
    """DEL one delegate (``rt``: its runtime conf) and remove its device-info file; its error message, ""
    when it succeeded."""
    try:
        delegate_del(ctx, delegate, index)
        error = ""
    except CniError as exc:
        error = str(exc)
    deviceinfo.remove(deviceinfo.cni_file_of(dict(rt.capability_args)))
    return error


def pod_if_available(ctx: CallContext) -> dict[str, Any] | None:
    """The pod, if the API still has this very pod; DEL goes on without it otherwise."""
    if ctx.kube is None or not ctx.k8s.has_pod:
        return None
    try:
        pod = get_pod(ctx.kube, ctx.k8s.pod_namespace, ctx.k8s.pod_name)
        check_uid(pod, ctx.k8s)
    except PodNotFound:
        return None
    except PodUIDMismatch as exc:
        log.warning("%s; deleting from the cache only", exc)
        return None
    except CniError as exc:
        log.warning("could not get pod %s/%s: %s", ctx.k8s.pod_namespace, ctx.k8s.pod_name, exc)
        return None
    return pod


def cached_or_resolved_delegates(ctx: CallContext, pod: dict[str, Any] | None) -> tuple[list[Delegate], str]:
    """The delegates to DEL and, when the scratch cache could not be used, why."""
    problem = ""
    try:
        cached = scratch.load_delegates(ctx.conf.cni_dir, ctx.container_id)
    except scratch.ScratchCacheError as exc:
        cached, problem = None, str(exc)
        log.error("%s", exc)
    if cached is not None:
        return cached, ""
    if pod is None:
        return [], problem or "no cached delegates and no pod"
    # As Go does, a fresh resource map: each delegate gets back the deviceID its ADD had (its config and
    # its device-info file name depend on it). No events: a DEL has nothing to tell the pod.
    # Deferred: ADD's module and its imports (resolution, gateway, status) serve only this fallback.
    from multus.plugin.add import resolve_delegates

    allocator = PodDeviceAllocator(ctx.devices, pod) if ctx.devices else None
    try:
        return resolve_delegates(ctx, pod, allocator), problem
    except CniError as exc:
        log.error("could not re-resolve the delegates of pod %s: %s", ctx.pod_ref, exc)
        return [], problem or str(exc)


def release_uncovered_attachments(ctx: CallContext, covered: set[tuple[str, str]]) -> list[str]:
    """DEL this container's libcni-cached attachments that no delegate above accounted for."""
    errors = []
    for entry in ResultCache(ctx.conf.cni_dir).entries(ctx.container_id):
        if (entry.network_name, entry.if_name) in covered:
            continue
        try:
            del_cached_attachment(ctx, entry)
        except CniError as exc:
            errors.append(f"cached attachment {entry.network_name}/{entry.if_name}: {exc}")
    return errors


def del_cached_attachment(ctx: CallContext, entry: CachedAttachment) -> None:
    net = load_any(entry.config)
    rt = RuntimeConf(container_id=entry.container_id, netns=entry.netns or ctx.netns, if_name=entry.if_name,
                     args=entry.cni_args, capability_args=entry.capability_args)
    log.warning("releasing %s on %s from the result cache", net.name, entry.if_name)
    try:
        ctx.runtime.del_network_list(net, rt)
    finally:
        deviceinfo.remove(deviceinfo.cni_file_of(dict(entry.capability_args)))
