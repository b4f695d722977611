"""Where a CNI call enters the thin plugin: the ``multus`` command.

The container runtime runs ``multus`` with the CNI environment and the Multus config on stdin;
:mod:`multus.cni.skel` checks the call and dispatches to the verbs here, which build a
:class:`~multus.plugin.context.CallContext` and hand it to add/delete/check/lifecycle. Errors leave as
CNI error JSON on stdout with a non-zero exit, never as a traceback.

Imports are kept to what a call needs: the Kubernetes client only when the config names a kubeconfig
or the pod runs in-cluster, pyroute2 only when a default route must be edited.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from multus import __version__
from multus.cni import types as cnitypes
from multus.cni.invoke import PluginExecutor
from multus.cni.skel import CmdArgs, PluginFuncs, plugin_main
from multus.cni.version import ALL_VERSIONS, CURRENT_VERSION, PluginInfo
from multus.devices import DEFAULT_DEVINFO_DIR
from multus.devices.source import DEFAULT_KUBELET_ROOT_DIR, DeviceSource, LazyPodResources
from multus.logs import LogSettings, configure_on_first_record
from multus.plugin.config import MultusNetConf, load_netconf
from multus.plugin.context import CallContext, KubeAPI, connect_kube, make_runtime
from multus.plugin.events import KubeEventSink, NullEventSink
from multus.plugin.k8s_args import K8sArgs, parse_k8s_args

ABOUT = f"multus-py meta-plugin {__version__}"
KubeFactory = Callable[[MultusNetConf, Mapping[str, str]], "KubeAPI | None"]


def version_line() -> str:
    """Go Multus's ``-version`` line, so scripts that parse it keep working."""
    return f"multus: version:{__version__}(clean,released), commit:unknown commit, date:unknown date"


def log_settings(conf: MultusNetConf) -> LogSettings:
    options = conf.log_options
    settings = LogSettings(level=conf.log_level, file=conf.log_file, to_stderr=conf.log_to_stderr)
    if options is None:
        return settings
    return LogSettings(
        level=settings.level, file=settings.file, to_stderr=settings.to_stderr,
        max_size_mb=options.max_size if options.max_size is not None else settings.max_size_mb,
        max_backups=options.max_backups if options.max_backups is not None else settings.max_backups,
        max_age_days=options.max_age if options.max_age is not None else settings.max_age_days,
        compress=options.compress if options.compress is not None else settings.compress,
    )


def build_context(args: CmdArgs, environ: Mapping[str, str], *, kube_factory: KubeFactory = connect_kube,
                  executor: PluginExecutor | None = None, configure_logging: bool = True,
                  device_source: DeviceSource | None = None, sysfs_root: str | None = None) -> CallContext:
    """A call's context from skel's arguments; tests inject the API client and the plugin executor.

    The thin plugin applies the config's log settings per call (a process per call), when the first line
    is due (most calls write none and never import ``logging``); the daemon sets logging up once from
    its own config and passes ``configure_logging=False``.
    """
    conf = load_netconf(args.stdin_data)
    if configure_logging:
        configure_on_first_record(log_settings(conf))
    k8s = parse_k8s_args(args.args) if args.args else K8sArgs()
    kube = kube_factory(conf, environ)
    runtime_config = conf.runtime_config.to_dict() if conf.runtime_config is not None else {}
    return CallContext(
        conf=conf, k8s=k8s, container_id=args.container_id, netns=args.netns, ifname=args.if_name,
        env_cni_args=args.args, runtime=make_runtime(conf, args.path, executor), kube=kube,
        events=KubeEventSink(kube) if kube is not None else NullEventSink(),
        base_runtime_config=runtime_config,
        devices=device_source or LazyPodResources(str(conf.raw.get("kubeletRootDir") or DEFAULT_KUBELET_ROOT_DIR)),
        devinfo_dir=str(conf.raw.get("deviceInfoDir") or DEFAULT_DEVINFO_DIR),
        device_info_from_sysfs=conf.raw.get("deviceInfoFromSysfs", True) is not False,
        sysfs_root=sysfs_root,
    )


def plugin_funcs(environ: Mapping[str, str], *, kube_factory: KubeFactory = connect_kube,
                 executor: PluginExecutor | None = None, device_source: DeviceSource | None = None,
                 sysfs_root: str | None = None) -> PluginFuncs:
    """The verb table; each verb imports its module on first use, so a DEL never loads ADD-only code."""

    def context(args: CmdArgs) -> CallContext:
        return build_context(args, environ, kube_factory=kube_factory, executor=executor,
                             device_source=device_source, sysfs_root=sysfs_root)

    def add(args: CmdArgs) -> cnitypes.Result:
        from multus.cni.durable import deferred_syncs
        from multus.plugin.add import cmd_add

        with deferred_syncs():  # the caches reach the disk while the delegates run; waited for at the end
            return cmd_add(context(args))

    def delete(args: CmdArgs) -> None:
        from multus.plugin.delete import cmd_del
        cmd_del(context(args))

    def check(args: CmdArgs) -> None:
        from multus.plugin.check import cmd_check
        cmd_check(context(args))

    def gc(args: CmdArgs) -> None:
        from multus.plugin.lifecycle import cmd_gc
        cmd_gc(context(args))

    def status(args: CmdArgs) -> None:
        from multus.plugin.lifecycle import cmd_status
        cmd_status(context(args))

    return PluginFuncs(add=add, delete=delete, check=check, gc=gc, status=status)


def run(argv: Sequence[str], environ: Mapping[str, str], **streams: Any) -> int:
    if len(argv) > 0 and argv[0] in ("-version", "--version", "-v"):
        print(version_line())
        return 0
    info = PluginInfo(CURRENT_VERSION, ALL_VERSIONS)
    return plugin_main(plugin_funcs(environ), info, ABOUT, environ=environ, **streams)


def main() -> NoReturn:
    """The ``multus`` command (console script, thin bundle): one CNI call, then the process ends."""
    exit_now(run(sys.argv[1:], os.environ))


def exit_now(code: int) -> NoReturn:
    """Flush what the call wrote, then leave without the interpreter's teardown.

    A plugin process is over once its answer is out; finalizing a hundred-odd modules and their objects
    only delays the runtime waiting for the exit (~2 ms per call). Nothing is lost: stdout and stderr are
    flushed here, and ``logging.shutdown`` flushes and closes every handler (the log file included) as
    the interpreter's exit would. For the command only: tests call :func:`run`, which returns.
    """
    try:
        sys.stdout.flush()
    except (OSError, ValueError):  # a closed pipe or stream: what the interpreter's exit reports too
        code = code or 120
    logging = sys.modules.get("logging")  # loaded by any call that logs; ``-version`` never imports it
    if logging is not None:
        logging.shutdown()
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


if __name__ == "__main__":
    main()
