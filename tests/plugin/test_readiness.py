"""The readiness indicator file (multus.plugin.readiness; features §6.1 step 4, §6.4 step 3).

Checked: no path configured returns at once; an existing file returns at once; a file that appears
after ~0.3 s (written by another thread) ends the wait soon after; a file that never appears fails
with CniError code 11 (try again later) and Go's text, within the (small) timeout; the default
timeout and interval are the module's values read at call time; ``check_readiness_once`` (DEL) never
waits or raises, only logs a warning when the file is missing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from multus.cni.errors import CniError, ErrorCode
from multus.plugin import readiness
from multus.plugin.readiness import check_readiness_once, wait_for_readiness


class Records(logging.Handler):
    """Collects the records of one logger (attached to it directly: entry points may stop propagation)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def records() -> Iterator[Records]:
    logger = logging.getLogger(readiness.__name__)
    handler, level = Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def test_no_path_returns_at_once() -> None:
    started = time.monotonic()
    wait_for_readiness("", timeout=30, interval=10)
    assert time.monotonic() - started < 1.0


def test_an_existing_file_returns_at_once(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    ready.write_text("")
    started = time.monotonic()
    wait_for_readiness(str(ready), timeout=30, interval=10)
    assert time.monotonic() - started < 1.0


def test_a_file_that_appears_later_ends_the_wait(tmp_path: Path) -> None:
    ready = tmp_path / "sub" / "ready"

    def appear() -> None:
        ready.parent.mkdir()
        ready.write_text("ok")

    timer = threading.Timer(0.3, appear)
    started = time.monotonic()
    timer.start()
    try:
        wait_for_readiness(str(ready), timeout=5, interval=0.05)
    finally:
        timer.cancel()
        timer.join()
    elapsed = time.monotonic() - started
    assert ready.exists()
    assert 0.3 <= elapsed < 2.0


def test_a_file_that_never_appears_is_try_again_later_within_the_timeout(tmp_path: Path) -> None:
    missing = tmp_path / "never"
    started = time.monotonic()
    with pytest.raises(CniError) as info:
        wait_for_readiness(str(missing), timeout=0.3, interval=0.05)
    elapsed = time.monotonic() - started
    assert info.value.code == ErrorCode.TRY_AGAIN_LATER and int(ErrorCode.TRY_AGAIN_LATER) == 11
    assert info.value.msg == ("have you checked that your default network is ready? still waiting for "
                              f"readinessindicatorfile @ {missing}")
    assert 0.2 <= elapsed < 1.5


def test_the_defaults_are_the_module_values_read_at_call_time(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert (readiness.WAIT_TIMEOUT, readiness.WAIT_INTERVAL) == (45.0, 1.0)  # Go's 45 s, every second
    monkeypatch.setattr(readiness, "WAIT_TIMEOUT", 0.2)
    monkeypatch.setattr(readiness, "WAIT_INTERVAL", 0.05)
    started = time.monotonic()
    with pytest.raises(CniError):
        wait_for_readiness(str(tmp_path / "never"))
    assert time.monotonic() - started < 1.5  # not 45 s


def test_check_once_only_warns_about_a_missing_file(tmp_path: Path, records: Records) -> None:
    missing = tmp_path / "never"
    started = time.monotonic()
    check_readiness_once(str(missing))
    assert time.monotonic() - started < 1.0
    assert [(r.levelno, r.getMessage()) for r in records.records] == [
        (logging.WARNING, f"readinessindicatorfile {missing} does not exist; deleting anyway")]


@pytest.mark.parametrize("configured", [False, True])
def test_check_once_is_silent_when_there_is_nothing_to_say(tmp_path: Path, records: Records,
                                                           configured: bool) -> None:
    ready = tmp_path / "ready"
    ready.write_text("")
    check_readiness_once(str(ready) if configured else "")
    assert records.records == []
