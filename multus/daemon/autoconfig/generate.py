"""Rendering the thick plugin's ``00-multus.conf`` from the daemon config and the primary config.

The output is what Go's daemon writes, byte for byte for a ``.conf``: compact JSON, keys in Go's
MultusConf struct order (binDir, capabilities, cniVersion, logFile, logLevel, logToStderr, logOptions,
name, clusterNetwork, namespaceIsolation, globalNamespaces, type, cniDir, auxiliaryCNIChainName,
daemonSocketDir, overrideNetworkName), empty values omitted, ``<``/``>``/``&`` escaped as Go does, e.g.
``{"cniVersion":"0.4.0","name":"multus-cni-network","clusterNetwork":"/etc/cni/net.d/10-calico.conflist",
"type":"multus-shim"}``. ``clusterNetwork`` is the primary's *path*: the daemon loads the file at each
request, so the delegate follows the primary's edits without a regeneration.

Deviation: for cniVersion >= 1.0.0 the file is ``00-multus.conflist`` with the shim config as its only
plugin (Go always writes a ``.conf``, which the CNI 1.0 spec no longer defines).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from multus.cni.errors import VersionError
from multus.cni.version import parse_version
from multus.daemon.autoconfig.primary import enabled_capabilities
from multus.daemon.autoconfig.settings import DEFAULT_NETWORK_NAME, SHIM_TYPE, AutoconfigError, AutoconfigSettings

CONF_NAME = "00-multus.conf"
CONFLIST_NAME = "00-multus.conflist"
OUTPUT_NAMES = (CONF_NAME, CONFLIST_NAME)

_HTML_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


@dataclass(frozen=True)
class GeneratedConfig:
    """One rendering: the file name in the CNI config dir, its bytes, and the object they encode."""

    file_name: str
    data: bytes
    body: dict[str, Any]


def go_compact(value: Any) -> bytes:
    """JSON as Go's ``json.Marshal`` writes a struct: keys in the given order, compact, HTML-escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for ch, escaped in _HTML_ESCAPES:
        text = text.replace(ch, escaped)
    return text.encode()


def _version(value: str, what: str) -> tuple[int, int, int]:
    try:
        return parse_version(value)
    except VersionError as exc:
        raise AutoconfigError(f"couldn't get {what} cni version: {exc.msg}") from None


def uses_conflist(cni_version: str) -> bool:
    """A Multus config of cniVersion >= 1.0.0 is written as a list (the 1.0 spec has no single .conf)."""
    return _version(cni_version, "top level") >= (1, 0, 0)


def check_version_compatibility(multus_version: str, primary: dict[str, Any]) -> None:
    """Go's rule, with Go's words: a Multus of cniVersion >= 0.4.0 needs a primary of >= 0.4.0 (CHECK).

    Raised as ``failed to load the primary CNI configuration as a multus delegate with error '...'``, so
    the operator sees both versions (calico#12965: Multus at 1.1.0, Calico at 0.3.1).
    """
    def fail(reason: str) -> AutoconfigError:
        return AutoconfigError(f"failed to load the primary CNI configuration as a multus delegate "
                               f"with error '{reason}'")

    if not multus_version:
        raise fail("couldn't get top level cni version: the daemon config has no cniVersion")
    top = _version(multus_version, "top level")
    if top < (0, 4, 0):
        return
    delegate_version = primary.get("cniVersion")
    if not isinstance(delegate_version, str) or not delegate_version:
        raise fail("couldn't get cni version of delegate")
    try:
        delegate = parse_version(delegate_version)
    except VersionError as exc:
        raise fail(exc.msg) from None
    if delegate < (0, 4, 0):
        raise fail(f"delegate cni version is {delegate_version} while top level cni version is {multus_version}")


def network_name(settings: AutoconfigSettings, primary: dict[str, Any], primary_path: str) -> str:
    """``multus-cni-network``, or with overrideNetworkName the primary's own network name."""
    if not settings.override_network_name:
        return DEFAULT_NETWORK_NAME
    name = primary.get("name")
    if not isinstance(name, str) or not name:
        raise AutoconfigError(f"could not override the network name: the primary CNI configuration "
                              f"{primary_path} does not feature the network name")
    return name


def _log_options(settings: AutoconfigSettings) -> dict[str, Any] | None:
    options = settings.log_options
    if options is None:
        return None
    pairs = (("maxAge", options.max_age), ("maxSize", options.max_size), ("maxBackups", options.max_backups),
             ("compress", options.compress))
    return {key: value for key, value in pairs if value is not None}


def shim_config(settings: AutoconfigSettings, primary_path: str, primary: dict[str, Any]) -> dict[str, Any]:
    """The shim's config object, keys in Go's order; optional keys only when set."""
    check_version_compatibility(settings.cni_version, primary)
    capabilities = dict(settings.capabilities)
    capabilities.update(enabled_capabilities(primary))
    ordered: list[tuple[str, Any]] = [
        ("binDir", settings.bin_dir),
        ("capabilities", dict(sorted(capabilities.items()))),
        ("cniVersion", settings.cni_version),
        ("logFile", settings.log_file),
        ("logLevel", settings.log_level),
        ("logToStderr", settings.log_to_stderr),
        ("logOptions", _log_options(settings)),
        ("name", network_name(settings, primary, primary_path)),
        ("clusterNetwork", primary_path),
        ("namespaceIsolation", settings.namespace_isolation),
        ("globalNamespaces", settings.global_namespaces),
        ("type", SHIM_TYPE),
        ("cniDir", settings.cni_dir),
        ("auxiliaryCNIChainName", settings.auxiliary_cni_chain_name),
        ("daemonSocketDir", settings.daemon_socket_dir),
        ("overrideNetworkName", settings.override_network_name),
    ]
    required = {"cniVersion", "name", "type"}
    return {key: value for key, value in ordered
            if key in required or (value is not None and value is not False and value != "" and value != {})
            or (key == "logOptions" and value is not None)}


def render(settings: AutoconfigSettings, primary_path: str, primary: dict[str, Any]) -> GeneratedConfig:
    """The file to write; AutoconfigError when the primary cannot be wrapped."""
    conf = shim_config(settings, primary_path, primary)
    if not uses_conflist(settings.cni_version):
        return GeneratedConfig(CONF_NAME, go_compact(conf), conf)
    plugin = {key: value for key, value in conf.items() if key not in ("cniVersion", "name")}
    body = {"cniVersion": conf["cniVersion"], "name": conf["name"], "plugins": [plugin]}
    return GeneratedConfig(CONFLIST_NAME, go_compact(body), body)
