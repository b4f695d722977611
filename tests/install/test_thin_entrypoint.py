"""``multus-thin-entrypoint`` end to end in tmp dirs: flags in, files out.

A fake node under tmp_path: the host's CNI bin and conf dirs, a service-account dir, a ``multus``
script to install. Options are parsed from Go's flags. The loop runs in a thread at 10 ms per round,
or as a real process stopped with SIGTERM. Checked:

* the start: the binary copied (the host bundle for ``--host-python`` when no ``--multus-bin-file`` is
  given, a relative ``--host-python`` exiting 1), the kubeconfig written, the config generated with every optional flag
  (``confDir``, not Go's ``cniConf``), Go's exact text for a 0.3.1 primary, a .conflist for 1.0.0;
* version mismatch in Go's words, ``--force-cni-version``, ``--override-network-name``, a bad log
  level, ``--skip-config-watch`` with an unusable primary exiting 1, a missing path exiting 1;
* the loop: a rotated token refreshes the kubeconfig (also with ``--skip-config-watch``), an edited
  primary regenerates, a primary renamed away removes the config, a late primary is wrapped;
* ``--cleanup-config-on-exit`` removes the config on stop (and only then); ``--rename-conf-file``;
* a user-provided config is copied; SIGTERM on a real process exits 0 after the cleanup.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from multus.install.cli import parse_options
from multus.install.entrypoint import ThinEntrypoint

ENV = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


@dataclass
class Node:
    root: Path
    bin_dir: Path
    conf_dir: Path
    sa_dir: Path
    multus_bin: Path

    def flags(self, *extra: str) -> list[str]:
        return [f"--cni-bin-dir={self.bin_dir}", f"--cni-conf-dir={self.conf_dir}",
                f"--multus-autoconfig-dir={self.conf_dir}", f"--multus-bin-file={self.multus_bin}",
                f"--service-account-dir={self.sa_dir}", *extra]

    def entrypoint(self, *extra: str, err: io.StringIO | None = None) -> ThinEntrypoint:
        return ThinEntrypoint(parse_options(self.flags(*extra)), environ=ENV, interval=0.01, out=io.StringIO(),
                              err=err or io.StringIO())

    def primary(self, name: str = "10-calico.conflist", version: str = "0.3.1", **extra: Any) -> Path:
        body = {"cniVersion": version, "name": "k8s-pod-network",
                "plugins": [{"type": "calico"}, {"type": "portmap", "capabilities": {"portMappings": True}}], **extra}
        path = self.conf_dir / name
        path.write_text(json.dumps(body))
        return path

    def config(self, name: str = "00-multus.conf") -> dict[str, Any]:
        body: dict[str, Any] = json.loads((self.conf_dir / name).read_bytes())
        return body


@pytest.fixture
def node(tmp_path: Path) -> Node:
    bin_dir, conf_dir, sa_dir, src = (tmp_path / p for p in ("host/opt/cni/bin", "host/etc/cni/net.d", "sa", "src"))
    for directory in (bin_dir, conf_dir, sa_dir, src):
        directory.mkdir(parents=True)
    (sa_dir / "token").write_text("token-one")
    (sa_dir / "ca.crt").write_text("CA")
    (src / "multus").write_text("#!/bin/sh\necho multus\n")
    return Node(tmp_path, bin_dir, conf_dir, sa_dir, src / "multus")


@pytest.fixture
def run_in_thread() -> Iterator[Callable[[ThinEntrypoint], threading.Event]]:
    """Run an entrypoint's loop in a thread; the returned Event stops it. Every thread is joined."""
    threads: list[tuple[threading.Thread, threading.Event]] = []

    def start(entry: ThinEntrypoint) -> threading.Event:
        stop = threading.Event()
        codes: list[int] = []
        thread = threading.Thread(target=lambda: codes.append(entry.run(stop)), name="thin-entrypoint-test")
        thread.start()
        threads.append((thread, stop))
        return stop

    yield start
    for thread, stop in threads:
        stop.set()
        thread.join(5)
        assert not thread.is_alive()


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def test_the_start_installs_the_binary_writes_the_kubeconfig_and_every_flag_into_the_config(node: Node) -> None:
    primary = node.primary()
    entry = node.entrypoint("--namespace-isolation", "--global-namespaces=kube-system,infra",
                            "--multus-log-level=DEBUG", "--multus-log-file=/var/log/multus.log",
                            "--multus-log-to-stderr=false", "--additional-bin-dir=/opt/multus/bin",
                            "--readiness-indicator-file=/run/ready", "--multus-cni-conf-dir",
                            str(node.root / "multus-net.d"), "--multus-kubeconfig-file-host=/etc/k/kubeconfig")
    entry.setup()
    assert (node.bin_dir / "multus").read_bytes() == node.multus_bin.read_bytes()
    assert os.access(node.bin_dir / "multus", os.X_OK)
    assert b'"token": "token-one"' in (node.conf_dir / "multus.d" / "multus.kubeconfig").read_bytes()
    assert (node.root / "multus-net.d").is_dir()
    assert node.config() == {
        "cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus",
        "capabilities": {"portMappings": True}, "namespaceIsolation": True, "globalNamespaces": "kube-system,infra",
        "logToStderr": False, "logLevel": "debug", "logFile": "/var/log/multus.log", "binDir": "/opt/multus/bin",
        "confDir": str(node.root / "multus-net.d"), "readinessindicatorfile": "/run/ready",
        "kubeconfig": "/etc/k/kubeconfig", "delegates": [json.loads(primary.read_bytes())]}


def without_bin_file(node: Node, *extra: str) -> list[str]:
    return [flag for flag in node.flags(*extra) if not flag.startswith("--multus-bin-file")]


def test_without_a_bin_file_the_host_bundle_is_installed_for_the_host_python(node: Node) -> None:
    node.primary()
    options = parse_options(without_bin_file(node, "--host-python=/usr/bin/python3.11"))
    assert options.multus_bin_file == ""
    ThinEntrypoint(options, environ=ENV, out=io.StringIO(), err=io.StringIO()).setup()
    assert (node.bin_dir / "multus").read_bytes().startswith(b"#!/usr/bin/python3.11 -IS\nPK")
    assert os.access(node.bin_dir / "multus", os.X_OK)
    assert not (node.bin_dir / "passthru").exists(), "as Go's entrypoint: multus only"
    err = io.StringIO()
    entry = ThinEntrypoint(parse_options(without_bin_file(node, "--host-python=python3")), environ=ENV,
                           out=io.StringIO(), err=err)
    assert entry.run(threading.Event()) == 1 and "absolute path" in err.getvalue()


def test_a_0_3_1_primary_gives_go_s_exact_layout(node: Node) -> None:
    (node.conf_dir / "10-bridge.conf").write_text('{"type": "bridge", "cniVersion": "0.3.1", "name": "br"}')
    node.entrypoint().setup()
    assert (node.conf_dir / "00-multus.conf").read_text() == (
        '{\n        "cniVersion": "0.3.1",\n        "name": "multus-cni-network",\n        "type": "multus",\n'
        '        "kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig",\n        "delegates": [\n'
        '                {"cniVersion":"0.3.1","name":"br","type":"bridge"}\n        ]\n}\n')


def test_a_1_0_0_primary_gives_a_conflist_with_multus_as_its_plugin(node: Node) -> None:
    node.primary(version="1.0.0")
    node.entrypoint("--cni-version=1.0.0").setup()
    assert not (node.conf_dir / "00-multus.conf").exists()
    body = node.config("00-multus.conflist")
    assert (body["cniVersion"], body["name"]) == ("1.0.0", "multus-cni-network")
    [plugin] = body["plugins"]
    assert plugin["type"] == "multus" and plugin["delegates"][0]["name"] == "k8s-pod-network"


def test_a_version_mismatch_is_reported_in_go_s_words_and_exits_1_without_the_watch(node: Node) -> None:
    node.primary(version="0.3.1")
    err = io.StringIO()
    entry = node.entrypoint("--cni-version=1.0.0", "--skip-config-watch", err=err)
    assert entry.run(threading.Event()) == 1
    assert 'Multus cni version is "1.0.0" while master plugin cni version is "0.3.1"' in err.getvalue()
    assert not (node.conf_dir / "00-multus.conf").exists()


def test_force_cni_version_overrides_the_delegate_s_version(node: Node) -> None:
    primary = node.primary(version="0.3.1")
    node.entrypoint("--cni-version=0.4.0", "--force-cni-version").setup()
    assert node.config()["delegates"][0]["cniVersion"] == "0.4.0"
    assert json.loads(primary.read_bytes())["cniVersion"] == "0.3.1", "the primary file itself is not edited"


def test_override_network_name_uses_the_primary_s_name(node: Node) -> None:
    node.primary()
    node.entrypoint("--override-network-name").setup()
    assert node.config()["name"] == "k8s-pod-network"


def test_an_unknown_log_level_is_refused_in_go_s_words(node: Node) -> None:
    node.primary()
    err = io.StringIO()
    assert node.entrypoint("--multus-log-level=loud", "--skip-config-watch", err=err).run(threading.Event()) == 1
    assert 'Log levels should be one of: debug/verbose/error/panic, did not understand: "loud"' in err.getvalue()


def test_a_missing_path_exits_1_with_a_clear_message(node: Node) -> None:
    err = io.StringIO()
    entry = node.entrypoint(f"--cni-bin-dir={node.root / 'nope'}", err=err)
    assert entry.run(threading.Event()) == 1
    assert f"cni-bin-dir is not found: {node.root / 'nope'} does not exist" in err.getvalue()


def test_the_loop_refreshes_the_kubeconfig_and_follows_the_primary(node: Node, run_in_thread: Any) -> None:
    primary = node.primary()
    kubeconfig = node.conf_dir / "multus.d" / "multus.kubeconfig"
    stop = run_in_thread(node.entrypoint())
    eventually(lambda: (node.conf_dir / "00-multus.conf").exists())
    (node.sa_dir / "token").write_text("token-two")
    eventually(lambda: b'"token": "token-two"' in kubeconfig.read_bytes())
    node.primary(capabilities={"x": True}, plugins=[{"type": "calico", "capabilities": {"bandwidth": True}}])
    eventually(lambda: node.config()["capabilities"] == {"bandwidth": True})
    primary.rename(primary.with_name(primary.name + ".cilium_bak"))
    eventually(lambda: not (node.conf_dir / "00-multus.conf").exists())
    node.primary()
    eventually(lambda: (node.conf_dir / "00-multus.conf").exists())
    stop.set()


def test_a_primary_that_appears_late_is_wrapped(node: Node, run_in_thread: Any) -> None:
    err = io.StringIO()
    run_in_thread(node.entrypoint(err=err))
    eventually(lambda: "waiting for a master CNI config" in err.getvalue())
    node.primary()
    eventually(lambda: (node.conf_dir / "00-multus.conf").exists())


def test_skip_config_watch_still_refreshes_the_kubeconfig_but_not_the_config(node: Node, run_in_thread: Any) -> None:
    node.primary()
    run_in_thread(node.entrypoint("--skip-config-watch"))
    eventually(lambda: (node.conf_dir / "00-multus.conf").exists())
    before = (node.conf_dir / "00-multus.conf").read_bytes()
    node.primary(plugins=[{"type": "calico"}])
    (node.sa_dir / "token").write_text("token-two")
    eventually(lambda: b'"token": "token-two"' in (node.conf_dir / "multus.d" / "multus.kubeconfig").read_bytes())
    time.sleep(0.05)
    assert (node.conf_dir / "00-multus.conf").read_bytes() == before


@pytest.mark.parametrize("cleanup", [True, False])
def test_the_config_is_removed_on_exit_only_with_cleanup(node: Node, cleanup: bool) -> None:
    node.primary()
    entry = node.entrypoint(*(["--cleanup-config-on-exit"] if cleanup else []))
    stop = threading.Event()
    stop.set()
    assert entry.run(stop) == 0
    assert (node.conf_dir / "00-multus.conf").exists() is not cleanup


def test_rename_conf_file_moves_the_primary_aside_and_keeps_the_config(node: Node, run_in_thread: Any) -> None:
    primary = node.primary()
    node.primary("20-other.conflist")
    run_in_thread(node.entrypoint("--rename-conf-file"))
    eventually(lambda: primary.with_name(primary.name + ".old").exists())
    time.sleep(0.05)
    assert not primary.exists()
    assert node.config()["delegates"][0]["name"] == "k8s-pod-network"
    assert (node.conf_dir / "20-other.conflist").exists(), "only the renamed primary is followed"


def test_a_user_config_is_copied_and_cleaned_up(node: Node) -> None:
    user = node.root / "70-multus.conf"
    user.write_text('{"cniVersion": "0.3.1", "name": "m", "type": "multus", "delegates": []}')
    entry = node.entrypoint(f"--multus-conf-file={user}", "--cleanup-config-on-exit")
    entry.setup()
    assert (node.conf_dir / "70-multus.conf").read_bytes() == user.read_bytes()
    assert not (node.conf_dir / "multus.d").exists(), "no kubeconfig outside auto mode, as in Go"
    stop = threading.Event()
    stop.set()
    assert entry.run(stop) == 0 and not (node.conf_dir / "70-multus.conf").exists()


def test_sigterm_on_the_real_command_cleans_up_and_exits_0(node: Node) -> None:
    node.primary()
    command = [sys.executable, "-m", "multus.install.entrypoint", *node.flags("--cleanup-config-on-exit")]
    proc = subprocess.Popen(command, env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        eventually(lambda: (node.conf_dir / "00-multus.conf").exists(), timeout=20)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert not (node.conf_dir / "00-multus.conf").exists()
    assert b"removed" in out
