"""The runtime side of CNI: what a container runtime (or Multus, for its delegates) calls.

:class:`CNIRuntime` runs a network list's plugins for one attachment, the way libcni does:

- ADD runs the plugins in order, each given the previous plugin's result as ``prevResult``, and caches
  the final result (``multus.cni.cache``);
- DEL runs them in reverse with the cached result as ``prevResult`` (0.4.0 and later) and drops the cache;
- CHECK runs them in order with the cached result, unless the list sets ``disableCheck``;
- GC DELs cached attachments of the network that are no longer valid, then (1.1.0 and later) sends GC
  with ``cni.dev/valid-attachments`` to every plugin, unless the list sets ``disableGC``;
- STATUS asks every plugin (1.1.0 and later).

Before any plugin runs, each plugin's stdin gets the list's ``name`` and ``cniVersion``, and a
``runtimeConfig`` holding only the capability arguments that plugin declares in ``capabilities``.

The object holds only settings, so one instance serves many threads.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

from multus.cni import types as cnitypes
from multus.cni.args import format_cni_args
from multus.cni.cache import DEFAULT_CACHE_DIR, CachedAttachment, ResultCache
from multus.cni.errors import CniError, ConfigError, ErrorCode, VersionError
from multus.cni.invoke import (
    DEFAULT_TIMEOUT,
    InvokeArgs,
    PluginExecutor,
    SubprocessExecutor,
    exec_with_result,
    exec_without_result,
)
from multus.cni.netconf import NetworkConfig, NetworkConfigList
from multus.cni.validation import validate_container_id, validate_interface_name, validate_network_name
from multus.cni.version import (
    CURRENT_VERSION,
    PluginInfo,
    check_supported,
    supports_check,
    supports_gc_and_status,
)

VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments"
# The 1.1.0 spec first named the key "cni.dev/attachments"; libcni sends both, and so do we.
LEGACY_ATTACHMENTS_KEY = "cni.dev/attachments"


class RuntimeConf(NamedTuple):
    """One attachment: which container, namespace and interface, and the arguments for its plugins.

    This and :class:`Attachment` are NamedTuples (immutable, compared by value) rather than frozen
    dataclasses: every plugin process defines them, and a dataclass costs ~0.5 ms to create at import.
    """

    container_id: str = ""
    netns: str = ""
    if_name: str = ""
    args: tuple[tuple[str, str], ...] = ()
    capability_args: Mapping[str, Any] = MappingProxyType({})  # one shared default, so read-only
    # Overrides the runtime's cache directory for this attachment (libcni's RuntimeConf.CacheDir).
    cache_dir: str | None = None


class Attachment(NamedTuple):
    """A (container, interface) pair that GC must keep."""

    container_id: str
    if_name: str

    def to_dict(self) -> dict[str, str]:
        return {"containerID": self.container_id, "ifname": self.if_name}


class CNIRuntime:
    """Runs CNI network lists; ``plugin_dirs`` is the CNI_PATH searched for plugin binaries."""

    def __init__(self, plugin_dirs: Sequence[str], cache_dir: str = DEFAULT_CACHE_DIR,
                 executor: PluginExecutor | None = None, timeout: float | None = DEFAULT_TIMEOUT) -> None:
        self.plugin_dirs = tuple(plugin_dirs)
        self.cache_dir = cache_dir
        self.executor: PluginExecutor = executor or SubprocessExecutor()
        self.timeout = timeout

    # ---- ADD / CHECK / DEL -------------------------------------------------------------------------

    def add_network_list(self, net: NetworkConfigList, rt: RuntimeConf) -> cnitypes.Result:
        return self._add(net, rt, net.to_bytes())

    def add_network(self, conf: NetworkConfig, rt: RuntimeConf) -> cnitypes.Result:
        """ADD a single config; its cache entry keeps the config itself, as libcni's AddNetwork does."""
        return self._add(NetworkConfigList.from_conf(conf), rt, conf.to_bytes())

    def check_network_list(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        self._validate_attachment(net.name, rt)
        if not supports_check(net.cni_version):
            raise VersionError(f'configuration version "{net.cni_version}" does not support the CHECK command')
        if net.disable_check:
            return
        cached = self.get_cached_result(net, rt)
        if cached is None:
            raise CniError(f'no cached result for network "{net.name}" and container {rt.container_id} '
                           f"interface {rt.if_name}: was it added?", code=ErrorCode.UNKNOWN_CONTAINER)
        for plugin in net.plugins:
            self._run_without_result("CHECK", net, plugin, rt, cached.to_dict())

    def check_network(self, conf: NetworkConfig, rt: RuntimeConf) -> None:
        self.check_network_list(NetworkConfigList.from_conf(conf), rt)

    def del_network_list(self, net: NetworkConfigList, rt: RuntimeConf) -> None:
        self._validate_attachment(net.name, rt)
        cache = self._cache(rt)
        prev: dict[str, Any] | None = None
        if supports_check(net.cni_version):  # cached prevResult on DEL came with 0.4.0
            try:
                cached = self.get_cached_result(net, rt)
            except CniError:
                # A corrupt cache must not block the DEL that releases the resources; drop it and go on.
                cache.remove(net.name, rt.container_id, rt.if_name)
                cached = None
            prev = cached.to_dict() if cached is not None else None
        for plugin in reversed(net.plugins):
            self._run_without_result("DEL", net, plugin, rt, prev)
        cache.remove(net.name, rt.container_id, rt.if_name)

    def del_network(self, conf: NetworkConfig, rt: RuntimeConf) -> None:
        self.del_network_list(NetworkConfigList.from_conf(conf), rt)

    def get_cached_result(self, net: NetworkConfigList, rt: RuntimeConf) -> cnitypes.Result | None:
        """The cached result of an attachment, converted to the list's version; None if not cached."""
        entry = self._cache(rt).load(net.name, rt.container_id, rt.if_name)
        if entry is None or entry.result is None:
            return None
        result = cnitypes.parse_result(entry.result, default_version=net.cni_version)
        return cnitypes.convert_result(result, net.cni_version)

    def get_cached_attachment(self, net_name: str, rt: RuntimeConf) -> CachedAttachment | None:
        return self._cache(rt).load(net_name, rt.container_id, rt.if_name)

    # ---- GC / STATUS / VERSION ---------------------------------------------------------------------

    def gc_network_list(self, net: NetworkConfigList, valid_attachments: Sequence[Attachment]) -> None:
        """DEL stale cached attachments of this network, then ask its plugins to GC; errors are joined."""
        if net.disable_gc:
            return
        errors: list[str] = []
        valid = {(a.container_id, a.if_name) for a in valid_attachments}
        for entry in ResultCache(self.cache_dir).entries():
            if entry.network_name != net.name or (entry.container_id, entry.if_name) in valid:
                continue
            rt = RuntimeConf(entry.container_id, entry.netns, entry.if_name, entry.cni_args,
                             entry.capability_args)
            try:
                self.del_network_list(net, rt)
            except CniError as exc:
                errors.append(f"failed to delete stale attachment {entry.container_id} {entry.if_name}: {exc}")
        if supports_gc_and_status(net.cni_version):
            extra = {
                VALID_ATTACHMENTS_KEY: [a.to_dict() for a in valid_attachments],
                LEGACY_ATTACHMENTS_KEY: [a.to_dict() for a in valid_attachments],
            }
            for plugin in net.plugins:
                try:
                    self._exec_lifecycle("GC", net, plugin, extra)
                except CniError as exc:
                    errors.append(f"plugin {plugin.type}: {exc}")
        if errors:
            raise CniError(f'GC of network "{net.name}" failed', "; ".join(errors))

    def get_status_network_list(self, net: NetworkConfigList) -> None:
        """Raise the first plugin's STATUS error; lists older than 1.1.0 have no STATUS and pass."""
        if not supports_gc_and_status(net.cni_version):
            return
        for plugin in net.plugins:
            self._exec_lifecycle("STATUS", net, plugin, {})

    def get_version_info(self, plugin_type: str) -> PluginInfo:
        path = self.executor.find_in_path(plugin_type, self.plugin_dirs)
        stdin = json.dumps({"cniVersion": CURRENT_VERSION}).encode()
        output = self.executor.exec_plugin(path, stdin, InvokeArgs("VERSION", path=self._cni_path()),
                                           self.timeout)
        return PluginInfo.from_bytes(output.stdout)

    def validate_network_list(self, net: NetworkConfigList) -> list[str]:
        """Check every plugin exists and speaks the list's version; return the capabilities declared."""
        capabilities: set[str] = set()
        for plugin in net.plugins:
            check_supported(net.cni_version, self.get_version_info(plugin.type), plugin.type)
            capabilities.update(name for name, on in plugin.capabilities.items() if on)
        return sorted(capabilities)

    # ---- internals ---------------------------------------------------------------------------------

    def _add(self, net: NetworkConfigList, rt: RuntimeConf, cached_config: bytes) -> cnitypes.Result:
        self._validate_attachment(net.name, rt)
        result: cnitypes.Result | None = None
        for plugin in net.plugins:
            prev = result.to_dict() if result is not None else None
            stdin = plugin_stdin(net, plugin, rt, prev)
            path = self.executor.find_in_path(plugin.type, self.plugin_dirs)
            body = exec_with_result(self.executor, path, stdin, self._invoke_args("ADD", rt), self.timeout,
                                    net.cni_version)
            result = cnitypes.convert_result(cnitypes.parse_result(body, net.cni_version), net.cni_version)
        assert result is not None  # a list always has at least one plugin
        self._cache(rt).save(CachedAttachment(
            container_id=rt.container_id, if_name=rt.if_name, network_name=net.name, config=cached_config,
            netns=rt.netns, cni_args=rt.args, capability_args=dict(rt.capability_args), result=result.to_dict()))
        return result

    def _run_without_result(self, command: str, net: NetworkConfigList, plugin: NetworkConfig, rt: RuntimeConf,
                            prev: dict[str, Any] | None) -> None:
        path = self.executor.find_in_path(plugin.type, self.plugin_dirs)
        exec_without_result(self.executor, path, plugin_stdin(net, plugin, rt, prev),
                            self._invoke_args(command, rt), self.timeout)

    def _exec_lifecycle(self, command: str, net: NetworkConfigList, plugin: NetworkConfig,
                        extra: dict[str, Any]) -> None:
        conf = dict(plugin.raw, name=net.name, cniVersion=net.cni_version, **extra)
        path = self.executor.find_in_path(plugin.type, self.plugin_dirs)
        exec_without_result(self.executor, path, json.dumps(conf).encode(),
                            InvokeArgs(command, path=self._cni_path()), self.timeout)

    def _invoke_args(self, command: str, rt: RuntimeConf) -> InvokeArgs:
        return InvokeArgs(command=command, container_id=rt.container_id, netns=rt.netns, if_name=rt.if_name,
                          plugin_args=format_cni_args(rt.args), path=self._cni_path())

    def _cni_path(self) -> str:
        return os.pathsep.join(self.plugin_dirs)

    def _cache(self, rt: RuntimeConf) -> ResultCache:
        return ResultCache(rt.cache_dir or self.cache_dir)

    @staticmethod
    def _validate_attachment(net_name: str, rt: RuntimeConf) -> None:
        validate_container_id(rt.container_id)
        validate_network_name(net_name)
        validate_interface_name(rt.if_name)


def plugin_stdin(net: NetworkConfigList, plugin: NetworkConfig, rt: RuntimeConf,
                 prev_result: dict[str, Any] | None) -> bytes:
    """The config one plugin reads: its own keys plus name, cniVersion, prevResult and runtimeConfig."""
    conf = dict(plugin.raw)
    conf["name"] = net.name
    conf["cniVersion"] = net.cni_version
    if prev_result is not None:
        conf["prevResult"] = prev_result
    runtime_config = {cap: rt.capability_args[cap] for cap, declared in plugin.capabilities.items()
                      if declared and cap in rt.capability_args}
    if runtime_config:
        conf["runtimeConfig"] = runtime_config
    return json.dumps(conf).encode()


__all__ = ["Attachment", "CNIRuntime", "ConfigError", "RuntimeConf", "plugin_stdin"]
