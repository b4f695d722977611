"""Wiring the auto-config manager into ``multus-daemon`` (an extension for ``multus.daemon.main.run``).

``multusConfigFile: auto`` starts a :class:`ConfigManager` whose readiness-loss callback asks the
daemon to stop (Go exits 2 on the spot), waits up to ``primary_timeout`` for the first config (Go: 120
tries a second apart, then exit 2: raising here has ``run`` exit 2 too), and registers the removal of
00-multus.conf as a shutdown hook, as Go's manager removes it when its context ends. Any other value
names a file that is copied into cniConfigDir under its own name; a failure there is only logged, as
in Go. Typed by what it uses, so importing this module does not import the daemon's server.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from multus.cni.durable import write_atomically
from multus.daemon.autoconfig.manager import DEFAULT_POLL_INTERVAL, ConfigManager

log = logging.getLogger(__name__)

GO_PRIMARY_TIMEOUT = 120.0


class DaemonConfigLike(Protocol):
    @property
    def raw(self) -> dict[str, Any]: ...
    @property
    def auto_mode(self) -> bool: ...
    @property
    def multus_config_file(self) -> str: ...
    @property
    def cni_config_dir(self) -> str: ...


class DaemonLike(Protocol):
    def request_shutdown(self) -> None: ...
    def add_shutdown_hook(self, hook: Callable[[], None]) -> None: ...


def copy_user_config(source: str, cni_config_dir: str) -> Path | None:
    """Copy a user-provided Multus config into the CNI config dir, atomically; None (logged) on failure."""
    target = Path(cni_config_dir) / os.path.basename(source)
    try:
        write_atomically(target, Path(source).read_bytes(), mode=0o644)
    except OSError as exc:
        log.error("failed to copy the Multus config %s to %s: %s", source, target, exc)
        return None
    log.info("copied the Multus config %s to %s", source, target)
    return target


def autoconfig_extension(*, primary_timeout: float | None = GO_PRIMARY_TIMEOUT,
                         poll_interval: float = DEFAULT_POLL_INTERVAL,
                         remove_on_exit: bool = True) -> Callable[[DaemonConfigLike, DaemonLike], None]:
    """The extension: ``run(argv, extensions=[autoconfig_extension()])``."""

    def autoconfig(config: DaemonConfigLike, daemon: DaemonLike) -> None:
        if not config.auto_mode:
            copy_user_config(config.multus_config_file, config.cni_config_dir)
            return
        manager = ConfigManager(config.raw, poll_interval=poll_interval, on_readiness_lost=daemon.request_shutdown)
        manager.start(wait_for_primary=primary_timeout)
        daemon.add_shutdown_hook(manager.shutdown_hook(remove_file=remove_on_exit))

    return autoconfig
