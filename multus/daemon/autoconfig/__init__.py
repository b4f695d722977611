"""Thick-plugin auto-config: generating ``00-multus.conf`` around the primary CNI config (§9.6).

    primary    choosing and reading the primary (shared with the thin entrypoint)
    settings   the daemon-config keys involved, decoded as Go does
    generate   the shim config, byte-compatible with Go's for a .conf
    manager    ConfigManager: watching by polling, readiness, start/stop
    extension  wiring into multus-daemon (and the non-auto copy of a user config)
"""

from multus.daemon.autoconfig.extension import autoconfig_extension, copy_user_config
from multus.daemon.autoconfig.generate import CONF_NAME, CONFLIST_NAME, GeneratedConfig, render
from multus.daemon.autoconfig.manager import ConfigManager, Outcome, State
from multus.daemon.autoconfig.primary import PrimaryConfigError, select_primary
from multus.daemon.autoconfig.settings import AutoconfigError, AutoconfigSettings

__all__ = [
    "CONFLIST_NAME",
    "CONF_NAME",
    "AutoconfigError",
    "AutoconfigSettings",
    "ConfigManager",
    "GeneratedConfig",
    "Outcome",
    "PrimaryConfigError",
    "State",
    "autoconfig_extension",
    "copy_user_config",
    "render",
    "select_primary",
]
