"""hack/demo.py, the README's main command, end to end: each mode succeeds, shows what it promises and
leaves nothing behind.

Every mode runs as a subprocess (``.venv/bin/python hack/demo.py``, what ``hack/demo.sh`` execs after
setup) with a timeout. Checked:

* the default, thick mode: the pod gets eth0 (cluster bridge), net1 (macvlan) and net2 (the "VF"
  0000:03:02.1 moved in by the demo's sriov-cni double, with its host-local address); network-status
  carries device-info for the SR-IOV network; after DEL the pod has only lo, the VF is back in the node,
  leases, caches and the CNI device-info file are gone; the daemon stops with exit 0 on SIGTERM;
* ``--thin``: the thin plugin gives eth0, net1 and stor0 and cleans up;
* ``--runtime-only``: the CNI runtime attaches and detaches one namespace;
* after each: no namespace, process or temp dir named ``multus-demo-...`` of that run is left, nor any
  new one of that prefix;
* the sriov-cni double alone: without ``deviceID`` it fails with code 7 ``VF pci addr is required``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "hack" / "demo.py"
VF_PLUGIN = ROOT / "hack" / "demo_vf_plugin.py"
PREFIX = "multus-demo-"
TIMEOUT = 240

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the demo needs root (network namespaces)")


def leftovers() -> dict[str, set[str]]:
    """Everything named like the demo's: namespaces, processes (their command lines), temp dirs."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    namespaces = {line.split()[0] for line in listed.splitlines() if line.startswith(PREFIX)}
    ps = subprocess.run(["ps", "-eo", "args="], capture_output=True, text=True, check=True).stdout
    processes = {line.strip() for line in ps.splitlines() if PREFIX in line}
    temp_dirs = {p.name for p in Path(tempfile.gettempdir()).iterdir() if p.name.startswith(PREFIX)}
    return {"namespaces": namespaces, "processes": processes, "temp dirs": temp_dirs}


def run_demo(*args: str) -> str:
    """Run one mode; assert it succeeded and left nothing of its own behind; its stdout."""
    before = leftovers()
    done = subprocess.run([sys.executable, str(DEMO), *args], capture_output=True, text=True, timeout=TIMEOUT,
                          cwd=ROOT, check=False)
    after = leftovers()
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    found = re.search(r"\(run ([0-9a-f]{6});", done.stdout)
    assert found, done.stdout
    run_id = found.group(1)
    for kind, names in after.items():
        assert not [n for n in names if run_id in n], f"{kind} of run {run_id} left: {names}"
        assert names <= before[kind], f"new {kind} named {PREFIX}* left: {names - before[kind]}"
    assert done.stdout.rstrip().endswith("done."), done.stdout
    return done.stdout


def section(output: str, title: str) -> str:
    """The text of the output section whose header starts with ``== <title>``."""
    parts = re.split(r"^== ", output, flags=re.MULTILINE)
    [body] = [p for p in parts if p.startswith(title)]
    return body


@needs_root
def test_the_default_thick_mode_gives_the_pod_eth0_net1_and_the_vf_then_releases_everything() -> None:
    output = run_demo()

    assert "a simulated SR-IOV node in thick mode" in output
    assert "GET /readyz -> 200" in section(output, "multus-daemon")
    assert '"type": "multus-shim"' in section(output, "multus-daemon")
    pod = section(output, "inside the pod namespace")
    assert re.search(r"^  eth0 +veth .* 10\.10\.0\.\d+/24$", pod, re.MULTILINE), pod
    assert re.search(r"^  net1 +macvlan .* 10\.20\.0\.\d+/24$", pod, re.MULTILINE), pod
    assert re.search(r"^  net2 +veth +02:00:00:03:02:01  10\.56\.0\.\d+/24 .*0000:03:02\.1", pod, re.MULTILINE), pod

    status = section(output, "pod annotation k8s.v1.cni.cncf.io/network-status")
    entries = [json.loads(line) for line in status.splitlines() if line.startswith("  {")]
    assert [(e["name"], e["interface"]) for e in entries] == [
        ("cluster", "eth0"), ("default/macvlan-conf", "net1"), ("default/sriov-net", "net2")]
    [info_line] = [line for line in status.splitlines() if line.strip().startswith("device-info:")]
    device_info = json.loads(info_line.split("device-info:", 1)[1])
    assert device_info == {"type": "pci", "version": "1.1.0",
                           "pci": {"pci-address": "0000:03:02.1", "pf-pci-address": "0000:03:00.0"}}
    events = section(output, "events")
    assert "Add net2 [10.56.0." in events and "from default/sriov-net" in events

    released = section(output, "DEL")
    assert "pod namespace links: ['lo']" in released
    assert "vf1 back in the node namespace: True" in released
    assert "leases left: []" in released
    assert "caches left: scratch [], demo-sriov []" in released
    assert "CNI device-info files left: []" in released
    shutdown = section(output, "shutdown")
    assert "SIGTERM -> exit 0" in shutdown and "00-multus.conflist removed: True" in shutdown


@needs_root
def test_thin_mode_gives_the_pod_three_interfaces_through_the_multus_command_and_cleans_up() -> None:
    output = run_demo("--thin")

    pod = section(output, "inside the pod namespace")
    for name, subnet in (("eth0", "10.10.0."), ("net1", "10.20.0."), ("stor0", "10.30.0.")):
        assert re.search(rf'"{name}": ".* {re.escape(subnet)}\d+/24"', pod), pod
    after = section(output, "after DEL")
    assert '"leases left": []' in after and '"scratch cache left": false' in after


@needs_root
def test_runtime_only_mode_attaches_and_detaches_one_namespace() -> None:
    output = run_demo("--runtime-only")

    assert re.search(r'"eth0": "veth .* mtu 1400 10\.88\.0\.\d+/24"', section(output, "inside the pod namespace"))
    assert '"routes": []' in section(output, "after DEL")


def test_the_sriov_double_without_a_device_id_fails_as_sriov_cni_does() -> None:
    env = dict(os.environ, CNI_COMMAND="ADD", CNI_CONTAINERID="ctr1", CNI_NETNS="/var/run/netns/nowhere",
               CNI_IFNAME="net1", CNI_PATH="/usr/lib/cni")
    conf = {"cniVersion": "1.0.0", "name": "sriov-net", "type": "demo-sriov"}
    done = subprocess.run([sys.executable, str(VF_PLUGIN)], input=json.dumps(conf), capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert done.returncode == 1
    assert json.loads(done.stdout) == {"cniVersion": "1.0.0", "code": 7, "msg": "VF pci addr is required"}
