"""The plugin side of CNI: environment + stdin -> one verb -> stdout and an exit code.

A container runtime runs a plugin binary with ``CNI_COMMAND`` and friends in the environment and the
network config on stdin, and reads a result or an error object from stdout. Every plugin needs the
same validation and reporting around its own logic, so our plugin binaries (the Multus thin plugin,
a passthru plugin) call :func:`plugin_main` with their verbs and let it enforce the spec's rules:
required variables per command, sane identifiers, a decodable config in a supported version, and
exactly one JSON document on stdout.

It runs on every plugin invocation, so only the stdlib and the small ``multus.cni`` modules (errors,
version, validation) are imported at module level; ``multus.cni.types`` is loaded only when an ADD
result has to be printed (VERSION, DEL and the error paths never need it).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import IO, TYPE_CHECKING, Any, BinaryIO, NamedTuple, NoReturn, TextIO, TypeAlias

from multus.cni.errors import CniError, ConfigError, ErrorCode
from multus.cni.validation import validate_container_id, validate_interface_name, validate_network_name
from multus.cni.version import PluginInfo, at_least, decode_version

if TYPE_CHECKING:
    from multus.cni.types import Result

COMMANDS: tuple[str, ...] = ("ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION")

# Which variables each command cannot run without, in the order they are reported when missing.
REQUIRED_ENV: dict[str, tuple[str, ...]] = {
    "ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
    "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"),
    "GC": ("CNI_PATH",),
    "STATUS": ("CNI_PATH",),
    "VERSION": (),
}

# The oldest config version each verb exists in; ADD and DEL exist in every version.
VERB_MINIMUM_VERSION: dict[str, str] = {"CHECK": "0.4.0", "GC": "1.1.0", "STATUS": "1.1.0"}

_TRUE_VALUES = frozenset({"1", "true"})


class CmdArgs(NamedTuple):
    """Everything the runtime told the plugin for one invocation (a NamedTuple: see PluginFuncs)."""

    command: str
    container_id: str
    netns: str
    if_name: str
    args: str
    path: str
    netns_override: bool
    stdin_data: bytes
    config: dict[str, Any]
    cni_version: str


PluginFunc: TypeAlias = Callable[[CmdArgs], "Result | None"]


class PluginFuncs(NamedTuple):
    """A plugin's verbs; a verb left as None is not implemented.

    A NamedTuple rather than a frozen dataclass: it is created in every plugin process, where a dataclass
    costs ~0.5 ms to build at import.
    """

    add: PluginFunc | None = None
    delete: PluginFunc | None = None
    check: PluginFunc | None = None
    gc: PluginFunc | None = None
    status: PluginFunc | None = None

    def for_command(self, command: str) -> PluginFunc | None:
        return {"ADD": self.add, "DEL": self.delete, "CHECK": self.check, "GC": self.gc,
                "STATUS": self.status}.get(command)


def _validate_network_name(name: object) -> None:
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"invalid network name {name!r}: it must be a string")
    validate_network_name(name or "")


def _check_env(command: str, environ: Mapping[str, str]) -> None:
    missing = [name for name in REQUIRED_ENV[command] if not environ.get(name)]
    if missing:
        raise CniError(f"required env variables [{','.join(missing)}] missing",
                       code=ErrorCode.INVALID_ENVIRONMENT_VARIABLES)
    if "CNI_CONTAINERID" in REQUIRED_ENV[command]:
        validate_container_id(environ["CNI_CONTAINERID"])
    if "CNI_IFNAME" in REQUIRED_ENV[command]:
        validate_interface_name(environ["CNI_IFNAME"])


def _read_stdin(stdin: BinaryIO) -> bytes:
    try:
        return stdin.read()
    except OSError as exc:
        raise CniError("error reading from stdin", str(exc), ErrorCode.IO_FAILURE) from exc


def _decode_config(stdin_data: bytes) -> dict[str, Any]:
    try:
        config = json.loads(stdin_data)
    except (ValueError, RecursionError) as exc:
        raise CniError("stdin could not be decoded as a network config", str(exc),
                       ErrorCode.DECODING_FAILURE) from exc
    if not isinstance(config, dict):
        raise CniError("stdin could not be decoded as a network config", "it is not a JSON object",
                       ErrorCode.DECODING_FAILURE)
    return config


def _config_version_hint(stdin_data: bytes) -> str | None:
    """The config's cniVersion for labelling output, or None when stdin does not carry one."""
    try:
        config = json.loads(stdin_data)
    except (ValueError, RecursionError):
        return None
    version = config.get("cniVersion") if isinstance(config, dict) else None
    return version if isinstance(version, str) and version else None


def _check_config_version(command: str, version: str, info: PluginInfo) -> None:
    if not info.supports(version):
        raise CniError(f"incompatible CNI versions: config is {version!r}",
                       f"plugin supports only {', '.join(info.supported_versions)}",
                       ErrorCode.INCOMPATIBLE_CNI_VERSION)
    minimum = VERB_MINIMUM_VERSION.get(command)
    if minimum is not None and not at_least(version, minimum):
        raise CniError(f"config version does not allow {command}",
                       f"{command} needs cniVersion {minimum} or later, config has {version}",
                       ErrorCode.INCOMPATIBLE_CNI_VERSION)


def _build_cmd_args(command: str, environ: Mapping[str, str], stdin_data: bytes,
                    info: PluginInfo) -> CmdArgs:
    _check_env(command, environ)
    config = _decode_config(stdin_data)
    _validate_network_name(config.get("name"))
    version = decode_version(config)
    _check_config_version(command, version, info)
    return CmdArgs(
        command=command,
        container_id=environ.get("CNI_CONTAINERID", ""),
        netns=environ.get("CNI_NETNS", ""),
        if_name=environ.get("CNI_IFNAME", ""),
        args=environ.get("CNI_ARGS", ""),
        path=environ.get("CNI_PATH", ""),
        netns_override=environ.get("CNI_NETNS_OVERRIDE", "").strip().lower() in _TRUE_VALUES,
        stdin_data=stdin_data,
        config=config,
        cni_version=version,
    )


def _version_answer(stdin_data: bytes, info: PluginInfo) -> str:
    """VERSION echoes the caller's cniVersion when the plugin speaks it, else its own preference."""
    requested = _config_version_hint(stdin_data)
    echoed = requested if requested is not None and info.supports(requested) else info.cni_version
    return json.dumps({"cniVersion": echoed, "supportedVersions": list(info.supported_versions)})


def _run_verb(funcs: PluginFuncs, cmd_args: CmdArgs) -> str | None:
    """Call the verb; return what goes on stdout (ADD's converted result) or None."""
    func = funcs.for_command(cmd_args.command)
    if func is None:
        if cmd_args.command in ("ADD", "DEL"):
            raise CniError(f"plugin does not implement {cmd_args.command}", code=ErrorCode.INTERNAL)
        return None  # an optional verb the plugin does not implement trivially succeeds
    result = func(cmd_args)
    if cmd_args.command != "ADD":
        return None
    if result is None:
        raise CniError("plugin returned no result for ADD", code=ErrorCode.INTERNAL)
    from multus.cni.types import convert_result  # only ADD prints a result

    return convert_result(result, cmd_args.cni_version).to_json()


def _about(about: str, info: PluginInfo) -> str:
    return f"{about}\nCNI protocol versions supported: {', '.join(info.supported_versions)}\n"


def _check_command(command: str) -> None:
    if command not in COMMANDS:
        raise CniError(f"unknown CNI_COMMAND {command!r}", f"expected one of {', '.join(COMMANDS)}",
                       ErrorCode.INVALID_ENVIRONMENT_VARIABLES)


def _answer(command: str, funcs: PluginFuncs, info: PluginInfo, environ: Mapping[str, str],
            stdin_data: bytes) -> str | None:
    """What one valid command prints on stdout, or None for nothing."""
    if command == "VERSION":
        return _version_answer(stdin_data, info)
    return _run_verb(funcs, _build_cmd_args(command, environ, stdin_data, info))


def _internal(exc: BaseException) -> CniError:
    return CniError(str(exc) or type(exc).__name__, code=ErrorCode.INTERNAL)


def _report(error: CniError, cni_version: str | None, command: str, out: IO[str], err: IO[str]) -> None:
    """The error object on stdout, a one-line summary on stderr; never raises."""
    summary = " ".join(f"CNI {command or 'invocation'} failed: [code {error.code}] {error}".split())
    for stream, text in ((out, error.to_json(cni_version)), (err, summary)):
        try:
            stream.write(text + "\n")
            stream.flush()
        except Exception:
            continue


def plugin_main(funcs: PluginFuncs, version_info: PluginInfo, about: str, *,
                environ: Mapping[str, str] | None = None, stdin: BinaryIO | None = None,
                stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run one CNI invocation and return the exit code (0 or 1); never raises, never prints a traceback.

    Errors are labelled with the config's cniVersion once stdin has been read and carries one.
    """
    env: Mapping[str, str] = os.environ if environ is None else environ
    out: IO[str] = sys.stdout if stdout is None else stdout
    err: IO[str] = sys.stderr if stderr is None else stderr
    command = env.get("CNI_COMMAND", "")
    label: str | None = None
    try:
        if not command:  # run by hand, not by a runtime: say what this is, leave stdout empty
            err.write(_about(about, version_info))
            return 0
        _check_command(command)
        stdin_data = _read_stdin(sys.stdin.buffer if stdin is None else stdin)
        label = _config_version_hint(stdin_data)
        output = _answer(command, funcs, version_info, env, stdin_data)
        if output is not None:
            out.write(output + "\n")
        out.flush()
    except CniError as exc:
        _report(exc, label, command, out, err)
        return 1
    except BaseException as exc:
        _report(_internal(exc), label, command, out, err)
        return 1
    return 0


def plugin_main_and_exit(funcs: PluginFuncs, version_info: PluginInfo, about: str, *,
                         environ: Mapping[str, str] | None = None, stdin: BinaryIO | None = None,
                         stdout: TextIO | None = None, stderr: TextIO | None = None) -> NoReturn:
    """:func:`plugin_main`, then exit the process with its code."""
    sys.exit(plugin_main(funcs, version_info, about, environ=environ, stdin=stdin, stdout=stdout,
                         stderr=stderr))


__all__ = [
    "COMMANDS",
    "REQUIRED_ENV",
    "VERB_MINIMUM_VERSION",
    "CmdArgs",
    "PluginFunc",
    "PluginFuncs",
    "plugin_main",
    "plugin_main_and_exit",
]
