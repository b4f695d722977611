"""KubeClient: the four API calls the thin plugin makes, on the standard library.

Why not the ``kubernetes`` package: importing it costs ~220 ms per process, and the thin plugin is
a new process for every CNI call on every pod's start path. Nor ``http.client`` for the calls: with
the ``ssl`` and ``email.parser`` it imports, ~24 ms per process; requests go through our own small
HTTP/1.1 exchange (:mod:`multus.k8s.http`), ``ssl`` is imported for an https server only, and
``http.client`` only for the daemon's watch streams (:meth:`KubeClient.open_stream`).

Behaviour:

* **Deadline.** ``timeout`` bounds a whole call, retries and backoff included; every connect and
  socket read waits at most the time that is left. A CNI call has its own deadline, so an API
  call must never take longer than it was given: a call's own ``timeout=`` (``get_pod``,
  ``request``) shortens the client's for that call.
* **Retries.** 5xx, 429 and :class:`UnavailableError` (refused, reset, timeout, DNS) are retried
  up to ``retries`` times with exponential backoff and jitter; a Retry-After header is honoured
  up to ``max_retry_after`` seconds. Other 4xx are never retried: asking again cannot change the
  answer. Retried requests may be non-idempotent (POST of an Event): a duplicate Event is
  harmless, and merge patches of annotations are idempotent.
* **Keep-alive.** A client reuses its connections. A reused connection that the server had
  already closed (RemoteDisconnected, reset or broken pipe before any answer) is reopened once,
  transparently, without counting as a retry: that is normal keep-alive life, not an outage.
* **Threads.** A lock guards a small pool of idle connections; each request takes one for its
  exclusive use (opening a new one when none is idle) and returns it after reading the whole
  response, so no two threads ever share a connection in flight.
* **Errors.** Everything a request raises is a :class:`~multus.k8s.errors.KubeAPIError`
  subclass; no socket, ssl or http.client exception escapes. (Building a client can raise
  :class:`~multus.k8s.errors.KubeconfigError` for unusable TLS material or token file.)
"""

from __future__ import annotations

import binascii
import json
import os
import socket
import sys
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from .access import ClusterAccess
from .errors import KubeAPIError, KubeconfigError, UnavailableError, error_from_response
from .http import BadResponse, Connection, ServerClosed

if TYPE_CHECKING:
    import http.client
    import ssl

Obj = dict[str, Any]
NAD_GROUP_VERSION = "k8s.cni.cncf.io/v1"
MERGE_PATCH = "application/merge-patch+json"

# A reused keep-alive connection the server closed while it sat idle fails with one of these
# before any byte of an answer arrives (the ssl ones over TLS, when ssl is loaded).
_STALE_CONNECTION: tuple[type[BaseException], ...] = (ServerClosed, ConnectionResetError, BrokenPipeError,
                                                       ConnectionAbortedError)
_STALE_TLS = ("SSLEOFError", "SSLZeroReturnError")


def _stale(exc: BaseException) -> bool:
    ssl_module = sys.modules.get("ssl")
    tls_stale = tuple(getattr(ssl_module, name) for name in _STALE_TLS) if ssl_module else ()
    return isinstance(exc, _STALE_CONNECTION + tls_stale)


def _stream_connection(host: str, port: int, timeout: float, context: ssl.SSLContext | None,
                       server_hostname: str) -> http.client.HTTPConnection:
    """An ``http.client`` connection for a long-lived stream (TLS with our own context and server name)."""
    import http.client

    if context is None:
        return http.client.HTTPConnection(host, port, timeout=timeout)
    tls: ssl.SSLContext = context

    class TLSConnection(http.client.HTTPConnection):
        default_port = 443

        def connect(self) -> None:
            """TCP connect, then the TLS handshake verifying the certificate against ``server_hostname``."""
            super().connect()
            self.sock = tls.wrap_socket(self.sock, server_hostname=server_hostname)

    return TLSConnection(host, port, timeout=timeout)


class KubeClient:
    """A minimal Kubernetes API client (see the module docstring for retries, deadline, threads).

    The bearer token is read when the client is built, so a rotated service-account token file is
    picked up by every new client. Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self,
        access: ClusterAccess,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        backoff: float = 0.05,
        user_agent: str = "multus-py",
        max_retry_after: float = 5.0,
        pool_size: int = 4,
    ) -> None:
        parts = urlsplit(access.server)
        try:
            port = parts.port
        except ValueError as exc:
            raise KubeconfigError(f"server {access.server!r} has an invalid port ({access.source})") from exc
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise KubeconfigError(f"server {access.server!r} is not an http(s) URL ({access.source})")
        self.access = access
        self.server = access.server
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = port or (443 if self._https else 80)
        self._base_path = parts.path.rstrip("/")
        self._ssl = access.ssl_context() if self._https else None
        self._server_hostname = access.tls_server_name or self._host
        self._timeout, self._retries, self._backoff = timeout, retries, backoff
        self._max_retry_after, self._pool_size = max_retry_after, pool_size
        self._headers = {"Accept": "application/json", "User-Agent": user_agent}
        token = access.bearer_token()
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        elif access.username is not None:
            basic = binascii.b2a_base64(f"{access.username}:{access.password or ''}".encode(), newline=False).decode()
            self._headers["Authorization"] = f"Basic {basic}"
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False

    # ----- the calls Multus makes ------------------------------------------------------------

    def get_pod(self, namespace: str, name: str, *, timeout: float | None = None) -> Obj:
        """GET a pod; ``timeout`` (seconds, retries included) can only shorten the client's own."""
        return self.request("GET", _path("/api/v1", namespace, "pods", name), timeout=timeout)

    def get_network_attachment_definition(self, namespace: str, name: str) -> Obj:
        """GET a NetworkAttachmentDefinition (``k8s.cni.cncf.io/v1``)."""
        return self.request("GET", _path(f"/apis/{NAD_GROUP_VERSION}", namespace,
                                         "network-attachment-definitions", name))

    def patch_pod_status(self, namespace: str, name: str, patch: Obj, *, uid: str | None = None) -> Obj:
        """JSON-merge-patch a pod through its ``status`` subresource; returns the updated pod.

        A merge patch touches only the keys it names, so setting one annotation (Multus's
        network-status) needs no read-modify-write and cannot lose a concurrent writer's changes.
        With ``uid``, ``metadata.uid`` goes into the patch as a precondition: if the pod was
        deleted and re-created under the same name meanwhile, the API server rejects the patch
        with 409 (:class:`~multus.k8s.errors.ConflictError`) instead of writing to the new pod.
        """
        body = dict(patch)
        if uid:
            body["metadata"] = {**(body.get("metadata") or {}), "uid": uid}
        return self.request("PATCH", _path("/api/v1", namespace, "pods", name, "status"), body,
                            content_type=MERGE_PATCH)

    def create_event(self, namespace: str, event: Obj) -> Obj:
        """POST a core/v1 Event into ``namespace``; returns it as stored."""
        return self.request("POST", _path("/api/v1", namespace, "events"), event)

    # ----- the generic request ---------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, content_type: str = "application/json", *,
                timeout: float | None = None) -> Obj:
        """Send ``method path`` (path under the server URL, already quoted) and return the JSON answer.

        ``body`` is encoded as JSON and sent with ``content_type``. Retries as described in the
        module docstring; raises a :class:`KubeAPIError` subclass on failure. The whole call, retries
        included, is bounded by the client's timeout or by ``timeout`` (seconds) when that is shorter:
        a caller with its own deadline (the pod lookup's 2.5 s) passes what is left of it.
        """
        headers = dict(self._headers)
        payload: bytes | None = None
        if body is not None:
            try:
                payload = json.dumps(body, separators=(",", ":")).encode()
            except (TypeError, ValueError) as exc:
                raise KubeAPIError(f"the body of {method} {path} cannot be encoded as JSON: {exc}",
                                   reason="BadRequest") from exc
            headers["Content-Type"] = content_type
        target = self._base_path + path
        budget = self._timeout if timeout is None else min(self._timeout, max(0.0, timeout))
        deadline = time.monotonic() + budget
        attempt = 0
        while True:
            try:
                status, data, response_headers = self._attempt(method, target, payload, headers, deadline)
                if 200 <= status < 300:
                    return _decode(status, data, method, path)
                raise error_from_response(status, data, response_headers, method=method, path=path)
            except KubeAPIError as exc:
                if attempt:
                    exc.details = f"{exc.details} (after {attempt + 1} attempts)".lstrip()
                if not exc.retryable or attempt >= self._retries:
                    raise
                delay = self._delay(attempt, exc)
                if time.monotonic() + delay >= deadline:
                    raise
            attempt += 1
            time.sleep(delay)

    def _delay(self, attempt: int, error: KubeAPIError) -> float:
        """Exponential backoff with jitter (0.5x-1.5x), at least the server's capped Retry-After."""
        jitter = 0.5 + int.from_bytes(os.urandom(2), "big") / 65536
        delay: float = self._backoff * 2.0**attempt * jitter
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, self._max_retry_after))
        return delay

    def open_stream(self, path: str, *, read_timeout: float) -> tuple[http.client.HTTPConnection,
                                                                       http.client.HTTPResponse]:
        """GET ``path`` on a new connection outside the pool; return it and the response, body unread.

        For long-lived streams (watches, see :mod:`multus.k8s.watch`): the connection is the
        caller's to close, connecting is bounded by the client's timeout and every later read by
        ``read_timeout``. Not retried: a watch loop decides itself when to reconnect. A non-2xx
        answer raises its :class:`KubeAPIError` subclass (the connection is closed first).
        """
        import http.client

        conn = _stream_connection(self._host, self._port, self._timeout, self._ssl, self._server_hostname)
        target = self._base_path + path
        try:
            conn.connect()
            if conn.sock is not None:
                conn.sock.settimeout(read_timeout)
            conn.request("GET", target, headers=self._headers)
            response = conn.getresponse()
            if 200 <= response.status < 300:
                return conn, response
            data, headers = response.read(), dict(response.getheaders())
        except (OSError, http.client.HTTPException, ValueError) as exc:
            conn.close()
            raise self._translate(exc, "GET", target) from exc
        conn.close()
        raise error_from_response(response.status, data, headers, method="GET", path=path)

    # ----- one attempt over the connection pool ----------------------------------------------

    def _attempt(self, method: str, target: str, payload: bytes | None, headers: dict[str, str],
                 deadline: float) -> tuple[int, bytes, dict[str, str]]:
        """One request/response; a stale reused connection is replaced once, not counted as a retry."""
        conn, reused = self._checkout()
        while True:
            try:
                return self._exchange(conn, method, target, payload, headers, deadline)
            except (OSError, ValueError) as exc:
                conn.close()
                if not (reused and _stale(exc)):
                    raise self._translate(exc, method, target) from exc
            conn, reused = self._new_connection(), False

    def _exchange(self, conn: Connection, method: str, target: str, payload: bytes | None,
                  headers: dict[str, str], deadline: float) -> tuple[int, bytes, dict[str, str]]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no time left before the deadline")
        response = conn.request(method, target, headers, payload, timeout=remaining)
        if not response.will_close:
            self._checkin(conn)
        return response.status, response.body, response.headers

    def _translate(self, exc: BaseException, method: str, target: str) -> KubeAPIError:
        """The KubeAPIError for a transport failure."""
        retryable = True
        ssl_module = sys.modules.get("ssl")
        if isinstance(exc, ValueError) and not isinstance(exc, OSError):  # SSLCertVerificationError is both
            # e.g. a header value that cannot be sent: repeating cannot help
            return KubeAPIError(f"cannot send {method} {target}: {exc}", reason="BadRequest")
        if isinstance(exc, TimeoutError):
            what = "timed out"
        elif isinstance(exc, ConnectionRefusedError):
            what = "connection refused"
        elif isinstance(exc, socket.gaierror):
            what = f"cannot resolve {self._host}: {exc.strerror or exc}"
        elif ssl_module is not None and isinstance(exc, ssl_module.SSLCertVerificationError):
            what, retryable = f"TLS certificate verification failed: {exc.verify_message or exc}", False
        elif isinstance(exc, ServerClosed):
            what = "the server closed the connection without answering"
        elif isinstance(exc, BadResponse):
            what = f"the server's answer is not HTTP: {exc}"
        elif ssl_module is not None and isinstance(exc, ssl_module.SSLError):
            what = f"TLS error: {exc.reason or exc}"
        else:
            what = str(exc) or type(exc).__name__
        return UnavailableError(f"cannot reach the Kubernetes API server at {self.server}: {what}",
                                details=f"{method} {target}", retryable=retryable)

    def _checkout(self) -> tuple[Connection, bool]:
        """An idle connection (True: it was used before) or a new, not yet connected one."""
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new_connection(), False

    def _checkin(self, conn: Connection) -> None:
        with self._lock:
            if not self._closed and len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        conn.close()

    def _new_connection(self) -> Connection:
        return Connection(self._host, self._port, timeout=self._timeout, tls=self._ssl,
                          server_hostname=self._server_hostname)

    # ----- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close the idle connections; connections still in use are closed when they come back."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def __enter__(self) -> KubeClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _path(prefix: str, namespace: str, resource: str, name: str | None = None, subresource: str | None = None) -> str:
    """``prefix/namespaces/<ns>/<resource>[/<name>[/<sub>]]`` with every segment URL-quoted."""
    segments = [("namespace", namespace)] + ([("name", name)] if name is not None else [])
    for what, value in segments:
        if not value:
            raise KubeAPIError(f"{resource}: an empty {what} cannot address an object", reason="BadRequest")
    path = f"{prefix}/namespaces/{quote(namespace, safe='')}/{resource}"
    if name is not None:
        path += "/" + quote(name, safe="")
    if subresource:
        path += "/" + subresource
    return path


def _decode(status: int, data: bytes, method: str, path: str) -> Obj:
    """The JSON object of a 2xx answer ({} when empty); anything else is a KubeAPIError."""
    if not data.strip():
        return {}
    try:
        decoded = json.loads(data)
    except ValueError as exc:
        raise KubeAPIError(f"the answer to {method} {path} is not JSON: {exc}", status=status,
                           reason="InvalidResponse") from exc
    if not isinstance(decoded, dict):
        raise KubeAPIError(f"the answer to {method} {path} is not a JSON object", status=status,
                           reason="InvalidResponse")
    return decoded
