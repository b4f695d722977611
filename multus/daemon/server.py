"""The unix-socket HTTP server: threads, the connection bound, keep-alive and graceful shutdown.

**Workers.** Connections are served by a pool of worker threads, each blocking in ``accept()`` on the
listening socket and serving the connection it got (the kernel hands each connection to one waiting
worker). A connection costs no thread start and no hand-over between threads: both were measurable on
every pod's ADD. The pool starts small and grows by one whenever a worker takes a connection and none is
left waiting, up to ``connection_limit``; workers live as long as the server.

**Back-pressure.** At most ``connection_limit`` connections are served at once, because there are at most
that many workers and a worker accepts only when it is free: when every worker is busy, new connections
wait in the kernel's listen backlog (:data:`BACKLOG`), costing no thread and no memory in the daemon.
This is what Go's ``netutil.LimitListener`` does with ``connectionLimit``; here a bound applies even when
the config sets none (``DEFAULT_CONNECTION_LIMIT``), because an unbounded burst after a node reboot is
what drove Go's daemon into OOM loops.

**Keep-alive.** HTTP/1.1 connections are kept open (Go's daemon disables keep-alive; our shim sends one
request per connection, or reuses its ``/readyz`` connection when it had to wait; Go's shim sends one
request per connection; all work). A kept connection holds its worker, so it is closed after a response
when a connection is already waiting in the backlog with every worker busy, when it idles for
:data:`IDLE_TIMEOUT`, and during shutdown.

**Shutdown.** :meth:`DaemonServer.begin_drain` flips :attr:`draining` (``/readyz`` answers 500 from then
on) while requests keep being served; :meth:`DaemonServer.wait_idle` waits for requests in flight;
:meth:`DaemonServer.close` stops accepting (``shutdown()`` of the listening socket wakes every worker
blocked in ``accept()``), closes the remaining connections and removes the socket.
"""

from __future__ import annotations

import logging
import os
import select
import shutil
import socket
import threading
import time
from collections.abc import Callable

from multus.daemon.connection import HttpConnection
from multus.daemon.wire import HttpRequest, HttpResponse

log = logging.getLogger(__name__)

BACKLOG = 4096  # the kernel caps it at net.core.somaxconn
REQUEST_TIMEOUT = 10.0  # a new connection must send its request (and a body must arrive) within this
IDLE_TIMEOUT = 2.0  # a kept-alive connection may idle this long between requests
INITIAL_WORKERS = 2  # the pool grows from here as connections overlap

App = Callable[[HttpRequest], HttpResponse]


def prepare_socket_dir(directory: str) -> None:
    """Go's FilesystemPreRequirements: remove the socket dir with its contents, recreate it 0700."""
    if os.path.realpath(directory) == "/":
        raise ValueError(f"refusing to use {directory!r} as the socket dir: it would be emptied")
    shutil.rmtree(directory, ignore_errors=True)
    if os.path.lexists(directory):
        os.unlink(directory)  # a file or a dangling symlink in the way
    os.makedirs(directory, mode=0o700, exist_ok=True)
    os.chmod(directory, 0o700)


class DaemonServer:
    """Serves ``app`` on a unix socket with bounded concurrency (see the module docstring)."""

    def __init__(self, socket_path: str, app: App, *, connection_limit: int, backlog: int = BACKLOG,
                 idle_timeout: float = IDLE_TIMEOUT, request_timeout: float = REQUEST_TIMEOUT) -> None:
        if connection_limit <= 0:
            raise ValueError(f"connection limit must be greater than 0, got {connection_limit}")
        self.socket_path = socket_path
        self.app = app
        self.connection_limit = connection_limit
        self.idle_timeout = idle_timeout
        self.request_timeout = request_timeout
        self.draining = threading.Event()
        self._backlog = backlog
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._waiting = 0  # workers blocked in accept(), or about to be
        self._connections: set[socket.socket] = set()
        self._in_flight = 0
        self._listener: socket.socket | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind (0600) and listen, then accept on the first workers."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if os.path.lexists(self.socket_path):
                os.unlink(self.socket_path)
            listener.bind(self.socket_path)
            os.chmod(self.socket_path, 0o600)
            listener.listen(self._backlog)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        with self._lock:
            for _ in range(min(INITIAL_WORKERS, self.connection_limit)):
                self._add_worker()
        log.info("listening on %s (at most %d connections at once)", self.socket_path, self.connection_limit)

    def begin_drain(self) -> None:
        self.draining.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no request is being served; False if some still were after ``timeout``."""
        deadline = time.monotonic() + timeout
        while self.in_flight:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self) -> None:
        """Stop accepting, drop the remaining connections, remove the socket file. Idempotent."""
        self.draining.set()
        self._stop.set()
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes every worker blocked in accept() (EINVAL)
            except OSError:
                pass
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            _shutdown(conn)  # a worker still running a request ends when its handler returns
        if listener is not None:
            listener.close()
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    @property
    def workers(self) -> int:
        """Worker threads started so far (at most ``connection_limit``)."""
        with self._lock:
            return len(self._workers)

    # ---- connections -------------------------------------------------------------------------------------

    def _add_worker(self) -> None:
        """Start one more worker; the caller holds the lock."""
        worker = threading.Thread(target=self._work, name=f"multus-conn-{len(self._workers) + 1}", daemon=True)
        self._workers.append(worker)
        self._waiting += 1
        worker.start()

    def _work(self) -> None:
        while (conn := self._accept()) is not None:
            try:
                self._serve(conn)
            finally:
                with self._lock:
                    self._waiting += 1

    def _accept(self) -> socket.socket | None:
        """This worker's next connection, or None once the server stops."""
        while not self._stop.is_set() and (listener := self._listener) is not None:
            try:
                conn, _ = listener.accept()
            except InterruptedError:
                continue
            except OSError as exc:
                if self._stop.is_set():
                    break
                log.error("accept failed: %s", exc)  # e.g. EMFILE: back off rather than spin
                time.sleep(0.1)
                continue
            with self._lock:
                self._connections.add(conn)
                self._waiting -= 1
                if self._waiting == 0 and len(self._workers) < self.connection_limit and not self._stop.is_set():
                    self._add_worker()  # keep one worker waiting for the next client while there is room
            return conn
        return None

    def _serve(self, conn: socket.socket) -> None:
        try:
            HttpConnection(conn, self)
        except Exception as exc:  # a broken connection must not take the daemon down
            log.debug("connection ended with an error: %s", exc)
        finally:
            with self._lock:
                self._connections.discard(conn)
            _shutdown(conn)
            conn.close()

    def request_started(self) -> None:
        with self._lock:
            self._in_flight += 1

    def request_finished(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def should_close(self) -> bool:
        """Close a kept-alive connection now: shutting down, or it would keep a waiting client out."""
        if self.draining.is_set() or self._stop.is_set():
            return True
        with self._lock:
            full = len(self._connections) >= self.connection_limit
        listener = self._listener
        if not full or listener is None:
            return False
        try:
            readable, _, _ = select.select([listener], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


def _shutdown(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
