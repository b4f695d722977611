"""The daemon's limits and lifecycle: back-pressure, graceful termination, the ``multus-daemon`` command.

Doubles: scripted fake plugins (``multus.testing.fake_plugin``) that sleep, to hold requests in flight;
a counting wrapper around the real subprocess executor measures how many plugins run at once (what
the connection bound is for: plugin processes are what ran Go's daemon out of memory). No Kubernetes.
Checked:

* connectionLimit 2 with 8 concurrent slow ADDs: never more than 2 plugins, connections or worker
  threads at once, the other clients wait in the backlog, and every request completes; sequential
  connections reuse the first workers, overlapping ones grow the pool;
* SIGTERM-style stop: /readyz answers 500 at once (and a /cni our shim marked unchecked 503 not-ready)
  while an in-flight ADD still completes, then the socket file is gone and the shutdown hooks have run
  (last registered first);
* the drain is bounded: a request slower than the drain timeout does not hold the stop;
* the command: ``--version``; exit 1 for a bad config or a readiness file that never appears; exit 3
  when not root; exit 2 when an extension fails; a real ``multus-daemon`` process (``main()``, with the
  auto-config extension copying a non-auto multusConfigFile) serves, and on SIGTERM exits 0 and
  removes its socket.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from daemon_support import UnixClient, cni_env, daemon_config, post_once, running_daemon, shim_body

from multus.cni.invoke import InvokeArgs, PluginOutput, SubprocessExecutor
from multus.daemon import main as daemon_main
from multus.daemon.clients import SharedKube
from multus.daemon.config import DaemonConfig
from multus.daemon.service import Daemon
from multus.plugin import readiness
from multus.testing.fake_plugin import FakePlugin, make_fake_plugin

SLOW_RESULT = json.dumps({"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.2/24"}], "dns": {}})


class CountingExecutor:
    """The real executor, counting plugins running at the same time."""

    def __init__(self) -> None:
        self._inner = SubprocessExecutor()
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.started = threading.Event()

    def find_in_path(self, plugin: str, paths: Sequence[str]) -> str:
        return self._inner.find_in_path(plugin, paths)

    def exec_plugin(self, plugin_path: str, stdin: bytes, args: InvokeArgs, timeout: float | None) -> PluginOutput:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        self.started.set()
        try:
            return self._inner.exec_plugin(plugin_path, stdin, args, timeout)
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def slow(tmp_path: Path) -> FakePlugin:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    plugin = make_fake_plugin(bin_dir, "slow")
    plugin.script(ADD={"sleep": 0.25, "stdout": SLOW_RESULT})
    return plugin


def config_for(tmp_path: Path, slow: FakePlugin, **keys: Any) -> dict[str, Any]:
    return daemon_config(tmp_path, cniDir=str(tmp_path / "multus"), binDir=str(slow.directory), **keys)


SHIM_CONFIG = {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus-shim",
               "delegates": [{"cniVersion": "1.0.0", "name": "slownet", "type": "slow"}]}


def add(socket_path: str, netns: str, container_id: str) -> int:
    body = shim_body(cni_env("ADD", netns=netns, container_id=container_id), SHIM_CONFIG)
    return post_once(socket_path, "/cni", body).status


def test_a_connection_limit_of_two_keeps_two_requests_in_flight_and_completes_all(
        tmp_path: Path, netns: str, slow: FakePlugin) -> None:
    executor = CountingExecutor()
    statuses: list[int] = []
    with running_daemon(config_for(tmp_path, slow, connectionLimit=2), executor=executor,
                        kube_factory=SharedKube(environ={})) as daemon:
        threads = [threading.Thread(target=lambda i=i: statuses.append(add(daemon.config.socket_path, netns, f"c{i}")))
                   for i in range(8)]
        for thread in threads:
            thread.start()
        most_connections = 0
        while any(t.is_alive() for t in threads):
            most_connections = max(most_connections, daemon.server.open_connections)
            time.sleep(0.01)
        workers = daemon.server.workers
    assert statuses == [200] * 8
    assert executor.peak == 2
    assert most_connections <= 2
    assert workers == 2  # one worker thread per connection served at once, never more
    assert len(slow.calls()) == 8


def test_workers_are_reused_and_the_pool_grows_only_as_connections_overlap(tmp_path: Path, netns: str,
                                                                           slow: FakePlugin) -> None:
    slow.script(ADD={"sleep": 0.3, "stdout": SLOW_RESULT})
    with running_daemon(config_for(tmp_path, slow, connectionLimit=16), executor=CountingExecutor(),
                        kube_factory=SharedKube(environ={})) as daemon:
        socket_path = daemon.config.socket_path
        for _ in range(10):
            assert post_once(socket_path, "/healthz").status == 200
        # Sequential connections: the first workers again (a client's next connection may arrive while
        # the worker of its last one still waits for its end, hence possibly a third), not one per connection.
        assert daemon.server.workers <= 3
        threads = [threading.Thread(target=add, args=(socket_path, netns, f"c{i}")) for i in range(5)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert 5 <= daemon.server.workers <= 7  # five at once, and one left waiting for the next client


def test_stop_turns_readyz_500_lets_the_inflight_add_finish_then_removes_the_socket(
        tmp_path: Path, netns: str, slow: FakePlugin) -> None:
    slow.script(ADD={"sleep": 0.6, "stdout": SLOW_RESULT})
    executor = CountingExecutor()
    hooks: list[str] = []
    result: list[int] = []
    with running_daemon(config_for(tmp_path, slow), executor=executor, kube_factory=SharedKube(environ={})) as daemon:
        daemon.add_shutdown_hook(lambda: hooks.append("first registered"))
        daemon.add_shutdown_hook(lambda: hooks.append("last registered"))
        socket_path = daemon.config.socket_path
        request = threading.Thread(target=lambda: result.append(add(socket_path, netns, "inflight")))
        request.start()
        assert executor.started.wait(10)
        stopper = threading.Thread(target=daemon.stop)
        stopper.start()
        deadline = time.monotonic() + 5
        while not daemon.is_draining() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert post_once(socket_path, "/readyz").status == 500
        # The ADD is still running while the daemon drains. (The probe counts as in flight until its
        # answer is written and its worker is done, which may be just after the client has read it.)
        settle = time.monotonic() + 2
        while daemon.server.in_flight != 1 and time.monotonic() < settle:
            time.sleep(0.005)
        assert daemon.server.in_flight == 1
        assert post_once(socket_path, "/healthz").status == 200
        # Our shim sends /cni unprobed: while draining it is told "not ready" and no plugin runs for it.
        body = shim_body(cni_env("ADD", netns=netns, container_id="late"), SHIM_CONFIG)
        refused = post_once(socket_path, "/cni", body, {"X-Multus-Readiness": "unchecked"})
        assert (refused.status, refused.headers.get("x-multus-readiness")) == (503, "not-ready")
        assert executor.peak == 1  # no plugin of its own ran beside the in-flight ADD's
        request.join(10)
        stopper.join(10)
        assert result == [200]
        assert not os.path.exists(socket_path)
        assert hooks == ["last registered", "first registered"]


def test_a_request_slower_than_the_drain_timeout_does_not_hold_the_stop(
        tmp_path: Path, netns: str, slow: FakePlugin) -> None:
    slow.script(ADD={"sleep": 1.5, "stdout": SLOW_RESULT})
    executor = CountingExecutor()
    with running_daemon(config_for(tmp_path, slow), executor=executor, drain_timeout=0.3,
                        kube_factory=SharedKube(environ={})) as daemon:
        request = threading.Thread(target=lambda: _swallow(add, daemon.config.socket_path, netns, "stuck"), daemon=True)
        request.start()
        assert executor.started.wait(10)
        began = time.monotonic()
        daemon.stop()
        assert time.monotonic() - began < 1.2
        assert not os.path.exists(daemon.config.socket_path)


def _swallow(func: Any, *args: Any) -> None:
    try:
        func(*args)
    except OSError:
        pass  # the daemon went away mid-request, as intended


# ---- the command -----------------------------------------------------------------------------------------


@pytest.fixture
def keep_logging() -> Iterator[None]:
    """run() configures the multus logger; put it back for the other tests."""
    logger = logging.getLogger("multus")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    try:
        yield
    finally:
        logger.handlers[:], logger.level, logger.propagate = saved[0], saved[1], saved[2]


def write_config(tmp_path: Path, **keys: Any) -> str:
    path = tmp_path / "daemon-config.json"
    path.write_text(json.dumps(daemon_config(tmp_path, **keys)))
    return str(path)


def test_version_prints_one_line_and_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert daemon_main.run(["--version"]) == 0
    assert capsys.readouterr().out.startswith("multus-daemon: version:")


def test_a_bad_config_exits_1_saying_why(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                         keep_logging: None) -> None:
    assert daemon_main.run(["-config", write_config(tmp_path, connectionLimit=0)]) == 1
    assert "connection limit must be greater than 0, got 0" in capsys.readouterr().err


def test_a_readiness_file_that_never_appears_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str], keep_logging: None) -> None:
    monkeypatch.setattr(daemon_main, "READINESS_TIMEOUT", 0.2)
    monkeypatch.setattr(readiness, "WAIT_INTERVAL", 0.05)
    path = write_config(tmp_path, readinessindicatorfile=str(tmp_path / "absent"))
    assert daemon_main.run([f"--config={path}"]) == 1
    assert "still waiting for readinessindicatorfile" in capsys.readouterr().err
    assert not (tmp_path / "run" / "multus").exists()  # nothing was started


def test_not_running_as_root_exits_3_with_a_clear_message(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          keep_logging: None) -> None:
    assert daemon_main.run(["-config", write_config(tmp_path)], geteuid=lambda: 1000) == 3
    assert "must run as root (uid 0)" in capsys.readouterr().err


def test_a_failing_extension_exits_2_and_a_working_one_gets_its_hook_run(tmp_path: Path, keep_logging: None) -> None:
    def quiet_daemon(config: DaemonConfig) -> Daemon:
        from prometheus_client import CollectorRegistry
        return Daemon(config, registry=CollectorRegistry(), kube_factory=SharedKube(environ={}))

    def broken(config: DaemonConfig, daemon: Daemon) -> None:
        raise RuntimeError("no primary CNI config")

    ran: list[str] = []

    def working(config: DaemonConfig, daemon: Daemon) -> None:
        daemon.add_shutdown_hook(lambda: ran.append("removed 00-multus.conf"))
        daemon.request_shutdown()  # as a SIGTERM would

    path = write_config(tmp_path)
    assert daemon_main.run(["-config", path], extensions=[broken], daemon_factory=quiet_daemon) == 2
    assert daemon_main.run(["-config", path], extensions=[working], daemon_factory=quiet_daemon) == 0
    assert ran == ["removed 00-multus.conf"]
    assert not (tmp_path / "run" / "multus" / "multus.sock").exists()


def test_the_multus_daemon_process_serves_and_exits_0_on_sigterm(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the daemon must run as root")
    user_conf = tmp_path / "70-user.conf"
    user_conf.write_text('{"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus-shim"}')
    (tmp_path / "net.d").mkdir()
    path = write_config(tmp_path, logToStderr=True, logLevel="verbose", multusConfigFile=str(user_conf),
                        cniConfigDir=str(tmp_path / "net.d"))
    socket_path = tmp_path / "run" / "multus" / "multus.sock"
    process = subprocess.Popen([sys.executable, "-m", "multus.daemon.main", "-config", path],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while not socket_path.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the daemon did not create its socket"
            time.sleep(0.02)
        assert oct(socket_path.stat().st_mode & 0o777) == "0o600"
        assert oct(socket_path.parent.stat().st_mode & 0o777) == "0o700"
        with UnixClient(socket_path) as client:
            assert client.request("GET", "/readyz").status == 200
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
        assert process.returncode == 0, stderr
        assert b"termination requested" in stderr
        assert not socket_path.exists()
        assert (tmp_path / "net.d" / "70-user.conf").read_text() == user_conf.read_text()  # the non-auto extension
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
