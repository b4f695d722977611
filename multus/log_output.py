"""Where log records go: Go Multus's line format, stderr and a rotating log file, on the standard logging module.

:mod:`multus.logs` is what code logs through and holds the settings; this module is loaded only when a
record is actually written (or a long-running process configures logging up front), because importing
``logging`` costs a thin-plugin call ~4 ms, and with Go's default level (panic) a call writes nothing.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from functools import cache
from typing import TYPE_CHECKING, TextIO

from multus.logs import LOG_LEVEL_NAMES, ROOT_LOGGER, LogSettings, level_for

if TYPE_CHECKING:
    from collections.abc import Callable


class GoFormatter(logging.Formatter):
    """``<RFC3339> [<level>] <message>``, warnings prefixed ``warning: ``."""

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created))
        level = LOG_LEVEL_NAMES.get(record.levelno, "debug")
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
