"""``multus-thin-entrypoint``: the thin plugin's DaemonSet container (Go's thin_entrypoint, §9.7).

Start-up: check the paths, install the ``multus`` command into the CNI bin dir (atomically: the
self-contained bundle for ``--host-python``, or the file ``--multus-bin-file`` names), then either
copy a user-provided config (``--multus-conf-file=PATH``) or, with ``auto``, write the kubeconfig and
generate ``00-multus.conf(list)`` around the primary CNI config. Then it loops every second until
SIGTERM/SIGINT, and with ``--cleanup-config-on-exit`` removes the config it wrote.

The loop (auto mode) differs from Go's, on purpose:

* the kubeconfig is refreshed on every round whatever the flags, whenever the service-account token or
  CA changes (Go refreshes only with ``--cleanup-config-on-exit``, so tokens expire: multus#852);
* unless ``--skip-config-watch``, the config follows the primary: regenerated when it changes, the next
  candidate when it is renamed away, removed while there is none, generated when one appears late;
  an unusable primary keeps the previous file. With ``--rename-conf-file`` only the primary that was
  renamed is followed (it is our own rename, so its absence is not a reason to remove anything);
* a failed start (a missing path, an unusable primary with ``--skip-config-watch``) exits 1, not 0.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TextIO

from multus.cni.durable import write_atomically
from multus.daemon.autoconfig.generate import OUTPUT_NAMES
from multus.daemon.autoconfig.primary import PrimaryConfigError, read_primary, select_primary
from multus.install.binaries import copy_binary
from multus.install.bundle import DEFAULT_HOST_PYTHON, BundleError, install_thin_bundle
from multus.install.kubeconfig import KubeconfigError, generate_kubeconfig
from multus.install.thin_config import ThinConfigError, ThinConfigOptions, render_thin_config

AUTO = "auto"


class EntrypointError(Exception):
    """A start-up step failed; the message is printed and the command exits 1."""


@dataclass
class ThinOptions:
    """The command's flags: Go's names and defaults, except ``multus_bin_file`` ("" = the bundle, since
    this image has no host binary to copy) and our ``host_python`` and ``service_account_dir``."""

    cni_bin_dir: str = "/host/opt/cni/bin"
    cni_conf_dir: str = "/host/etc/cni/net.d"
    cni_version: str = ""
    multus_conf_file: str = AUTO
    multus_bin_file: str = ""
    multus_cni_conf_dir: str | None = None  # None: Go's default dir is created, no confDir is written
    skip_multus_binary_copy: bool = False
    multus_kubeconfig_file_host: str = "/etc/cni/net.d/multus.d/multus.kubeconfig"
    multus_master_cni_file_name: str = ""
    namespace_isolation: bool = False
    global_namespaces: str = ""
    multus_autoconfig_dir: str = "/host/etc/cni/net.d"
    multus_log_to_stderr: bool = True
    multus_log_level: str = ""
    multus_log_file: str = ""
    override_network_name: bool = False
    cleanup_config_on_exit: bool = False
    skip_config_watch: bool = False
    rename_conf_file: bool = False
    readiness_indicator_file: str = ""
    additional_bin_dir: str = ""
    force_cni_version: bool = False
    skip_tls_verify: bool = False
    service_account_dir: str = "/var/run/secrets/kubernetes.io/serviceaccount"
    host_python: str = DEFAULT_HOST_PYTHON

    @property
    def auto(self) -> bool:
        return self.multus_conf_file == AUTO

    def config_options(self) -> ThinConfigOptions:
        return ThinConfigOptions(
            cni_version=self.cni_version, kubeconfig=self.multus_kubeconfig_file_host,
            override_network_name=self.override_network_name, force_cni_version=self.force_cni_version,
            namespace_isolation=self.namespace_isolation, global_namespaces=self.global_namespaces,
            log_to_stderr=self.multus_log_to_stderr, log_level=self.multus_log_level, log_file=self.multus_log_file,
            bin_dir=self.additional_bin_dir, conf_dir=self.multus_cni_conf_dir or "",
            readiness_indicator_file=self.readiness_indicator_file)


DEFAULT_MULTUS_CNI_CONF_DIR = "/host/etc/cni/multus/net.d"


class ThinEntrypoint:
    """One run of the entrypoint; :meth:`run` until ``stop`` is set. ``environ`` gives the API address."""

    def __init__(self, options: ThinOptions, *, environ: Mapping[str, str] | None = None, interval: float = 1.0,
                 out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.options = options
        self.environ = os.environ if environ is None else environ
        self.interval = interval
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.conf_dir = Path(options.cni_conf_dir)
        self.kubeconfig_path = self.conf_dir / "multus.d" / "multus.kubeconfig"
        self._renamed_master = ""
        self._reported = ""

    def _say(self, message: str) -> None:
        print(message, file=self.out, flush=True)

    def _report(self, message: str) -> None:
        if message != self._reported:
            self._reported = message
            print(message, file=self.err, flush=True)

    # ------------------------------------------------------------------ steps

    def verify(self) -> None:
        o = self.options
        checks = [("cni-conf-dir", o.cni_conf_dir), ("cni-bin-dir", o.cni_bin_dir)]
        if not o.skip_multus_binary_copy and o.multus_bin_file:
            checks.append(("multus-bin-file", o.multus_bin_file))
        if not o.auto:
            checks.append(("multus-conf-file", o.multus_conf_file))
        for flag, path in checks:
            if not os.path.exists(path):
                raise EntrypointError(f"{flag} is not found: {path} does not exist")

    def install_binary(self) -> Path:
        """``multus`` into the CNI bin dir: the given file as Go does, else the bundle for the host."""
        if self.options.multus_bin_file:
            return copy_binary(self.options.multus_bin_file, self.options.cni_bin_dir, "multus")
        return install_thin_bundle(self.options.cni_bin_dir, host_python=self.options.host_python,
                                   names=("multus",))[0]

    def refresh_kubeconfig(self) -> bool:
        """Rewrite the kubeconfig if the token or CA changed; True when written."""
        env = self.environ
        return generate_kubeconfig(self.options.service_account_dir, env.get("KUBERNETES_SERVICE_HOST", ""),
                                   env.get("KUBERNETES_SERVICE_PORT", ""),
                                   env.get("KUBERNETES_SERVICE_PROTOCOL", "") or "https", self.kubeconfig_path,
                                   self.options.skip_tls_verify)

    def remove_config(self) -> list[Path]:
        names = OUTPUT_NAMES if self.options.auto else (os.path.basename(self.options.multus_conf_file),)
        removed = []
        for name in names:
            path = self.conf_dir / name
            if path.exists():
                path.unlink()
                removed.append(path)
        return removed

    def sync_config(self) -> Path | None:
        """Make the generated config match the primary now; the config's path, None when there is none.

        Raises EntrypointError when the primary cannot be wrapped (the previous file stays).
        """
        o = self.options
        try:
            master = select_primary(o.multus_autoconfig_dir, self._renamed_master or o.multus_master_cni_file_name)
            if master is None:
                if self._renamed_master:
                    return next((self.conf_dir / n for n in OUTPUT_NAMES if (self.conf_dir / n).exists()), None)
                for path in self.remove_config():
                    self._say(f"no master CNI config left in {o.multus_autoconfig_dir}: removed {path}")
                self._report(f"waiting for a master CNI config in {o.multus_autoconfig_dir}")
                return None
            generated = render_thin_config(o.config_options(), str(master), read_primary(master))
        except (PrimaryConfigError, ThinConfigError, OSError) as exc:
            raise EntrypointError(f"failed to create multus config: {exc}") from None
        target = self.conf_dir / generated.file_name
        for name in OUTPUT_NAMES:
            if name != generated.file_name:
                (self.conf_dir / name).unlink(missing_ok=True)
        if not target.exists() or target.read_bytes() != generated.data:
            write_atomically(target, generated.data, mode=0o600)
            self._say(f"multus config file {target} is created for master {master}")
        self._reported = ""
        if o.rename_conf_file:
            renamed = master.with_name(master.name + ".old")
            os.replace(master, renamed)
            self._renamed_master = master.name
            self._say(f"Original master file moved to {str(renamed)!r}")
        return target

    def setup(self) -> None:
        """Everything before the loop; EntrypointError on a failure that should end the container."""
        o = self.options
        self.verify()
        try:
            if not o.skip_multus_binary_copy:
                self._say(f"multus binary installed as {self.install_binary()}")
            if not o.auto:
                target = self.conf_dir / os.path.basename(o.multus_conf_file)
                write_atomically(target, Path(o.multus_conf_file).read_bytes(), mode=0o644)
                self._say(f"multus config file {o.multus_conf_file} is copied.")
                return
            Path(o.multus_cni_conf_dir or DEFAULT_MULTUS_CNI_CONF_DIR).mkdir(parents=True, exist_ok=True)
            self.refresh_kubeconfig()
            self._say(f"kubeconfig is created in {self.kubeconfig_path}")
        except (OSError, ValueError, BundleError, KubeconfigError) as exc:
            raise EntrypointError(str(exc)) from None
        try:
            self.sync_config()
        except EntrypointError as exc:
            if o.skip_config_watch:
                raise
            self._report(f"{exc}; waiting for a usable master CNI config")

    def loop_once(self) -> None:
        """One round of the watch loop (auto mode): the kubeconfig, then the config."""
        try:
            if self.refresh_kubeconfig():
                self._say(f"kubeconfig {self.kubeconfig_path} is updated (token or CA changed)")
        except (OSError, KubeconfigError) as exc:
            self._report(f"failed to update multus kubeconfig: {exc}")
        if not self.options.skip_config_watch:
            try:
                self.sync_config()
            except EntrypointError as exc:
                self._report(f"{exc} (the previous config is kept)")

    def run(self, stop: threading.Event) -> int:
        """The whole command: setup, the loop until ``stop``, the cleanup; the exit code."""
        try:
            self.setup()
        except EntrypointError as exc:
            print(exc, file=self.err, flush=True)
            return 1
        while not stop.wait(self.interval):
            if self.options.auto:
                self.loop_once()
        if self.options.cleanup_config_on_exit:
            for path in self.remove_config():
                self._say(f"removed {path}")
        return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse Go's flags, run until SIGTERM/SIGINT."""
    from multus.install.cli import parse_options

    options = parse_options(sys.argv[1:] if argv is None else list(argv))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    return ThinEntrypoint(options).run(stop)


if __name__ == "__main__":
    sys.exit(main())
