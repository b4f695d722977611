"""Prometheus metrics of the daemon, served on ``metricsPort`` at ``/metrics``.

* ``multus_server_request_total{handler,code,method}``: Go's counter, label for label (``handler`` is the
  route, or ``NotFound``; ``code`` the HTTP status; ``method`` lower-cased as Go's promhttp writes it).
* ``multus_cni_request_duration_seconds{command}``: one CNI verb from request to answer, failures
  included, so a slow API server or delegate shows up where operators look first.
* ``multus_delegate_duration_seconds{command,network}``: one delegate's ADD or DEL (every plugin of its
  list), measured around the runtime calls (:class:`TimedRuntime`) so no plugin code needs a hook.
* process and platform metrics (CPU, RSS, open fds): what the OOM reports were diagnosed with.

Each daemon has its own registry when asked (tests run several daemons in one process); the command
uses the process-wide default registry, as Go does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

from multus.cni import types as cnitypes
from multus.cni.netconf import NetworkConfig, NetworkConfigList
from multus.cni.runtime import CNIRuntime, RuntimeConf

log = logging.getLogger(__name__)

# From a cached-informer ADD (~10 ms) to a delegate chain waiting on a slow IPAM or cloud API (minutes).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

DelegateObserver = Callable[[str, str, float], None]
T = TypeVar("T")


class DaemonMetrics:
    """The daemon's collectors, in ``registry`` (the default registry when None)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else REGISTRY
        if self.registry is not REGISTRY:  # the default registry already has them
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        self.requests = Counter("multus_server_request_total", "Counter of HTTP requests",
                                ["handler", "code", "method"], registry=self.registry)
        self.cni_duration = Histogram("multus_cni_request_duration_seconds",
                                      "Time to answer one CNI request, by CNI command",
                                      ["command"], buckets=DURATION_BUCKETS, registry=self.registry)
        self.delegate_duration = Histogram("multus_delegate_duration_seconds",
                                           "Time of one delegate's ADD or DEL, by command and network name",
                                           ["command", "network"], buckets=DURATION_BUCKETS,
                                           registry=self.registry)

    def count_request(self, handler: str, code: int, method: str) -> None:
        self.requests.labels(handler=handler, code=str(code), method=method.lower()).inc()

    def observe_cni(self, command: str, seconds: float) -> None:
        self.cni_duration.labels(command=command).observe(seconds)

    def observe_delegate(self, command: str, network: str, seconds: float) -> None:
        self.delegate_duration.labels(command=command, network=network).observe(seconds)


class MetricsServer:
    """``/metrics`` over TCP on ``port`` (all addresses, as Go's ``:<port>``); ``port`` 0 picks one."""

    def __init__(self, metrics: DaemonMetrics, port: int, addr: str = "0.0.0.0") -> None:
        self._httpd, self._thread = start_http_server(port, addr=addr, registry=metrics.registry)
        self.port: int = self._httpd.server_port
        log.info("metrics on %s:%d/metrics", addr, self.port)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


class TimedRuntime(CNIRuntime):
    """A CNIRuntime that reports how long each delegate's ADD and DEL took.

    Timing around the runtime calls rather than inside ``multus.plugin.execute`` keeps the plugin code
    free of daemon concerns: the verbs call ``add_network[_list]``/``del_network[_list]`` once per
    delegate (rollback and cache-only releases included), which is exactly one observation each.
    """

    def __init__(self, base: CNIRuntime, observe: DelegateObserver) -> None:
        super().__init__(base.plugin_dirs, cache_dir=base.cache_dir, executor=base.executor, timeout=base.timeout)
        self._observe = observe

    def add_network_list(self, net: NetworkConfigList, rt: RuntimeConf) -> cnitypes.Result:
        return self._timed("ADD", net.name, super().add_network_list, net, rt)

    def add_network(self, conf: NetworkConfig, rt: RuntimeConf) -> cnitypes.Result:
        return self._timed("ADD", conf.name, super().add_network, conf, rt)

    def del_network_list(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        # del_network goes through here too, so a single conf is observed once.
        self._timed("DEL", net.name, super().del_network_list, net, rt)

    def _timed(self, command: str, network: str, call: Callable[..., T], *args: Any) -> T:
        start = time.monotonic()
        try:
            return call(*args)
        finally:
            self._observe(command, network, time.monotonic() - start)
