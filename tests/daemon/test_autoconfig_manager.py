"""Thick auto-config with its watching thread: the file follows the directory over time.

The manager polls every 10 ms here (0.5 s in production), so each change is seen within a few rounds;
tests wait for the expected file state with a deadline instead of sleeping. Checked:

* a late primary is picked up; an edited primary regenerates the file;
* the primary renamed away (``*.cilium_bak``) switches to the next candidate, and with none left the
  file is removed, then written again when a primary comes back;
* the file removed or overwritten by someone else is restored;
* readiness indicator: nothing is written before it exists (a stale file is removed); its removal
  removes the file, sets ``readiness_lost``, calls the callback once, and ends the thread;
* ``start(wait_for_primary=...)`` returns once written, or stops and raises Go's
  ``could not find a plugin configuration in <dir>`` / the primary's own error;
* ``stop(remove_file=True/False)``, the shutdown hook, double start refused, stop from the callback;
* the daemon extension: auto mode starts the manager and registers the removal; non-auto copies the
  user's file;
* no thread is left behind by any test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from multus.daemon.autoconfig import AutoconfigError, ConfigManager, autoconfig_extension

POLL = 0.01


@pytest.fixture(autouse=True)
def no_thread_left() -> Iterator[None]:
    yield
    for thread in threading.enumerate():  # a thread told to stop by its own callback may still be returning
        if thread.name == "multus-autoconfig":
            thread.join(1.0)
    leftover = [t for t in threading.enumerate() if t.name == "multus-autoconfig"]
    assert not leftover, f"threads left running: {leftover}"


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)


def write_json(path: Path, body: Any) -> Path:
    path.write_text(json.dumps(body))
    return path


def primary(name: str = "k8s-pod-network", **caps: bool) -> dict[str, Any]:
    return {"cniVersion": "0.4.0", "name": name, "plugins": [{"type": "calico", "capabilities": caps}]}


def cluster_network(conf_dir: Path) -> str | None:
    try:
        value: str = json.loads((conf_dir / "00-multus.conf").read_bytes())["clusterNetwork"]
    except FileNotFoundError:
        return None
    return value


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def running(conf_dir: Path) -> Iterator[Callable[..., ConfigManager]]:
    """Start managers over ``conf_dir``; each is stopped (file left alone) at teardown."""
    started: list[ConfigManager] = []

    def start(**daemon_conf: Any) -> ConfigManager:
        on_lost = daemon_conf.pop("on_readiness_lost", None)
        mgr = ConfigManager({"cniVersion": "0.4.0", "cniConfigDir": str(conf_dir), **daemon_conf},
                            poll_interval=POLL, on_readiness_lost=on_lost)
        started.append(mgr)
        mgr.start()
        return mgr

    yield start
    for mgr in started:
        mgr.stop(remove_file=False)


def test_a_primary_that_appears_late_is_wrapped_when_it_appears(conf_dir: Path, running: Any) -> None:
    mgr = running()
    time.sleep(5 * POLL)
    assert cluster_network(conf_dir) is None and not mgr.generated.is_set()
    write_json(conf_dir / "10-calico.conflist", primary())
    eventually(lambda: cluster_network(conf_dir) == f"{conf_dir}/10-calico.conflist")
    assert mgr.generated.is_set()


def test_an_edited_primary_regenerates_the_file(conf_dir: Path, running: Any) -> None:
    path = write_json(conf_dir / "10-calico.conflist", primary(portMappings=True))
    running()
    eventually(lambda: (conf_dir / "00-multus.conf").exists())
    write_json(path, primary(bandwidth=True))
    eventually(lambda: json.loads((conf_dir / "00-multus.conf").read_bytes())["capabilities"] == {"bandwidth": True})


def test_a_primary_renamed_away_switches_to_the_next_then_removes_the_file_then_recovers(
        conf_dir: Path, running: Any) -> None:
    cilium = write_json(conf_dir / "05-cilium.conflist", primary("cilium"))
    write_json(conf_dir / "10-calico.conflist", primary())
    running()
    eventually(lambda: cluster_network(conf_dir) == str(cilium))
    cilium.rename(conf_dir / "05-cilium.conflist.cilium_bak")
    eventually(lambda: cluster_network(conf_dir) == f"{conf_dir}/10-calico.conflist")
    (conf_dir / "10-calico.conflist").rename(conf_dir / "10-calico.conflist.cilium_bak")
    eventually(lambda: not (conf_dir / "00-multus.conf").exists())
    write_json(cilium, primary("cilium"))
    eventually(lambda: cluster_network(conf_dir) == str(cilium))


def test_a_named_master_that_disappears_removes_the_file_until_it_returns(conf_dir: Path, running: Any) -> None:
    master = write_json(conf_dir / "20-flannel.conflist", primary("flannel"))
    write_json(conf_dir / "10-calico.conflist", primary())
    running(multusMasterCNI="20-flannel.conflist")
    eventually(lambda: cluster_network(conf_dir) == str(master))
    master.unlink()
    eventually(lambda: not (conf_dir / "00-multus.conf").exists())
    time.sleep(5 * POLL)
    assert cluster_network(conf_dir) is None, "a named master is not replaced by another config"
    write_json(master, primary("flannel"))
    eventually(lambda: cluster_network(conf_dir) == str(master))


def test_an_output_removed_or_overwritten_by_someone_else_is_restored(conf_dir: Path, running: Any) -> None:
    write_json(conf_dir / "10-calico.conflist", primary())
    running()
    eventually(lambda: (conf_dir / "00-multus.conf").exists())
    good = (conf_dir / "00-multus.conf").read_bytes()
    (conf_dir / "00-multus.conf").write_bytes(b"")
    eventually(lambda: (conf_dir / "00-multus.conf").read_bytes() == good)
    (conf_dir / "00-multus.conf").unlink()
    eventually(lambda: (conf_dir / "00-multus.conf").exists() and (conf_dir / "00-multus.conf").read_bytes() == good)


def test_a_primary_broken_while_watched_keeps_the_old_file_until_fixed(conf_dir: Path, running: Any) -> None:
    path = write_json(conf_dir / "10-calico.conflist", primary(portMappings=True))
    running()
    eventually(lambda: (conf_dir / "00-multus.conf").exists())
    good = (conf_dir / "00-multus.conf").read_bytes()
    path.write_text('{"cniVersion": "0.4.0", "na')
    time.sleep(10 * POLL)
    assert (conf_dir / "00-multus.conf").read_bytes() == good
    write_json(path, primary(bandwidth=True))
    eventually(lambda: b"bandwidth" in (conf_dir / "00-multus.conf").read_bytes())


def test_nothing_is_written_before_the_readiness_file_exists_and_a_stale_file_goes(
        conf_dir: Path, running: Any) -> None:
    ready = conf_dir / "ready" / "indicator"
    write_json(conf_dir / "10-calico.conflist", primary())
    (conf_dir / "00-multus.conf").write_text('{"stale": true}')
    mgr = running(readinessindicatorfile=str(ready))
    eventually(lambda: not (conf_dir / "00-multus.conf").exists())
    time.sleep(5 * POLL)
    assert not (conf_dir / "00-multus.conf").exists() and not mgr.generated.is_set()
    ready.parent.mkdir()
    ready.touch()
    eventually(lambda: cluster_network(conf_dir) == f"{conf_dir}/10-calico.conflist")


def test_removing_the_readiness_file_removes_the_config_and_signals_the_daemon_to_stop(
        conf_dir: Path, running: Any) -> None:
    ready = conf_dir / "ready"
    ready.touch()
    write_json(conf_dir / "10-calico.conflist", primary())
    calls: list[str] = []
    mgr = running(readinessindicatorfile=str(ready), on_readiness_lost=lambda: calls.append("stop"))
    eventually(lambda: (conf_dir / "00-multus.conf").exists())
    ready.unlink()
    assert mgr.readiness_lost.wait(5)
    eventually(lambda: not mgr.running)
    assert not (conf_dir / "00-multus.conf").exists()
    ready.touch()
    time.sleep(5 * POLL)
    assert calls == ["stop"] and not (conf_dir / "00-multus.conf").exists(), "watching has ended"


def test_the_readiness_callback_may_stop_the_manager_itself(conf_dir: Path) -> None:
    ready = conf_dir / "ready"
    ready.touch()
    write_json(conf_dir / "10-calico.conflist", primary())
    holder: list[ConfigManager] = []
    mgr = ConfigManager({"cniVersion": "0.4.0", "cniConfigDir": str(conf_dir), "readinessindicatorfile": str(ready)},
                        poll_interval=POLL, on_readiness_lost=lambda: holder[0].stop(remove_file=True))
    holder.append(mgr)
    mgr.start(wait_for_primary=5)
    ready.unlink()
    eventually(lambda: not mgr.running)
    mgr.stop()


def test_start_waiting_for_a_primary_returns_once_the_file_is_written(conf_dir: Path) -> None:
    mgr = ConfigManager({"cniVersion": "0.4.0", "cniConfigDir": str(conf_dir)}, poll_interval=POLL)
    timer = threading.Timer(0.05, lambda: write_json(conf_dir / "10-calico.conflist", primary()))
    timer.start()
    try:
        mgr.start(wait_for_primary=5)
        assert (conf_dir / "00-multus.conf").exists()
    finally:
        timer.join()
        mgr.stop(remove_file=True)
    assert not (conf_dir / "00-multus.conf").exists()


def test_start_gives_up_with_go_s_message_when_no_primary_appears(conf_dir: Path) -> None:
    mgr = ConfigManager({"cniVersion": "0.4.0", "cniConfigDir": str(conf_dir)}, poll_interval=POLL)
    with pytest.raises(AutoconfigError, match=f"could not find a plugin configuration in {conf_dir}$"):
        mgr.start(wait_for_primary=0.1)
    assert not mgr.running


def test_start_gives_up_with_the_primary_s_error_when_it_cannot_be_wrapped(conf_dir: Path) -> None:
    write_json(conf_dir / "10-calico.conflist", {**primary(), "cniVersion": "0.3.1"})
    mgr = ConfigManager({"cniVersion": "1.0.0", "cniConfigDir": str(conf_dir)}, poll_interval=POLL)
    with pytest.raises(AutoconfigError, match="delegate cni version is 0.3.1 while top level cni version is 1.0.0"):
        mgr.start(wait_for_primary=0.1)
    assert not mgr.running


@pytest.mark.parametrize("remove", [True, False])
def test_stop_removes_the_file_only_when_asked(conf_dir: Path, remove: bool) -> None:
    write_json(conf_dir / "10-calico.conflist", primary())
    mgr = ConfigManager({"cniVersion": "1.0.0", "cniConfigDir": str(conf_dir)}, poll_interval=POLL)
    mgr.start(wait_for_primary=5)
    mgr.stop(remove_file=remove)
    assert (conf_dir / "00-multus.conflist").exists() is not remove
    assert not mgr.running


def test_the_shutdown_hook_stops_watching_and_removes_the_file(conf_dir: Path) -> None:
    write_json(conf_dir / "10-calico.conflist", primary())
    mgr = ConfigManager({"cniVersion": "0.4.0", "cniConfigDir": str(conf_dir)}, poll_interval=POLL)
    mgr.start(wait_for_primary=5)
    hook = mgr.shutdown_hook()
    hook()
    assert not mgr.running and not (conf_dir / "00-multus.conf").exists()
    write_json(conf_dir / "20-other.conf", {"cniVersion": "0.4.0", "name": "o", "type": "bridge"})
    time.sleep(5 * POLL)
    assert not (conf_dir / "00-multus.conf").exists(), "nothing writes after the stop"
    hook()  # idempotent


def test_a_manager_cannot_be_started_twice(conf_dir: Path, running: Any) -> None:
    mgr = running()
    with pytest.raises(RuntimeError, match="already started"):
        mgr.start()


class FakeDaemon:
    def __init__(self) -> None:
        self.hooks: list[Callable[[], None]] = []
        self.shutdown_requested = threading.Event()

    def request_shutdown(self) -> None:
        self.shutdown_requested.set()

    def add_shutdown_hook(self, hook: Callable[[], None]) -> None:
        self.hooks.append(hook)


class FakeConfig:
    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.multus_config_file = raw.get("multusConfigFile", "auto")
        self.cni_config_dir = raw["cniConfigDir"]
        self.auto_mode = self.multus_config_file == "auto"


def test_the_daemon_extension_generates_then_removes_on_shutdown_and_stops_on_readiness_loss(conf_dir: Path) -> None:
    ready = conf_dir / "ready"
    ready.touch()
    write_json(conf_dir / "10-calico.conflist", primary())
    daemon = FakeDaemon()
    config = FakeConfig({"cniVersion": "0.4.0", "cniConfigDir": str(conf_dir), "readinessindicatorfile": str(ready)})
    autoconfig_extension(primary_timeout=5, poll_interval=POLL)(config, daemon)
    assert (conf_dir / "00-multus.conf").exists() and len(daemon.hooks) == 1
    ready.unlink()
    assert daemon.shutdown_requested.wait(5)
    daemon.hooks[0]()
    assert not (conf_dir / "00-multus.conf").exists()


def test_the_daemon_extension_fails_the_start_when_no_primary_appears(conf_dir: Path) -> None:
    daemon = FakeDaemon()
    config = FakeConfig({"cniVersion": "0.4.0", "cniConfigDir": str(conf_dir)})
    with pytest.raises(AutoconfigError, match="could not find a plugin configuration"):
        autoconfig_extension(primary_timeout=0.05, poll_interval=POLL)(config, daemon)
    assert daemon.hooks == []


def test_the_daemon_extension_copies_a_user_config_outside_auto_mode(conf_dir: Path, tmp_path_factory: Any) -> None:
    source = tmp_path_factory.mktemp("src") / "70-multus.conf"
    source.write_text('{"cniVersion": "0.4.0", "name": "m", "type": "multus-shim"}')
    daemon = FakeDaemon()
    autoconfig_extension()(FakeConfig({"multusConfigFile": str(source), "cniConfigDir": str(conf_dir)}), daemon)
    assert (conf_dir / "70-multus.conf").read_bytes() == source.read_bytes()
    assert daemon.hooks == []
