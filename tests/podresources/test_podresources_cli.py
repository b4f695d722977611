"""The ``podresources`` command against FakeKubelet on a real unix socket.

Checked here:
* ``list``, ``get NS/POD`` and ``allocatable`` as a table (one row per container and resource, IDs sorted,
  CPUs, memory and DRA claims included) and as JSON that round-trips the dataclasses;
* ``--socket`` and ``--kubelet-root-dir`` both find the kubelet, before or after the subcommand;
* failures -- no socket, nothing listening, an unknown pod, a malformed NS/POD -- print one line on
  stderr and exit 1, with no traceback, also through ``python -m podresources`` in a separate process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from podresources.cli import main
from podresources.models import ClaimResource, DynamicResource
from podresources.testing import FakeKubelet

SRIOV = "intel.com/sriov_net_A"


@pytest.fixture
def node(kubelet: FakeKubelet) -> FakeKubelet:
    kubelet.add_pod("default", "pod-a", {"app": {SRIOV: ["0000:03:02.3", "0000:03:02.0"]}}, cpu_ids={"app": [3, 2]})
    kubelet.add_pod("kube-system", "dns", {})
    claim = DynamicResource("nic", "default", (ClaimResource(("v.com/nic=vf1",), "nic.v.com", "pool", "vf1"),))
    kubelet.add_pod("default", "dra", dynamic_resources={"app": [claim]})
    kubelet.set_allocatable({SRIOV: ["0000:03:02.1", "0000:03:02.0"]}, cpu_ids=[0, 1], memory={"memory": 1024})
    return kubelet


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_prints_a_table_with_one_row_per_container_resource(
        node: FakeKubelet, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "list", "--socket", node.socket_path)
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["NAMESPACE", "POD", "CONTAINER", "RESOURCE", "IDS"]
    assert lines[1].split() == ["default", "pod-a", "app", SRIOV, "0000:03:02.0,0000:03:02.3"]
    assert lines[2].split() == ["default", "pod-a", "app", "cpu", "2,3"]
    assert lines[3].split() == ["kube-system", "dns", "-", "-", "-"]
    assert lines[4].split() == ["default", "dra", "app", "claim:default/nic", "nic.v.com/pool/vf1"]


def test_list_json_round_trips_every_pod(node: FakeKubelet, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "list", "--kubelet-root-dir", node.root_dir)
    assert code == 0
    pods = json.loads(out)
    assert [(p["namespace"], p["name"]) for p in pods] == [("default", "pod-a"), ("kube-system", "dns"),
                                                          ("default", "dra")]
    claim = pods[2]["containers"][0]["dynamic_resources"][0]["claim_resources"][0]
    assert claim == {"cdi_devices": ["v.com/nic=vf1"], "driver_name": "nic.v.com", "pool_name": "pool",
                     "device_name": "vf1", "share_id": None}


def test_get_prints_one_pod(node: FakeKubelet, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--kubelet-root-dir", node.root_dir, "get", "default/pod-a")
    assert code == 0
    assert [line.split()[1] for line in out.splitlines()[1:]] == ["pod-a", "pod-a"]
    code, out, _ = run(capsys, "get", "default/pod-a", "--json", "--socket", node.socket_path)
    assert code == 0 and json.loads(out)["containers"][0]["devices"][0]["device_ids"] == ["0000:03:02.3",
                                                                                             "0000:03:02.0"]
    assert node.calls().get("v1.Get") == 2 and "v1.List" not in node.calls()


def test_allocatable_as_table_and_json(node: FakeKubelet, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "allocatable", "--socket", node.socket_path)
    assert code == 0
    assert [line.split() for line in out.splitlines()] == [
        ["RESOURCE", "IDS"], [SRIOV, "0000:03:02.0,0000:03:02.1"], ["cpu", "0,1"], ["memory", "1024"]]
    code, out, _ = run(capsys, "allocatable", "--socket", node.socket_path, "--json")
    assert json.loads(out)["cpu_ids"] == [0, 1]


@pytest.mark.parametrize("argv, message", [
    (["get", "default/missing"], "pod default/missing is not known to the kubelet at "),
    (["get", "no-slash"], "expected NAMESPACE/POD, got 'no-slash'"),
    (["get", "a/b/c"], "expected NAMESPACE/POD"),
])
def test_bad_get_arguments_exit_1_with_one_line(node: FakeKubelet, capsys: pytest.CaptureFixture[str],
                                                argv: list[str], message: str) -> None:
    code, out, err = run(capsys, *argv, "--socket", node.socket_path)
    assert code == 1 and out == ""
    assert err.startswith("podresources: ") and message in err and err.count("\n") == 1


def test_a_missing_socket_exits_1_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    socket = str(tmp_path / "nowhere.sock")
    code, out, err = run(capsys, "list", "--socket", socket)
    assert code == 1 and out == ""
    assert err == f"podresources: kubelet PodResources socket {socket} does not exist (kubelet not running, " \
                  "or another --root-dir?)\n"


def test_the_module_entry_point_fails_without_a_traceback(tmp_path: Path) -> None:
    socket = tmp_path / "kubelet.sock"
    socket.write_text("")  # exists, but nobody listens
    done = subprocess.run([sys.executable, "-m", "podresources", "list", "--socket", str(socket), "--timeout", "2"],
                          capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert done.returncode == 1 and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("podresources: kubelet PodResources v1.List on ") and str(socket) in done.stderr
    assert "UNAVAILABLE" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_module_entry_point_lists_pods(node: FakeKubelet) -> None:
    done = subprocess.run([sys.executable, "-m", "podresources", "list", "--json", "--socket", node.socket_path],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert [p["name"] for p in json.loads(done.stdout)] == ["pod-a", "dns", "dra"]
