"""Running one delegate through the CNI runtime: ADD, DEL and CHECK of a conf or a conflist.

Errors name the pod and the network, in Go Multus's words, but keep the delegate's own CNI error code
(Go turns every delegate failure into code 999; a runtime that sees 11 "try again later" can act on it).
"""

from __future__ import annotations

from multus.cni import types as cnitypes
from multus.cni.errors import CniError
from multus.cni.netconf import NetworkConfig, NetworkConfigList
from multus.cni.runtime import RuntimeConf
from multus.plugin.context import CallContext
from multus.plugin.delegate import Delegate
from multus.plugin.ifname import check_interface_free
from multus.plugin.runtime_conf import delegate_runtime_conf


class DelegateNotRun(CniError):
    """A delegate ADD refused before its plugin ran (its interface name is taken, or the namespace is
    missing): there is nothing of it to roll back, and a DEL could remove a link that is not its own."""


def runtime_conf_for(ctx: CallContext, delegate: Delegate, index: int, *, for_add: bool) -> RuntimeConf:
    return delegate_runtime_conf(delegate, index=index, container_id=ctx.container_id, netns=ctx.netns,
                                 cni_ifname=ctx.ifname, k8s=ctx.k8s, env_cni_args=ctx.env_cni_args,
                                 base_runtime_config=ctx.base_runtime_config, for_add=for_add,
                                 devinfo_dir=f"{ctx.devinfo_dir}/cni")


def _network(ctx: CallContext, delegate: Delegate) -> NetworkConfigList:
    return delegate.network(ctx.conf.cni_version)


def _single_conf(net: NetworkConfigList, delegate: Delegate) -> NetworkConfig | None:
    """The plugin of a non-list delegate: libcni caches a single conf under its own bytes."""
    return None if delegate.is_conflist else net.plugins[0]


def _wrap(ctx: CallContext, delegate: Delegate, action: str, exc: CniError) -> CniError:
    return CniError(f"[{ctx.pod_ref}:{delegate.name}]: error {action} network \"{delegate.name}\": {exc.msg}",
                    exc.details, exc.code)


def delegate_add(ctx: CallContext, delegate: Delegate, index: int) -> tuple[RuntimeConf, cnitypes.Result]:
    rt = runtime_conf_for(ctx, delegate, index, for_add=True)
    try:
        net = _network(ctx, delegate)
        try:
            check_interface_free(ctx.netns, rt.if_name)
        except CniError as exc:
            plugin_type = net.plugins[0].type
            raise DelegateNotRun(f'DelegateAdd: cannot set "{plugin_type}" interface name to "{rt.if_name}": '
                                 f'{exc.msg}', exc.details, exc.code) from exc
        conf = _single_conf(net, delegate)
        result = ctx.runtime.add_network(conf, rt) if conf else ctx.runtime.add_network_list(net, rt)
    except CniError as exc:
        wrapped = _wrap(ctx, delegate, "adding container to", exc)
        if isinstance(exc, DelegateNotRun):
            raise DelegateNotRun(wrapped.msg, wrapped.details, wrapped.code) from exc
        raise wrapped from exc
    return rt, result


def delegate_del(ctx: CallContext, delegate: Delegate, index: int) -> RuntimeConf:
    rt = runtime_conf_for(ctx, delegate, index, for_add=False)
    try:
        net = _network(ctx, delegate)
        conf = _single_conf(net, delegate)
        if conf:
            ctx.runtime.del_network(conf, rt)
        else:
            ctx.runtime.del_network_list(net, rt)
    except CniError as exc:
        raise _wrap(ctx, delegate, "deleting container from", exc) from exc
    return rt


def delegate_check(ctx: CallContext, delegate: Delegate, index: int) -> None:
    rt = runtime_conf_for(ctx, delegate, index, for_add=False)
    try:
        net = _network(ctx, delegate)
        conf = _single_conf(net, delegate)
        if conf:
            ctx.runtime.check_network(conf, rt)
        else:
            ctx.runtime.check_network_list(net, rt)
    except CniError as exc:
        raise _wrap(ctx, delegate, "checking container on", exc) from exc
