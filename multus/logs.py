"""Logging with Go Multus's levels, line format and file options, through the standard logging module.

Levels (``logLevel``): panic < error < verbose < debug; the default is panic (almost silent). Lines look
like Go's: ``2026-11-29T02:05:51Z [error] message``. Warnings print at the error level as
``[error] warning: ...``, as Go's Warningf does. ``logFile`` adds a rotating file (``logOptions``:
maxSize MB, maxBackups, maxAge days, compress), ``logToStderr`` (default true) the stderr stream.

Code logs through :func:`get_logger` (a :class:`Logger`), and records go through the ``multus`` tree of the
standard logging module, formatted and written by :mod:`multus.log_output`. Why the indirection: a thin
plugin call is a fresh process per CNI call, importing ``logging`` costs it ~4 ms, and at Go's default
level (panic) a call writes no line at all. So the thin plugin hands its settings to
:func:`configure_on_first_record`, and ``logging`` is imported (and set up with them) only when a record
at or above the configured level is due. A process that has ``logging`` loaded anyway (the daemon, which
calls :func:`configure` at start, or a test run) forwards every record at once and lets logging's own
levels decide, exactly as if modules called ``logging.getLogger`` themselves.
"""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING, NamedTuple, TextIO

if TYPE_CHECKING:
    import logging

ROOT_LOGGER = "multus"

# The standard logging module's level numbers (fixed, documented values), here so that naming a level
# does not import logging.
DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50

# Go's names -> the threshold of the standard logging module. "error" admits warnings too.
LEVELS = {"panic": CRITICAL, "error": WARNING, "verbose": INFO, "debug": DEBUG}
DEFAULT_LEVEL = "panic"
# A record's level -> the name Go prints in its line.
LOG_LEVEL_NAMES = {CRITICAL: "panic", ERROR: "error", WARNING: "error", INFO: "verbose", DEBUG: "debug"}


class LogSettings(NamedTuple):
    """Go Multus's log options: level name, file, stderr, and the file's rotation.

    A NamedTuple rather than a frozen dataclass: the thin plugin builds it in every process, where a
    dataclass costs ~0.5 ms to create at import.
    """

    level: str = ""
    file: str = ""
    to_stderr: bool = True
    max_size_mb: int = 100
    max_backups: int = 5
    max_age_days: int = 5
    compress: bool = True


def level_for(name: str) -> int:
    """The threshold for a Go level name (case-insensitive); unknown names keep the default, with a note."""
    if not name:
        return LEVELS[DEFAULT_LEVEL]
    level = LEVELS.get(name.lower())
    if level is None:
        sys.stderr.write(f"multus logging: cannot set logging level to {name}\n")
        return LEVELS[DEFAULT_LEVEL]
    return level


# Settings waiting for the first record worth writing (a plugin process; see configure_on_first_record),
# and the level such a record needs. Until something is configured this is logging's own default
# behaviour: warnings and above reach stderr.
_pending: LogSettings | None = None
_threshold = WARNING
_setup_lock = threading.Lock()


def configure(settings: LogSettings, stream: TextIO | None = None) -> logging.Logger:
    """Point the ``multus`` logger at stderr and/or a file now, replacing what an earlier call set up."""
    global _pending
    _pending = None
    from multus.log_output import configure as set_up

    return set_up(settings, stream)


def configure_on_first_record(settings: LogSettings) -> None:
    """Apply ``settings`` when the first record at or above their level is logged, and not before.

    An unknown level name is reported now (as :func:`configure` does) and replaced by the default.
    """
    global _pending, _threshold
    _threshold = level_for(settings.level)
    _pending = settings._replace(level=LOG_LEVEL_NAMES[_threshold])


def _standard_logger(name: str) -> logging.Logger:
    global _pending
    import logging

    with _setup_lock:  # two threads' first lines at once: one sets logging up
        settings, _pending = _pending, None
        if settings is not None:
            configure(settings)
    return logging.getLogger(name)


class Logger:
    """What a module logs through (``log = get_logger(__name__)``): the standard logger of that name,
    looked up when the first record is due, so that a process that writes nothing never imports
    ``logging``."""

    __slots__ = ("_logger", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self._logger: logging.Logger | None = None

    def debug(self, msg: str, *args: object) -> None:
        self._log(DEBUG, msg, args)

    def info(self, msg: str, *args: object) -> None:
        self._log(INFO, msg, args)

    def warning(self, msg: str, *args: object) -> None:
        self._log(WARNING, msg, args)

    def error(self, msg: str, *args: object) -> None:
        self._log(ERROR, msg, args)

    def critical(self, msg: str, *args: object) -> None:
        self._log(CRITICAL, msg, args)

    def _log(self, level: int, msg: str, args: tuple[object, ...]) -> None:
        logger = self._logger
        if logger is None:
            if level < _threshold and "logging" not in sys.modules:
                return  # nothing configured would write it, and nothing else loaded logging
            logger = self._logger = _standard_logger(self.name)
        logger.log(level, msg, *args, stacklevel=3)  # the record names the caller, not this method


def get_logger(name: str) -> Logger:
    return Logger(name)
