"""The auto-config manager: keeps ``<cniConfigDir>/00-multus.conf`` in step with the primary CNI config.

Watching is by polling, every ``poll_interval`` (0.5 s) seconds, and level-triggered: each round
looks at the directory, the readiness file and the output as they are *now* and makes the output
what it should be (:meth:`ConfigManager.reconcile`). Why not inotify (fsnotify in Go): no event can be
missed or arrive out of order (a rename storm at node start, a watch set up after the file appeared,
an overflowing queue), it works on every filesystem including bind mounts and overlays, and it needs no
ctypes. The cost is reading a directory and two small files twice a second. A round that finds the
output already right writes nothing, so polling causes no churn for the container runtime.

The rules, applied every round:

* readiness indicator set and absent: no output file (a stale one is removed); once it has been seen
  and then disappears, the output is removed, :attr:`ConfigManager.readiness_lost` is set, the
  ``on_readiness_lost`` callback runs (the daemon stops; Go calls ``os.Exit(2)``), and watching ends;
* the primary is re-selected every round (:func:`~multus.daemon.autoconfig.primary.select_primary`),
  so an edited primary regenerates, a late one is picked up, and one renamed away (Cilium's
  ``*.cilium_bak``) is replaced by the next candidate;
* no primary at all: the output is removed until one appears. An output pointing at a missing file
  would make every pod's ADD fail, and the runtime would report the node Ready on Multus's config;
* a primary that cannot be read, parsed or wrapped (version check): the previous output stays and the
  error is logged once. Never an empty file (Go writes one: multus#1155);
* the output is replaced only when its bytes differ, atomically (temp file + rename, mode 0600), so a
  runtime never reads a half-written file, and one removed or overwritten by someone else is restored.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multus.cni.durable import write_atomically
from multus.daemon.autoconfig.generate import OUTPUT_NAMES, GeneratedConfig, render
from multus.daemon.autoconfig.primary import PrimaryConfigError, read_primary, select_primary
from multus.daemon.autoconfig.settings import AutoconfigError, AutoconfigSettings
from multus.plugin.gojson import go_marshal

log = logging.getLogger(__name__)

DEFAULT_POLL_INTERVAL = 0.5


class State(enum.Enum):
    WAITING_FOR_READINESS = "waiting for the readiness indicator file"
    WAITING_FOR_PRIMARY = "waiting for a primary CNI config"
    WRITTEN = "written"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    READINESS_LOST = "readiness indicator file removed"


@dataclass(frozen=True)
class Outcome:
    """What one round did: the state reached, the primary used (if any), and the error (if failed)."""

    state: State
    primary: Path | None = None
    error: str = ""


class ConfigManager:
    """Generates and maintains Multus's config for the thick plugin; see the module docstring.

    ``daemon_conf`` is the daemon config's JSON object (or settings already decoded). Thread-safe:
    :meth:`reconcile`, :meth:`start` and :meth:`stop` may be called from any thread.
    """

    def __init__(self, daemon_conf: Mapping[str, Any] | AutoconfigSettings, *,
                 poll_interval: float = DEFAULT_POLL_INTERVAL,
                 on_readiness_lost: Callable[[], None] | None = None) -> None:
        self.settings = (daemon_conf if isinstance(daemon_conf, AutoconfigSettings)
                         else AutoconfigSettings.from_daemon_config(daemon_conf))
        self.poll_interval = poll_interval
        self.config_dir = Path(self.settings.config_dir)
        self.readiness_lost = threading.Event()
        self.generated = threading.Event()  # set once a config has been written or found up to date
        self.last_outcome: Outcome | None = None
        self._on_readiness_lost = on_readiness_lost
        self._lock = threading.RLock()  # one round, or a removal, at a time
        self._round_done = threading.Condition(self._lock)
        self._lifecycle = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ready_seen = False
        self._reported = ""

    # ------------------------------------------------------------------ lifecycle

    def start(self, wait_for_primary: float | None = None) -> None:
        """Start watching in a background thread.

        With ``wait_for_primary``, block until the first config is written, at most that many seconds
        (Go gives up after 120 tries a second apart); on timeout the manager stops and AutoconfigError
        says why: ``could not find a plugin configuration in <dir>``, or the primary's last error.
        """
        with self._lifecycle:
            if self._thread is not None:
                raise RuntimeError("the auto-config manager is already started")
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="multus-autoconfig", daemon=True)
            self._thread.start()
        if wait_for_primary is None:
            return
        deadline = time.monotonic() + wait_for_primary
        with self._round_done:
            while not (self.generated.is_set() or self.readiness_lost.is_set()):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._round_done.wait(remaining)
        if self.generated.is_set():
            return
        outcome = self.last_outcome
        self.stop(remove_file=False)
        if outcome is not None and outcome.state is State.FAILED:
            raise AutoconfigError(outcome.error)
        if self.readiness_lost.is_set() or (outcome is not None and outcome.state is State.WAITING_FOR_READINESS):
            raise AutoconfigError(f"the readiness indicator file {self.settings.readiness_indicator_file} "
                                  "is not there")
        raise AutoconfigError("failed to find the cluster master CNI plugin: could not find a plugin "
                              f"configuration in {self.settings.autoconfig_dir}")

    def stop(self, remove_file: bool = True) -> None:
        """Stop watching and wait for the thread; with ``remove_file``, remove 00-multus.conf(list).

        Idempotent; safe from the ``on_readiness_lost`` callback (it does not join its own thread).
        """
        with self._lifecycle:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        if remove_file:
            self.remove_config()

    def shutdown_hook(self, remove_file: bool = True) -> Callable[[], None]:
        """A function for :meth:`Daemon.add_shutdown_hook`: stops the manager (and removes the file)."""
        def stop_autoconfig() -> None:
            self.stop(remove_file=remove_file)
        return stop_autoconfig

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def remove_config(self) -> bool:
        """Remove Multus's generated config (both names); True if a file was removed."""
        removed = False
        with self._lock:
            for name in OUTPUT_NAMES:
                try:
                    (self.config_dir / name).unlink()
                except FileNotFoundError:
                    continue
                removed = True
                log.info("removed %s", self.config_dir / name)
        return removed

    def _run(self) -> None:
        while True:
            try:
                outcome = self.reconcile()
            except Exception as exc:  # a bug or an unexpected OSError must not end the watch
                self._report(logging.ERROR, f"auto-config round failed: {exc!r}")
                outcome = Outcome(State.FAILED, error=repr(exc))
            if outcome.state is State.READINESS_LOST or self._stop.wait(self.poll_interval):
                return

    # ------------------------------------------------------------------ one round

    def reconcile(self) -> Outcome:
        """Bring the output in line with the directory as it is now (see the module docstring)."""
        lost = False
        with self._lock:
            outcome = self._reconcile_locked()
            self.last_outcome = outcome
            if outcome.state in (State.WRITTEN, State.UNCHANGED):
                self.generated.set()
            if outcome.state is State.READINESS_LOST and not self.readiness_lost.is_set():
                self.readiness_lost.set()
                lost = True
            self._round_done.notify_all()
        if lost and self._on_readiness_lost is not None:
            self._on_readiness_lost()
        return outcome

    def _reconcile_locked(self) -> Outcome:
        readiness = self.settings.readiness_indicator_file
        if readiness:
            if os.path.exists(readiness):
                self._ready_seen = True
            elif self._ready_seen:
                self._report(logging.ERROR, f"readiness indicator file {readiness} is gone: removing Multus's "
                                            "config and stopping the daemon")
                self.remove_config()
                return Outcome(State.READINESS_LOST)
            else:
                self._report(logging.INFO, f"waiting for the readiness indicator file {readiness}")
                self.remove_config()
                return Outcome(State.WAITING_FOR_READINESS)
        try:
            primary_path = select_primary(self.settings.autoconfig_dir, self.settings.multus_master_cni)
        except (PrimaryConfigError, OSError) as exc:
            return self._failed(None, str(exc))
        if primary_path is None:
            if self.remove_config():
                log.warning("no primary CNI config left in %s: Multus's config is removed until one appears",
                            self.settings.autoconfig_dir)
            self._report(logging.INFO, f"waiting for a primary CNI config in {self.settings.autoconfig_dir}")
            return Outcome(State.WAITING_FOR_PRIMARY)
        try:
            primary = read_primary(primary_path)
            if self.settings.force_cni_version:
                primary = self._force_version(primary_path, primary)
            generated = render(self.settings, str(primary_path), primary)
            return self._write(primary_path, primary, generated)
        except (PrimaryConfigError, AutoconfigError, OSError) as exc:
            return self._failed(primary_path, str(exc))

    def _failed(self, primary: Path | None, error: str) -> Outcome:
        exists = any((self.config_dir / name).exists() for name in OUTPUT_NAMES)
        kept = " (the previous Multus config is kept)" if exists else ""
        self._report(logging.ERROR, f"cannot generate Multus's config: {error}{kept}")
        return Outcome(State.FAILED, primary, error)

    def _force_version(self, path: Path, primary: dict[str, Any]) -> dict[str, Any]:
        """forceCNIVersion: rewrite the primary file with Multus's cniVersion, as Go does (for kind/e2e)."""
        wanted = self.settings.cni_version
        if not wanted or primary.get("cniVersion") == wanted:
            return primary
        log.warning("forceCNIVersion: rewriting cniVersion of %s from %r to %r", path, primary.get("cniVersion"),
                    wanted)
        forced = {**primary, "cniVersion": wanted}
        mode = path.stat().st_mode & 0o7777
        write_atomically(path, go_marshal(forced), mode=mode)
        return forced

    def _write(self, primary_path: Path, primary: dict[str, Any], generated: GeneratedConfig) -> Outcome:
        target = self.config_dir / generated.file_name
        for name in OUTPUT_NAMES:  # a stale file of the other kind would shadow ours (it sorts first)
            if name != generated.file_name:
                (self.config_dir / name).unlink(missing_ok=True)
        try:
            current = target.read_bytes()
        except FileNotFoundError:
            current = None
        self._reported = ""
        if current == generated.data:
            return Outcome(State.UNCHANGED, primary_path)
        write_atomically(target, generated.data, mode=0o600)
        versions = f"primary cniVersion {primary.get('cniVersion')}, Multus {self.settings.cni_version}"
        log.info("%s %s for the primary CNI config %s (%s)", "rewrote" if current is not None else "wrote",
                 target, primary_path, versions)
        return Outcome(State.WRITTEN, primary_path)

    def _report(self, level: int, message: str) -> None:
        """Log a waiting or failure message once, not every round; a success re-arms it."""
        if message != self._reported:
            self._reported = message
            log.log(level, "%s", message)
