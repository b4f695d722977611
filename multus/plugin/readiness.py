"""The readiness indicator file: Multus waits for the cluster network's CNI to say it is ready.

ADD, STATUS and GC wait for the file for up to 45 s (checking every second); DEL looks once and only
warns, because a DEL must release what was allocated even while the cluster network is down.
"""

from __future__ import annotations

import os
import time

from multus.cni.errors import CniError, ErrorCode
from multus.logs import get_logger

WAIT_INTERVAL = 1.0
WAIT_TIMEOUT = 45.0

log = get_logger(__name__)


def wait_for_readiness(path: str, *, timeout: float | None = None, interval: float | None = None) -> None:
    """Wait for ``path``; the module's WAIT_TIMEOUT/WAIT_INTERVAL are read at call time (tests shorten them)."""
    if not path:
        return
    timeout = WAIT_TIMEOUT if timeout is None else timeout
    interval = WAIT_INTERVAL if interval is None else interval
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() + interval > deadline:
            raise CniError(f"have you checked that your default network is ready? still waiting for "
                           f"readinessindicatorfile @ {path}", code=ErrorCode.TRY_AGAIN_LATER)
        time.sleep(interval)


def check_readiness_once(path: str) -> None:
    if path and not os.path.exists(path):
        log.warning("readinessindicatorfile %s does not exist; deleting anyway", path)
