"""``delegateConcurrency``: a pod's delegates ADDed several at a time, through the thin plugin's entry point.

The delegates are scripted fake CNI plugins that sleep on ADD; an executor wrapper counts the plugin
processes in flight, so overlap is observed, not inferred from timing. With the Kubernetes API server
double where network-status and events are checked.

Checked:
  * the default (absent, or 0) runs one delegate at a time, ADD and DEL (last first), as Go;
  * N runs at most N at once (3 delegates at 2: two, then the third), and the runtime still gets the
    master's result when the master finishes last;
  * network-status and AddedInterface events keep delegate order whatever the finishing order;
  * a failing delegate: no delegate starts after it, every delegate whose plugin ran is DELed (last
    first), the lowest failing index is reported with its plugin's code, nothing is left in cniDir;
  * two delegates asking for one interface name fail before any plugin runs, in Go's words;
  * DEL runs up to N at once too, started last first, and reports its errors last first whatever the
    finishing order;
  * a negative delegateConcurrency is a config error.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from test_verbs_support import (
    POD_CNI_ARGS,
    POD_NAMESPACE,
    Node,
    conf,
    make_node,
    plugin_error,
    result_body,
)

from multus.cni.invoke import InvokeArgs, PluginExecutor, PluginOutput, SubprocessExecutor
from multus.cni.types import parse_result
from multus.testing.recording_executor import RecordingExecutor

VERSION = "1.0.0"
PLUGINS = ("weave-net", "second-plugin", "third-plugin")


class InFlight:
    """A PluginExecutor counting the plugin processes running at once, per command (``peaks``)."""

    def __init__(self, executor: PluginExecutor) -> None:
        self._executor = executor
        self._lock = threading.Lock()
        self._running: dict[str, int] = {}
        self.peaks: dict[str, int] = {}

    @property
    def peak(self) -> int:
        """ADD plugins at once, at most."""
        return self.peaks.get("ADD", 0)

    def find_in_path(self, plugin: str, paths: Sequence[str]) -> str:
        return self._executor.find_in_path(plugin, paths)

    def exec_plugin(self, plugin_path: str, stdin: bytes, args: InvokeArgs, timeout: float | None) -> PluginOutput:
        with self._lock:
            self._running[args.command] = self._running.get(args.command, 0) + 1
            self.peaks[args.command] = max(self.peaks.get(args.command, 0), self._running[args.command])
        try:
            return self._executor.exec_plugin(plugin_path, stdin, args, timeout)
        finally:
            with self._lock:
                self._running[args.command] -= 1


@pytest.fixture
def in_flight() -> InFlight:
    return InFlight(SubprocessExecutor())


@pytest.fixture
def node(tmp_path: Path, netns: str, in_flight: InFlight) -> Iterator[Node]:
    for made in make_node(tmp_path, netns, kube=False):
        made.executor = RecordingExecutor(in_flight)
        yield made


@pytest.fixture
def kube_node(tmp_path: Path, netns: str, in_flight: InFlight) -> Iterator[Node]:
    for made in make_node(tmp_path, netns, kube=True):
        made.executor = RecordingExecutor(in_flight)
        yield made


def three_slow_delegates(node: Node, sleeps: Sequence[float] = (0.5, 0.3, 0.3), **extra: Any) -> dict[str, Any]:
    """weave1 (master), second1, third1: each ADD sleeps, then answers 1.1.1.<2+i>/24."""
    for offset, (plugin, sleep) in enumerate(zip(PLUGINS, sleeps, strict=True)):
        body = result_body(VERSION, f"1.1.1.{2 + offset}/24")
        node.plugin(plugin).script(ADD={"stdout": json.dumps(body), "sleep": sleep})
    names = ("weave1", "second1", "third1")
    return node.multus(VERSION, delegates=[conf(VERSION, n, p) for n, p in zip(names, PLUGINS, strict=True)],
                       **extra)


def cached_results(node: Node) -> list[str]:
    return sorted(p.name for p in node.results_dir.iterdir()) if node.results_dir.exists() else []


@pytest.mark.parametrize("extra", [{}, {"delegateConcurrency": 0}, {"delegateConcurrency": 1}],
                         ids=["absent", "zero", "one"])
def test_the_default_is_one_delegate_at_a_time(node: Node, in_flight: InFlight, extra: dict[str, Any]) -> None:
    config = three_slow_delegates(node, (0.05, 0.05, 0.05), **extra)
    for plugin in PLUGINS:
        node.plugin(plugin).script(ADD={"sleep": 0.05, "stdout": json.dumps(result_body(VERSION, "1.1.1.2/24"))},
                                   DEL={"sleep": 0.05})
    assert node.call("ADD", config).code == 0
    assert node.call("DEL", config).code == 0
    assert in_flight.peaks == {"ADD": 1, "DEL": 1}
    assert node.executor.sequence("DEL") == [("DEL", "third-plugin", "net2"), ("DEL", "second-plugin", "net1"),
                                             ("DEL", "weave-net", "eth0")]


@pytest.mark.parametrize(("limit", "peak"), [(3, 3), (2, 2), (8, 3)])
def test_delegates_run_up_to_the_limit_at_once_and_the_master_result_is_returned(
        node: Node, in_flight: InFlight, limit: int, peak: int) -> None:
    out = node.call("ADD", three_slow_delegates(node, delegateConcurrency=limit))
    assert out.code == 0, out.error
    assert in_flight.peak == peak
    assert out.result == parse_result(result_body(VERSION, "1.1.1.2/24")).to_dict()  # the master finished last
    assert sorted(node.executor.sequence("ADD")) == sorted([("ADD", "weave-net", "eth0"),
                                                            ("ADD", "second-plugin", "net1"),
                                                            ("ADD", "third-plugin", "net2")])
    assert cached_results(node) == [f"{n}-123456789-{i}" for n, i in
                                    (("second1", "net1"), ("third1", "net2"), ("weave1", "eth0"))]
    delete = node.call("DEL", three_slow_delegates(node, delegateConcurrency=limit))
    assert delete.code == 0
    assert sorted(node.executor.sequence("DEL")) == [("DEL", "second-plugin", "net1"), ("DEL", "third-plugin", "net2"),
                                                     ("DEL", "weave-net", "eth0")]
    if limit == 2:  # started last first: the master's DEL waits for a free place
        assert set(node.executor.sequence("DEL")[:2]) == {("DEL", "third-plugin", "net2"),
                                                          ("DEL", "second-plugin", "net1")}
    assert not node.scratch.exists()
    assert cached_results(node) == []


def test_del_runs_up_to_the_limit_at_once_and_reports_errors_last_first(node: Node, in_flight: InFlight) -> None:
    config = three_slow_delegates(node, (0.0, 0.0, 0.0), delegateConcurrency=3)
    assert node.call("ADD", config).code == 0
    node.plugin("weave-net").script(DEL={"sleep": 0.3, **plugin_error(11, "weave busy")})
    node.plugin("second-plugin").script(DEL={"sleep": 0.3})
    node.plugin("third-plugin").script(DEL={"sleep": 0.5, **plugin_error(7, "third broken")})  # fails last
    out = node.call("DEL", config)
    assert out.code == 1
    assert in_flight.peaks["DEL"] == 3
    msg = out.error["msg"]
    assert msg.index("third broken") < msg.index("weave busy")  # last delegate first, as in sequence
    assert "second" not in msg


def test_a_failure_rolls_back_every_delegate_that_ran_and_reports_the_lowest_index(
        node: Node, in_flight: InFlight) -> None:
    config = three_slow_delegates(node, delegateConcurrency=3)
    node.plugin("second-plugin").script(ADD=plugin_error(11, "second failed"))
    node.plugin("third-plugin").script(ADD={"sleep": 0.2, **plugin_error(7, "third failed too")})
    out = node.call("ADD", config)
    assert out.code == 1
    assert (out.error["code"], out.error["msg"]) == (
        11, '[//:second1]: error adding container to network "second1": second failed')
    assert in_flight.peak == 3
    assert node.executor.sequence("DEL") == [("DEL", "third-plugin", "net2"), ("DEL", "second-plugin", "net1"),
                                             ("DEL", "weave-net", "eth0")]
    assert not node.scratch.exists()
    assert cached_results(node) == []


def test_no_delegate_starts_after_a_failure(node: Node, in_flight: InFlight) -> None:
    config = three_slow_delegates(node, (0.3, 0.0, 0.3), delegateConcurrency=2)
    node.plugin("second-plugin").script(ADD=plugin_error(7, "second failed"))
    out = node.call("ADD", config)
    assert out.error["msg"].endswith("second failed")
    assert node.plugin("third-plugin").calls() == []
    assert node.executor.sequence("DEL") == [("DEL", "second-plugin", "net1"), ("DEL", "weave-net", "eth0")]
    assert not node.scratch.exists()


def test_network_status_and_events_keep_delegate_order(kube_node: Node) -> None:
    node = kube_node
    def answer(address: str, ifname: str, sleep: float) -> dict[str, Any]:
        body = result_body(VERSION, address, ifname=ifname, sandbox=node.netns)
        return {"stdout": json.dumps(body), "sleep": sleep}

    node.plugin("weave-net").script(ADD=answer("1.1.1.2/24", "eth0", 0.4))  # finishes last, net2 first
    for offset, name in enumerate(("net1", "net2")):
        node.plugin(f"{name}-plugin").script(ADD=answer(f"1.1.1.{3 + offset}/24", name, 0.2 - 0.1 * offset))
        node.kube.add_nad(POD_NAMESPACE, name, {"cniVersion": VERSION, "type": f"{name}-plugin"})
    node.add_pod("net1,net2")
    config = node.multus(VERSION, delegates=[conf(VERSION, "weave1", "weave-net")], delegateConcurrency=3)
    out = node.call("ADD", config, cni_args=POD_CNI_ARGS)
    assert out.code == 0, out.error
    status = node.network_status()
    assert status is not None
    assert [(s["name"], s["interface"], s["ips"]) for s in status] == [
        ("weave1", "eth0", ["1.1.1.2"]), ("test/net1", "net1", ["1.1.1.3"]), ("test/net2", "net2", ["1.1.1.4"])]
    assert [message for _, _, message in node.added_interface_events()] == [
        "Add eth0 [1.1.1.2/24] from weave1", "Add net1 [1.1.1.3/24] from test/net1",
        "Add net2 [1.1.1.4/24] from test/net2"]


def test_two_delegates_asking_for_one_interface_name_fail_before_any_plugin_runs(kube_node: Node) -> None:
    node = kube_node
    for name in ("net1", "net2"):
        node.plugin(f"{name}-plugin")
        node.kube.add_nad(POD_NAMESPACE, name, {"cniVersion": VERSION, "type": f"{name}-plugin"})
    node.plugin("weave-net")
    node.add_pod([{"name": "net1", "interface": "data0"}, {"name": "net2", "interface": "data0"}])
    config = node.multus(VERSION, delegates=[conf(VERSION, "weave1", "weave-net")], delegateConcurrency=3)
    out = node.call("ADD", config, cni_args=POD_CNI_ARGS)
    assert out.code == 1
    assert out.error["msg"] == ('[test/testpod/testUID:test/net2]: error adding container to network "test/net2": '
                                'DelegateAdd: cannot set "net2-plugin" interface name to "data0": validateIfName: '
                                "interface name data0 already exists")
    assert node.executor.calls == []
    assert not node.scratch.exists()


def test_a_negative_delegate_concurrency_is_a_config_error(node: Node) -> None:
    out = node.call("ADD", three_slow_delegates(node, delegateConcurrency=-1))
    assert (out.code, out.error["code"]) == (1, 7)
    assert "delegateConcurrency must not be negative, got -1" in out.error["msg"]
    assert node.executor.calls == []
