"""The thin plugin's generated config (``00-multus.conf``, or ``.conflist`` for cniVersion >= 1.0.0).

The layout is Go thin_entrypoint's, whitespace included, so a diff against a Go-generated file shows
only real differences: the primary is embedded as the only delegate (re-marshalled with sorted keys),
then the optional keys, ``kubeconfig`` and ``delegates``. Differences from Go, on purpose:

* ``confDir`` instead of ``cniConf`` (Go's key, which Multus never reads), and only when
  ``--multus-cni-conf-dir`` is given: the flag's default is a container path (``/host/etc/...``),
  which would be wrong on the host where Multus runs; without the key Multus uses its own default;
* capabilities are the ones the primary enables (true), like the thick plugin's; Go copies false ones;
* strings are JSON-escaped everywhere (Go prints some with ``%q`` and some raw).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from multus.cni.errors import VersionError
from multus.cni.version import parse_version
from multus.daemon.autoconfig.generate import CONF_NAME, CONFLIST_NAME, GeneratedConfig, go_compact
from multus.daemon.autoconfig.primary import enabled_capabilities
from multus.daemon.autoconfig.settings import DEFAULT_NETWORK_NAME
from multus.plugin.gojson import go_marshal

LOG_LEVELS = ("debug", "error", "panic", "verbose")
DEFAULT_KUBECONFIG_HOST = "/etc/cni/net.d/multus.d/multus.kubeconfig"


class ThinConfigError(Exception):
    """The thin config cannot be generated from this primary and these options."""


@dataclass(frozen=True)
class ThinConfigOptions:
    """The entrypoint flags that shape the generated config."""

    cni_version: str = ""
    kubeconfig: str = DEFAULT_KUBECONFIG_HOST
    override_network_name: bool = False
    force_cni_version: bool = False
    namespace_isolation: bool = False
    global_namespaces: str = ""
    log_to_stderr: bool = True
    log_level: str = ""
    log_file: str = ""
    bin_dir: str = ""
    conf_dir: str = ""
    readiness_indicator_file: str = ""


def _q(value: str) -> str:
    return go_compact(value).decode()


def _version(options: ThinConfigOptions, primary: dict[str, Any], path: str) -> tuple[str, dict[str, Any]]:
    """The config's cniVersion and the delegate to embed (with a forced version, if asked)."""
    primary_version = primary.get("cniVersion")
    if not isinstance(primary_version, str) or not primary_version:
        raise ThinConfigError(f"cannot get cniVersion in master CNI config file {path!r}")
    if options.force_cni_version and options.cni_version:
        return options.cni_version, {**primary, "cniVersion": options.cni_version}
    if options.cni_version and options.cni_version != primary_version:
        raise ThinConfigError(f"Multus cni version is {_q(options.cni_version)} while master plugin cni version "
                              f"is {_q(primary_version)}")
    return primary_version, primary


def _optional_lines(options: ThinConfigOptions, primary: dict[str, Any]) -> list[str]:
    level = options.log_level.lower()
    if level and level not in LOG_LEVELS:
        raise ThinConfigError("Log levels should be one of: debug/verbose/error/panic, did not understand: "
                              f"{_q(options.log_level)}")
    capabilities = enabled_capabilities(primary)
    candidates: list[tuple[str, str | None]] = [
        ("capabilities", go_compact(capabilities).decode() if capabilities else None),
        ("namespaceIsolation", "true" if options.namespace_isolation else None),
        ("globalNamespaces", _q(options.global_namespaces) if options.global_namespaces else None),
        ("logToStderr", None if options.log_to_stderr else "false"),
        ("logLevel", _q(level) if level else None),
        ("logFile", _q(options.log_file) if options.log_file else None),
        ("binDir", _q(options.bin_dir) if options.bin_dir else None),
        ("confDir", _q(options.conf_dir) if options.conf_dir else None),
        ("readinessindicatorfile", _q(options.readiness_indicator_file) if options.readiness_indicator_file else None),
    ]
    return [f'"{key}": {value},' for key, value in candidates if value is not None]


def render_thin_config(options: ThinConfigOptions, primary_path: str, primary: dict[str, Any]) -> GeneratedConfig:
    """The file to write for the primary at ``primary_path``; ThinConfigError when it cannot be wrapped."""
    version, delegate = _version(options, primary, primary_path)
    try:
        as_list = parse_version(version) >= (1, 0, 0)
    except VersionError as exc:
        raise ThinConfigError(f"invalid cniVersion {version!r}: {exc.msg}") from None
    name = DEFAULT_NETWORK_NAME
    if options.override_network_name:
        primary_name = primary.get("name")
        if not isinstance(primary_name, str) or not primary_name:
            raise ThinConfigError(f"cannot get name in master CNI config file {primary_path!r}")
        name = primary_name
    body = ['"type": "multus",', *_optional_lines(options, primary), f'"kubeconfig": {_q(options.kubeconfig)},',
            '"delegates": [']
    delegate_json = go_marshal(delegate).decode()
    if as_list:
        lines = ["{", f'    "cniVersion": {_q(version)},', f'    "name": {_q(name)},', '    "plugins": [ {',
                 *("        " + line for line in body), f"            {delegate_json}", "        ]", "    }]", "}"]
    else:
        lines = ["{", f'        "cniVersion": {_q(version)},', f'        "name": {_q(name)},',
                 *("        " + line for line in body), f"                {delegate_json}", "        ]", "}"]
    text = "\n".join(lines) + "\n"
    return GeneratedConfig(CONFLIST_NAME if as_list else CONF_NAME, text.encode(), json.loads(text))
