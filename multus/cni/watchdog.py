"""One thread that fires deadlines: plugin timeouts without a thread per plugin call.

A ``threading.Timer`` per plugin exec starts (and waits for) a new thread every time: measured in the
daemon at 0.1-0.4 ms per call on a busy 2-CPU node, on every pod's ADD. Here every deadline of the
process shares one lazily started daemon thread. Scheduling takes a lock and a heap push; the thread is
woken only when the new deadline is the earliest it knows (plugin timeouts are mostly one value, so a
later call's deadline rarely is). A cancelled deadline stays in the heap until its time comes and is then
dropped, so cancelling costs nothing either.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Deadline:
    """A scheduled call; :meth:`cancel` before it fires and it never will."""

    __slots__ = ("when", "action")

    def __init__(self, when: float, action: Callable[[], None]) -> None:
        self.when = when
        self.action: Callable[[], None] | None = action

    def cancel(self) -> None:
        # Dropped at once: the entry waits in the heap until its time (minutes, for plugin timeouts), and
        # the action may hold on to a whole process object.
        self.action = None


class Watchdog:
    """Runs each scheduled action on its own thread once its deadline passes (monotonic clock)."""

    def __init__(self, name: str = "multus-watchdog") -> None:
        self._name = name
        self._wake = threading.Condition(threading.Lock())
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()  # ties: first scheduled, first fired; never compares Deadlines
        self._thread: threading.Thread | None = None

    def schedule(self, delay: float, action: Callable[[], None]) -> Deadline:
        """Call ``action`` (on the watchdog thread) in ``delay`` seconds unless cancelled first.

        Actions must be quick and must not raise: they run one after another on the one thread.
        """
        deadline = Deadline(time.monotonic() + delay, action)
        with self._wake:
            earliest = self._heap[0][0] if self._heap else None
            heapq.heappush(self._heap, (deadline.when, next(self._order), deadline))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
            elif earliest is None or deadline.when < earliest:
                self._wake.notify()
        return deadline

    def pending(self) -> int:
        """Deadlines not yet fired or dropped (cancelled ones included until their time)."""
        with self._wake:
            return len(self._heap)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    self._wake.wait(self._heap[0][0] - time.monotonic() if self._heap else None)
                deadline = heapq.heappop(self._heap)[2]
            action = deadline.action
            if action is not None:
                action()


_shared: Watchdog | None = None
_shared_lock = threading.Lock()


def shared() -> Watchdog:
    """The process's watchdog (created on first use: a process that never times anything has no thread)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Watchdog()
        return _shared
