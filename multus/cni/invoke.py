"""Finding and executing CNI plugin binaries: the runtime's one seam to the outside world.

:class:`PluginExecutor` is the protocol the runtime calls; :class:`SubprocessExecutor` is the real one.
Tests and the daemon may supply another (a scripted fake, an executor that runs plugins in a chroot).

The real executor turns every way a plugin can fail into a :class:`~multus.cni.errors.CniError`:
its own error object (code/msg/details) when it printed one, otherwise a message quoting stdout/stderr;
a timeout kills the plugin; ``ETXTBSY`` (the binary is still being written, e.g. by an installer
copying it into the CNI bin dir) is retried a few times, since the next attempt usually succeeds.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

from multus.cni import watchdog
from multus.cni.errors import ErrorCode, PluginError, PluginNotFoundError, PluginTimeoutError

# Retries of an exec that failed with "text file busy", and the pause before the first retry (doubling).
TEXT_FILE_BUSY_RETRIES = 5
TEXT_FILE_BUSY_FIRST_PAUSE = 0.05
DEFAULT_TIMEOUT = 300.0


class InvokeArgs(NamedTuple):
    """The CNI_* environment of one plugin call. (A NamedTuple, not a dataclass: it is defined in every
    thin-plugin process, where creating a dataclass costs ~0.5 ms.)"""

    command: str
    container_id: str = ""
    netns: str = ""
    if_name: str = ""
    plugin_args: str = ""
    path: str = ""

    def environ(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process environment plus the CNI variables, which always win over inherited ones."""
        env = dict(os.environ if base is None else base)
        env.update(
            CNI_COMMAND=self.command,
            CNI_CONTAINERID=self.container_id,
            CNI_NETNS=self.netns,
            CNI_ARGS=self.plugin_args,
            CNI_IFNAME=self.if_name,
            CNI_PATH=self.path,
        )
        return env


class PluginOutput(NamedTuple):
    stdout: bytes
    stderr: bytes


class PluginExecutor(Protocol):
    """How the runtime runs plugins; implementations must be safe to call from several threads."""

    def find_in_path(self, plugin: str, paths: Sequence[str]) -> str:
        """The full path of plugin ``plugin`` (a bare name) in the first of ``paths`` that has it."""
        ...

    def exec_plugin(self, plugin_path: str, stdin: bytes, args: InvokeArgs, timeout: float | None) -> PluginOutput:
        """Run the plugin and return what it printed; raise CniError if it fails."""
        ...


def find_in_path(plugin: str, paths: Sequence[str]) -> str:
    if not plugin:
        raise PluginNotFoundError("no plugin name provided")
    if os.sep in plugin or plugin in (".", ".."):
        # A type like "../../bin/sh" must not escape the plugin directories.
        raise PluginNotFoundError(f"invalid plugin name {plugin!r}: it must not contain {os.sep}")
    searched = [p for p in paths if p]
    if not searched:
        raise PluginNotFoundError(f"no paths provided to find plugin {plugin!r}")
    for directory in searched:
        candidate = os.path.join(directory, plugin)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise PluginNotFoundError(f'failed to find plugin "{plugin}" in path {list(searched)}')


def plugin_failure(plugin: str, returncode: int, stdout: bytes, stderr: bytes) -> PluginError:
    """The error for a plugin that exited non-zero: its own error object when it printed a valid one."""
    err_text = stderr.decode(errors="replace").strip()
    out_text = stdout.decode(errors="replace").strip()
    if not out_text:
        msg = f"netplugin {plugin} failed: {err_text!r}" if err_text else \
            f"netplugin {plugin} failed with exit code {returncode} and no error message"
        return PluginError(msg, code=ErrorCode.INTERNAL, plugin=plugin, stderr=err_text)
    try:
        body = json.loads(out_text)
        if not isinstance(body, dict) or not isinstance(body.get("code", 0), int):
            raise ValueError("not a CNI error object")
    except ValueError as exc:
        return PluginError(
            f"netplugin {plugin} failed but its error message could not be parsed",
            f"stdout {out_text!r}: {exc}" + (f"; stderr {err_text!r}" if err_text else ""),
            ErrorCode.INTERNAL, plugin=plugin, stderr=err_text)
    return PluginError(str(body.get("msg", "")), str(body.get("details", "") or ""), int(body.get("code", 0)),
                       plugin=plugin, stderr=err_text)


class SubprocessExecutor:
    """Runs plugins as child processes with the config on stdin."""

    def __init__(self, base_environ: Mapping[str, str] | None = None, command_prefix: Sequence[str] = ()) -> None:
        # None: inherit the process environment at each call (as libcni does).
        self._base_environ = base_environ
        # Run plugins through a wrapper, e.g. ("nsenter", "--net=/var/run/netns/node", "--") so that the
        # bridges and host-side veths they create land in that namespace rather than the caller's.
        self._command_prefix = tuple(command_prefix)

    @classmethod
    def in_netns(cls, netns_path: str, base_environ: Mapping[str, str] | None = None) -> SubprocessExecutor:
        """An executor whose plugins run in the network namespace ``netns_path`` (util-linux nsenter)."""
        return cls(base_environ, ("nsenter", f"--net={netns_path}", "--"))

    def find_in_path(self, plugin: str, paths: Sequence[str]) -> str:
        return find_in_path(plugin, paths)

    def exec_plugin(self, plugin_path: str, stdin: bytes, args: InvokeArgs, timeout: float | None) -> PluginOutput:
        plugin = os.path.basename(plugin_path)
        process = self._spawn(plugin, [*self._command_prefix, plugin_path], args.environ(self._base_environ))
        stdout, stderr, timed_out = _communicate(process, stdin, timeout)
        if timed_out:
            err_text = stderr.decode(errors="replace").strip()
            raise PluginTimeoutError(f"plugin {plugin} did not finish {args.command} within {timeout} s and was killed",
                                     f"stderr: {err_text!r}" if err_text else "")
        if process.returncode != 0:
            raise plugin_failure(plugin, process.returncode, stdout, stderr)
        return PluginOutput(stdout, stderr)

    @staticmethod
    def _spawn(plugin: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        pause = TEXT_FILE_BUSY_FIRST_PAUSE
        for attempt in range(TEXT_FILE_BUSY_RETRIES + 1):
            try:
                # A session of its own, so a timeout can kill the plugin and anything it started (IPAM).
                return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        env=env, start_new_session=True)
            except OSError as exc:
                if exc.errno == errno.ETXTBSY and attempt < TEXT_FILE_BUSY_RETRIES:
                    time.sleep(pause)
                    pause *= 2
                    continue
                raise PluginError(f"failed to execute plugin {plugin}", str(exc), ErrorCode.INTERNAL,
                                  plugin=plugin) from exc
        raise AssertionError("unreachable")


def _communicate(process: subprocess.Popen[bytes], stdin: bytes, timeout: float | None) -> tuple[bytes, bytes, bool]:
    """Feed stdin, collect output, wait; with a timeout, the process's watchdog kills the plugin's group.

    subprocess's own timeout makes the final wait poll waitpid with sleeps, which adds about 0.5 ms to
    every plugin call; a blocking wait plus a deadline on the shared watchdog thread costs a heap push.
    """
    if timeout is None:
        stdout, stderr = process.communicate(stdin)
        return stdout, stderr, False
    expired: list[bool] = []

    def expire() -> None:
        expired.append(True)
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    deadline = watchdog.shared().schedule(timeout, expire)
    try:
        stdout, stderr = process.communicate(stdin)
    finally:
        deadline.cancel()
    return stdout, stderr, bool(expired)


def exec_with_result(executor: PluginExecutor, plugin_path: str, stdin: bytes, args: InvokeArgs,
                     timeout: float | None, config_version: str) -> dict[str, object]:
    """Run a command that must print a result (ADD) and return the decoded JSON object.

    Decoding into a typed result is left to the caller, which knows the config's version.
    """
    stdout, stderr = executor.exec_plugin(plugin_path, stdin, args, timeout)
    plugin = os.path.basename(plugin_path)
    err_text = stderr.decode(errors="replace").strip()
    said = f"; stderr: {err_text!r}" if err_text else "; stderr was empty"
    if not stdout.strip():
        raise PluginError(f"plugin {plugin} printed no result for {args.command}", "stdout was empty" + said,
                          ErrorCode.DECODING_FAILURE, plugin=plugin, stderr=err_text)
    try:
        body = json.loads(stdout)
    except ValueError as exc:
        raise PluginError(f"plugin {plugin} printed a result that is not JSON",
                          f"{exc}; stdout: {stdout[:512]!r}{said}", ErrorCode.DECODING_FAILURE,
                          plugin=plugin, stderr=err_text) from exc
    if not isinstance(body, dict):
        raise PluginError(f"plugin {plugin} printed a result that is not a JSON object",
                          f"stdout: {stdout[:512]!r}{said}", ErrorCode.DECODING_FAILURE,
                          plugin=plugin, stderr=err_text)
    if not body.get("cniVersion"):
        # Plugins must echo cniVersion; some don't, and the config's version is what they were asked for.
        body["cniVersion"] = config_version
    return body


def exec_without_result(executor: PluginExecutor, plugin_path: str, stdin: bytes, args: InvokeArgs,
                        timeout: float | None) -> None:
    executor.exec_plugin(plugin_path, stdin, args, timeout)


__all__ = [
    "DEFAULT_TIMEOUT",
    "InvokeArgs",
    "PluginOutput",
    "PluginExecutor",
    "SubprocessExecutor",
    "exec_with_result",
    "exec_without_result",
    "find_in_path",
    "plugin_failure",
]
