"""One connection's HTTP/1.1 exchange on the daemon's socket.

:class:`HttpConnection` reads requests (Content-Length or chunked bodies, at most :data:`MAX_BODY`),
hands each to the owner's app and writes the answer, keeping the connection open between requests
unless the client or the owner (:meth:`ConnectionOwner.should_close`) says otherwise. Timeouts: the
first request line and every body must arrive within ``request_timeout``; a kept-alive connection may
idle ``idle_timeout`` before the next one. The socket server (:mod:`multus.daemon.server`) owns
threads, limits and shutdown.

The parser is our own rather than ``http.server``'s: its header parsing goes through ``email.parser``
and its answers through several small writes, ~0.3 ms per request on every pod's ADD. The daemon's
clients are shims on a local socket, so the subset is small: request line, header fields, bodies framed
by Content-Length or chunked encoding, ``Expect: 100-continue``; anything else is a 400 and the
connection is closed.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import Protocol

from multus.daemon.wire import HttpRequest, HttpResponse, text_response

log = logging.getLogger(__name__)

MAX_BODY = 16 * 1024 * 1024
MAX_HEAD = 64 * 1024  # request line and header fields together
SERVER = "multus-daemon"
REASONS = {100: "Continue", 200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
           408: "Request Timeout", 413: "Content Too Large", 431: "Request Header Fields Too Large",
           500: "Internal Server Error", 503: "Service Unavailable"}


class ConnectionOwner(Protocol):
    """What a connection needs from its server."""

    app: Callable[[HttpRequest], HttpResponse]
    request_timeout: float
    idle_timeout: float

    def request_started(self) -> None: ...

    def request_finished(self) -> None: ...

    def should_close(self) -> bool: ...


class BadRequest(Exception):
    """The request cannot be read; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Closed(Exception):
    """The client closed the connection (or went quiet) between requests: nothing to answer."""


class HttpConnection:
    """Serves the requests of one connection, then returns (the server closes the socket)."""

    def __init__(self, conn: socket.socket, owner: ConnectionOwner) -> None:
        self.conn = conn
        self.owner = owner
        self.buf = b""
        self.handle()

    def handle(self) -> None:
        first = True
        while True:
            self.conn.settimeout(self.owner.request_timeout if first else self.owner.idle_timeout)
            first = False
            try:
                method, target, version, headers = self._read_request_head()
            except _Closed:
                return
            except BadRequest as exc:
                self._send(text_response(exc.status, str(exc)), "GET", close=True)
                return
            self.conn.settimeout(self.owner.request_timeout)
            self.owner.request_started()
            try:  # in flight until the answer is written and its after-work done: a drain waits for both
                response, close = self._respond(method, target, version, headers)
                close = close or self.owner.should_close()
                self._write(response, method, close)
            finally:
                self.owner.request_finished()
            if close:
                return

    # ---- reading ---------------------------------------------------------------------------------------

    def _fill(self) -> None:
        chunk = self.conn.recv(65536)
        if not chunk:
            raise ConnectionError("the client closed the connection")
        self.buf += chunk

    def _line(self, limit: int) -> bytes:
        """The next CRLF- (or LF-) terminated line, without its end."""
        while (end := self.buf.find(b"\n")) < 0:
            if len(self.buf) > limit:
                raise BadRequest(400, "line too long")
            self._fill()
        line, self.buf = self.buf[:end], self.buf[end + 1:]
        return line.removesuffix(b"\r")

    def _exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _read_request_head(self) -> tuple[str, str, str, dict[str, str]]:
        """Method, target, version and the header fields (names lower-cased; repeated ones joined)."""
        try:
            while (end := self.buf.find(b"\r\n\r\n")) < 0:
                if len(self.buf) > MAX_HEAD:
                    raise BadRequest(431, "request header fields too large")
                self._fill()
                self.buf = self.buf.lstrip(b"\r\n")  # empty lines before a request are skipped (RFC 9112 2.2)
        except (ConnectionError, OSError) as exc:  # closed, reset or quiet for too long (TimeoutError)
            if self.buf:
                raise BadRequest(400, "the request ended early") from exc
            raise _Closed() from exc
        if end > MAX_HEAD:
            raise BadRequest(431, "request header fields too large")
        request_line, *field_lines = self.buf[:end].decode("latin-1").split("\r\n")
        self.buf = self.buf[end + 4:]
        parts = request_line.split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
            raise BadRequest(400, f"bad request line {request_line[:100]!r}")
        headers: dict[str, str] = {}
        for line in field_lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise BadRequest(400, f"bad header field {line[:100]!r}")
            key, value = name.lower(), value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return parts[0], parts[1], parts[2], headers

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            raise BadRequest(400, "invalid Content-Length") from None
        if length < 0 or length > MAX_BODY:
            raise BadRequest(413, "request body too large")
        return self._exactly(length)

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        size_total = 0
        while True:
            try:
                size = int(self._line(1024).split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise BadRequest(400, "invalid chunked body") from None
            if size == 0:
                while self._line(MAX_HEAD):
                    pass  # trailers, up to the empty line
                return b"".join(chunks)
            size_total += size
            if size_total > MAX_BODY:
                raise BadRequest(413, "request body too large")
            chunks.append(self._exactly(size))
            self._line(2)

    # ---- answering -------------------------------------------------------------------------------------

    def _respond(self, method: str, target: str, version: str, headers: dict[str, str]) -> tuple[HttpResponse, bool]:
        """The answer and whether to close the connection after it."""
        tokens = headers.get("connection", "").lower()
        close = "close" in tokens or (version == "HTTP/1.0" and "keep-alive" not in tokens)
        if headers.get("expect", "").lower() == "100-continue":
            self.conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        try:
            body = self._read_body(headers)
        except BadRequest as exc:
            return text_response(exc.status, str(exc)), True
        except (ConnectionError, TimeoutError, OSError):
            return text_response(400, "request body ended early"), True
        try:
            return self.owner.app(HttpRequest(method, target, headers, body)), close
        except Exception:
            log.exception("unhandled error serving %s %s", method, target)
            return text_response(500, "internal server error"), close

    def _write(self, response: HttpResponse, method: str, close: bool) -> None:
        self._send(response, method, close)
        log.debug("http: %s %d %d", method, response.status, len(response.body))
        if response.after is not None:
            try:
                response.after()
            except Exception:  # the answer is out; nothing else may be lost for this
                log.exception("work after the answer to %s failed", method)

    def _send(self, response: HttpResponse, method: str, close: bool) -> None:
        lines = [f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}",
                 f"Server: {SERVER}", f"Date: {http_date()}"]
        if response.content_type:
            lines.append(f"Content-Type: {response.content_type}")
        lines += [f"{name}: {value}" for name, value in response.headers]
        lines.append(f"Content-Length: {len(response.body)}")
        if close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            self.conn.sendall(head if method == "HEAD" else head + response.body)
        except OSError as exc:
            log.debug("could not answer a client that went away: %s", exc)


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """IMF-fixdate (RFC 9110 5.6.7) of the current second, formatted once per second (no locale)."""
    global _date_cache
    now = int(time.time())
    second, text = _date_cache
    if second != now:
        t = time.gmtime(now)
        text = (f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year} "
                f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT")
        _date_cache = (now, text)
    return text
