"""Running one pod's delegate calls side by side (``delegateConcurrency``), for ADD and DEL.

The calling thread takes part, so N at a time costs N - 1 thread starts; each job's value or exception is
handed back to the caller in job order, never lost in a worker. The call's deferred cache syncs
(:mod:`multus.cni.durable`) are shared with the workers, so the call still waits for all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from multus.cni import durable

T = TypeVar("T")


def run_concurrently(jobs: Sequence[Callable[[], T]], limit: int, *,
                     stop_after_failure: bool) -> list[T | BaseException | None]:
    """Run ``jobs``, at most ``limit`` at once, started in order; the outcome of each, in order.

    An outcome is the job's value, the exception it raised, or None when it never started (with
    ``stop_after_failure``, no job starts once one has failed).
    """
    outcomes: list[T | BaseException | None] = [None] * len(jobs)
    pending = iter(range(len(jobs)))
    lock = threading.Lock()
    failed = threading.Event()
    syncs = durable.current_scope()

    def work() -> None:
        with durable.joined(syncs):
            while not (stop_after_failure and failed.is_set()):
                with lock:
                    index = next(pending, None)
                if index is None:
                    return
                try:
                    outcomes[index] = jobs[index]()
                except BaseException as exc:  # handed to the calling thread
                    outcomes[index] = exc
                    failed.set()

    helpers = [threading.Thread(target=work, name=f"multus-delegate-{n}", daemon=True)
               for n in range(1, min(limit, len(jobs)))]
    for helper in helpers:
        helper.start()
    work()
    for helper in helpers:
        helper.join()
    return outcomes
