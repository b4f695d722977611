"""Fault injection: make chosen requests fail the ways a real API server or network does.

A rule matches a request by method and a regular expression searched in its path (and, optionally,
one searched in its raw query string), and then does one of:

* answer with an error ``status`` (a proper ``Status`` body; 429 and 503 may carry ``Retry-After``),
* ``drop`` the connection without any response (the client sees a protocol/connection error),
* only ``delay`` the answer, which is otherwise served normally (or combine ``delay`` with
  ``status``/``drop``).

Rules are checked in the order they were added; the first live match wins and uses up one of its
``times`` (``None``: unlimited). Exhausted rules stay listed with their ``hits`` for assertions.
Note that urllib3 retries a dropped idempotent request (GET) by itself, so a rule meant to make
the client *see* a dropped connection needs ``times`` above its retry budget, or ``None``.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field


@dataclass
class FaultRule:
    """One injected fault and how often it has fired."""

    method: str
    path: re.Pattern[str]
    query: re.Pattern[str] | None = None
    status: int | None = None
    delay: float = 0.0
    drop: bool = False
    retry_after: int | None = None
    message: str | None = None
    times: int | None = 1
    hits: int = field(default=0)

    @property
    def exhausted(self) -> bool:
        """Whether the rule has fired as many times as it was allowed to."""
        return self.times is not None and self.hits >= self.times

    def matches(self, method: str, path: str, query: str) -> bool:
        """Whether the rule applies to this request (ignoring exhaustion)."""
        if self.method != "*" and self.method.upper() != method.upper():
            return False
        if not self.path.search(path):
            return False
        return self.query is None or bool(self.query.search(query))


class Faults:
    """The ordered, thread-safe rule list of one server."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []

    def add(
        self,
        method: str = "*",
        path: str = "",
        *,
        query: str | None = None,
        status: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        retry_after: int | None = None,
        message: str | None = None,
        times: int | None = 1,
    ) -> FaultRule:
        """Append a rule; ``path``/``query`` are regexes searched (use ``^``/``$`` to anchor)."""
        if status is not None and drop:
            raise ValueError("a fault either answers with a status or drops the connection, not both")
        if status is None and not drop and delay <= 0:
            raise ValueError("a fault needs a status, drop=True or a positive delay")
        if status is not None and not 100 <= status <= 599:
            raise ValueError(f"not an HTTP status code: {status}")
        if delay < 0 or (times is not None and times < 1):
            raise ValueError("delay must be >= 0 and times >= 1 (or None)")
        rule = FaultRule(
            method=method, path=re.compile(path), query=re.compile(query) if query is not None else None,
            status=status, delay=delay, drop=drop, retry_after=retry_after, message=message, times=times,
        )
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._rules.clear()

    @property
    def rules(self) -> list[FaultRule]:
        """The rules in order, including exhausted ones."""
        with self._lock:
            return list(self._rules)

    def take(self, method: str, path: str, query: str = "") -> FaultRule | None:
        """The first live rule matching the request, counted as fired; None when none applies."""
        with self._lock:
            for rule in self._rules:
                if not rule.exhausted and rule.matches(method, path, query):
                    rule.hits += 1
                    return rule
        return None
