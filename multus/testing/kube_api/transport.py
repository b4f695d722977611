"""The HTTP(S) listener: one thread per connection, every connection tracked so stop() can end it.

The stdlib ``ThreadingHTTPServer`` forgets about idle keep-alive connections and open watch
streams, which would keep handler threads (and the client's sockets) alive after a test. Here each
accepted socket is remembered with its thread; :meth:`TrackingHTTPServer.close_all` shuts the
sockets down, which unblocks every handler, and then joins the threads.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

log = logging.getLogger(__name__)


def shutdown_socket(conn: socket.socket) -> None:
    """Shut both directions of a connection, waking any thread blocked on it.

    The plain-socket method is used even for TLS sockets: ``SSLSocket.shutdown`` would detach the
    TLS state while another thread may still be inside a read on it.
    """
    with contextlib.suppress(OSError):
        socket.socket.shutdown(conn, socket.SHUT_RDWR)


class TrackingHTTPServer(HTTPServer):
    """An HTTP server on its own thread per connection, with a registry of live connections."""

    allow_reuse_address = True  # a restarted server rebinds its port despite TIME_WAIT

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(address, handler)
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._connections_lock = threading.Lock()
        if ssl_context is not None:
            self.socket = ssl_context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )
        self.context: Any = None  # the handlers' shared state, set by the owner before serving

    def server_bind(self) -> None:
        """Bind without HTTPServer's reverse-DNS lookup of the address, which can stall for seconds."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on a new thread, remembering both."""
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address),
            name=f"kube-api-double-conn-{client_address[1]}", daemon=True,
        )
        with self._connections_lock:
            self._connections[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except OSError:
            pass  # the client or stop() closed the connection (TLS errors included): nothing to report
        except Exception:
            log.exception("kube API double: unhandled error serving %s", client_address)
        finally:
            self.shutdown_request(request)
            with self._connections_lock:
                self._connections.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log unexpected errors quietly instead of printing tracebacks to stderr."""
        log.debug("kube API double: error serving %s", client_address, exc_info=True)

    def close_all(self, timeout: float = 5.0) -> None:
        """Shut down every open connection and wait for their threads to finish."""
        with self._connections_lock:
            connections = dict(self._connections)
        for conn in connections:
            shutdown_socket(conn)
        for thread in connections.values():
            thread.join(timeout)
        with self._connections_lock:
            for conn in list(self._connections):
                with contextlib.suppress(OSError):
                    conn.close()

    @property
    def open_connections(self) -> int:
        """How many client connections are currently being served."""
        with self._connections_lock:
            return len(self._connections)
