"""The HTTP/1.1 exchange of the API client: one request, one whole response, on a keep-alive connection.

Not ``http.client``: importing it costs ~24 ms per process on this kind of node (it imports ``ssl`` and
``email.parser`` for its header parsing), paid by every thin-plugin call with a kubeconfig. The API
server's answers to the calls Multus makes are small JSON documents, so the subset is small: a status
line, header fields, a body framed by Content-Length, chunked encoding or the end of the connection.
``ssl`` is imported only for an ``https`` server. Long-lived watch streams (the daemon's informers)
still use ``http.client`` (:meth:`multus.k8s.client.KubeClient.open_stream`).

Failures are exceptions of the socket layer (``OSError``: refused, reset, timed out, TLS errors from
``ssl``), :class:`ServerClosed` when a connection ends before any byte of an answer (the normal fate
of a kept-alive connection the server closed while idle), or :class:`BadResponse` for bytes that are
not an HTTP answer.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import ssl

MAX_HEAD = 64 * 1024  # status line and header fields of one answer


class ServerClosed(ConnectionResetError):
    """The server closed the connection before any byte of the answer."""


class BadResponse(ConnectionError):
    """What came back is not an HTTP/1.x answer, or ended in the middle of one."""


class Response(NamedTuple):
    status: int
    headers: dict[str, str]  # names lower-cased; repeated fields joined with ", "
    body: bytes
    will_close: bool  # the server ends the connection after this answer


def _ascii_as_bytes(host: str) -> str | bytes:
    """An ASCII host name as bytes: given a str, socket and ssl run it through the ``idna`` codec, whose
    import costs a plugin process ~2 ms; for ASCII that encoding is the identity. Others stay str."""
    return host.encode("ascii") if host.isascii() else host


class Connection:
    """One TCP (or TLS) connection to ``host:port``, opened on the first request."""

    def __init__(self, host: str, port: int, *, timeout: float, tls: ssl.SSLContext | None = None,
                 server_hostname: str | None = None) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._tls, self._server_hostname = tls, server_hostname or host
        self.sock: socket.socket | None = None
        self._buf = b""

    def connect(self) -> None:
        # typeshed types the host as str only; getaddrinfo, which create_connection hands it to, takes bytes
        sock = socket.create_connection((_ascii_as_bytes(self.host), self.port),  # type: ignore[arg-type]
                                        timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # header and body go in one write
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=_ascii_as_bytes(self._server_hostname))
        except BaseException:
            sock.close()
            raise
        self.sock = sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self._buf = b""

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes | None = None,
                *, timeout: float | None = None) -> Response:
        """Send one request and read its whole answer; every socket wait is bounded by ``timeout``."""
        if timeout is not None:
            self.timeout = timeout
        if self.sock is None:
            self.connect()
        assert self.sock is not None
        self.sock.settimeout(self.timeout)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header()}"]
        for name, value in headers.items():
            if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
                raise ValueError(f"invalid header field {name!r}")
            lines.append(f"{name}: {value}")
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        self._buf = b""
        try:
            self.sock.sendall(head + (body or b""))
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise ServerClosed(str(exc)) from exc
        return self._read_response(method)

    def _host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self._tls is not None else 80
        return host if self.port == default else f"{host}:{self.port}"

    # ---- reading -------------------------------------------------------------------------------------

    def _fill(self) -> bool:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        self._buf += chunk
        return bool(chunk)

    def _until(self, sep: bytes, limit: int) -> bytes:
        while (i := self._buf.find(sep)) < 0:
            if len(self._buf) > limit:
                raise BadResponse("an answer's header fields are too long")
            if not self._fill():
                raise BadResponse("the server closed the connection in the middle of an answer")
        data, self._buf = self._buf[:i], self._buf[i + len(sep):]
        return data

    def _exactly(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise BadResponse("the server closed the connection in the middle of an answer")
        data, self._buf = self._buf[:n], self._buf[n:]
        return data

    def _read_response(self, method: str) -> Response:
        try:
            if not self._fill():
                raise ServerClosed("the server closed the connection without answering")
        except ConnectionResetError as exc:
            raise ServerClosed(str(exc)) from exc
        status = 100
        while 100 <= status < 200:  # interim answers (100 Continue) are skipped
            status_line, *field_lines = self._until(b"\r\n\r\n", MAX_HEAD).decode("latin-1").split("\r\n")
            version, _, rest = status_line.partition(" ")
            if not version.startswith("HTTP/1.") or not rest[:3].isdigit():
                raise BadResponse(f"not an HTTP answer: {status_line[:100]!r}")
            status = int(rest[:3])
            headers: dict[str, str] = {}
            for line in field_lines:
                name, colon, value = line.partition(":")
                if not colon:
                    raise BadResponse(f"bad header field in an answer: {line[:100]!r}")
                key, value = name.strip().lower(), value.strip()
                headers[key] = f"{headers[key]}, {value}" if key in headers else value
        will_close = version == "HTTP/1.0" or "close" in headers.get("connection", "").lower()
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            try:
                length = int(headers["content-length"])
            except ValueError:
                raise BadResponse(f"bad Content-Length {headers['content-length']!r}") from None
            if length < 0:
                raise BadResponse(f"bad Content-Length {length}")
            body = self._exactly(length)
        else:  # delimited by the end of the connection
            while self._fill():
                pass
            body, self._buf, will_close = self._buf, b"", True
        if will_close:
            self.close()
        return Response(status, headers, body, will_close)

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = self._until(b"\r\n", 1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise BadResponse(f"bad chunk size {size_line[:20]!r}") from None
            if size == 0:
                while self._until(b"\r\n", MAX_HEAD):  # trailers, up to the empty line
                    pass
                return b"".join(parts)
            parts.append(self._exactly(size))
            self._exactly(2)
