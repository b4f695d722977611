"""``multus-daemon``: the command that runs the thick-plugin server until SIGTERM.

Startup follows Go's order (§9.2), with its exit codes: load the config (exit 1), wait up to 45 s for
the readiness indicator file (exit 1), check that we run as root, then the daemon's socket, API client,
metrics and listener (exit 3), then the extensions such as the auto-config manager (exit 2). SIGTERM or
SIGINT starts the graceful termination; the command exits 0 once it is done.

Unlike Go's daemon, ``main`` waits for the signal in every mode: Go's returns right after startup when
``multusConfigFile`` is not ``auto`` (its WaitGroup is empty), which stops the server (§12.13).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
from types import FrameType

from multus import __version__
from multus.cni.errors import CniError
from multus.daemon.config import DEFAULT_CONFIG_PATH, DaemonConfig, DaemonConfigError, load_daemon_config
from multus.daemon.service import Daemon, production_daemon
from multus.logs import LogSettings, configure
from multus.plugin.config_options import LOG_OPTIONS_JSON
from multus.plugin.gojson import decode_struct
from multus.plugin.readiness import wait_for_readiness

log = logging.getLogger("multus.daemon.main")  # not __name__: it is "__main__" under python -m

READINESS_TIMEOUT = 45.0
EXIT_CONFIG = 1
EXIT_EXTENSION = 2
EXIT_START = 3

# Run once the daemon serves; may register shutdown hooks; raising aborts the start (exit 2).
Extension = Callable[[DaemonConfig, Daemon], None]
DaemonFactory = Callable[[DaemonConfig], Daemon]


def version_line() -> str:
    return f"multus-daemon: version:{__version__}(clean,released), commit:unknown commit, date:unknown date"


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Go's flags, with one or two dashes: ``-config PATH``, ``--config=PATH``, ``-version``."""
    parser = argparse.ArgumentParser(prog="multus-daemon", description="The multus-py thick-plugin daemon.")
    parser.add_argument("-config", "--config", default=DEFAULT_CONFIG_PATH, metavar="PATH",
                        help=f"the daemon config (default {DEFAULT_CONFIG_PATH})")
    parser.add_argument("-version", "--version", action="store_true", help="print the version and exit")
    return parser.parse_args(list(argv))


def log_settings(config: DaemonConfig) -> LogSettings:
    """The daemon's logging: logFile, logLevel, logToStderr (default false here) and logOptions."""
    settings = LogSettings(level=config.log_level, file=config.log_file, to_stderr=config.log_to_stderr)
    raw_options = config.raw.get("logOptions")
    if not isinstance(raw_options, dict):
        return settings
    options = decode_struct(LOG_OPTIONS_JSON, raw_options, "logOptions")
    return LogSettings(
        level=settings.level, file=settings.file, to_stderr=settings.to_stderr,
        max_size_mb=options.max_size if options.max_size is not None else settings.max_size_mb,
        max_backups=options.max_backups if options.max_backups is not None else settings.max_backups,
        max_age_days=options.max_age if options.max_age is not None else settings.max_age_days,
        compress=options.compress if options.compress is not None else settings.compress,
    )


def _fail(code: int, message: str, config: DaemonConfig | None = None) -> int:
    """Log why the daemon cannot go on; stderr always gets it, once, even with logging to a file only."""
    log.critical("%s", message)
    if config is None or not config.log_to_stderr:
        sys.stderr.write(f"multus-daemon: {message}\n")
    return code


def run(argv: Sequence[str], *, extensions: Sequence[Extension] = (), daemon_factory: DaemonFactory = Daemon,
        geteuid: Callable[[], int] = os.geteuid) -> int:
    """The command, returning its exit code; the seams are for tests and for wiring in extensions."""
    args = parse_args(argv)
    if args.version:
        print(version_line())
        return 0
    try:
        config = load_daemon_config(args.config)
        configure(log_settings(config))
    except (DaemonConfigError, ValueError) as exc:
        return _fail(EXIT_CONFIG, str(exc))
    log.info("multus-daemon %s starting with %s", __version__, config.path)
    if config.enable_pprof:
        log.warning("enablePprof is a Go profiler and is ignored; the metrics endpoint has process metrics")
    try:
        wait_for_readiness(config.readiness_indicator_file, timeout=READINESS_TIMEOUT)
    except CniError as exc:
        return _fail(EXIT_CONFIG, exc.msg, config)
    if geteuid() != 0:
        return _fail(EXIT_START, "multus-daemon must run as root (uid 0): it runs CNI plugins that "
                                 "configure network interfaces in pod namespaces", config)
    daemon = daemon_factory(config)
    try:
        daemon.start()
    except Exception as exc:
        return _fail(EXIT_START, f"failed to start the multus daemon: {exc}", config)
    previous = _install_signal_handlers(daemon)
    try:
        for extension in extensions:
            try:
                extension(config, daemon)
            except Exception as exc:
                daemon.stop()
                name = getattr(extension, "__name__", repr(extension))
                return _fail(EXIT_EXTENSION, f"failed to start {name}: {exc}", config)
        daemon.wait_for_shutdown_request()
        log.info("termination requested; draining")
        daemon.stop()
    finally:
        _restore_signal_handlers(previous)
    return 0


def _install_signal_handlers(daemon: Daemon) -> dict[int, object]:
    def on_signal(signum: int, frame: FrameType | None) -> None:
        daemon.request_shutdown()

    previous: dict[int, object] = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, on_signal)
    return previous


def _restore_signal_handlers(previous: dict[int, object]) -> None:
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]


def main() -> None:
    """The console script: the daemon with the auto-config manager (auto mode) or config copy (otherwise)."""
    from multus.daemon.autoconfig import autoconfig_extension

    sys.exit(run(sys.argv[1:], extensions=[autoconfig_extension()], daemon_factory=production_daemon))


if __name__ == "__main__":
    main()
