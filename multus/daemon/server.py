"""The unix-socket HTTP server: threads, the connection bound, keep-alive and graceful shutdown.

**Back-pressure.** At most ``connection_limit`` connections are served at once, each on its own thread.
The accept loop takes a slot *before* it calls ``accept()``, so when every slot is busy the daemon simply
stops accepting: new connections wait in the kernel's listen backlog (:data:`BACKLOG`), costing no thread
and no memory in the daemon. This is what Go's ``netutil.LimitListener`` does with ``connectionLimit``;
here a bound applies even when the config sets none (``DEFAULT_CONNECTION_LIMIT``), because an unbounded
burst after a node reboot is what drove Go's daemon into OOM loops.

**Keep-alive.** HTTP/1.1 connections are kept open (Go's daemon disables keep-alive; our shim reuses its
connection from ``/readyz`` to ``/cni``, Go's shim sends one request per connection; both work). A kept
connection holds its slot, so it is closed after a response when a connection is already waiting in the
backlog with every slot taken, when it idles for :data:`IDLE_TIMEOUT`, and during shutdown.

**Shutdown.** :meth:`DaemonServer.begin_drain` flips :attr:`draining` (``/readyz`` answers 500 from then
on) while requests keep being served; :meth:`DaemonServer.wait_idle` waits for requests in flight;
:meth:`DaemonServer.close` stops accepting, closes the remaining connections and removes the socket.
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
        self._slot_freed = threading.Condition(self._lock)
        self._slots_used = 0  # connections being served, plus the one the accept loop reserved
        self._connections: set[socket.socket] = set()
        self._in_flight = 0
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Bind (0600) and listen, then accept on a background thread."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            if os.path.lexists(self.socket_path):
                os.unlink(self.socket_path)
            listener.bind(self.socket_path)
            os.chmod(self.socket_path, 0o600)
            listener.listen(self._backlog)
            listener.setblocking(False)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._accept_loop, name="multus-accept", daemon=True)
        self._thread.start()
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
        with self._lock:
            self._stop.set()
            self._slot_freed.notify_all()
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            _shutdown(conn)
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

    # ---- connections -------------------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while self._reserve_slot():
            conn = self._accept()
            if conn is None:
                self._free_slot()
                continue
            with self._lock:
                self._connections.add(conn)
            threading.Thread(target=self._serve, args=(conn,), name="multus-conn", daemon=True).start()

    def _reserve_slot(self) -> bool:
        """Wait for a free slot before accepting (back-pressure); False once the server stops."""
        with self._lock:
            while self._slots_used >= self.connection_limit and not self._stop.is_set():
                self._slot_freed.wait()
            if self._stop.is_set():
                return False
            self._slots_used += 1
            return True

    def _free_slot(self) -> None:
        with self._lock:
            self._slots_used -= 1
            self._slot_freed.notify()

    def _accept(self) -> socket.socket | None:
        """The next connection, or None when woken up to stop."""
        listener = self._listener
        while listener is not None and not self._stop.is_set():
            readable, _, _ = select.select([listener.fileno(), self._wake_r], [], [])
            if self._wake_r in readable:
                return None
            try:
                conn, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                continue
            except OSError as exc:  # e.g. EMFILE: back off rather than spin
                log.error("accept failed: %s", exc)
                time.sleep(0.1)
                continue
            conn.setblocking(True)
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
            self._free_slot()

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
            # Connections, not reserved slots: while the accept loop holds a free slot it takes the next
            # client by itself, and only with every slot serving a connection does a client wait.
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
