"""Doubles of the multus daemon for the shim's tests, on real unix sockets.

``FakeDaemon`` is a double of the daemon's HTTP API following Go's wire format (pkg/server/server.go,
api/api.go as described in the research notes §9.3): ``POST /readyz`` and ``/healthz``, ``POST /cni``
taking ``{"env", "config" (base64), "interfaceAttributes"}`` and answering ADD with
``{"Result": <1.0.0 result>}``, the other commands with an empty 200, errors with a 400. Go's daemon
closes every connection (``Connection: close``); ``keep_alive=True`` plays a daemon that keeps them.
``extension=True`` plays our daemon: it honours ``X-Multus-Result-Version`` by answering an ADD with
the result rendered for that version and echoing the header, and while it is not ready (the next
``readyz`` status is not 200) it answers a ``/cni`` request marked ``X-Multus-Readiness: unchecked`` with
503 and ``X-Multus-Readiness: not-ready`` instead of serving it. It records every request.

``RawDaemon`` answers each request with scripted bytes, for HTTP framing the first one never sends
(chunked bodies, bodies ended by closing, interim 100 answers, a kept connection closed idle).

``cni_env`` and ``shim_config`` build what a runtime passes: the environment and the stdin config.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from multus.cni.types import convert_result, parse_result
from multus.testing.scripted_http import ScriptedHttpServer

RESULT_100: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "eth0", "mac": "0a:58:0a:80:00:05", "sandbox": "/var/run/netns/pod"}],
    "ips": [{"address": "10.128.0.5/24", "gateway": "10.128.0.1", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {},
}


@dataclass
class Recorded:
    """One request as the daemon received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    connection: int  # the same number for requests on one connection

    def json(self) -> Any:
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _UnixServer

    def setup(self) -> None:
        super().setup()
        self.connection_number = self.server.double.next_connection()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        request = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                           self.connection_number)
        double = self.server.double
        status, headers, answer = double.answer(request)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        if not double.keep_alive:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer)

    do_POST = do_GET = _serve


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    double: FakeDaemon

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that gave up is no error here
            super().handle_error(request, client_address)


class FakeDaemon:
    """The daemon's API on ``socket_path``; set ``readyz``/``cni_error`` before the call under test."""

    def __init__(self, socket_path: str, *, extension: bool = True, keep_alive: bool = False) -> None:
        self.socket_path, self.extension, self.keep_alive = socket_path, extension, keep_alive
        self.readyz: list[int] = []  # statuses for the next /readyz calls, then 200
        self.cni_error: tuple[int, bytes] | None = None  # (status, body) to answer /cni with
        self.result: dict[str, Any] = RESULT_100
        self.requests: list[Recorded] = []
        self._connections = 0
        self._lock = threading.Lock()
        self._server = _UnixServer(socket_path, _Handler)
        self._server.double = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def __enter__(self) -> FakeDaemon:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def next_connection(self) -> int:
        with self._lock:
            self._connections += 1
            return self._connections

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def answer(self, request: Recorded) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(request)
            if request.path == "/readyz":
                return (self.readyz.pop(0) if self.readyz else 200), {}, b""
            shutting_down = bool(self.readyz) and self.readyz[0] != 200
        if (request.path == "/cni" and self.extension and shutting_down
                and request.headers.get("x-multus-readiness") == "unchecked"):
            return 503, {"X-Multus-Readiness": "not-ready"}, b"the multus daemon is shutting down\n"
        if request.path == "/healthz":
            return 200, {}, b""
        if request.path != "/cni":
            return 404, {"Content-Type": "text/plain; charset=utf-8"}, b"404 page not found\n"
        if self.cni_error is not None:
            return self.cni_error[0], {}, self.cni_error[1]
        if request.json()["env"]["CNI_COMMAND"] != "ADD":
            return 200, {}, b""
        version = request.headers.get("x-multus-result-version")
        if self.extension and version:
            rendered = convert_result(parse_result(self.result, "1.0.0"), version).to_json()
            return 200, {"Content-Type": "application/json", "X-Multus-Result-Version": version}, rendered.encode()
        return 200, {"Content-Type": "application/json"}, json.dumps({"Result": self.result}).encode()


class RawDaemon:
    """Answers the n-th request with ``answers[n]`` (raw bytes; None closes without answering) on a unix
    socket (:class:`~multus.testing.scripted_http.ScriptedHttpServer`). A connection stays open after an
    answer unless ``close_after`` says otherwise."""

    def __init__(self, socket_path: str, answers: list[bytes | None], close_after: bool = False) -> None:
        self._socket_path, self._answers, self._close_after = socket_path, answers, close_after
        self._server: ScriptedHttpServer | None = None

    @property
    def requests(self) -> list[tuple[int, bytes]]:
        """(connection number, request head) of every request so far."""
        return self._server.requests if self._server else []

    def __enter__(self) -> RawDaemon:
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(self._socket_path)
        self._server = ScriptedHttpServer(listener, self._answers, self._close_after)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()


def cni_env(command: str, **extra: str) -> dict[str, str]:
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "c0ffee", "CNI_NETNS": "/var/run/netns/pod",
           "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin", "CNI_ARGS": "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p",
           "PATH": "/usr/sbin:/usr/bin"}
    return env | extra


def shim_config(sock_dir: str | None, version: str = "0.3.1", **extra: Any) -> bytes:
    config: dict[str, Any] = {"cniVersion": version, "name": "multus-cni-network", "type": "multus-shim"}
    if sock_dir is not None:
        config["daemonSocketDir"] = sock_dir
    return json.dumps(config | extra).encode()
