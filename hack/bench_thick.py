#!/usr/bin/env python3
"""Benchmark: the thick plugin (multus-shim + multus-daemon), a fresh shim process per CNI call.

The daemon is the real ``multus-daemon`` command (so ``production_daemon``: pods and NADs come from its
informer caches), started with a daemon config like the thick DaemonSet's (``logLevel: verbose``,
``logToStderr``, ``connectionLimit`` 16, ``metricsPort``) plus ``clusterNetwork`` (a bridge conflist file),
``kubeconfig`` (the API server double), ``cniDir``, ``confDir`` and ``binDir``. The shim is the single-file
launcher ``multus.shim.install.write_launcher`` writes (``#!python -IS``; the host's /usr/bin/python3 as
the thick DaemonSet installs it, see ``--shim-python``), exec'ed per call exactly as a
container runtime does: a clean environment with PATH and the CNI_* variables, and the multus-shim config
on stdin (DEL also gets the ADD's result as ``prevResult``, as libcni's cache supplies it).

Arms, interleaved (the order rotates each iteration), each pod and container ID used once:

  bridge alone        the bridge plugin + host-local exec'd directly: the floor
  thick 1 network     shim ADD+DEL for a pod with only the cluster network (bridge + host-local)
  thick 2 networks    the pod's annotation adds a macvlan NAD (master: a veth in the node namespace)
  same, concurrency 2 the same pod with ``delegateConcurrency: 2`` (opt-in: both delegates ADD at once)

Then a burst (``--burst`` pods ADDed ``--concurrency`` at a time by a thread pool exec'ing shims, then
DELed the same way: pods/s, and the CPU each pod cost the daemon, its plugin processes and the shims), and
churn (``--churn`` pods ADD+DEL, ``--concurrency`` at a time) with the daemon's VmRSS (``/proc/<pid>/status``:
its own memory, not the plugin processes') before and after.

``--profile N`` (default 40) then restarts the daemon as ``hack/thick_spans.py``, with perf_counter spans
(and the request thread's CPU time) around the steps of a request: request parse, config override,
context build, pod lookup (a cache hit), delegate resolution, scratch-cache write, ifname check, plugin
exec, result-cache write, network-status PATCH, events, response, and the HTTP exchange around them; N
sequential ADD+DEL per network count. ``--cprofile [wall|cpu]`` adds a cProfile of the /cni handler (by
wall time, or by the handler thread's CPU time).

``--compare-tree DIR`` runs a second daemon with the ``multus`` package of DIR (e.g. a copy of the tree
before a change) on a socket of its own: the thick arms run against both, interleaved, and the report adds
the paired per-iteration differences; the profile phase instruments both. ``--profile-only`` skips the
latency, burst and churn phases.

Bytecode: this environment may set PYTHONDONTWRITEBYTECODE=1; production installs ship compiled
bytecode, so ``multus``, ``devinfo`` and ``podresources`` are compiled first (``compileall`` with the
variable unset) and the daemon and the shims run without it.

Safety: as hack/bench_thin.py. The parent creates a "node" namespace and the pod namespaces, and re-runs
itself inside the node one (``nsenter --net``), where the bridges, the veths, the API double's 127.0.0.1
socket, the daemon and its metrics port live; configs, caches, leases and sockets go to a tmp dir. The
inner run refuses to start outside the bench's own node namespace. Everything is removed on success,
failure and Ctrl-C/SIGTERM (the daemon is stopped first). Needs root.

    .venv/bin/python hack/bench_thick.py --iterations 200
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from benchlib import bridge_conf, clean_env, med, paired_median, percentile
from thick_spans import report_profile

REPO = Path(__file__).resolve().parents[1]
SPANS_SCRIPT = Path(__file__).with_name("thick_spans.py")  # the span-instrumented daemon of --profile
sys.path.insert(0, str(REPO))

WARMUP = 3  # untimed rounds first: the first ADDs create the bridges and warm the page cache
NAMESPACE = "default"
NODE_NAME = "bench-node"
NAD_NAME = "macvlan-conf"
PACKAGES = ("multus", "devinfo", "podresources")

# Go Multus (thick plugin) on this kind of machine, medians in ms (bridge alone: ADD+DEL).
GO_BRIDGE_MS = 9.4
GO_ADD_MS = {"thick1": 24.2, "thick2": 31.5}
GO_BURST_PODS_S = 30.0
TARGET_ADD_RATIO = 0.9
TARGET_BURST_RATIO = 2.0
NETNS = benchlib.BenchNetns("bench-thick", "node")  # bench-thick-node-<tag>, bench-thick-pod-<tag>-NNN


# ---- processes -----------------------------------------------------------------------------------------

def compile_packages(tree: Path = REPO) -> None:
    """Compile the tree's packages (those it has) to bytecode, as an installed package has them."""
    benchlib.compile_bytecode([tree / p for p in PACKAGES if (tree / p).is_dir()])


def vm_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB."""
    found: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    return found


def cpu_seconds(daemon_pid: int) -> dict[str, float]:
    """CPU seconds so far: the daemon's own threads, the plugin processes it waited for, and this
    process's waited-for children (the shims; also the bridge arm's plugins, not run during a burst)."""
    with open(f"/proc/{daemon_pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    children = os.times()
    return {"daemon": (int(fields[11]) + int(fields[12])) / tick,
            "plugins": (int(fields[13]) + int(fields[14])) / tick,
            "shims": children.children_user + children.children_system}


def http_over_unix(path: str, method: str, target: str, timeout: float = 2.0) -> int:
    """One request on a fresh connection to the daemon's socket; the status code."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(f"{method} {target} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                     .encode())
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


class DaemonProcess:
    """``multus-daemon --config`` (or the span-instrumented variant) as a child, in this (node) namespace."""

    def __init__(self, argv: list[str], socket_path: str, log_path: Path) -> None:
        self.socket_path = socket_path
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, env=clean_env({"MULTUS_NODE_NAME": NODE_NAME}), stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=self._log)
        try:
            self._wait_ready(60.0)
        except BaseException:
            self.stop()
            raise

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if http_over_unix(self.socket_path, "GET", "/readyz") == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the daemon was not ready within {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> int | None:
        """SIGTERM (graceful), then SIGKILL; the exit code."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


# ---- the bench -------------------------------------------------------------------------------------------

@dataclass
class Pod:
    name: str
    uid: str

    def cni_args(self, container_id: str) -> str:
        return benchlib.k8s_cni_args(NAMESPACE, self.name, container_id, self.uid)


@dataclass
class Timing:
    add: list[float] = field(default_factory=list)
    delete: list[float] = field(default_factory=list)


class ThickBench:
    """Configs, the API double's objects, the daemon and the ways of calling, inside the node namespace."""

    def __init__(self, args: argparse.Namespace, workdir: Path, api: Any) -> None:
        self.args = args
        self.workdir = workdir
        self.api = api
        self.pod_netns: list[str] = args.pod_netns
        self.cni_path = args.plugins_dir
        self.ipam = workdir / "ipam"
        self.cni_dir = workdir / "multus"
        self.socket_dir = workdir / "run" / "multus"
        self._pod_seq = 0
        self._pods: dict[str, list[Pod]] = {}
        conf_dir = workdir / "net.d"
        conf_dir.mkdir()
        cluster = conf_dir / "10-cluster.conflist"
        cluster.write_text(json.dumps(benchlib.bridge_conflist("cluster", "cni0", "10.73.0.0/24", self.ipam)))
        kubeconfig = api.write_kubeconfig(workdir / "kubeconfig")
        api.add_nad(NAMESPACE, NAD_NAME, {
            "cniVersion": "1.0.0", "type": "macvlan", "master": "mvmaster", "mode": "bridge",
            "ipam": {"type": "host-local", "subnet": "10.74.0.0/22", "dataDir": str(self.ipam)}})
        self.shim_conf = {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus-shim",
                          "daemonSocketDir": str(self.socket_dir)}
        shim_conf_file = workdir / "00-multus.conf"
        shim_conf_file.write_text(json.dumps(self.shim_conf))
        (workdir / "cni-conf").mkdir()
        # As the thick DaemonSet's ConfigMap, plus what the Multus config needs here; not auto mode, so the
        # daemon copies 00-multus.conf (to a dir of ours) instead of watching for a primary config.
        self.daemon_config = {
            "cniVersion": "1.0.0", "logToStderr": True, "logLevel": args.log_level,
            "multusConfigFile": str(shim_conf_file), "cniConfigDir": str(workdir / "cni-conf"),
            "socketDir": str(self.socket_dir), "connectionLimit": 16, "metricsPort": 9091,
            "readinessindicatorfile": "", "kubeconfig": str(kubeconfig), "clusterNetwork": str(cluster),
            "cniDir": str(self.cni_dir), "confDir": str(conf_dir), "binDir": args.plugins_dir,
        }
        self.daemon_config_path = workdir / "daemon-config.json"
        self.daemon_config_path.write_text(json.dumps(self.daemon_config, indent=2))
        # --compare-tree: a second daemon, from another tree, with its own socket, caches and metrics port.
        self.compare_tree = Path(args.compare_tree).resolve() if args.compare_tree else None
        self.compare_socket_dir = workdir / "run-compare" / "multus"
        self.compare_cni_dir = workdir / "multus-compare"
        self.compare_shim_conf = dict(self.shim_conf, daemonSocketDir=str(self.compare_socket_dir))
        self.compare_config_path = workdir / "daemon-config-compare.json"
        self.compare_config_path.write_text(json.dumps(dict(
            self.daemon_config, socketDir=str(self.compare_socket_dir), cniDir=str(self.compare_cni_dir),
            metricsPort=9092), indent=2))
        self.compare_daemon: DaemonProcess | None = None
        from multus.shim.install import write_launcher

        self.shim_python = args.shim_python or benchlib.host_shim_python()
        self.shim = str(write_launcher(workdir / "multus-shim", python=self.shim_python, project_path=str(REPO)))
        self.bridge_bin = str(Path(args.plugins_dir) / "bridge")
        self.bridge_conf = bridge_conf("alone", "br-alone", "10.71.0.0/24", self.ipam)
        self.daemon: DaemonProcess | None = None

    # ---- pods ----------------------------------------------------------------------------------------------

    def make_pods(self, kind: str, count: int) -> None:
        """Pre-create ``count`` pods of ``kind`` (t1: cluster network only; t2: + the macvlan NAD)."""
        annotations = {"k8s.v1.cni.cncf.io/networks": NAD_NAME} if kind == "t2" else None
        pods = self._pods.setdefault(kind, [])
        fresh = []
        for _ in range(count):
            self._pod_seq += 1
            fresh.append(Pod(f"{kind}-{self._pod_seq:05d}", f"6f0c5b1e-0000-4000-8000-{self._pod_seq:012d}"))
        self.api.add_pods([{"name": pod.name, "uid": pod.uid, "annotations": annotations} for pod in fresh])
        pods.extend(fresh)

    def take_pod(self, kind: str) -> Pod:
        return self._pods[kind].pop(0)

    # ---- the daemon ----------------------------------------------------------------------------------------

    def start_daemon(self, spans_out: Path | None = None, cprofile_out: Path | None = None,
                     cprofile_clock: str = "wall") -> DaemonProcess:
        if spans_out is None:
            argv = [str(Path(sys.executable).parent / "multus-daemon"), "--config", str(self.daemon_config_path)]
        else:
            argv = [sys.executable, str(SPANS_SCRIPT), "--config", str(self.daemon_config_path),
                    "--out", str(spans_out)]
            argv += ["--cprofile-out", str(cprofile_out), "--cprofile", cprofile_clock] if cprofile_out else []
        self.daemon = DaemonProcess(argv, str(self.socket_dir / "multus.sock"), self.workdir / "daemon.log")
        return self.daemon

    def start_compare_daemon(self) -> DaemonProcess:
        """``multus-daemon`` with the ``multus`` package of --compare-tree (the console script's code)."""
        assert self.compare_tree is not None
        code = (f"import sys; sys.path.insert(0, {str(self.compare_tree)!r}); import multus; "
                "print('multus from', multus.__file__, file=sys.stderr, flush=True); "
                "from multus.daemon.main import main; main()")
        self.compare_daemon = DaemonProcess([sys.executable, "-c", code, "--config", str(self.compare_config_path)],
                                            str(self.compare_socket_dir / "multus.sock"),
                                            self.workdir / "daemon-compare.log")
        return self.compare_daemon

    def stop_daemon(self) -> None:
        for attr in ("daemon", "compare_daemon"):
            daemon: DaemonProcess | None = getattr(self, attr)
            if daemon is not None:
                code = daemon.stop()
                if code not in (0, None):
                    print(f"warning: the daemon exited with {code}:\n{daemon.log_tail()}", file=sys.stderr)
                setattr(self, attr, None)

    # ---- calls ---------------------------------------------------------------------------------------------

    def _exec(self, argv: list[str], conf: dict[str, Any], verb: str, container_id: str, netns: str,
              cni_args: str) -> bytes:
        return benchlib.exec_cni(argv, conf, verb, container_id, netns, self.cni_path, cni_args, argv[0])

    def _add_del(self, argv: list[str], conf: dict[str, Any], container_id: str, netns: str,
                 cni_args: str) -> tuple[float, float]:
        t0 = time.perf_counter()
        out = self._exec(argv, conf, "ADD", container_id, netns, cni_args)
        t1 = time.perf_counter()
        self._exec(argv, dict(conf, prevResult=json.loads(out)), "DEL", container_id, netns, cni_args)
        t2 = time.perf_counter()
        return (t1 - t0) * 1e3, (t2 - t1) * 1e3

    def bridge_add_del(self, tag: str, netns: str) -> tuple[float, float]:
        cid = f"br-{tag}"
        return self._add_del([self.bridge_bin], self.bridge_conf, cid, netns, Pod("bridge-alone", "0").cni_args(cid))

    def shim_call(self, verb: str, pod: Pod, container_id: str, netns: str, prev: Any = None,
                  compare: bool = False, extra: dict[str, Any] | None = None) -> tuple[float, bytes]:
        conf = self.compare_shim_conf if compare else self.shim_conf
        conf = dict(conf, **(extra or {})) if prev is None else dict(conf, prevResult=prev, **(extra or {}))
        t0 = time.perf_counter()
        out = self._exec([self.shim], conf, verb, container_id, netns, pod.cni_args(container_id))
        return (time.perf_counter() - t0) * 1e3, out

    def shim_add_del(self, kind: str, tag: str, netns: str, compare: bool = False,
                     extra: dict[str, Any] | None = None) -> tuple[float, float]:
        """ADD then DEL of a fresh pod of ``kind``; ``extra`` keys go into the shim's config (e.g. what an
        operator would set in the daemon config: the daemon keeps request keys it has no value for)."""
        pod = self.take_pod(kind)
        cid = f"{pod.name}-{tag}"
        add_ms, out = self.shim_call("ADD", pod, cid, netns, compare=compare, extra=extra)
        del_ms, _ = self.shim_call("DEL", pod, cid, netns, json.loads(out), compare=compare, extra=extra)
        return add_ms, del_ms

    # ---- phases --------------------------------------------------------------------------------------------

    def arms(self) -> dict[str, Callable[[str], tuple[float, float]]]:
        netns = self.pod_netns[0]
        arms = {"bridge": lambda tag: self.bridge_add_del(tag, netns),
                "thick1": lambda tag: self.shim_add_del("t1", tag, netns),
                "thick2": lambda tag: self.shim_add_del("t2", tag, netns),
                "thick2c": lambda tag: self.shim_add_del("t2", tag, netns, extra={"delegateConcurrency": 2})}
        if self.compare_tree is not None:
            arms["cmp1"] = lambda tag: self.shim_add_del("t1", tag, netns, compare=True)
            arms["cmp2"] = lambda tag: self.shim_add_del("t2", tag, netns, compare=True)
        return arms

    def run_arms(self, iterations: int, tag: str) -> dict[str, Timing]:
        arms = self.arms()
        names = list(arms)
        for w in range(WARMUP):
            for name in names:
                arms[name](f"warm{w}-{tag}")
        samples = {name: Timing() for name in names}
        for i in range(iterations):
            for name in benchlib.rotated(names, i):
                add_ms, del_ms = arms[name](f"{i:05d}-{tag}")
                samples[name].add.append(add_ms)
                samples[name].delete.append(del_ms)
            if i % 50 == 49:
                self.api.clear_requests()  # the double logs every request; keep it small
        return samples

    def probe_requests(self, tag: str) -> dict[str, tuple[list[str], list[str]]]:
        """One untimed ADD and DEL per network count, recording which API requests each verb makes."""
        found: dict[str, tuple[list[str], list[str]]] = {}
        for kind, label in (("t1", "thick 1 network"), ("t2", "thick 2 networks")):
            pod = self.take_pod(kind)
            cid = f"probe-{pod.name}-{tag}"
            self.api.clear_requests()
            _, out = self.shim_call("ADD", pod, cid, self.pod_netns[0])
            time.sleep(0.3)  # events may be posted after the answer
            on_add = [_short(r) for r in self.api.requests]
            self.api.clear_requests()
            self.shim_call("DEL", pod, cid, self.pod_netns[0], json.loads(out))
            time.sleep(0.3)
            found[label] = (on_add, [_short(r) for r in self.api.requests])
        self.api.clear_requests()
        return found

    def burst(self, count: int, concurrency: int, tag: str) -> dict[str, Any]:
        """``count`` pods ADDed ``concurrency`` at a time (each in a namespace of its own), then DELed."""
        pods = [self.take_pod("t1") for _ in range(count)]
        jobs = [(pod, f"{pod.name}-{tag}", self.pod_netns[i % len(self.pod_netns)]) for i, pod in enumerate(pods)]
        results: dict[str, Any] = {}

        def add(job: tuple[Pod, str, str]) -> tuple[float, bytes]:
            return self.shim_call("ADD", job[0], job[1], job[2])

        assert self.daemon is not None
        pid = self.daemon.pid
        with ThreadPoolExecutor(concurrency) as pool:
            cpu0, t0 = cpu_seconds(pid), time.perf_counter()
            added = list(pool.map(add, jobs))
            cpu1, t1 = cpu_seconds(pid), time.perf_counter()
            deleted = list(pool.map(lambda pair: self.shim_call("DEL", pair[0][0], pair[0][1], pair[0][2],
                                                                json.loads(pair[1][1])), zip(jobs, added, strict=True)))
            cpu2, t2 = cpu_seconds(pid), time.perf_counter()
        results["add_s"], results["del_s"] = t1 - t0, t2 - t1
        results["add_cpu"] = {k: cpu1[k] - cpu0[k] for k in cpu0}
        results["del_cpu"] = {k: cpu2[k] - cpu1[k] for k in cpu0}
        results["add_ms"] = [ms for ms, _ in added]
        results["del_ms"] = [ms for ms, _ in deleted]
        self.api.clear_requests()
        return results

    def churn(self, count: int, concurrency: int, tag: str) -> dict[str, Any]:
        """ADD+DEL of ``count`` pods, ``concurrency`` at a time; the daemon's memory before and after."""
        assert self.daemon is not None
        slots: queue.Queue[str] = queue.Queue()
        for netns in self.pod_netns[:concurrency]:
            slots.put(netns)
        pods = [self.take_pod("t1") for _ in range(count)]

        def one(pod: Pod) -> None:
            netns = slots.get()
            try:
                cid = f"{pod.name}-{tag}"
                _, out = self.shim_call("ADD", pod, cid, netns)
                self.shim_call("DEL", pod, cid, netns, json.loads(out))
            finally:
                slots.put(netns)

        before = vm_status(self.daemon.pid)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            for i, _ in enumerate(pool.map(one, pods)):
                if i % 100 == 99:
                    self.api.clear_requests()
        elapsed = time.perf_counter() - t0
        time.sleep(1.0)  # let the watch deliver the last updates
        after = vm_status(self.daemon.pid)
        self.api.clear_requests()
        return {"before": before, "after": after, "seconds": elapsed, "count": count}

    def profile(self, iterations: int, tag: str, cprofile: str | None) -> list[dict[str, Any]]:
        """Sequential ADD+DEL through span-instrumented daemons (this tree's and, with --compare-tree, the
        other's, interleaved); per daemon, the spans and the client's wall times."""
        variants = [False] + ([True] if self.compare_tree is not None else [])
        outs = {False: self.workdir / "spans.json", True: self.workdir / "spans-compare.json"}
        cprofile_out = self.workdir / "daemon.pstats" if cprofile else None
        daemons = {False: self.start_daemon(outs[False], cprofile_out, cprofile or "wall")}
        if self.compare_tree is not None:
            self.compare_daemon = DaemonProcess(
                [sys.executable, str(SPANS_SCRIPT), "--config", str(self.compare_config_path), "--out", str(outs[True]),
                 "--tree", str(self.compare_tree)],
                str(self.compare_socket_dir / "multus.sock"), self.workdir / "daemon-compare.log")
            daemons[True] = self.compare_daemon
        client: dict[bool, dict[str, list[float]]] = {v: {} for v in variants}
        cpu: dict[bool, list[dict[str, float]]] = {v: [] for v in variants}
        calls = [(kind, variant) for kind in ("t1", "t2") for variant in variants]
        try:
            for w in range(WARMUP):
                for kind, variant in calls:
                    self.shim_add_del(kind, f"pwarm{w}-{tag}", self.pod_netns[0], compare=variant)
            for variant, daemon in daemons.items():
                http_over_unix(daemon.socket_path, "POST", "/bench/spans/reset")
                cpu[variant].append(cpu_seconds(daemon.pid))
            for i in range(iterations):
                for kind, variant in benchlib.rotated(calls, i):
                    add_ms, del_ms = self.shim_add_del(kind, f"prof{i:05d}-{tag}", self.pod_netns[0], compare=variant)
                    client[variant].setdefault(f"{kind}|ADD", []).append(add_ms)
                    client[variant].setdefault(f"{kind}|DEL", []).append(del_ms)
                if i % 50 == 49:
                    self.api.clear_requests()
            time.sleep(0.5)  # background work (events) finishing
            for variant, daemon in daemons.items():
                cpu[variant].append(cpu_seconds(daemon.pid))
        finally:
            self.stop_daemon()
        results = []
        for variant in variants:
            data = json.loads(outs[variant].read_text())
            data["client"] = client[variant]
            data["daemon_cpu_per_pair"] = (cpu[variant][1]["daemon"] - cpu[variant][0]["daemon"]) / (2 * iterations)
            data["tree"] = str(self.compare_tree if variant else REPO)
            results.append(data)
        if cprofile_out is not None and cprofile_out.exists():
            import io
            import pstats

            for order, lines in (("tottime", 25), ("cumulative", 35)):
                out = io.StringIO()
                pstats.Stats(str(cprofile_out), stream=out).strip_dirs().sort_stats(order).print_stats(lines)
                results[0][f"cprofile_{order}"] = out.getvalue()
            results[0]["cprofile_clock"] = cprofile
        return results

    def leftovers(self) -> list[str]:
        """What a DEL should have removed: leases, scratch and result-cache files, links in the pods."""
        problems = [str(p.relative_to(self.workdir)) for p in self.ipam.rglob("*")
                    if p.is_file() and p.name[0].isdigit()]
        for cni_dir in (self.cni_dir, self.compare_cni_dir):
            if cni_dir.is_dir():
                problems += [str(p.relative_to(self.workdir)) for p in cni_dir.rglob("*") if p.is_file()]
        for netns in self.pod_netns:
            problems += [f"{os.path.basename(netns)}: link {name}" for name in benchlib.pod_links(netns)]
        return problems


class ApiProcess:
    """The API server double in a process of its own (in this, the node, namespace), driven over its stdin
    and stdout, one JSON request and answer per line. Not in this process: its request handling would share
    an interpreter lock with the threads timing the shims, delaying their wake-ups (more so for writes the
    daemon makes after answering, such as background events)."""

    def __init__(self, latency_ms: float) -> None:
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--api-server",
                                      "--api-latency", str(latency_ms)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=clean_env(), text=True)
        self._lock = threading.Lock()
        self.url = self._call("url")

    def _call(self, op: str, **arguments: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        with self._lock:
            self.proc.stdin.write(json.dumps({"op": op, **arguments}) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the API server double exited ({self.proc.poll()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the API server double: {op}: {answer['error']}")
        return answer.get("value")

    def write_kubeconfig(self, path: Path) -> Path:
        return Path(self._call("kubeconfig", path=str(path)))

    def add_nad(self, namespace: str, name: str, config: dict[str, Any]) -> None:
        self._call("nad", namespace=namespace, name=name, config=config)

    def add_pods(self, pods: list[dict[str, Any]]) -> None:
        self._call("pods", pods=pods)

    def clear_requests(self) -> None:
        self._call("clear")

    @property
    def requests(self) -> list[Any]:
        import types

        return [types.SimpleNamespace(method=m, path=p) for m, p in self._call("requests")]

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def api_server(latency_ms: float) -> int:
    """The --api-server child: serve the double on 127.0.0.1 and answer ApiProcess's requests until EOF."""
    from multus.testing.kube_api import KubeApiServer

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent ends us by closing stdin
    api = KubeApiServer("127.0.0.1").start()
    if latency_ms > 0:  # a remote API server's write round trip (network, admission, etcd)
        for method in ("PATCH", "POST"):
            api.faults.add(method, "/namespaces/", delay=latency_ms / 1e3, times=None)

    def add_nad(namespace: str, name: str, config: dict[str, Any]) -> None:
        api.add_nad(namespace, name, config)

    def add_pods(pods: list[dict[str, Any]]) -> None:
        for pod in pods:
            api.add_pod(NAMESPACE, pod["name"], uid=pod["uid"], node_name=NODE_NAME, annotations=pod["annotations"])

    ops: dict[str, Callable[..., Any]] = {
        "url": lambda: api.url,
        "kubeconfig": lambda path: str(api.write_kubeconfig(path)),
        "nad": add_nad,
        "pods": add_pods,
        "clear": api.clear_requests,
        "requests": lambda: [(r.method, r.path) for r in api.requests],
    }
    try:
        for line in sys.stdin:
            request = json.loads(line)
            try:
                answer = {"value": ops[request.pop("op")](**request)}
            except Exception as exc:  # reported to the bench, which raises it
                answer = {"error": f"{type(exc).__name__}: {exc}"}
            sys.stdout.write(json.dumps(answer) + "\n")
            sys.stdout.flush()
    finally:
        api.stop()
    return 0


def _short(request: Any) -> str:
    """``PATCH pods/t1-00001/status``: the method and the path after the namespace, the pod's name generic."""
    path = request.path.split("?")[0].split(f"/namespaces/{NAMESPACE}/", 1)[-1]
    parts = path.split("/")
    if len(parts) > 1 and parts[0] == "pods":
        parts[1] = "<pod>"
    return f"{request.method} {'/'.join(parts)}"


# ---- report --------------------------------------------------------------------------------------------

ARM_LABELS = {"bridge": "bridge alone", "thick1": "thick 1 network", "thick2": "thick 2 networks",
              "thick2c": "  same, concurrency 2"}


def report_latency(samples: dict[str, Timing], iterations: int, compare_tree: Path | None = None) -> None:
    print(f"\nlatency, a fresh process per call: {iterations} interleaved iterations per arm, ms "
          "(bytecode compiled; PYTHONDONTWRITEBYTECODE unset for the daemon and the shims)")
    header = (f"  {'arm':<26}{'ADD med':>9}{'p90':>8}{'DEL med':>9}{'p90':>8}{'ADD+DEL':>9}"
              f"{'Go ADD':>8}{'ratio':>8}{'adj':>8}")
    print(header)
    print("  " + "-" * (len(header) - 2))
    bridge_total = med([a + d for a, d in zip(samples["bridge"].add, samples["bridge"].delete, strict=True)])
    machine = bridge_total / GO_BRIDGE_MS
    labels = dict(ARM_LABELS)
    if compare_tree is not None:
        labels |= {"cmp1": f"  same, {compare_tree.name}", "cmp2": f"  same, {compare_tree.name}"}
    for key in [k for k in ("bridge", "thick1", "cmp1", "thick2", "thick2c", "cmp2") if k in samples]:
        timing = samples[key]
        total = med([a + d for a, d in zip(timing.add, timing.delete, strict=True)])
        cells = (f"{med(timing.add):>9.2f}{percentile(timing.add, 90):>8.2f}{med(timing.delete):>9.2f}"
                 f"{percentile(timing.delete, 90):>8.2f}{total:>9.2f}")
        go = GO_ADD_MS.get({"cmp1": "thick1", "cmp2": "thick2", "thick2c": "thick2"}.get(key, key))
        if go:
            ratio = med(timing.add) / go
            cells += f"{go:>8.1f}{ratio:>7.2f}x{ratio / machine:>7.2f}x"
        else:
            cells += f"{'(' + str(GO_BRIDGE_MS) + ' ADD+DEL)':>24}"
        print(f"  {labels[key]:<26}{cells}")
    print(f"  ratio: our ADD median / Go's (target <= {TARGET_ADD_RATIO}x); adj: divided by bridge alone's "
          f"ADD+DEL ratio to Go's\n  {GO_BRIDGE_MS} ms ({machine:.2f}x), i.e. Go's numbers scaled to this "
          "machine's speed of the same bridge binary")
    for key in ("thick1", "thick2", "thick2c"):
        ratio = med(samples[key].add) / GO_ADD_MS[key.rstrip("c")]
        verdict = "meets" if ratio <= TARGET_ADD_RATIO else "MISSES"
        label = "thick 2 networks, delegateConcurrency 2" if key == "thick2c" else ARM_LABELS[key]
        print(f"  {label}: ADD {ratio:.2f}x Go ({ratio / machine:.2f}x adjusted), {verdict} the "
              f"{TARGET_ADD_RATIO}x target")
    for key in ("thick1", "thick2"):
        paired = paired_median(samples[key].add, samples["bridge"].add)
        print(f"  {ARM_LABELS[key]}: ADD - bridge ADD, paired per iteration: {paired:+.2f} ms")
    for key, other in (("thick1", "cmp1"), ("thick2", "cmp2")):
        if other in samples:
            ours, theirs = samples[key], samples[other]
            add = paired_median(ours.add, theirs.add)
            delete = paired_median(ours.delete, theirs.delete)
            print(f"  {ARM_LABELS[key]}: this tree - {compare_tree.name if compare_tree else ''}, paired per "
                  f"iteration: ADD {add:+.2f} ms, DEL {delete:+.2f} ms")


def report_requests(requests: dict[str, tuple[list[str], list[str]]]) -> None:
    print("  API requests per call (an untimed probe; 0.3 s allowed for background writes):")
    for label, (on_add, on_del) in requests.items():
        print(f"    {label}: ADD {', '.join(on_add) or 'none'}; DEL {', '.join(on_del) or 'none'}")


def report_burst(burst: dict[str, Any], count: int, concurrency: int) -> None:
    add_rate, del_rate = count / burst["add_s"], count / burst["del_s"]
    print(f"\nburst: {count} pods (1 network), {concurrency} at a time")
    print(f"  {'':<6}{'pods/s':>9}{'wall s':>9}{'call med ms':>13}{'p90':>9}{'Go pods/s':>11}{'ratio':>8}")
    print(f"  {'ADD':<6}{add_rate:>9.1f}{burst['add_s']:>9.2f}{med(burst['add_ms']):>13.1f}"
          f"{percentile(burst['add_ms'], 90):>9.1f}{GO_BURST_PODS_S:>11.0f}{add_rate / GO_BURST_PODS_S:>7.2f}x")
    print(f"  {'DEL':<6}{del_rate:>9.1f}{burst['del_s']:>9.2f}{med(burst['del_ms']):>13.1f}"
          f"{percentile(burst['del_ms'], 90):>9.1f}")
    cpus = os.cpu_count() or 1
    for verb in ("add", "del"):
        cpu = burst[f"{verb}_cpu"]
        total = sum(cpu.values())
        if total:
            print(f"  {verb.upper()} CPU per pod: " + ", ".join(f"{k} {v / count * 1e3:.1f} ms" for k, v in cpu.items())
                  + f"; {total / count * 1e3:.1f} ms in all: at most ~{count * cpus / total:.0f} pods/s on {cpus} "
                  "CPUs (kernel threads and the API double not counted)")
    verdict = "meets" if add_rate / GO_BURST_PODS_S >= TARGET_BURST_RATIO else "MISSES"
    print(f"  ADD {add_rate / GO_BURST_PODS_S:.2f}x Go's ~{GO_BURST_PODS_S:.0f} pods/s: {verdict} the "
          f">= {TARGET_BURST_RATIO}x target ({os.cpu_count()} CPUs here)")


def report_memory(started: dict[str, int], churn: dict[str, Any], concurrency: int) -> None:
    before, after = churn["before"], churn["after"]
    print("\ndaemon memory (VmRSS of the multus-daemon process; plugin processes not included), MiB")
    print(f"  after start and cache sync           {started['VmRSS'] / 1024:>8.1f}")
    print(f"  before churn (after the arms, burst)  {before['VmRSS'] / 1024:>8.1f}")
    print(f"  after {churn['count']} pods of churn ({concurrency} at a time) {after['VmRSS'] / 1024:>8.1f}   "
          f"({(after['VmRSS'] - before['VmRSS']) / 1024:+.1f}; peak VmHWM {after['VmHWM'] / 1024:.1f}; "
          f"{churn['count'] / churn['seconds']:.1f} pods/s ADD+DEL)")


# ---- process structure: parent (namespaces) and inner (measurements) ----------------------------------------

def inner(args: argparse.Namespace) -> int:
    """The measurements; runs inside the bench's node namespace, never the machine's own."""
    if not args.pod_netns or not NETNS.inner_allowed(args.node_netns, args.pod_netns):
        return NETNS.refuse()
    workdir = Path(tempfile.mkdtemp(prefix="bench-thick-", dir=args.tmp_base))
    api = None
    bench: ThickBench | None = None
    try:
        benchlib.prepare_macvlan_node()
        api = ApiProcess(args.api_latency)
        bench = ThickBench(args, workdir, api)
        its, prof = args.iterations, args.profile
        main_phases = not args.profile_only
        if main_phases:
            arms_per_kind = 2 if args.compare_tree else 1
            bench.make_pods("t1", (WARMUP + its) * arms_per_kind + 1 + args.burst + args.churn)
            bench.make_pods("t2", (WARMUP + its) * (arms_per_kind + 1) + 1)  # + the concurrency arm
        variants = 2 if args.compare_tree else 1
        bench.make_pods("t1", (WARMUP + prof) * variants)
        bench.make_pods("t2", (WARMUP + prof) * variants)
        tag = secrets.token_hex(2)
        load_before = os.getloadavg()
        if main_phases:
            daemon = bench.start_daemon()
            if args.compare_tree:
                bench.start_compare_daemon()
            time.sleep(0.5)
            started = vm_status(daemon.pid)
            samples = bench.run_arms(its, tag)
            if bench.compare_daemon is not None:
                bench.compare_daemon.stop()  # idle from here on; its informers would still take CPU
                bench.compare_daemon = None
            requests = bench.probe_requests(tag)
            burst = bench.burst(args.burst, args.concurrency, tag)
            churn = bench.churn(args.churn, args.concurrency, tag)
            bench.stop_daemon()
            report_latency(samples, its, bench.compare_tree)
            print(f"  the shim launcher runs {bench.shim_python} -IS")
            report_requests(requests)
            report_burst(burst, args.burst, args.concurrency)
            report_memory(started, churn, args.concurrency)
            sys.stdout.flush()
        if prof:
            for data in bench.profile(prof, tag, args.cprofile):
                report_profile(data, prof)
        print("\nAPI server double: a process of its own; PATCH and POST answered "
              + (f"after {args.api_latency:g} ms (--api-latency)" if args.api_latency > 0 else "at once"))
        print(f"load average (1 min) at the start {load_before[0]:.2f}, at the end {os.getloadavg()[0]:.2f} "
              f"on {os.cpu_count()} CPUs (other work on the machine inflates every number above)")
        leftover = bench.leftovers()
        if leftover:
            print(f"warning: left after the last DEL: {leftover[:20]}", file=sys.stderr)
        return 0
    finally:
        benchlib.ignore_interrupts()
        if bench is not None:
            bench.stop_daemon()
        if api is not None:
            api.stop()
        if args.keep_workdir:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def parent(args: argparse.Namespace) -> int:
    """Compile the packages, create the namespaces, run ``inner`` inside the node one, always remove them."""
    if not benchlib.require_root("bench_thick needs root (it creates network namespaces)"):
        return 2
    compile_packages()
    if args.compare_tree:
        if not (Path(args.compare_tree) / "multus" / "daemon" / "main.py").is_file():
            print(f"--compare-tree {args.compare_tree}: no multus/daemon/main.py there", file=sys.stderr)
            return 2
        compile_packages(Path(args.compare_tree))
    tag = secrets.token_hex(3)
    names = [NETNS.name("node", tag)]
    names += [NETNS.name("pod", f"{tag}-{k:03d}") for k in range(max(args.burst, args.concurrency, 1))]
    # The inner run ignores both signals once its clean-up has started (stopping the daemon takes a while),
    # so a SIGTERM after a short grace is safe.
    return benchlib.run_inner(__file__, NETNS, names, forwarded_options(args), stop_waits=(3.0, 60.0, 10.0))


def forwarded_options(args: argparse.Namespace) -> list[str]:
    """The user's options, passed on to the inner run."""
    options = benchlib.forwarded_options(
        args, always=("iterations", "burst", "churn", "concurrency", "profile", "plugins_dir", "log_level",
                      "api_latency"),
        if_set=("cprofile", "tmp_base", "shim_python"), flags=("profile_only", "keep_workdir"))
    return options + (["--compare-tree", str(Path(args.compare_tree).resolve())] if args.compare_tree else [])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200, help="ADD+DEL rounds per arm (default 200)")
    parser.add_argument("--burst", type=int, default=50, help="pods in the burst (default 50)")
    parser.add_argument("--churn", type=int, default=500, help="pods ADDed and DELed for the memory check (500)")
    parser.add_argument("--concurrency", type=int, default=8, help="shims at a time in burst and churn (8)")
    parser.add_argument("--profile", type=int, default=40, metavar="N",
                        help="ADD+DEL per network count through a span-instrumented daemon (default 40; 0: none)")
    parser.add_argument("--cprofile", nargs="?", const="wall", choices=("wall", "cpu"),
                        help="also cProfile the daemon's /cni handler, by wall time (default) or its thread's CPU")
    parser.add_argument("--profile-only", action="store_true", help="skip the latency, burst and churn phases")
    parser.add_argument("--api-latency", type=float, default=0.0, metavar="MS",
                        help="delay every PATCH and POST of the API double by MS ms, as a remote API server's write "
                        "round trip (default 0: the double answers at once, on this machine's CPUs)")
    parser.add_argument("--compare-tree", metavar="DIR", help="also run the thick arms against a daemon running "
                        "the multus package in DIR (DIR/multus), interleaved, for a paired before/after")
    parser.add_argument("--log-level", default="verbose", help="the daemon's logLevel (default verbose, as the "
                        "thick DaemonSet; its stderr goes to a file)")
    parser.add_argument("--plugins-dir", default=os.environ.get("MULTUS_TEST_CNI_PATH", "/usr/lib/cni"))
    parser.add_argument("--shim-python", metavar="PATH",
                        help="the interpreter in the shim launcher's #! line (default: the host's /usr/bin/python3 "
                             "as the thick DaemonSet installs it, if it runs our bytecode; else this one)")
    parser.add_argument("--tmp-base", help="where configs, caches and leases go (default: $TMPDIR or /tmp)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep the tmp dir (daemon log, spans)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--node-netns", help=argparse.SUPPRESS)
    parser.add_argument("--pod-netns", action="append", help=argparse.SUPPRESS)
    parser.add_argument("--api-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.api_server:
        return api_server(args.api_latency)
    if min(args.iterations, args.burst, args.churn, args.concurrency) < 1 or args.profile < 0:
        parser.error("--iterations, --burst, --churn and --concurrency must be at least 1")
    return benchlib.run_interruptible(lambda: inner(args) if args.inner else parent(args))


if __name__ == "__main__":
    sys.exit(main())
