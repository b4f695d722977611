"""STATUS and GC: questions about the node's networking, answered by the cluster network (delegate 0).

GC also tells delegate 0 which attachments are still valid. The runtime sends those in
``cni.dev/valid-attachments``; every attachment Multus cached for a valid container (eth0 and the
pod's other interfaces) stays valid, so the cluster network's plugins can drop leases of containers that
are gone. Go Multus marks every cached attachment valid instead, so nothing stale is ever collected;
without the runtime's list we do the same.
"""

from __future__ import annotations

from typing import Any

from multus.cni.cache import ResultCache
from multus.cni.netconf import NetworkConfigList
from multus.cni.runtime import Attachment
from multus.cni.version import supports_gc_and_status
from multus.plugin.context import CallContext
from multus.plugin.readiness import wait_for_readiness
from multus.plugin.resolve import cluster_and_default_networks, static_delegates

VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments"


def master_network(ctx: CallContext) -> NetworkConfigList | None:
    """Delegate 0 as a runnable list; None for a single conf older than 1.1.0 (it has no STATUS/GC)."""
    wait_for_readiness(ctx.conf.readiness_indicator_file)
    if ctx.conf.cluster_network:
        delegates = cluster_and_default_networks(ctx.conf, ctx.kube, None, ctx.events, None)
    else:
        delegates = static_delegates(ctx.conf)
    master = delegates[0]
    net = master.network(ctx.conf.cni_version)
    if not master.is_conflist and not supports_gc_and_status(net.cni_version):
        return None
    return net


def cmd_status(ctx: CallContext) -> None:
    net = master_network(ctx)
    if net is not None:
        ctx.runtime.get_status_network_list(net)


def cmd_gc(ctx: CallContext) -> None:
    net = master_network(ctx)
    if net is None:
        return
    ctx.runtime.gc_network_list(net, valid_attachments(ctx))


def valid_attachments(ctx: CallContext) -> list[Attachment]:
    # Go fails when <cniDir>/results does not exist yet (a node that never ran a pod); it is just empty.
    cache = ResultCache(ctx.conf.cni_dir)
    cached = [Attachment(e.container_id, e.if_name) for e in cache.entries()]
    requested = ctx.conf.raw.get(VALID_ATTACHMENTS_KEY)
    if not isinstance(requested, list):
        return cached
    valid_containers = {str(item.get("containerID", "")) for item in requested if isinstance(item, dict)}
    runtime_listed = [_attachment(item) for item in requested if isinstance(item, dict)]
    return runtime_listed + [a for a in cached if a.container_id in valid_containers and a not in runtime_listed]


def _attachment(item: dict[str, Any]) -> Attachment:
    return Attachment(str(item.get("containerID", "")), str(item.get("ifname", "")))
