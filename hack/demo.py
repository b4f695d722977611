"""The main job on an embedded local default: a simulated SR-IOV node runs Multus in thick mode.

Everything lives in namespaces, temp dirs and processes the demo creates, and removes again, also on a
failure or Ctrl-C (names start with ``multus-demo-`` and carry the run id):

  1. a "node" network namespace (a veth ``uplink0`` as the macvlan master; two more veths whose
     node-side ends ``vf0``/``vf1`` play SR-IOV VFs 0000:03:02.0/.1 of a PF 0000:03:00.0, described
     in a FakeSysfs tree) and a "pod" namespace;
  2. the Kubernetes API server double, listening inside the node namespace, with two NADs (macvlan,
     and ``sriov-net`` with resourceName intel.com/sriov_netdevice and the ``demo-sriov`` plugin, a
     test double of sriov-cni from hack/demo_vf_plugin.py) and a pod asking for both and for one VF;
  3. the kubelet's PodResources double (FakeKubelet, real gRPC) allocating VF 0000:03:02.1 to the pod,
     and the device plugin's device-info file for that VF;
  4. ``multus-daemon`` in the node namespace (auto mode over a conf dir holding a bridge conflist, so it
     writes 00-multus.conflist itself); the demo waits for /readyz;
  5. ``multus-shim`` (written with multus.shim.install.write_launcher) run as a container runtime runs
     it: ADD, then the result, the pod's interfaces (eth0 bridge, net1 macvlan, net2 the VF), the
     network-status annotation with device-info, the events; then DEL and what is left (nothing);
  6. the daemon is stopped with SIGTERM, then the doubles; namespaces and temp dirs are removed.

``--thin`` runs the earlier demo: the thin ``multus`` command exec'ed in the node namespace with the API
double (macvlan and bridge NADs). ``--runtime-only`` attaches one namespace through the CNI runtime
alone (bridge + host-local, tuning, portmap).
Run as root: ``hack/demo.sh [--thin | --runtime-only]`` (it installs what it needs first).
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from multus import netns
from multus.cni.errors import CniError
from multus.nsenter import run_in_netns
from multus.testing.kube_api import KubeApiServer

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent  # the venv's console scripts
MULTUS = BIN / "multus"
PREFIX = "multus-demo-"  # every namespace, temp dir and process of a run carries it, and the run id
NETWORKS = "k8s.v1.cni.cncf.io/networks"
NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"
RESOURCE = "intel.com/sriov_netdevice"
PF = "0000:03:00.0"
VFS = {"0000:03:02.0": ("vf0", "02:00:00:03:02:00"), "0000:03:02.1": ("vf1", "02:00:00:03:02:01")}
POD_VF = "0000:03:02.1"
NODE_NAME = "demo-node"
READY_TIMEOUT = 30.0

# The kubelet double serves gRPC from this process, which also forks (pyroute2's namespace helpers,
# subprocesses): without this, gRPC notes "skipping fork() handlers" on stderr at every fork.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")


class DemoError(Exception):
    """A step of the demo failed; the message says which and why."""


# ---- printing --------------------------------------------------------------------------------------------


class Printer:
    """Section headers and compact lines; the work dir is shown as $WORK to keep lines short."""

    def __init__(self) -> None:
        self.work = ""

    def short(self, text: str) -> str:
        return text.replace(self.work, "$WORK") if self.work else text

    def section(self, title: str) -> None:
        print(f"\n== {title}", flush=True)

    def line(self, text: str = "", indent: int = 2) -> None:
        print(" " * indent + self.short(text), flush=True)

    def json(self, label: str, body: object, indent: int = 2) -> None:
        self.line(f"{label}: {compact(body)}" if label else compact(body), indent)

    def block(self, body: object, indent: int = 4) -> None:
        """Indented JSON, one key per line."""
        for text in json.dumps(body, indent=2).splitlines():
            self.line(text, indent)


def compact(body: object) -> str:
    return json.dumps(body, separators=(", ", ": "))


out = Printer()


def show(title: str, body: object) -> None:
    """The thin and runtime demos' style: a header, then the body as indented JSON."""
    print(f"\n== {title}")
    print(out.short(body if isinstance(body, str) else json.dumps(body, indent=2)))


def describe_pod(pod_ns: str) -> dict[str, object]:
    links = [name for name in netns.link_names(pod_ns) if name != "lo"]
    described: dict[str, object] = {}
    for name in links:
        info = netns.link_info(pod_ns, name)
        described[name] = f"{info.kind or 'link'} {info.mac} mtu {info.mtu} {' '.join(netns.addresses(pod_ns, name))}"
    described["routes"] = [f"{r.dst} via {r.gw or 'link'} dev {r.ifname}" for r in netns.routes(pod_ns)]
    return described


def host_local(ipam: Path, subnet: str) -> dict[str, Any]:
    return {"type": "host-local", "subnet": subnet, "dataDir": str(ipam)}


def leases(ipam: Path) -> list[str]:
    return sorted(str(p.relative_to(ipam)) for p in ipam.rglob("*")
                  if p.is_file() and not p.name.startswith(("last_reserved_ip", "lock")))


def files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()) \
        if directory.exists() else []


# ---- the thin demo (--thin) --------------------------------------------------------------------------------


def call_multus(command: str, conf: dict[str, Any], node_ns: str, pod_ns: str, plugins: str,
                container_id: str, uid: str) -> dict[str, Any] | None:
    """Exec the ``multus`` command as a runtime does, inside the node's namespace."""
    env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=container_id, CNI_NETNS=pod_ns, CNI_IFNAME="eth0",
               CNI_PATH=plugins, CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=demo;"
                                          f"K8S_POD_INFRA_CONTAINER_ID={container_id};K8S_POD_UID={uid}")
    done = subprocess.run(["nsenter", f"--net={node_ns}", "--", str(MULTUS)], input=json.dumps(conf).encode(),
                          capture_output=True, env=env, timeout=120, check=False)
    output = json.loads(done.stdout) if done.stdout.strip() else None
    if done.returncode != 0:
        raise CniError(f"multus {command} failed (exit {done.returncode})", json.dumps(output))
    return output


def thin_demo(run: Run) -> None:
    work, node_ns, pod_ns, plugins = run.work, run.node_ns, run.pod_ns, run.cni_path
    conf_dir, ipam = work / "net.d", work / "ipam"
    conf_dir.mkdir()
    (conf_dir / "10-cluster.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "cluster",
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True,
                     "ipam": dict(host_local(ipam, "10.10.0.0/24"), routes=[{"dst": "0.0.0.0/0"}])}]}))
    with netns.ns_ipr(node_ns) as ipr:
        ipr.link("add", ifname="uplink0", kind="veth", peer="uplink0-peer")
        for name in ("lo", "uplink0", "uplink0-peer"):
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], state="up")
    # The API double listens on 127.0.0.1 *of the node namespace*, where multus runs, as a real node's
    # multus reaches its API server; its listening socket is made from a thread inside that namespace.
    api = KubeApiServer()
    run_in_netns(node_ns, api.start)
    run.cleanup(api.stop)
    api.write_kubeconfig(work / "kubeconfig")
    api.add_nad("default", "macvlan-conf", {"cniVersion": "1.0.0", "type": "macvlan", "master": "uplink0",
                                            "mode": "bridge", "ipam": host_local(ipam, "10.20.0.0/24")})
    api.add_nad("default", "storage-net", {"cniVersion": "1.0.0", "type": "bridge", "bridge": "br-storage",
                                           "ipam": host_local(ipam, "10.30.0.0/24")})
    uid = api.add_pod("default", "demo", annotations={
        NETWORKS: '[{"name": "macvlan-conf"}, {"name": "storage-net", "interface": "stor0"}]'
    })["metadata"]["uid"]
    conf = {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus",
            "kubeconfig": str(work / "kubeconfig"), "cniDir": str(work / "multus"), "binDir": plugins,
            "confDir": str(conf_dir), "clusterNetwork": str(conf_dir / "10-cluster.conflist")}
    container_id = "demo-" + secrets.token_hex(4)
    show("multus config (stdin of the multus command)", conf)
    show("pod annotation k8s.v1.cni.cncf.io/networks",
         api.get_pod("default", "demo")["metadata"]["annotations"][NETWORKS])

    result = call_multus("ADD", conf, node_ns, pod_ns, plugins, container_id, uid)
    show("ADD result (the cluster network's, as the runtime sees it)", result or {})
    show("inside the pod namespace", describe_pod(pod_ns))
    annotations = api.get_pod("default", "demo")["metadata"]["annotations"]
    show("pod annotation k8s.v1.cni.cncf.io/network-status", annotations[NETWORK_STATUS])
    show("events", [f"{e['type']} {e['reason']}: {e['message']}" for e in api.events("default")])

    call_multus("DEL", conf, node_ns, pod_ns, plugins, container_id, uid)
    show("after DEL", {"pod": describe_pod(pod_ns), "leases left": leases(ipam),
                       "scratch cache left": (work / "multus" / container_id).exists()})


# ---- the runtime demo (--runtime-only) ---------------------------------------------------------------------


def runtime_demo(run: Run) -> None:
    from multus.cni.invoke import SubprocessExecutor
    from multus.cni.netconf import NetworkConfigList
    from multus.cni.runtime import CNIRuntime, RuntimeConf

    ipam = run.work / "ipam"
    net = NetworkConfigList.from_object({"cniVersion": "1.0.0", "name": "demo-net", "plugins": [
        {"type": "bridge", "bridge": "demo0", "isGateway": True,
         "ipam": dict(host_local(ipam, "10.88.0.0/24"), routes=[{"dst": "0.0.0.0/0"}])},
        {"type": "tuning", "mtu": 1400},
        {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True}]})
    runtime = CNIRuntime(run.cni_path.split(":"), cache_dir=str(run.work / "cache"),
                         executor=SubprocessExecutor.in_netns(run.node_ns))
    rt = RuntimeConf(container_id="demo-" + secrets.token_hex(4), netns=run.pod_ns, if_name="eth0",
                     capability_args={"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})
    show("ADD result", runtime.add_network_list(net, rt).to_dict())
    show("inside the pod namespace", describe_pod(run.pod_ns))
    runtime.del_network_list(net, rt)
    show("after DEL", describe_pod(run.pod_ns))


# ---- the thick demo (default): a simulated SR-IOV node ----------------------------------------------------


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 5.0) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def probe(socket_path: Path, path: str) -> int:
    """The status of ``GET <path>`` on the daemon's socket; 0 when it does not answer."""
    conn = _UnixHTTP(str(socket_path))
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return 0
    finally:
        conn.close()


def setup_node(node_ns: str) -> dict[str, str]:
    """lo, the macvlan master uplink0, and the VFs' netdevs (veth ends) in the node; their MACs."""
    macs: dict[str, str] = {}
    with netns.ns_ipr(node_ns) as ipr:
        ipr.link("add", ifname="uplink0", kind="veth", peer="uplink0-peer")
        for name, mac in VFS.values():
            ipr.link("add", ifname=name, kind="veth", peer=f"{name}-peer")
            ipr.link("set", index=ipr.link_lookup(ifname=name)[0], address=mac)
        for link in ipr.get_links():
            ipr.link("set", index=link["index"], state="up")
            macs[str(link.get("ifname"))] = str(link.get("address"))
    return macs


def node_links(node_ns: str) -> str:
    return ", ".join(name for name in netns.link_names(node_ns) if not name.endswith("-peer") and name != "lo")


def write_bin_dir(bin_dir: Path, cni_path: str) -> None:
    """The node's CNI bin dir: Debian's plugins, passthru, the demo's sriov double and the shim."""
    from multus.shim.install import write_launcher

    bin_dir.mkdir()
    for directory in reversed([d for d in cni_path.split(":") if d]):
        for plugin in Path(directory).iterdir():
            if plugin.is_file() and os.access(plugin, os.X_OK):
                (bin_dir / plugin.name).unlink(missing_ok=True)
                (bin_dir / plugin.name).symlink_to(plugin)
    (bin_dir / "passthru").unlink(missing_ok=True)
    (bin_dir / "passthru").symlink_to(BIN / "passthru")
    sriov = bin_dir / "demo-sriov"
    sriov.write_text(f"#!{sys.executable}\n# the demo's sriov-cni double, run as a plugin binary\n"
                     f"import runpy\nrunpy.run_path({str(HERE / 'demo_vf_plugin.py')!r}, run_name='__main__')\n")
    sriov.chmod(0o755)
    write_launcher(bin_dir / "multus-shim", python=sys.executable)


def start_daemon(run: Run, config_path: Path, socket_path: Path, generated: Path) -> subprocess.Popen[bytes]:
    """``multus-daemon`` in the node namespace; returns once /readyz answers 200 and the config is written."""
    command = ["nsenter", f"--net={run.node_ns}", "--"]
    if shutil.which("setpriv"):  # the daemon gets SIGTERM should the demo itself be killed
        command += ["setpriv", "--pdeathsig", "TERM", "--"]
    command += [str(BIN / "multus-daemon"), "--config", str(config_path)]
    log = open(run.work / "daemon.out", "wb")  # closed right below: the child has its own copy
    try:
        daemon = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                  env=dict(os.environ, MULTUS_NODE_NAME=NODE_NAME))
    finally:
        log.close()
    run.cleanup(lambda: stop_daemon(daemon))
    out.line("$ " + " ".join(command))
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise DemoError(f"multus-daemon exited with {daemon.returncode}:\n{daemon_log(run)}")
        if socket_path.exists() and probe(socket_path, "/readyz") == 200 and generated.exists():
            return daemon
        time.sleep(0.05)
    raise DemoError(f"multus-daemon was not ready within {READY_TIMEOUT:.0f} s:\n{daemon_log(run)}")


def daemon_log(run: Run, lines: int = 20) -> str:
    text = ""
    for name in ("daemon.out", "multus-daemon.log"):
        path = run.work / name
        if path.exists():
            text += path.read_text(errors="replace")
    return "\n".join(text.splitlines()[-lines:])


def stop_daemon(daemon: subprocess.Popen[bytes], timeout: float = 20.0) -> int:
    """SIGTERM (graceful: /readyz turns 500, requests drain, the socket and 00-multus go); SIGKILL if stuck."""
    if daemon.poll() is None:
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
    return daemon.returncode


def call_shim(run: Run, command: str, stdin: dict[str, Any], container_id: str, uid: str) -> dict[str, Any] | None:
    """Exec multus-shim as the container runtime does: CNI env, the network's config on stdin."""
    env = dict(os.environ, CNI_COMMAND=command, CNI_CONTAINERID=container_id, CNI_NETNS=run.pod_ns,
               CNI_IFNAME="eth0", CNI_PATH=str(run.work / "bin"),
               CNI_ARGS=f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=demo;"
                        f"K8S_POD_INFRA_CONTAINER_ID={container_id};K8S_POD_UID={uid}")
    done = subprocess.run(["nsenter", f"--net={run.node_ns}", "--", str(run.work / "bin" / "multus-shim")],
                          input=json.dumps(stdin).encode(), capture_output=True, env=env, timeout=120, check=False)
    output = json.loads(done.stdout) if done.stdout.strip() else None
    if done.returncode != 0:
        raise DemoError(f"multus-shim {command} failed (exit {done.returncode}): {compact(output)}\n"
                        f"{done.stderr.decode(errors='replace').strip()}\n{daemon_log(run)}")
    return output


def thick_demo(run: Run) -> None:
    import devinfo
    from devinfo.testing import FakeSysfs
    from podresources.testing import FakeKubelet

    work, node_ns, pod_ns = run.work, run.node_ns, run.pod_ns
    bin_dir, conf_dir, ipam, devinfo_dir = work / "bin", work / "net.d", work / "ipam", work / "devinfo"
    cni_dir, sriov_state, socket_dir = work / "multus", work / "sriov-state", work / "run" / "multus"

    out.section("the node")
    macs = setup_node(node_ns)
    sysfs = FakeSysfs(work)
    sysfs.add_sriov_pf(PF, vfs=list(VFS), driver="ice", vf_driver="iavf", numa_node=0)
    sysfs.add_netdev(PF, "uplink0", mac=macs["uplink0"])
    for vf, (name, mac) in VFS.items():
        sysfs.add_netdev(vf, name, mac=mac)
    out.line(f"namespace {Path(node_ns).name}: {node_links(node_ns)} (each with a -peer veth end)")
    out.line(f"sysfs (FakeSysfs, $WORK/sys): PF {PF} (ice, NUMA 0, uplink0) with VFs "
             + ", ".join(f"{vf} -> {name}" for vf, (name, _) in VFS.items()) + " (iavf)")
    write_bin_dir(bin_dir, run.cni_path)
    out.line(f"bin dir $WORK/bin: {len(list(bin_dir.iterdir()))} plugins: Debian's, passthru, demo-sriov, "
             "multus-shim (write_launcher)")
    conf_dir.mkdir()
    (conf_dir / "10-cluster.conflist").write_text(json.dumps({
        "cniVersion": "1.0.0", "name": "cluster",
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True,
                     "ipam": dict(host_local(ipam, "10.10.0.0/24"), routes=[{"dst": "0.0.0.0/0"}])}]}))
    out.line("primary CNI config: $WORK/net.d/10-cluster.conflist (bridge cni0, host-local 10.10.0.0/24)")

    out.section("Kubernetes: API server double (in the node namespace), kubelet double, device plugin")
    api = KubeApiServer()
    run_in_netns(node_ns, api.start)
    run.cleanup(api.stop)
    api.write_kubeconfig(work / "kubeconfig")
    api.add_nad("default", "macvlan-conf", {"cniVersion": "1.0.0", "type": "macvlan", "master": "uplink0",
                                            "mode": "bridge", "ipam": host_local(ipam, "10.20.0.0/24")})
    sriov_conf = {"cniVersion": "1.0.0", "type": "demo-sriov", "sysfsRoot": str(sysfs.root),
                  "dataDir": str(sriov_state), "ipam": host_local(ipam, "10.56.0.0/24")}
    api.add_nad("default", "sriov-net", sriov_conf, annotations={"k8s.v1.cni.cncf.io/resourceName": RESOURCE})
    resources = {"requests": {RESOURCE: "1"}, "limits": {RESOURCE: "1"}}
    uid = api.add_pod("default", "demo", node_name=NODE_NAME, annotations={NETWORKS: "macvlan-conf, sriov-net"},
                      spec={"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9",
                                            "resources": resources}]})["metadata"]["uid"]
    out.line(f"API server double {api.url}, kubeconfig $WORK/kubeconfig")
    out.json("NAD macvlan-conf", json.loads(api.get_nad("default", "macvlan-conf")["spec"]["config"]))
    out.json("NAD sriov-net", {"annotations": api.get_nad("default", "sriov-net")["metadata"]["annotations"],
                               "config": sriov_conf})
    out.line(f"pod default/demo on {NODE_NAME}: {NETWORKS}: \"macvlan-conf, sriov-net\"; "
             f"resources {compact(resources)}")
    kubelet = FakeKubelet(str(work / "kubelet"))
    kubelet.add_pod("default", "demo", {"app": {RESOURCE: [POD_VF]}})
    kubelet.set_allocatable({RESOURCE: list(VFS)})
    kubelet.start()
    run.cleanup(kubelet.stop)
    out.line(f"FakeKubelet $WORK/kubelet/pod-resources/kubelet.sock: default/demo holds {RESOURCE}: [{POD_VF}]")
    dp_file = devinfo.save_for_dp(RESOURCE, POD_VF, devinfo.build_device_info(POD_VF, sysfs_root=sysfs.root),
                                  base_dir=devinfo_dir)
    out.line(f"device plugin wrote {dp_file.relative_to(work)}:")
    out.json("", json.loads(dp_file.read_text()), indent=4)

    out.section("multus-daemon, started in the node namespace")
    config = {"cniVersion": "1.0.0", "socketDir": str(socket_dir), "daemonSocketDir": str(socket_dir),
              "multusConfigFile": "auto", "cniConfigDir": str(conf_dir), "binDir": str(bin_dir),
              "cniDir": str(cni_dir), "kubeconfig": str(work / "kubeconfig"), "kubeletRootDir": str(work / "kubelet"),
              "deviceInfoDir": str(devinfo_dir), "logFile": str(work / "multus-daemon.log"), "logLevel": "verbose"}
    config_path = work / "daemon-config.json"
    config_path.write_text(json.dumps(config, indent=1))
    out.line("$WORK/daemon-config.json:")
    out.block(config)
    generated = conf_dir / "00-multus.conflist"
    started = time.monotonic()
    daemon = start_daemon(run, config_path, socket_dir / "multus.sock", generated)
    out.line(f"pid {daemon.pid}: GET /readyz -> 200 after {time.monotonic() - started:.1f} s; it wrote "
             "$WORK/net.d/00-multus.conflist (auto mode):")
    conflist = json.loads(generated.read_text())
    out.block(conflist)

    out.section("ADD: the container runtime runs multus-shim (in the node namespace)")
    container_id = "demo-" + secrets.token_hex(4)
    stdin = dict(conflist["plugins"][0], name=conflist["name"], cniVersion=conflist["cniVersion"])
    out.line(f"CNI_COMMAND=ADD CNI_CONTAINERID={container_id} CNI_NETNS={pod_ns} CNI_IFNAME=eth0 CNI_PATH=$WORK/bin")
    out.line(f"stdin: the one plugin of 00-multus.conflist with \"name\": \"{stdin['name']}\", \"cniVersion\": "
             f"\"{stdin['cniVersion']}\" added, as libcni passes it")
    result = call_shim(run, "ADD", stdin, container_id, uid) or {}
    out.line("result (the cluster network's, as the runtime sees it):")
    for key, value in result.items():
        out.json(key, value, indent=4)

    out.section(f"inside the pod namespace {Path(pod_ns).name}")
    for name in netns.link_names(pod_ns):
        if name == "lo":
            continue
        info = netns.link_info(pod_ns, name)
        note = f"   <- the VF {POD_VF} (vf1 in the node)" if info.mac == VFS[POD_VF][1] else ""
        out.line(f"{name:5} {info.kind or 'link':8} {info.mac}  {' '.join(netns.addresses(pod_ns, name))}{note}")
    out.line("routes: " + "; ".join(f"{r.dst} via {r.gw or 'link'} dev {r.ifname}" for r in netns.routes(pod_ns)))
    out.line(f"node: {node_links(node_ns)}")

    out.section(f"pod annotation {NETWORK_STATUS} (from the API double)")
    for entry in json.loads(api.get_pod("default", "demo")["metadata"]["annotations"][NETWORK_STATUS]):
        info = entry.pop("device-info", None)
        out.json("", entry)
        if info is not None:
            out.json("  device-info", info)
    cni_files = files_under(devinfo_dir / "cni")
    out.line(f"CNI device-info file (copied from the DP file before the plugin ran): {cni_files}")

    out.section("events")
    for event in api.events("default"):
        out.line(f"{event['type']} {event['reason']}: {event['message']}")

    out.section("DEL: the container runtime runs multus-shim again")
    call_shim(run, "DEL", stdin, container_id, uid)
    out.line(f"pod namespace links: {netns.link_names(pod_ns)}")
    vf_name, vf_mac = VFS[POD_VF]
    vf_back = netns.link_exists(node_ns, vf_name) and netns.link_info(node_ns, vf_name).mac == vf_mac
    out.line(f"node: {node_links(node_ns)}; {vf_name} back in the node namespace: {vf_back}")
    out.line(f"leases left: {leases(ipam)}")
    out.line(f"caches left: scratch {files_under(cni_dir)}, demo-sriov {files_under(sriov_state)}")
    out.line(f"CNI device-info files left: {files_under(devinfo_dir / 'cni')}; "
             f"the device plugin's DP file stays: {dp_file.exists()}")

    out.section("shutdown")
    code = stop_daemon(daemon)
    out.line(f"multus-daemon: SIGTERM -> exit {code}; its socket removed: {not (socket_dir / 'multus.sock').exists()}, "
             f"00-multus.conflist removed: {not generated.exists()}")
    out.line("its log ($WORK/multus-daemon.log), in part:")
    for line in daemon_log(run, 400).splitlines():
        if any(text in line for text in ("listening on", "CNI request", "termination", "daemon stopped")):
            out.line(line.split(" Args:", 1)[0], indent=4)
    if code != 0 or leases(ipam) or netns.link_names(pod_ns) != ["lo"] or not vf_back:
        raise DemoError("the node was not left clean (see above)")


# ---- running one demo, and cleaning up whatever happens -----------------------------------------------------


@dataclass
class Run:
    """One run: its id, namespaces, work dir and the cleanups to run (last registered first)."""

    run_id: str
    cni_path: str
    stack: contextlib.ExitStack
    work: Path = Path()
    node_ns: str = ""
    pod_ns: str = ""

    def cleanup(self, action: Callable[[], object]) -> None:
        def quietly() -> None:
            try:
                action()
            except Exception as exc:  # one failed cleanup must not keep the others from running
                print(f"cleanup: {exc}", file=sys.stderr)

        self.stack.callback(quietly)


MAIN_PID = os.getpid()


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C, SIGTERM, SIGHUP: unwind to main's cleanup, in this process only.

    pyroute2 forks helper children (a copy of this process, handlers included) to reach a namespace and
    stops them with SIGTERM: such a child must just exit, never run the demo's cleanup as well.
    """
    if os.getpid() != MAIN_PID:
        os._exit(128 + signum)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cni-path", default="/usr/lib/cni", help="plugin directories, ':'-separated")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--thin", action="store_true", help="the thin multus plugin instead of the daemon")
    mode.add_argument("--runtime-only", action="store_true", help="show the CNI runtime alone")
    options = parser.parse_args()
    demo, title = ((runtime_demo, "the CNI runtime alone") if options.runtime_only else
                   (thin_demo, "the thin multus plugin") if options.thin else
                   (thick_demo, "a simulated SR-IOV node in thick mode"))
    run_id = secrets.token_hex(3)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupted)
    code = 0
    stack = contextlib.ExitStack()
    run = Run(run_id, options.cni_path, stack)
    try:
        run.node_ns = netns.create_netns(f"{PREFIX}node-{run_id}")
        run.cleanup(lambda: netns.remove_netns(run.node_ns))
        run.pod_ns = netns.create_netns(f"{PREFIX}pod-{run_id}")
        run.cleanup(lambda: netns.remove_netns(run.pod_ns))
        run.work = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{run_id}-"))
        run.cleanup(lambda: shutil.rmtree(run.work))
        out.work = str(run.work)
        print(f"multus-py demo: {title} (run {run_id}; $WORK is {run.work})")
        demo(run)
    except (CniError, DemoError) as exc:
        print(f"demo failed: {out.short(str(exc))}", file=sys.stderr)
        code = 1
    except PermissionError as exc:
        print(f"demo failed: {exc} (run it as root)", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        code = 130
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # a second Ctrl-C must not cut the cleanup short
        stack.close()
    if code == 0:
        print("\nnamespaces, processes and temp dirs removed; done.")
    return code


if __name__ == "__main__":
    sys.exit(main())
