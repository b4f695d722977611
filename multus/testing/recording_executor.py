"""A PluginExecutor that records every plugin exec, in order across all plugins, and passes it on.

Tests of code that runs CNI plugins (the runtime, the thin plugin's verbs, the daemon) check what each
plugin received and in which order, whoever actually runs the plugins: the real
:class:`~multus.cni.invoke.SubprocessExecutor` (also inside a network namespace, ``in_netns``) or an
executor answering in-process. Wrapping the one that runs them keeps the recording in one place; a
scripted fake plugin's own log (:mod:`multus.testing.fake_plugin`) is per plugin and cannot give the
order across plugins.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from multus.cni.invoke import InvokeArgs, PluginExecutor, PluginOutput, SubprocessExecutor


@dataclass(frozen=True)
class PluginCall:
    """One plugin exec as the executor saw it."""

    plugin: str  # the plugin's file name
    command: str
    container_id: str
    if_name: str
    args: str  # CNI_ARGS
    stdin: Any  # the decoded network config
    at: float  # time.monotonic() when it started


class RecordingExecutor:
    """Records every exec in ``calls``, then has ``executor`` (default: a plain SubprocessExecutor) run it.

    Safe from several threads, as a PluginExecutor must be (the daemon and parallel ADDs call it
    concurrently)."""

    def __init__(self, executor: PluginExecutor | None = None) -> None:
        self.calls: list[PluginCall] = []
        self._executor: PluginExecutor = executor if executor is not None else SubprocessExecutor()
        self._lock = threading.Lock()

    def find_in_path(self, plugin: str, paths: Sequence[str]) -> str:
        return self._executor.find_in_path(plugin, paths)

    def exec_plugin(self, plugin_path: str, stdin: bytes, args: InvokeArgs, timeout: float | None) -> PluginOutput:
        call = PluginCall(os.path.basename(plugin_path), args.command, args.container_id, args.if_name,
                          args.plugin_args, json.loads(stdin), time.monotonic())
        with self._lock:
            self.calls.append(call)
        return self._executor.exec_plugin(plugin_path, stdin, args, timeout)

    def calls_of(self, plugin: str | None = None, command: str | None = None) -> list[PluginCall]:
        """The calls of ``plugin`` (any plugin if None), of ``command`` only if given, in order."""
        with self._lock:
            return [c for c in self.calls if (plugin is None or c.plugin == plugin)
                    and (command is None or c.command == command)]

    def sequence(self, *commands: str) -> list[tuple[str, str, str]]:
        """(command, plugin, ifname) of every exec in order, only of ``commands`` when any are given."""
        with self._lock:
            return [(c.command, c.plugin, c.if_name) for c in self.calls if not commands or c.command in commands]


__all__ = ["PluginCall", "RecordingExecutor"]
