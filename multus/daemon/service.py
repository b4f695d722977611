"""The assembled daemon: config, Kubernetes access, handlers, socket server, metrics, shutdown hooks.

:class:`Daemon` is what ``multus-daemon`` runs and what the tests start in-process. The parts it starts,
in Go's order (§9.2): the socket dir (removed and recreated 0700), the API client, the metrics
endpoint, then the listener. :meth:`Daemon.stop` is the graceful termination: ``/readyz`` answers 500 at
once, requests in flight get up to :data:`DRAIN_TIMEOUT` seconds to finish, then the listener closes,
the socket file goes, and the shutdown hooks run (last registered first; the auto-config manager
registers the removal of ``00-multus.conf`` there).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from prometheus_client import CollectorRegistry

from multus.cni.invoke import PluginExecutor, SubprocessExecutor
from multus.daemon.clients import SharedKube
from multus.daemon.config import DaemonConfig
from multus.daemon.events import BackgroundEvents
from multus.daemon.handlers import Handlers, Router
from multus.daemon.metrics import DaemonMetrics, MetricsServer
from multus.daemon.server import DaemonServer, prepare_socket_dir
from multus.devices.source import DEFAULT_KUBELET_ROOT_DIR, LazyPodResources
from multus.plugin.context import KubeAPI

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = 10.0  # Go's SigTermCancelAfter

ShutdownHook = Callable[[], None]


def chroot_executor(chroot_dir: str) -> PluginExecutor:
    """``chrootDir``: delegates run as ``chroot <dir> <plugin>``, as Go's ChrootExec does.

    The plugin is still found in the daemon's own filesystem, so bin paths must be the same inside the
    chroot (usually the host's root) and in the daemon's container, as with Go.
    """
    return SubprocessExecutor(command_prefix=("chroot", chroot_dir))


def production_daemon(config: DaemonConfig) -> Daemon:
    """The daemon ``multus-daemon`` runs: requests read pods and NADs from informer caches."""
    from multus.daemon.clients import start_kube_cache

    kube = start_kube_cache(config.kubeconfig)
    daemon = Daemon(config, kube=kube)
    stop = getattr(kube, "stop", None)
    if stop is not None:
        daemon.add_shutdown_hook(stop)
    return daemon


class Daemon:
    """One multus daemon. ``kube`` (e.g. an informer cache) is shared by every request when given;
    otherwise a client per kubeconfig is (:class:`~multus.daemon.clients.SharedKube`)."""

    def __init__(self, config: DaemonConfig, *, kube: KubeAPI | None = None, kube_factory: SharedKube | None = None,
                 executor: PluginExecutor | None = None, registry: CollectorRegistry | None = None,
                 drain_timeout: float = DRAIN_TIMEOUT, metrics_addr: str = "0.0.0.0") -> None:
        self.config = config
        self.kube_factory = kube_factory or SharedKube(kube)
        self.executor = executor if executor is not None else (
            chroot_executor(config.chroot_dir) if config.chroot_dir else None)
        self.metrics = DaemonMetrics(registry)
        self.drain_timeout = drain_timeout
        self._metrics_addr = metrics_addr
        self._hooks: list[ShutdownHook] = []
        self._shutdown_requested = threading.Event()
        self._stopped = False
        self._stop_lock = threading.Lock()
        self.metrics_server: MetricsServer | None = None
        self.devices = LazyPodResources(str(config.raw.get("kubeletRootDir") or DEFAULT_KUBELET_ROOT_DIR))
        # Events are best effort and go out on a background thread, off every request's path.
        self.events = BackgroundEvents()
        handlers = Handlers(config, kube_factory=self.kube_factory, metrics=self.metrics, executor=self.executor,
                            device_source=self.devices, events=self.events)
        self.server = DaemonServer(config.socket_path, Router(handlers, self.metrics, self.is_draining),
                                   connection_limit=config.effective_connection_limit)

    def add_shutdown_hook(self, hook: ShutdownHook) -> None:
        """Run ``hook`` after the server has stopped (hooks run last registered first)."""
        self._hooks.append(hook)

    def is_draining(self) -> bool:
        return self.server.draining.is_set()

    def start(self) -> None:
        """Socket dir, API client, metrics, listener; on a failure, whatever started is stopped again."""
        try:
            prepare_socket_dir(self.config.socket_dir)
            if self.config.kubeconfig:
                self.kube_factory.client_for(self.config.kubeconfig)  # a bad kubeconfig fails the start
            if self.config.metrics_port is not None:
                self.metrics_server = MetricsServer(self.metrics, self.config.metrics_port, self._metrics_addr)
            self.server.start()
        except BaseException:
            self._close_parts()
            raise

    def request_shutdown(self) -> None:
        """Begin a graceful termination (safe from a signal handler): /readyz turns 500 now."""
        self.server.begin_drain()
        self._shutdown_requested.set()

    def wait_for_shutdown_request(self, timeout: float | None = None) -> bool:
        return self._shutdown_requested.wait(timeout)

    def stop(self) -> None:
        """Drain (up to ``drain_timeout``), close the listener and socket, run the shutdown hooks. Idempotent."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        self.request_shutdown()
        if not self.server.wait_idle(self.drain_timeout):
            log.error("%d requests still running after %.0f s; stopping anyway", self.server.in_flight,
                      self.drain_timeout)
        self._close_parts()
        for hook in reversed(self._hooks):
            try:
                hook()
            except Exception:
                log.exception("shutdown hook %r failed", hook)
        log.info("multus daemon stopped")

    def _close_parts(self) -> None:
        self.server.close()
        self.events.close()  # what requests queued, while the API clients are still open
        if self.metrics_server is not None:
            self.metrics_server.close()
            self.metrics_server = None
        self.kube_factory.close()
        self.devices.close()

    def __enter__(self) -> Daemon:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
