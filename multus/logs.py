"""Logging with Go Multus's levels, line format and file options, through the standard logging module.

Levels (``logLevel``): panic < error < verbose < debug; the default is panic (almost silent). Lines look
like Go's: ``2026-11-29T02:05:51Z [error] message``. Warnings print at the error level as
``[error] warning: ...``, as Go's Warningf does. ``logFile`` adds a rotating file (``logOptions``:
maxSize MB, maxBackups, maxAge days, compress), ``logToStderr`` (default true) the stderr stream.

Code everywhere logs with ``logging.getLogger(__name__)``; only an entry point (the thin plugin's main,
the daemon) calls :func:`configure`, which sets up the ``multus`` logger tree.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from functools import cache
from typing import TYPE_CHECKING, NamedTuple, TextIO

if TYPE_CHECKING:
    from collections.abc import Callable

ROOT_LOGGER = "multus"

# Go's names -> the threshold of the standard logging module. "error" admits warnings too.
LEVELS = {"panic": logging.CRITICAL, "error": logging.WARNING, "verbose": logging.INFO, "debug": logging.DEBUG}
DEFAULT_LEVEL = "panic"
_NAMES = {logging.CRITICAL: "panic", logging.ERROR: "error", logging.WARNING: "error", logging.INFO: "verbose",
          logging.DEBUG: "debug"}


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


class GoFormatter(logging.Formatter):
    """``<RFC3339> [<level>] <message>``, warnings prefixed ``warning: ``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        level = _NAMES.get(record.levelno, "debug")
        message = record.getMessage()
        if record.levelno == logging.WARNING:
            message = "warning: " + message
        if record.exc_info and record.levelno >= logging.CRITICAL:
            message += "\n========= Stack trace output ========\n" + self.formatException(record.exc_info)
        return f"{stamp} [{level}] {message}"


@cache
def _rotating_file_class() -> Callable[[str, LogSettings], logging.Handler]:
    """The rotating-file handler class, defined on first use: logging.handlers (socket, pickle, queue)
    costs ~5 ms to import and only a configured ``logFile`` needs it, not every CNI call."""
    import logging.handlers

    class _RotatingFile(logging.handlers.RotatingFileHandler):
        """A size-rotated log that optionally gzips backups and drops those older than max_age_days."""

        def __init__(self, path: str, settings: LogSettings) -> None:
            super().__init__(path, maxBytes=max(settings.max_size_mb, 1) * 1024 * 1024,
                             backupCount=max(settings.max_backups, 1))
            self._max_age = settings.max_age_days * 86400
            if settings.compress:
                self.namer = lambda name: name + ".gz"
                self.rotator = _gzip_rotate

        def doRollover(self) -> None:
            super().doRollover()
            if self._max_age <= 0:
                return
            cutoff = time.time() - self._max_age
            directory, base = os.path.split(self.baseFilename)
            for name in os.listdir(directory or "."):
                path = os.path.join(directory, name)
                if name.startswith(base + ".") and os.path.getmtime(path) < cutoff:
                    os.unlink(path)

    return _RotatingFile


def _gzip_rotate(source: str, dest: str) -> None:
    import gzip  # deferred with the handler: only rotation of a compressed log file needs them
    import shutil

    with open(source, "rb") as src, gzip.open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.unlink(source)


def level_for(name: str) -> int:
    """The threshold for a Go level name (case-insensitive); unknown names keep the default, with a note."""
    if not name:
        return LEVELS[DEFAULT_LEVEL]
    level = LEVELS.get(name.lower())
    if level is None:
        sys.stderr.write(f"multus logging: cannot set logging level to {name}\n")
        return LEVELS[DEFAULT_LEVEL]
    return level


def configure(settings: LogSettings, stream: TextIO | None = None) -> logging.Logger:
    """Point the ``multus`` logger at stderr and/or a file, replacing what an earlier call set up."""
    logger = logging.getLogger(ROOT_LOGGER)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(level_for(settings.level))
    logger.propagate = False
    formatter = GoFormatter()
    if settings.to_stderr:
        stream_handler = logging.StreamHandler(stream or sys.stderr)
        stream_handler.setFormatter(formatter)
        logger.addHandler(stream_handler)
    if settings.file:
        try:
            file_handler = _rotating_file_class()(settings.file, settings)
        except OSError as exc:
            sys.stderr.write(f"multus logging: cannot open log file {settings.file}: {exc}\n")
        else:
            file_handler.setFormatter(formatter)
            logger.addHandler(file_handler)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    return logger
