"""The log of every request the double received, so tests can count and inspect API calls."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received: decoded query (last value per key) and JSON body (None if empty).

    ``fault`` says what an injected fault did to it (``"status 503"``, ``"drop"``, ``"delay 0.2"``),
    None when it was served normally.
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None

    @property
    def is_watch(self) -> bool:
        """Whether the request opened a watch stream."""
        return self.query.get("watch", "").lower() in ("true", "1")


class RequestLog:
    """Thread-safe append-only list of :class:`RecordedRequest`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[RecordedRequest] = []

    def append(self, entry: RecordedRequest) -> None:
        """Record a request."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RecordedRequest]:
        """A snapshot of everything recorded so far, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._entries.clear()

    def matching(self, method: str = "*", path: str = "") -> list[RecordedRequest]:
        """Recorded requests with this method (``*``: any) whose path matches the regex ``path``."""
        pattern = re.compile(path)
        return [e for e in self.entries()
                if (method == "*" or e.method == method.upper()) and pattern.search(e.path)]
