"""Logging with Go Multus's levels, line format and file options (multus.logs; features §10).

Checked:
* level names are case-insensitive; an empty name is the default (panic); an unknown name prints
  ``multus logging: cannot set logging level to <x>`` on stderr and keeps the default;
* the line format ``<RFC3339> [<level>] <message>``: errors ``[error]``, warnings ``[error] warning: ``,
  info ``[verbose]``, debug ``[debug]``, critical ``[panic]`` with Go's stack-trace banner;
* thresholds: panic shows only critical, error adds errors and warnings, verbose adds info, debug all;
* the ``multus`` logger tree is configured (children log through it), not the root logger;
* ``logFile``: lines go to the file too (or only, with ``logToStderr`` false); rotation at
  ``maxSize`` MB; backups gzip-compressed (or plain without ``compress``) and capped at
  ``maxBackups``; backups older than ``maxAge`` days are dropped at rotation; an unopenable file is
  reported on stderr and logging goes on;
* ``configure()`` twice replaces the handlers (no duplicate lines, the old stream gets nothing);
* a plugin process (``configure_on_first_record``): at the default level a call that writes nothing never
  imports ``logging``; the first line at the level sets logging up with the settings (stderr and file);
  an unknown level is reported once; with logging loaded, every record goes to the standard logger.

A fixture restores the ``multus`` logger as it was, so no test leaks handlers into another.
"""

from __future__ import annotations

import gzip
import io
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from multus.logs import DEFAULT_LEVEL, LEVELS, ROOT_LOGGER, LogSettings, configure, get_logger, level_for

STAMP = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z"
MB = 1024 * 1024


@pytest.fixture(autouse=True)
def restore_multus_logger() -> Iterator[None]:
    logger = logging.getLogger(ROOT_LOGGER)
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        yield
    finally:
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
            if handler not in saved[0]:
                handler.close()
        for handler in saved[0]:
            logger.addHandler(handler)
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


def emit_all(logger: logging.Logger) -> None:
    logger.debug("a debug line")
    logger.info("an info line")
    logger.warning("a warning line")
    logger.error("an error line")
    logger.critical("a panic line")


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


# ---- levels ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("panic", logging.CRITICAL), ("PANIC", logging.CRITICAL), ("error", logging.WARNING),
    ("Error", logging.WARNING), ("verbose", logging.INFO), ("VeRbOsE", logging.INFO), ("debug", logging.DEBUG),
    ("DEBUG", logging.DEBUG), ("", logging.CRITICAL),
])
def test_level_names_are_case_insensitive(name: str, expected: int, capsys: pytest.CaptureFixture[str]) -> None:
    assert level_for(name) == expected
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name", ["info", "warning", "trace", "verbose "])
def test_an_unknown_level_is_reported_on_stderr_and_keeps_the_default(
        name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert level_for(name) == LEVELS[DEFAULT_LEVEL] == logging.CRITICAL
    assert capsys.readouterr().err == f"multus logging: cannot set logging level to {name}\n"


# ---- format ------------------------------------------------------------------------------------------


def test_each_level_prints_in_go_s_line_format() -> None:
    stream = io.StringIO()
    emit_all(configure(LogSettings(level="debug"), stream=stream))
    assert [re.sub(STAMP, "<T>", line) for line in lines(stream)] == [
        "<T> [debug] a debug line",
        "<T> [verbose] an info line",
        "<T> [error] warning: a warning line",
        "<T> [error] an error line",
        "<T> [panic] a panic line",
    ]


def test_the_timestamp_is_rfc3339_utc_of_the_record() -> None:
    stream = io.StringIO()
    before = time.time()
    configure(LogSettings(level="error"), stream=stream).error("now")
    stamp = lines(stream)[0].split(" ")[0]
    assert re.fullmatch(STAMP, stamp)
    parsed = time.mktime(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(parsed - before) < 2


def test_a_panic_with_an_exception_carries_go_s_stack_trace_banner() -> None:
    stream = io.StringIO()
    logger = configure(LogSettings(level="panic"), stream=stream)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.critical("fatal", exc_info=True)
    text = stream.getvalue()
    assert re.match(STAMP + r" \[panic\] fatal\n========= Stack trace output ========\nTraceback", text)
    assert "RuntimeError: boom" in text


def test_arguments_are_formatted_into_the_message() -> None:
    stream = io.StringIO()
    configure(LogSettings(level="verbose"), stream=stream).info("pod %s/%s: %d networks", "default", "web", 3)
    assert lines(stream)[0].endswith("[verbose] pod default/web: 3 networks")


# ---- thresholds --------------------------------------------------------------------------------------


@pytest.mark.parametrize("level, shown", [
    ("panic", ["a panic line"]),
    ("", ["a panic line"]),  # the default is panic: almost silent
    ("error", ["warning: a warning line", "an error line", "a panic line"]),
    ("verbose", ["an info line", "warning: a warning line", "an error line", "a panic line"]),
    ("debug", ["a debug line", "an info line", "warning: a warning line", "an error line", "a panic line"]),
    ("nonsense", ["a panic line"]),
])
def test_thresholds_follow_go_s_level_order(level: str, shown: list[str]) -> None:
    stream = io.StringIO()
    emit_all(configure(LogSettings(level=level), stream=stream))
    assert [line.split("] ", 1)[1] for line in lines(stream)] == shown


def test_child_loggers_log_through_the_multus_tree_and_not_the_root_logger() -> None:
    stream, root_stream = io.StringIO(), io.StringIO()
    root_handler = logging.StreamHandler(root_stream)
    logging.getLogger().addHandler(root_handler)
    try:
        configure(LogSettings(level="error"), stream=stream)
        logging.getLogger("multus.plugin.add").error("from a module")
    finally:
        logging.getLogger().removeHandler(root_handler)
    assert lines(stream)[0].endswith("[error] from a module")
    assert root_stream.getvalue() == ""


def test_no_stderr_and_no_file_is_silent_but_valid(capsys: pytest.CaptureFixture[str]) -> None:
    logger = configure(LogSettings(level="debug", to_stderr=False))
    emit_all(logger)
    assert capsys.readouterr() == ("", "")
    assert logger.handlers and all(isinstance(h, logging.NullHandler) for h in logger.handlers)


def test_stderr_is_the_default_stream(capsys: pytest.CaptureFixture[str]) -> None:
    configure(LogSettings(level="error")).error("to stderr")
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.rstrip().endswith("[error] to stderr")


# ---- configure twice ---------------------------------------------------------------------------------


def test_configure_twice_replaces_the_handlers() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure(LogSettings(level="debug"), stream=first)
    logger = configure(LogSettings(level="error"), stream=second)
    logger.error("once")
    logger.info("below the new threshold")
    assert len(logger.handlers) == 1
    assert first.getvalue() == ""
    assert [line.split("] ", 1)[1] for line in lines(second)] == ["once"]


def test_configure_twice_with_a_file_keeps_one_file_handler(tmp_path: Path) -> None:
    log_file = tmp_path / "multus.log"
    for _ in range(3):
        logger = configure(LogSettings(level="error", file=str(log_file), to_stderr=False))
    logger.error("written once")
    assert len(logger.handlers) == 1
    assert log_file.read_text().count("written once") == 1


# ---- the log file ------------------------------------------------------------------------------------


def test_lines_go_to_the_file_and_to_stderr(tmp_path: Path) -> None:
    stream, log_file = io.StringIO(), tmp_path / "multus.log"
    logger = configure(LogSettings(level="verbose", file=str(log_file)), stream=stream)
    logger.info("both places")
    logger.debug("nowhere")
    for handler in logger.handlers:
        handler.flush()
    assert re.fullmatch(STAMP + r" \[verbose\] both places\n", log_file.read_text())
    assert stream.getvalue() == log_file.read_text()


def test_an_unopenable_log_file_is_reported_and_stderr_logging_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    stream = io.StringIO()
    logger = configure(LogSettings(level="error", file=str(blocker / "multus.log")), stream=stream)
    logger.error("still logged")
    assert capsys.readouterr().err.startswith(f"multus logging: cannot open log file {blocker / 'multus.log'}: ")
    assert lines(stream)[0].endswith("[error] still logged")


def write_megabytes(logger: logging.Logger, megabytes: float) -> None:
    """~``megabytes`` MB of 1 KB log lines, quickly."""
    line = "x" * 1000
    for number in range(int(megabytes * MB / 1024)):
        logger.error("%06d %s", number, line)


def file_handler(logger: logging.Logger) -> logging.handlers.RotatingFileHandler:
    import logging.handlers

    [handler] = [h for h in logger.handlers if isinstance(h, logging.handlers.RotatingFileHandler)]
    return handler


def test_the_file_rotates_at_max_size_into_gzip_backups_capped_at_max_backups(tmp_path: Path) -> None:
    log_file = tmp_path / "multus.log"
    logger = configure(LogSettings(level="error", file=str(log_file), to_stderr=False, max_size_mb=1,
                                   max_backups=2, compress=True))
    write_megabytes(logger, 3.6)
    file_handler(logger).flush()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multus.log", "multus.log.1.gz", "multus.log.2.gz"]
    assert log_file.stat().st_size <= MB
    newest, older = (gzip.decompress((tmp_path / f"multus.log.{i}.gz").read_bytes()).decode() for i in (1, 2))
    for backup in (newest, older):
        assert 0.9 * MB < len(backup) <= MB
        assert all(re.match(STAMP + r" \[error\] \d{6} x+$", line) for line in backup.splitlines())
    # numbered lines: .2 is older than .1, which is older than the live file
    first_number = [int(text.split("] ", 1)[1][:6]) for text in (older, newest, log_file.read_text())]
    assert first_number == sorted(first_number)
    assert (tmp_path / "multus.log.1.gz").stat().st_size < 0.1 * MB  # really compressed


def test_without_compress_backups_are_plain(tmp_path: Path) -> None:
    log_file = tmp_path / "multus.log"
    logger = configure(LogSettings(level="error", file=str(log_file), to_stderr=False, max_size_mb=1,
                                   max_backups=3, compress=False))
    write_megabytes(logger, 1.2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multus.log", "multus.log.1"]
    backup = (tmp_path / "multus.log.1").read_text()
    assert 0.9 * MB < len(backup) <= MB and re.match(STAMP + r" \[error\] 000000 x+\n", backup)


def test_backups_older_than_max_age_are_dropped_at_rotation(tmp_path: Path) -> None:
    for name, age_days in (("multus.log.4.gz", 6), ("multus.log.5.gz", 1)):
        path = tmp_path / name
        path.write_bytes(gzip.compress(name.encode()))
        when = time.time() - age_days * 86400
        os.utime(path, (when, when))
    unrelated = tmp_path / "other.log.1.gz"
    unrelated.write_bytes(b"")
    os.utime(unrelated, (0, 0))
    logger = configure(LogSettings(level="error", file=str(tmp_path / "multus.log"), to_stderr=False,
                                   max_size_mb=1, max_backups=9, max_age_days=5))
    write_megabytes(logger, 1.1)
    # the rotation shifted both backups up by one; then the 6-day-old one went, the 1-day-old one stayed
    backups = {p.name: gzip.decompress(p.read_bytes()) for p in tmp_path.glob("multus.log.*.gz")}
    assert sorted(backups) == ["multus.log.1.gz", "multus.log.6.gz"]
    assert backups["multus.log.6.gz"] == b"multus.log.5.gz"
    assert unrelated.exists()


@pytest.mark.parametrize("max_size_mb, max_backups", [(1, 1), (7, 5), (100, 5)])
def test_the_rotation_settings_reach_the_handler(tmp_path: Path, max_size_mb: int, max_backups: int) -> None:
    logger = configure(LogSettings(level="error", file=str(tmp_path / "m.log"), to_stderr=False,
                                   max_size_mb=max_size_mb, max_backups=max_backups))
    handler = file_handler(logger)
    assert (handler.maxBytes, handler.backupCount) == (max_size_mb * MB, max_backups)


def test_go_s_defaults_are_100_mb_5_backups_5_days_compressed() -> None:
    assert LogSettings() == LogSettings(level="", file="", to_stderr=True, max_size_mb=100, max_backups=5,
                                        max_age_days=5, compress=True)



# ---- a plugin process: logging set up when the first line is due -----------------------------------------


def run_plugin_process(settings: str, logs: str) -> tuple[str, bool]:
    """A fresh interpreter that configures logging as the thin plugin does, then logs ``logs`` (code run
    with ``log`` bound); returns its stderr and whether the standard logging module got imported."""
    code = (
        "import sys\n"
        "from multus.logs import LogSettings, configure_on_first_record, get_logger\n"
        f"configure_on_first_record({settings})\n"
        "log = get_logger('multus.plugin.add')\n"
        f"{logs}\n"
        "print('logging' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=60,
                          check=True)
    return done.stderr, done.stdout.strip() == "True"


def test_at_go_s_default_level_a_call_that_writes_nothing_never_imports_logging() -> None:
    stderr, imported = run_plugin_process("LogSettings()", "log.warning('below panic'); log.error('also below')")
    assert (stderr, imported) == ("", False)


def test_the_first_line_at_the_level_sets_logging_up_with_the_settings(tmp_path: Path) -> None:
    log_file = tmp_path / "multus.log"
    stderr, imported = run_plugin_process(
        f"LogSettings(level='error', file={str(log_file)!r})",
        "log.debug('below'); log.warning('a warning'); log.error('an error %s', 7)")
    assert imported
    expected = [r"\[error\] warning: a warning", r"\[error\] an error 7"]
    for text in (stderr, log_file.read_text()):
        got = text.splitlines()
        assert len(got) == len(expected), text
        assert all(re.fullmatch(f"{STAMP} {e}", line) for line, e in zip(got, expected, strict=True)), text


def test_an_unknown_level_of_a_plugin_process_is_reported_once_and_means_the_default() -> None:
    stderr, imported = run_plugin_process("LogSettings(level='chatty')",
                                          "log.error('below panic'); log.critical('a panic')")
    assert imported
    assert stderr.splitlines()[0] == "multus logging: cannot set logging level to chatty"
    assert stderr.count("cannot set logging level") == 1
    assert [line.split("] ", 1)[1] for line in stderr.splitlines()[1:]] == ["a panic"]


def test_with_logging_loaded_every_record_goes_to_the_standard_logger() -> None:
    """What the daemon and tests see: the logger forwards to ``logging.getLogger(name)`` as it was."""
    stream = io.StringIO()
    configure(LogSettings(level="verbose"), stream=stream)
    log = get_logger("multus.plugin.delete")
    log.debug("below the threshold")
    log.info("pod %s: %d networks", "web", 2)
    assert [line.split("] ", 1)[1] for line in lines(stream)] == ["pod web: 2 networks"]
