"""One connection's HTTP/1.1 exchange on the daemon's socket, on top of the standard library's parser.

:class:`HttpConnection` reads requests (Content-Length or chunked bodies, at most :data:`MAX_BODY`),
hands each to the owner's app and writes the answer, keeping the connection open between requests
unless the client or the owner (:meth:`ConnectionOwner.should_close`) says otherwise. Timeouts: the
first request line and every body must arrive within ``request_timeout``; a kept-alive connection may
idle ``idle_timeout`` before the next one. The socket server (:mod:`multus.daemon.server`) owns
threads, limits and shutdown.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol

from multus.daemon.wire import HttpRequest, HttpResponse, text_response

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024


class ConnectionOwner(Protocol):
    """What a connection needs from its server."""

    app: Callable[[HttpRequest], HttpResponse]
    request_timeout: float
    idle_timeout: float

    def request_started(self) -> None: ...

    def request_finished(self) -> None: ...

    def should_close(self) -> bool: ...


class HttpConnection(BaseHTTPRequestHandler):
    """One connection's HTTP/1.1 exchange; every request goes to the server's app."""

    protocol_version = "HTTP/1.1"
    server_version = "multus-daemon"

    def __init__(self, conn: socket.socket, owner: ConnectionOwner) -> None:
        self.owner = owner
        self._first = True
        super().__init__(conn, ("unix", 0), None)  # type: ignore[arg-type]  # no socketserver here

    def handle(self) -> None:
        self.close_connection = True
        while True:
            self.connection.settimeout(self.owner.request_timeout if self._first else self.owner.idle_timeout)
            self.handle_one_request()  # a timeout or EOF while waiting sets close_connection
            self._first = False
            if self.close_connection:
                return

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_GET

    def _dispatch(self) -> None:
        self.connection.settimeout(self.owner.request_timeout)
        self.owner.request_started()
        try:
            response = self._respond()
        finally:
            self.owner.request_finished()
        self._write(response)

    def _respond(self) -> HttpResponse:
        try:
            body = self._read_body()
        except _BadBody as exc:
            self.close_connection = True
            return text_response(exc.status, str(exc))
        request = HttpRequest(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        try:
            return self.owner.app(request)
        except Exception:
            log.exception("unhandled error serving %s %s", self.command, self.path)
            return text_response(500, "internal server error")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            raise _BadBody(400, "invalid Content-Length") from None
        if length < 0 or length > MAX_BODY:
            raise _BadBody(413, "request body too large")
        body = self.rfile.read(length)
        if len(body) != length:
            raise _BadBody(400, "request body ended early")
        return body

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        size_total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _BadBody(400, "invalid chunked body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            size_total += size
            if size_total > MAX_BODY:
                raise _BadBody(413, "request body too large")
            chunk = self.rfile.read(size)
            if len(chunk) != size:
                raise _BadBody(400, "request body ended early")
            chunks.append(chunk)
            self.rfile.readline(1024)

    def _write(self, response: HttpResponse) -> None:
        if self.owner.should_close():
            self.close_connection = True
        self.send_response(response.status)
        if response.content_type:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)


class _BadBody(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
