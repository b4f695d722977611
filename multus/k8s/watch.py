"""List and watch over :class:`~multus.k8s.client.KubeClient`: the two halves of an informer.

Why our own: the daemon's caches need only list (with paging) and a watch stream, and the
``kubernetes`` package would cost its import time and memory in a process whose whole point is to
be small. The contract followed is the API server's:

* **List.** :func:`list_objects` pages with ``limit``/``continue`` so a node with thousands of
  pods never needs one huge response. It returns the *first* page's resourceVersion: the pages
  form one snapshot at that version on a real server, and a watch started from it replays every
  later change, so nothing falls between the pages even where a server (such as the test double)
  serves later pages from newer state.
* **Watch.** :func:`watch_events` opens a ``?watch=true`` stream on a connection of its own (never
  the request pool's: it stays open for minutes) and yields typed :class:`WatchEvent` values, one
  per JSON line of the chunked body. The socket read timeout is the server-side
  ``timeoutSeconds`` plus a margin, so a silently dead connection is noticed without cutting a
  healthy, quiet stream short.
* **Errors.** An ``ERROR`` event carrying a 410 Status raises
  :class:`~multus.k8s.errors.GoneError` (``reason`` ``Expired`` or ``Gone``): the resourceVersion
  left the server's history and the caller must list again. A stream that breaks (reset, EOF in
  the middle of a chunk, read timeout, a line that is not JSON) raises
  :class:`~multus.k8s.errors.UnavailableError` or ``KubeAPIError``: the caller resumes from the last
  resourceVersion it saw. A stream the server ends cleanly (``timeoutSeconds`` elapsed) simply
  stops iterating.
* **Shutdown.** :meth:`WatchStream.close` may be called from any thread; it shuts the socket
  down, which wakes a reader blocked on it, and that reader then stops iterating quietly.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from .client import KubeClient
from .errors import KubeAPIError, UnavailableError, error_from_response

Obj = dict[str, Any]

DEFAULT_PAGE_SIZE = 500
DEFAULT_READ_MARGIN = 15.0
_READ_SIZE = 64 * 1024


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: ``type`` is ADDED, MODIFIED, DELETED or BOOKMARK; ``object`` the object.

    A BOOKMARK's object carries only ``metadata.resourceVersion``: a point the caller may resume
    from, so a quiet watch does not fall out of the server's history.
    """

    type: str
    object: Obj

    @property
    def resource_version(self) -> str:
        """The object's ``metadata.resourceVersion`` ("" when absent)."""
        return str((self.object.get("metadata") or {}).get("resourceVersion") or "")


def _with_query(path: str, params: dict[str, str]) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return f"{path}?{query}" if query else path


def list_objects(
    client: KubeClient,
    path: str,
    *,
    field_selector: str = "",
    label_selector: str = "",
    limit: int = DEFAULT_PAGE_SIZE,
) -> tuple[list[Obj], str]:
    """All objects of the collection at ``path`` (every page) and the list's resourceVersion.

    Items get the ``apiVersion``/``kind`` a built-in list leaves out, so a listed object looks the
    same as one from a GET or a watch event. A 410 while paging (the continue token expired)
    propagates as :class:`~multus.k8s.errors.GoneError`: the caller starts over.
    """
    items: list[Obj] = []
    resource_version = ""
    token = ""
    while True:
        doc = client.request("GET", _with_query(path, {
            "fieldSelector": field_selector, "labelSelector": label_selector,
            "limit": str(limit) if limit > 0 else "", "continue": token,
        }))
        meta = doc.get("metadata") or {}
        if not resource_version:
            resource_version = str(meta.get("resourceVersion") or "")
        api_version, kind = doc.get("apiVersion"), str(doc.get("kind") or "")
        for item in doc.get("items") or []:
            if api_version:
                item.setdefault("apiVersion", api_version)
            if kind.endswith("List"):
                item.setdefault("kind", kind[: -len("List")])
            items.append(item)
        token = str(meta.get("continue") or "")
        if not token:
            return items, resource_version


class WatchStream:
    """An open watch: iterate for :class:`WatchEvent` values; :meth:`close` from any thread."""

    def __init__(self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse, path: str) -> None:
        self._conn, self._response, self._path = conn, response, path
        self._lock = threading.Lock()
        self._closed = False
        self._reading = False
        self._buffer = bytearray()
        self._ended = False

    def __iter__(self) -> Iterator[WatchEvent]:
        return self

    def __next__(self) -> WatchEvent:
        with self._lock:
            if self._closed or self._ended:
                self._release()
                raise StopIteration
            self._reading = True
        try:
            line = self._next_line()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            line = None
            if not self.closed:
                self._release()
                raise UnavailableError(f"the watch stream broke: {exc or type(exc).__name__}",
                                       details=f"GET {self._path}") from exc
        finally:
            with self._lock:
                self._reading = False
        if line is None or self.closed:
            self._ended = True
            self._release()
            raise StopIteration
        return self._event(line)

    def _next_line(self) -> bytes | None:
        """The next non-empty line of the body; None at a clean end of the stream."""
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end]).strip()
                del self._buffer[: end + 1]
                if line:
                    return line
                continue
            data = self._response.read1(_READ_SIZE)
            if not data:
                rest = bytes(self._buffer).strip()
                self._buffer.clear()
                return rest or None
            self._buffer += data

    def _event(self, line: bytes) -> WatchEvent:
        try:
            decoded = json.loads(line)
        except ValueError as exc:
            self.close()
            raise KubeAPIError(f"a watch event is not JSON: {exc}", reason="InvalidResponse",
                               details=f"GET {self._path}") from exc
        if not isinstance(decoded, dict) or not isinstance(decoded.get("object"), dict):
            self.close()
            raise KubeAPIError("a watch event is not a {type, object} JSON object", reason="InvalidResponse",
                               details=f"GET {self._path}")
        event_type, obj = str(decoded.get("type") or ""), decoded["object"]
        if event_type == "ERROR":
            self.close()
            code = obj.get("code")
            status = code if isinstance(code, int) and code >= 400 else 500
            raise error_from_response(status, json.dumps(obj).encode(), {}, method="WATCH", path=self._path)
        return WatchEvent(event_type, obj)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        with self._lock:
            return self._closed

    def close(self) -> None:
        """End the stream; safe from any thread and more than once.

        Shutting the socket down (rather than closing it) wakes a thread blocked in a read without
        pulling the file descriptor from under it; that thread releases the connection itself.
        """
        with self._lock:
            self._closed = True
            busy = self._reading
        sock = self._conn.sock
        if sock is not None:
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass  # already disconnected
        if not busy:
            self._release()

    def _release(self) -> None:
        self._response.close()
        self._conn.close()

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def watch_events(
    client: KubeClient,
    path: str,
    resource_version: str = "",
    *,
    field_selector: str = "",
    label_selector: str = "",
    timeout_seconds: int = 300,
    allow_bookmarks: bool = True,
    read_margin: float = DEFAULT_READ_MARGIN,
) -> WatchStream:
    """Open a watch of the collection at ``path`` after ``resource_version`` (see the module docstring).

    An empty ``resource_version`` asks for the current state first (one ADDED per object). Errors
    answering the request itself (403, 410, connection refused) raise here; errors during the
    stream raise from the iteration.
    """
    target = _with_query(path, {
        "watch": "true", "resourceVersion": resource_version, "fieldSelector": field_selector,
        "labelSelector": label_selector, "timeoutSeconds": str(timeout_seconds),
        "allowWatchBookmarks": "true" if allow_bookmarks else "",
    })
    conn, response = client.open_stream(target, read_timeout=timeout_seconds + read_margin)
    return WatchStream(conn, response, path)
