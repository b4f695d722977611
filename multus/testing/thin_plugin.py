"""One CNI call into the thin plugin, in-process, exactly as the ``multus`` binary makes it.

The call goes through :func:`multus.cni.skel.plugin_main` with the verb table of
:func:`multus.plugin.entry.plugin_funcs`, so a test sees what the binary would print (result, CNI error
object, exit code), while injecting what a test must control: the plugin executor, the device source,
the sysfs root. No process is started, so a test can also look at the executor's records afterwards.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from multus.cni.skel import plugin_main
from multus.cni.version import ALL_VERSIONS, CURRENT_VERSION, PluginInfo
from multus.plugin.entry import ABOUT, plugin_funcs

if TYPE_CHECKING:
    from multus.cni.invoke import PluginExecutor
    from multus.devices.source import DeviceSource


@dataclass
class Outcome:
    """What one CNI call printed: exit code, decoded stdout (result or error object), stderr text."""

    code: int
    output: dict[str, Any] | None
    stderr: str

    @property
    def error(self) -> dict[str, Any]:
        assert self.code != 0 and self.output is not None, f"expected a CNI error, got {self}"
        return self.output

    @property
    def result(self) -> dict[str, Any]:
        assert self.code == 0 and self.output is not None, f"expected an ADD result, got {self}"
        return self.output


def call_thin_plugin(environ: Mapping[str, str], config: dict[str, Any] | bytes, *,
                     executor: PluginExecutor | None = None, device_source: DeviceSource | None = None,
                     sysfs_root: str | None = None) -> Outcome:
    """Run the CNI command of ``environ`` (CNI_COMMAND ...) with ``config`` on stdin (bytes as they are,
    so a test can send malformed input); the options go to ``plugin_funcs``."""
    stdin = config if isinstance(config, bytes) else json.dumps(config).encode()
    stdout, stderr = io.StringIO(), io.StringIO()
    code = plugin_main(plugin_funcs(environ, executor=executor, device_source=device_source, sysfs_root=sysfs_root),
                       PluginInfo(CURRENT_VERSION, ALL_VERSIONS), ABOUT, environ=environ, stdin=io.BytesIO(stdin),
                       stdout=stdout, stderr=stderr)
    text = stdout.getvalue()
    return Outcome(code, json.loads(text) if text.strip() else None, stderr.getvalue())


__all__ = ["Outcome", "call_thin_plugin"]
