"""The daemon's endpoints: ``/cni`` (a full Multus verb), ``/delegate`` (one interface), probes, routing.

``/cni`` runs the same verbs as the thin plugin (``multus.plugin.add.cmd_add`` and friends) on a
per-call :class:`~multus.plugin.context.CallContext`: nothing is process-global, so requests run
concurrently on the server's threads, sharing only the Kubernetes client and the plugin executor.
The request's config is first overlaid with the daemon's config (the server wins, §9.3).

``/delegate`` is the hot-plug path (§9.4, used by a dynamic-networks controller): the request's config
is ONE delegate, the pod must exist, ``interfaceAttributes`` (mac, ips, cni-args) become its selection,
and it is ADDed/DELed/CHECKed as interface CNI_IFNAME. No scratch cache, no network-status, no
device-info. Unlike Go, the daemon config is not overlaid on the delegate's config: it is a Multus
config, and keys such as ``cniVersion`` would rewrite the delegate's own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from multus.cni import types as cnitypes
from multus.cni.durable import deferred_syncs
from multus.cni.errors import CniError, ConfigError
from multus.cni.invoke import PluginExecutor
from multus.daemon import wire
from multus.daemon.config import DaemonConfig, override_request_config
from multus.daemon.events import BackgroundEvents, EventBatch
from multus.daemon.metrics import DaemonMetrics, TimedRuntime
from multus.daemon.wire import CallArgs, HttpRequest, HttpResponse, RequestError
from multus.devices.source import DeviceSource
from multus.plugin.add import cmd_add
from multus.plugin.check import cmd_check
from multus.plugin.config import MultusNetConf, decode_netconf
from multus.plugin.context import CallContext, make_runtime
from multus.plugin.delegate import build_delegate, decode_delegate_config
from multus.plugin.delete import cmd_del
from multus.plugin.entry import KubeFactory, build_context
from multus.plugin.events import KubeEventSink, NullEventSink
from multus.plugin.execute import delegate_add, delegate_check, delegate_del
from multus.plugin.gojson import decode_struct
from multus.plugin.k8s_args import K8sArgs, parse_daemon_k8s_args
from multus.plugin.lifecycle import cmd_gc, cmd_status
from multus.plugin.pods import check_uid, get_pod
from multus.plugin.selection import NETWORK_SELECTION_JSON, NetworkSelection

log = logging.getLogger(__name__)

Verb = Callable[[CallContext], "cnitypes.Result | None"]


VERBS: dict[str, Verb] = {"ADD": cmd_add, "DEL": cmd_del, "CHECK": cmd_check, "GC": cmd_gc, "STATUS": cmd_status}


class Handlers:
    """/cni and /delegate for one daemon: its config, Kubernetes access, executor and metrics."""

    def __init__(self, config: DaemonConfig, *, kube_factory: KubeFactory, metrics: DaemonMetrics,
                 executor: PluginExecutor | None = None, device_source: DeviceSource | None = None,
                 events: BackgroundEvents | None = None) -> None:
        self._config = config
        # Events POSTed on a background thread (None: on the request's thread, as the thin plugin does).
        self._events = events
        self._kube_factory = kube_factory
        self._executor = executor
        # One kubelet PodResources client for all requests (one gRPC channel, one Get per ADD).
        self._device_source = device_source
        self._metrics = metrics

    # ---- /cni ------------------------------------------------------------------------------------------

    def cni(self, request: HttpRequest) -> HttpResponse:
        held: list[EventBatch] = []
        response = self._answer_cni(request, held)
        # The call's events are queued once the answer is written: their POST runs on a background thread
        # and would otherwise hold the interpreter while this thread renders and sends the answer.
        return replace(response, after=lambda: _release(held)) if held else response

    def _answer_cni(self, request: HttpRequest, held: list[EventBatch]) -> HttpResponse:
        call: CallArgs | None = None
        try:
            version = wire.requested_result_version(request)
            body = wire.decode_request(request.body)
            call = wire.extract_call(body.env, body.config)
            call = replace(call, stdin_data=self._overridden(call.stdin_data))
            k8s = _runtime_k8s_args(call)
            verb = VERBS.get(call.command)
            if verb is None:
                return wire.text_response(400, f"unknown cmd type: {call.command}")
            if call.command != "STATUS" and call.command != "GC":
                k8s.require_pod_identity()
            result = self._timed(call, lambda: self._run(verb, call, body.env, k8s, held))
            if call.command == "ADD" and result is not None:
                return wire.add_response(result, version)
            return wire.EMPTY_OK
        except RequestError as exc:
            return wire.text_response(400, str(exc))
        except CniError as exc:
            return wire.cni_error_response(exc)
        except Exception as exc:
            log.exception("CNI request failed: %s", call.describe() if call else "before its arguments were read")
            return wire.plain_error_response(call, exc)

    def _overridden(self, stdin: bytes) -> bytes:
        try:
            return override_request_config(stdin, self._config.raw,
                                           ignore_readiness_indicator=self._config.auto_mode)
        except ValueError as exc:
            raise RequestError(f"could not extract the CNI command args: failed to unmarshall CNI config: "
                               f"{exc}") from None

    def _run(self, verb: Verb, call: CallArgs, env: Mapping[str, str], k8s: K8sArgs,
             held: list[EventBatch]) -> cnitypes.Result | None:
        """One verb; an ADD failure reads Go's "error configuring pod" and keeps its CNI code. The call's
        events are put in ``held``, for the caller to release once the answer is out."""
        log.info("%s starting CNI request %s", call.command, call.describe())
        try:
            ctx = build_context(call.to_cmd_args(), env, kube_factory=self._kube_factory, executor=self._executor,
                                configure_logging=False, device_source=self._device_source)
            events = ctx.events
            if self._events is not None and ctx.kube is not None:
                # Best effort, so off the request's path: POSTed on a background thread once the verb is
                # done (after its own API writes), as Go's asynchronous event recorder does.
                batch = self._events.batch(ctx.kube)
                held.append(batch)
                events = KubeEventSink(batch)
            with deferred_syncs():  # caches reach the disk while plugins run; waited for before answering
                result = verb(ctx._replace(runtime=TimedRuntime(ctx.runtime, self._metrics.observe_delegate),
                                           events=events))
        except CniError as exc:
            log.info("%s finished CNI request %s, err: %s", call.command, call.describe(), exc)
            if call.command == "ADD":
                raise wire.add_error(exc, k8s.pod_namespace, k8s.pod_name) from exc
            raise
        except Exception as exc:
            if call.command == "ADD":
                raise RuntimeError(f"error configuring pod [{k8s.pod_namespace}/{k8s.pod_name}] networking: "
                                   f"{exc}") from exc
            raise
        log.info("%s finished CNI request %s", call.command, call.describe())
        return result

    def _timed(self, call: CallArgs, run: Callable[[], cnitypes.Result | None]) -> cnitypes.Result | None:
        start = time.monotonic()
        try:
            return run()
        finally:
            self._metrics.observe_cni(call.command, time.monotonic() - start)

    # ---- /delegate -------------------------------------------------------------------------------------

    def delegate(self, request: HttpRequest) -> HttpResponse:
        call: CallArgs | None = None
        try:
            version = wire.requested_result_version(request)
            body = wire.decode_request(request.body)
            call = wire.extract_call(body.env, body.config)
            if call.command not in ("ADD", "DEL", "CHECK", "STATUS"):
                return wire.text_response(400, f"unknown cmd type: {call.command}")
            k8s = _runtime_k8s_args(call)
            log.info("%s starting delegate request %s", call.command, call.describe())
            with deferred_syncs():
                result = self._run_delegate(call, k8s, body.interface_attributes)  # timed per delegate
            log.info("%s finished delegate request %s", call.command, call.describe())
            if call.command == "ADD" and result is not None:
                return wire.add_response(result, version)
            return wire.EMPTY_OK
        except RequestError as exc:
            return wire.text_response(400, str(exc))
        except CniError as exc:
            log.info("delegate request %s failed: %s", call.describe() if call else "", exc)
            return wire.cni_error_response(exc)
        except Exception as exc:
            log.exception("delegate request failed: %s", call.describe() if call else "")
            return wire.plain_error_response(call, exc)

    def _run_delegate(self, call: CallArgs, k8s: K8sArgs,
                      attributes: wire.InterfaceAttributes | None) -> cnitypes.Result | None:
        conf = self._delegate_base_conf()
        kube = self._kube_factory(conf, {})
        if call.command in ("ADD", "DEL"):
            k8s.require_pod_identity()
            if kube is None:
                raise CniError("cannot look up the pod: the daemon has no Kubernetes access "
                               "(set kubeconfig in the daemon config or run in-cluster)")
            check_uid(get_pod(kube, k8s.pod_namespace, k8s.pod_name), k8s)  # a missing pod is an error here
        delegate = build_delegate(call.stdin_data, name=_network_name(call.stdin_data),
                                  selection=_selection(call, attributes))
        runtime = TimedRuntime(make_runtime(conf, call.path, self._executor), self._metrics.observe_delegate)
        runtime_config = conf.runtime_config.to_dict() if conf.runtime_config is not None else {}
        ctx = CallContext(conf=conf, k8s=k8s, container_id=call.container_id, netns=call.netns, ifname=call.if_name,
                          env_cni_args=call.args, runtime=runtime, kube=kube, events=NullEventSink(),
                          base_runtime_config=runtime_config)
        if call.command == "ADD":
            return delegate_add(ctx, delegate, 0)[1]
        if call.command == "DEL":
            delegate_del(ctx, delegate, 0)
        elif call.command == "CHECK":
            delegate_check(ctx, delegate, 0)
        else:
            runtime.get_status_network_list(delegate.network(conf.cni_version))
        return None

    def _delegate_base_conf(self) -> MultusNetConf:
        """Go's ``GetDefaultNetConf()`` overlaid with the daemon config: paths, namespaces, runtimeConfig."""
        try:
            return decode_netconf(self._config.raw)
        except ValueError as exc:
            raise ConfigError(f"the daemon config cannot serve as the Multus config of /delegate: {exc}") from None


def _release(held: list[EventBatch]) -> None:
    for batch in held:
        batch.release()


def _runtime_k8s_args(call: CallArgs) -> K8sArgs:
    """Go's kubernetesRuntimeArgs: the pod identity (STATUS and GC have none to give)."""
    if call.command in wire.STATUS_AND_GC:
        return K8sArgs()
    try:
        return parse_daemon_k8s_args(call.args)
    except CniError as exc:
        raise CniError(f"could not extract the kubernetes runtime args: {exc.msg}", exc.details, exc.code) from None


def _network_name(config: bytes) -> str:
    name = decode_delegate_config(config).get("name", "")
    return name if isinstance(name, str) else ""


def _selection(call: CallArgs, attributes: wire.InterfaceAttributes | None) -> NetworkSelection:
    """The hot-plugged interface as a selection element: its name, and the attributes asked for."""
    fields: dict[str, Any] = {"name": _network_name(call.stdin_data) or "delegate", "interface": call.if_name}
    if attributes is not None:
        fields.update(attributes.selection_fields())
    try:
        return decode_struct(NETWORK_SELECTION_JSON, fields)
    except ValueError as exc:
        raise ConfigError(f"invalid interfaceAttributes: {exc}") from None


class Router:
    """Path and method to handler, Go's responses for the rest, and the request counter for all."""

    def __init__(self, handlers: Handlers, metrics: DaemonMetrics, is_draining: Callable[[], bool]) -> None:
        self._metrics = metrics
        self._is_draining = is_draining
        self._routes: dict[str, tuple[tuple[str, ...], Callable[[HttpRequest], HttpResponse]]] = {
            "/cni": (("POST",), handlers.cni),
            "/delegate": (("POST",), handlers.delegate),
            "/healthz": (("GET", "POST"), lambda _request: wire.EMPTY_OK),
            "/readyz": (("GET", "POST"), self._readyz),
        }

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path.split("?", 1)[0]
        route = self._routes.get(path)
        if route is None:
            response, label = wire.NOT_FOUND, "NotFound"
        elif path == "/cni" and self._is_draining() and request.header(wire.READINESS_HEADER) == "unchecked":
            response, label = wire.NOT_READY, path  # our shim waits for /readyz and sends it again
        else:
            methods, handler = route
            response, label = (handler(request) if request.method in methods else wire.METHOD_NOT_ALLOWED), path
        self._metrics.count_request(label, response.status, request.method)
        return response

    def _readyz(self, request: HttpRequest) -> HttpResponse:
        """500 from the moment a graceful shutdown starts, so probes and shims stop sending work."""
        return HttpResponse(500) if self._is_draining() else wire.EMPTY_OK
