"""The HTTP request handler: decode, log, inject faults, authenticate, dispatch, encode.

Responses are always JSON (whatever ``Accept`` asks for; ``kubernetes.client`` lists JSON first),
errors are ``Status`` objects with the matching HTTP code, and a watch is a chunked stream of
newline-terminated JSON events, as kube-apiserver sends them. Connections are HTTP/1.1 keep-alive,
because urllib3 pools and reuses them.
"""

from __future__ import annotations

import json
import logging
import select
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, cast
from urllib.parse import parse_qs, urlsplit

from . import routing
from .errors import ApiError, bad_request, method_not_allowed, no_route
from .faults import FaultRule, Faults
from .operations import Call, Operations
from .requestlog import RecordedRequest, RequestLog
from .store import Store
from .transport import TrackingHTTPServer, shutdown_socket
from .watch import WatchStream, parse_watch

log = logging.getLogger(__name__)
Obj = dict[str, Any]
_HEALTH_PATHS = ("/healthz", "/livez", "/readyz")


@dataclass
class ServerContext:
    """The state every handler thread shares."""

    store: Store
    faults: Faults = field(default_factory=Faults)
    requests: RequestLog = field(default_factory=RequestLog)
    stopping: threading.Event = field(default_factory=threading.Event)
    token: str | None = None
    bookmark_interval: float = 30.0
    operations: Operations = field(init=False)

    def __post_init__(self) -> None:
        self.operations = Operations(self.store)


def _describe(rule: FaultRule | None) -> str | None:
    if rule is None:
        return None
    parts = [f"delay {rule.delay:g}"] if rule.delay else []
    parts += ["drop"] if rule.drop else []
    parts += [f"status {rule.status}"] if rule.status is not None else []
    return ", ".join(parts)


class ApiRequestHandler(BaseHTTPRequestHandler):
    """Serves one connection's requests against the shared :class:`ServerContext`."""

    protocol_version = "HTTP/1.1"
    server_version = "kube-api-double/0.1"
    disable_nagle_algorithm = True  # headers and body go out in separate writes: avoid 40 ms stalls

    def log_message(self, format: str, *args: Any) -> None:
        """Route the stdlib access log to logging at debug level."""
        log.debug("kube API double: " + format, *args)

    @property
    def ctx(self) -> ServerContext:
        """The shared server state."""
        ctx: ServerContext = cast(TrackingHTTPServer, self.server).context
        return ctx

    def do_GET(self) -> None:
        """Serve GET."""
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def _handle(self) -> None:
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        raw = self._read_body()
        body, body_error = _decode(raw)
        rule = self.ctx.faults.take(self.command, split.path, split.query)
        self.ctx.requests.append(RecordedRequest(
            self.command, split.path, query, body, dict(self.headers.items()), _describe(rule)))
        if rule is not None and self._apply_fault(rule):
            return
        try:
            self._authenticate()
            if body_error is not None:
                raise bad_request(f"the request body is not valid JSON: {body_error}")
            self._dispatch(split.path, query, body)
        except ApiError as exc:
            self._send_json(exc.code, exc.status(), query, exc.headers)
        except OSError:  # the connection broke under us (client gone, or stop()): nothing to answer
            self.close_connection = True
        except Exception as exc:  # a bug in the double must still look like a server error
            log.exception("kube API double: internal error")
            self._send_json(500, ApiError(500, f"internal error in the API double: {exc}").status(), query)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _apply_fault(self, rule: FaultRule) -> bool:
        """Carry out a fault; True when the request has been fully dealt with."""
        interrupted = bool(rule.delay) and self.ctx.stopping.wait(rule.delay)
        if rule.drop or interrupted:  # a delay cut short by stop() ends like a drop
            self.close_connection = True
            shutdown_socket(self.connection)
            return True
        if rule.status is None:
            return False
        headers, details = {}, None
        if rule.retry_after is not None:
            headers = {"Retry-After": str(rule.retry_after)}
            details = {"retryAfterSeconds": rule.retry_after}
        error = ApiError(rule.status, rule.message or f"injected fault: HTTP {rule.status}",
                         details=details, headers=headers)
        self._send_json(error.code, error.status(), {}, error.headers)
        return True

    def _authenticate(self) -> None:
        token = self.ctx.token
        if token is not None and self.headers.get("Authorization") != f"Bearer {token}":
            raise ApiError(401, "Unauthorized", "Unauthorized")

    def _dispatch(self, path: str, query: dict[str, str], body: Any) -> None:
        route = routing.resolve(path)
        if route is None:
            self._serve_non_resource(path, query)
            return
        call = Call(route.rt, route.namespace, route.name, route.subresource, query, body,
                    self.headers.get("Content-Type") or "application/json")
        ops = self.ctx.operations
        if route.name is None:
            if self.command == "GET" and query.get("watch", "").lower() in ("true", "1"):
                self._serve_watch(call)
            elif self.command == "GET":
                self._send_json(200, ops.list(call), query)
            elif self.command == "POST" and (route.namespace is not None or not route.rt.namespaced):
                self._send_json(201, ops.create(call), query)
            elif self.command == "DELETE" and route.namespace is not None:
                self._send_json(200, ops.delete_collection(call), query)
            else:
                raise method_not_allowed(self.command)
            return
        verbs = {"GET": ops.get, "PUT": ops.replace, "PATCH": ops.patch}
        if route.subresource is None:
            verbs["DELETE"] = ops.delete
        if self.command not in verbs:
            raise method_not_allowed(self.command)
        self._send_json(200, verbs[self.command](call), query)

    def _serve_non_resource(self, path: str, query: dict[str, str]) -> None:
        if self.command == "GET" and path.rstrip("/") in _HEALTH_PATHS:
            self._send_bytes(200, b"ok", "text/plain; charset=utf-8", {})
            return
        doc = routing.discovery(path) if self.command == "GET" else None
        if doc is None:
            raise no_route()
        self._send_json(200, doc, query)

    def _serve_watch(self, call: Call) -> None:
        params = parse_watch(call)  # may raise: still time for a plain error response
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        stream = WatchStream(self.ctx.store, call, params, self.ctx.stopping, self.ctx.bookmark_interval)
        sink = _ChunkedSink(self)
        try:
            stream.run(sink)
        except Exception:  # headers are out: the only honest signal left is hanging up
            log.exception("kube API double: watch stream failed")
            sink.ok = False
        if sink.ok:
            sink.finish()
        else:
            self.close_connection = True

    def _send_json(self, code: int, obj: Obj, query: dict[str, str], headers: dict[str, str] | None = None) -> None:
        pretty = query.get("pretty", "").lower() in ("true", "1")
        data = json.dumps(obj, indent=2 if pretty else None).encode() + b"\n"
        self._send_bytes(code, data, "application/json", headers or {})

    def _send_bytes(self, code: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _decode(raw: bytes) -> tuple[Any, str | None]:
    """The JSON body (None when empty) and, if it does not parse, why."""
    if not raw.strip():
        return None, None
    try:
        return json.loads(raw), None
    except ValueError as exc:
        return None, str(exc)


class _ChunkedSink:
    """Writes watch events as HTTP/1.1 chunks and notices when the client has gone."""

    def __init__(self, handler: ApiRequestHandler) -> None:
        self._handler = handler
        self.ok = True

    def send(self, event: Obj) -> bool:
        data = json.dumps(event).encode() + b"\n"
        return self._write(b"%x\r\n%s\r\n" % (len(data), data))

    def finish(self) -> None:
        self._write(b"0\r\n\r\n")

    def _write(self, data: bytes) -> bool:
        if not self.ok:
            return False
        try:
            self._handler.wfile.write(data)
            self._handler.wfile.flush()
        except (OSError, ValueError):
            self.ok = False
        return self.ok

    def alive(self) -> bool:
        conn = self._handler.connection
        try:
            readable, _, _ = select.select([conn], [], [], 0)
            if not readable:
                return True
            if isinstance(conn, ssl.SSLSocket):
                self.ok = False  # a watching client sends nothing: readable means closing
            else:
                self.ok = conn.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            self.ok = False
        return self.ok
