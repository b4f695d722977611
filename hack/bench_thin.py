#!/usr/bin/env python3
"""Benchmark: ADD+DEL latency of the thin Multus plugin, a fresh process per CNI call.

Each call execs a command with the CNI environment and the config on stdin, exactly as a container
runtime does (a clean environment with only PATH and the CNI_* variables; DEL gets the ADD result as
``prevResult``, as libcni's cache supplies it). Arms, interleaved (the order rotates each iteration) so
drift of the machine hits them alike:

  bridge alone               the bridge plugin + host-local exec'd directly: the floor
  thin standalone            ``multus`` with one static delegate (bridge + host-local), no Kubernetes
  thin kubeconfig            ``multus`` with a kubeconfig to the API server double (multus.testing.kube_api,
                             run on a thread of the measuring process, on 127.0.0.1 of the bench's host
                             namespace), clusterNetwork = a bridge conflist file, a pod with no networks
                             annotation: 1 delegate, the pod GET, an event POST and the network-status PATCH
  thin kubeconfig + macvlan  the pod's annotation adds a macvlan NAD (master: a veth in the host
                             namespace): 2 delegates
  ..., host bundle           standalone and kubeconfig through what a thin DaemonSet installs on the node:
                             the zipapp bundle (multus.install.bundle) run by the host's /usr/bin/python3 -IS
                             (when it runs our bytecode); the arms above use the venv's console script

Reported per arm: wall-time medians and p90 of ADD, DEL and ADD+DEL with the ratio to Go Multus's numbers,
and the CPU time (user+sys) of the plugin's process tree, which other load on the machine barely moves.
Go's numbers come without saying whether they are ADD or ADD+DEL latencies; the verdicts are printed for
both readings (Go's "bridge alone" 9.4 ms matches a bridge ADD on this kind of machine, not an ADD+DEL).
``--launchers`` adds arms running the standalone config through small launcher scripts (``python -I`` and
``python -I -S`` with an explicit sys.path) to show what the console-script wrapper and ``site`` cost.
``--tls`` makes the API double serve HTTPS with a self-signed certificate the kubeconfig trusts, as
production API servers do (every kubeconfig call then imports ``ssl`` and makes a TLS handshake).
``--compare-tree DIR`` adds the thin standalone and kubeconfig arms run with the ``multus`` package found
in DIR (e.g. an older copy of the tree), through a launcher equivalent to the console script, for a
paired before/after comparison in one run.

Bytecode: this environment may set PYTHONDONTWRITEBYTECODE=1, which would make every plugin process
recompile the package. Production installs ship compiled bytecode, so the package is compiled first
(``compileall`` with the variable unset) and the plugin processes run without it.

Safety: as hack/bench_runtime.py, everything happens in namespaces the script creates and removes. The
parent creates a "host" and a "pod" namespace and re-runs itself inside the host one (``nsenter --net``),
where the bridges, veths, iptables rules and the API double's 127.0.0.1 socket live; leases, caches and
configs go to a tmp dir. Namespaces and files are removed on success, failure and Ctrl-C/SIGTERM. Needs
root.

    .venv/bin/python hack/bench_thin.py --iterations 200
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from benchlib import PARTS, bridge_conf, clean_env, percentile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WARMUP = 3  # untimed rounds first: the first ADD creates the bridges, the first runs warm the page cache
POD_UID = "6f0c5b1e-0000-4000-8000-0000000be4c4"
POD_NAMESPACE = "default"

# Go Multus (thin plugin) on this kind of machine, ADD+DEL median in ms, for the ratio column.
GO_REFERENCE_MS = {"bridge": 9.4, "standalone": 21.5, "kube": 42.9}
TARGET_RATIO = 3.0
DEL_PAUSE_MS = 30.0  # ~ what a thin DEL spends before its delegate runs (interpreter start and imports)
NETNS = benchlib.BenchNetns("bench-thin", "host")  # bench-thin-host-<tag>, bench-thin-pod-<tag>


# ---- the arms ------------------------------------------------------------------------------------------

@dataclass
class Arm:
    key: str
    label: str
    command: list[str]
    conf: dict[str, Any]
    cni_args: Callable[[str], str]
    go_key: str | None = None
    del_pause_ms: float = 0.0  # an untimed pause between the ADD and the DEL
    cpu: list[tuple[float, float]] = field(default_factory=list)  # user+sys ms of the process tree, ADD/DEL

    def call(self, verb: str, container_id: str, pod_netns: str, cni_path: str, prev: dict[str, Any] | None) -> bytes:
        conf = dict(self.conf, prevResult=prev) if prev is not None else self.conf
        return benchlib.exec_cni(self.command, conf, verb, container_id, pod_netns, cni_path,
                                 self.cni_args(container_id), f"{self.label}:")

    def add_del(self, container_id: str, pod_netns: str, cni_path: str) -> tuple[float, float]:
        """ADD then DEL one attachment; their wall durations in ms (CPU times go to ``self.cpu``)."""
        c0, t0 = children_cpu_ms(), time.perf_counter()
        out = self.call("ADD", container_id, pod_netns, cni_path, None)
        c1, t1 = children_cpu_ms(), time.perf_counter()
        result = json.loads(out)
        if self.del_pause_ms:
            time.sleep(self.del_pause_ms / 1e3)
        c2, t2 = children_cpu_ms(), time.perf_counter()
        self.call("DEL", container_id, pod_netns, cni_path, result)
        c3, t3 = children_cpu_ms(), time.perf_counter()
        self.cpu.append((c1 - c0, c3 - c2))
        return (t1 - t0) * 1e3, (t3 - t2) * 1e3


def children_cpu_ms() -> float:
    """User+sys CPU of this process's waited-for descendants so far: the plugin, and what it ran."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (usage.ru_utime + usage.ru_stime) * 1e3


def k8s_cni_args(pod: str) -> Callable[[str], str]:
    """CNI_ARGS as the kubelet's runtime sets them for a pod sandbox."""
    return lambda cid: benchlib.k8s_cni_args(POD_NAMESPACE, pod, cid, POD_UID)


def write_launcher(path: Path, flags: str, with_site: bool, tree: Path | None = None) -> Path:
    """A tiny console-script alternative: ``#!<venv python> <flags>``, then the same entry point.

    Without ``site`` (``-S``) the launcher puts the package's directory and the venv's site-packages on
    sys.path itself, without processing .pth files (what an editable install's finder would do). With
    ``tree``, the ``multus`` package is imported from that directory instead of the installed one."""
    import multus

    lines = [f"#!{sys.executable} {flags}".rstrip(), "import sys"]
    if tree is not None:
        lines.append(f"sys.path.insert(0, {str(tree)!r})")
    if not with_site:
        package_parent = str(tree or Path(multus.__file__).resolve().parents[1])
        site_packages = sysconfig.get_paths()["purelib"]
        lines.append(f"sys.path[:0] = [{package_parent!r}, {site_packages!r}]")
    lines += ["from multus.plugin.entry import main", "main()", ""]
    path.write_text("\n".join(lines))
    path.chmod(0o755)
    return path


class ThinBench:
    """The configs, the API double's objects and the arms, inside the bench's host namespace."""

    def __init__(self, args: argparse.Namespace, workdir: Path, api: Any) -> None:
        self.pod_netns = args.pod_netns
        self.cni_path = args.plugins_dir
        self.workdir = workdir
        self.ipam = workdir / "ipam"
        self.api = api
        multus_cmd = str(Path(sys.executable).parent / "multus")
        conf_dir = workdir / "net.d"
        conf_dir.mkdir()
        cluster = conf_dir / "10-cluster.conflist"
        cluster.write_text(json.dumps(benchlib.bridge_conflist("cluster", "cni0", "10.73.0.0/24", self.ipam)))
        kubeconfig = api.write_kubeconfig(workdir / "kubeconfig")
        api.add_pod(POD_NAMESPACE, "bench-one", uid=POD_UID)
        api.add_pod(POD_NAMESPACE, "bench-two", uid=POD_UID,
                    annotations={"k8s.v1.cni.cncf.io/networks": "macvlan-conf"})
        api.add_nad(POD_NAMESPACE, "macvlan-conf", {
            "cniVersion": "1.0.0", "type": "macvlan", "master": "mvmaster", "mode": "bridge",
            "ipam": {"type": "host-local", "subnet": "10.74.0.0/24", "dataDir": str(self.ipam)}})

        def multus_conf(**extra: Any) -> dict[str, Any]:
            return {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus",
                    "cniDir": str(workdir / "multus"), "confDir": str(conf_dir), "binDir": args.plugins_dir,
                    **extra}

        standalone = multus_conf(kubeconfig="", delegates=[bridge_conf("standalone", "br-sa", "10.72.0.0/24",
                                                                       self.ipam)])
        kube = multus_conf(kubeconfig=str(kubeconfig), clusterNetwork=str(cluster))
        bridge_bin = str(Path(args.plugins_dir) / "bridge")
        self.arms = [
            Arm("bridge", "bridge alone", [bridge_bin],
                bridge_conf("alone", "br-alone", "10.71.0.0/24", self.ipam), k8s_cni_args("bench-one"), "bridge"),
            # A thin DEL's delegate starts ~30 ms after the ADD answered (interpreter and imports first), and
            # the kernel's veth teardown takes longer then than right after the ADD: this arm shows how much.
            Arm("bridge-paced", f"bridge alone, DEL {DEL_PAUSE_MS:.0f} ms after ADD", [bridge_bin],
                bridge_conf("paced", "br-paced", "10.75.0.0/24", self.ipam), k8s_cni_args("bench-one"),
                del_pause_ms=DEL_PAUSE_MS),
            Arm("standalone", "thin standalone", [multus_cmd], standalone, k8s_cni_args("bench-one"), "standalone"),
            Arm("kube", "thin kubeconfig", [multus_cmd], kube, k8s_cni_args("bench-one"), "kube"),
            Arm("kube-mv", "thin kubeconfig + macvlan", [multus_cmd], kube, k8s_cni_args("bench-two")),
        ]
        # What a thin DaemonSet installs on the node: the self-contained bundle, run by the host's python3 -IS.
        host_python = benchlib.host_shim_python()
        if host_python != sys.executable:
            from multus.install.bundle import install_thin_bundle

            (workdir / "host-bin").mkdir()
            bundle = str(install_thin_bundle(workdir / "host-bin", host_python=host_python, names=("multus",))[0])
            self.arms += [
                Arm("bundle-standalone", "thin standalone, host bundle", [bundle], standalone,
                    k8s_cni_args("bench-one"), "standalone"),
                Arm("bundle-kube", "thin kubeconfig, host bundle", [bundle], kube, k8s_cni_args("bench-one"), "kube"),
            ]
        if args.compare_tree:
            tree = Path(args.compare_tree).resolve()
            other = [str(write_launcher(workdir / "multus-compare", "", with_site=True, tree=tree))]
            self.arms += [
                Arm("cmp-standalone", f"thin standalone [{tree.name}]", other, standalone, k8s_cni_args("bench-one"),
                    "standalone"),
                Arm("cmp-kube", f"thin kubeconfig [{tree.name}]", other, kube, k8s_cni_args("bench-one"), "kube"),
            ]
        if args.launchers:
            self.arms += [
                Arm("launch-I", "thin standalone, python -I launcher",
                    [str(write_launcher(workdir / "multus-I", "-I", with_site=True))], standalone,
                    k8s_cni_args("bench-one"), "standalone"),
                Arm("launch-IS", "thin standalone, python -I -S launcher",
                    [str(write_launcher(workdir / "multus-IS", "-IS", with_site=False))], standalone,
                    k8s_cni_args("bench-one"), "standalone"),
            ]

    def run(self, iterations: int, tag: str) -> dict[str, list[tuple[float, float]]]:
        """Interleave the arms, rotating which goes first; unique container IDs per call."""
        names = [arm.key for arm in self.arms]
        by_key = {arm.key: arm for arm in self.arms}
        for w in range(WARMUP):
            for arm in self.arms:
                arm.add_del(f"warm{w}-{arm.key}-{tag}", self.pod_netns, self.cni_path)
        self.probe_requests(tag)
        for arm in self.arms:
            arm.cpu.clear()
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
        for i in range(iterations):
            for name in benchlib.rotated(names, i):
                samples[name].append(by_key[name].add_del(f"{name}-{i:05d}-{tag}", self.pod_netns, self.cni_path))
            if i % 50 == 49:
                self.api.clear_requests()  # the double logs every request; keep it small
        return samples

    def probe_requests(self, tag: str) -> None:
        """One untimed ADD and DEL per arm, recording which API requests each verb makes."""
        self.requests: dict[str, tuple[list[str], list[str]]] = {}
        for arm in self.arms:
            cid = f"probe-{arm.key}-{tag}"
            self.api.clear_requests()
            result = json.loads(arm.call("ADD", cid, self.pod_netns, self.cni_path, None))
            on_add = [self._short(r) for r in self.api.requests]
            self.api.clear_requests()
            arm.call("DEL", cid, self.pod_netns, self.cni_path, result)
            self.requests[arm.label] = (on_add, [self._short(r) for r in self.api.requests])
        self.api.clear_requests()

    @staticmethod
    def _short(request: Any) -> str:
        """``PATCH pods/bench-one/status``: the method and the path after the namespace."""
        path = request.path.split("?")[0]
        return f"{request.method} {path.split(f'/namespaces/{POD_NAMESPACE}/', 1)[-1]}"

    def leftovers(self) -> list[str]:
        """Anything an arm's DEL should have removed: leases, multus scratch files, links in the pod."""
        problems = [str(p.relative_to(self.workdir)) for p in self.ipam.rglob("*")
                    if p.is_file() and p.name[0].isdigit()]
        scratch = self.workdir / "multus"
        if scratch.is_dir():
            problems += [str(p.relative_to(self.workdir)) for p in scratch.iterdir() if p.is_file()]
        return problems + [f"pod link {name}" for name in benchlib.pod_links(self.pod_netns)]


# ---- report --------------------------------------------------------------------------------------------

def add_del_totals(values: Sequence[benchlib.Pair]) -> list[float]:
    """The ADD+DEL of each iteration."""
    return [PARTS["ADD+DEL"](s) for s in values]


def total_median(values: Sequence[benchlib.Pair]) -> float:
    return statistics.median(add_del_totals(values))


def paired_median(a: Sequence[benchlib.Pair], b: Sequence[benchlib.Pair]) -> float:
    """Median of the per-iteration ADD+DEL differences a_i - b_i."""
    return benchlib.paired_median(add_del_totals(a), add_del_totals(b))


def _verdict(ratio: float) -> str:
    return f"{'meets' if ratio <= TARGET_RATIO else 'MISSES'} the {TARGET_RATIO:.0f}x target"


def report(bench: ThinBench, samples: dict[str, list[tuple[float, float]]], iterations: int) -> None:
    print(f"\nthin plugin, a fresh process per call: {iterations} interleaved iterations per arm, ms "
          "(bytecode compiled, PYTHONDONTWRITEBYTECODE unset in the plugin processes)")
    header = (f"  {'arm':<40}" + "".join(f"{p + ' med':>12}{'p90':>8}" for p in PARTS)
              + f"{'Go':>7}{'ratio':>8}{'adj':>8}{'vs bridge':>11}")
    print(header)
    print("  " + "-" * (len(header) - 2))
    base = samples["bridge"]
    machine = total_median(base) / GO_REFERENCE_MS["bridge"]
    for arm in bench.arms:
        values = samples[arm.key]
        cells = ""
        for part in PARTS.values():
            xs = [part(s) for s in values]
            cells += f"{statistics.median(xs):>12.2f}{percentile(xs, 90):>8.2f}"
        total = total_median(values)
        go = GO_REFERENCE_MS.get(arm.go_key or "")
        go_cells = (f"{go:>7.1f}{total / go:>7.2f}x{total / go / machine:>7.2f}x" if go
                    else f"{'-':>7}{'-':>8}{'-':>8}")
        print(f"  {arm.label:<40}{cells}{go_cells}{paired_median(values, base):>+11.2f}")
    print(f"  Go: Go Multus's ADD+DEL median on this kind of machine; ratio: our ADD+DEL median / Go (target <= "
          f"{TARGET_RATIO:.0f}x\n  for thin standalone and thin kubeconfig); adj: the ratio divided by bridge alone's "
          f"ratio ({machine:.2f}x), i.e. Go's\n  numbers scaled to this run's speed of the same bridge binary; "
          "vs bridge: median of the paired per-iteration\n  ADD+DEL differences to 'bridge alone' (Go's: "
          + ", ".join(f"{k} +{GO_REFERENCE_MS[k] - GO_REFERENCE_MS['bridge']:.1f}" for k in ("standalone", "kube"))
          + ")")
    # Go's reference numbers are given per configuration, without saying ADD or ADD+DEL. Its "bridge alone"
    # (9.4 ms) matches a bridge ADD here, not a bridge ADD+DEL (the kernel's veth teardown makes DEL the
    # slower half), so they read best as ADD latencies; the verdict is printed for both readings.
    bridge_add = statistics.median(PARTS["ADD"](s) for s in base)
    print(f"  Go's 'bridge alone' {GO_REFERENCE_MS['bridge']:.1f} ms vs this run's bridge: ADD {bridge_add:.2f} ms, "
          f"ADD+DEL {total_median(base):.2f} ms. Verdicts on both readings of Go's numbers:")
    verdicts = [("standalone", "thin standalone"), ("kube", "thin kubeconfig")]
    verdicts += [(f"bundle-{key}", f"{label}, host bundle") for key, label in verdicts if f"bundle-{key}" in samples]
    for key, label in verdicts:
        go = GO_REFERENCE_MS[key.removeprefix("bundle-")]
        add_ratio = statistics.median(PARTS["ADD"](s) for s in samples[key]) / go
        both_ratio = total_median(samples[key]) / go
        print(f"  {label}: ADD {add_ratio:.2f}x Go ({_verdict(add_ratio)}); ADD+DEL {both_ratio:.2f}x Go "
              f"({both_ratio / machine:.2f}x adjusted; {_verdict(both_ratio)})")
    paced = statistics.median(PARTS["DEL"](s) for s in samples["bridge-paced"])
    print(f"  The bridge's DEL {DEL_PAUSE_MS:.0f} ms after its ADD (when a thin DEL's delegate runs): {paced:.2f} ms, "
          f"against {statistics.median(PARTS['DEL'](s) for s in base):.2f} ms\n  right after it; the difference "
          "is the kernel's (veth teardown), not Multus's, yet counts in the thin arms' 'vs bridge'.")
    for key, other in (("standalone", "cmp-standalone"), ("kube", "cmp-kube")):
        if other in samples:
            print(f"  {key} - {other}: paired ADD+DEL difference {paired_median(samples[key], samples[other]):+.2f} ms")
    print("\n  CPU time of the plugin's process tree (user+sys, from getrusage of the children; insensitive to other\n"
          "  load on the machine, unlike wall time), median ms:")
    print(f"  {'arm':<40}{'ADD':>9}{'DEL':>9}{'ADD+DEL':>9}{'vs bridge':>11}")
    base_cpu = [sum(c) for c in bench.arms[0].cpu]
    for arm in bench.arms:
        totals = [sum(c) for c in arm.cpu]
        extra = benchlib.paired_median(totals, base_cpu)
        print(f"  {arm.label:<40}{statistics.median(c[0] for c in arm.cpu):>9.2f}"
              f"{statistics.median(c[1] for c in arm.cpu):>9.2f}{statistics.median(totals):>9.2f}{extra:>+11.2f}")
    print("  API requests per call (an untimed probe after the warm-up):")
    for label, (on_add, on_del) in bench.requests.items():
        if on_add or on_del:
            print(f"    {label}: ADD {', '.join(on_add) or 'none'}; DEL {', '.join(on_del) or 'none'}")


# ---- import time and interpreter start ---------------------------------------------------------------------

def import_time_us(python: str, module: str, cwd: Path) -> dict[str, int]:
    """One ``-X importtime`` run: cumulative µs of ``module`` and of ``site``."""
    done = subprocess.run([python, "-X", "importtime", "-c", f"import {module}"], env=clean_env(),
                          cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python -X importtime -c 'import {module}' failed: {done.stderr[-2000:]}")
    found: dict[str, int] = {}
    for line in done.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)$", line)
        if m and m.group(3) == "" and m.group(4) in (module, "site"):
            found[m.group(4)] = int(m.group(2))
    return found


def wall_and_cpu_ms(argv: list[str], cwd: Path) -> tuple[float, float]:
    c0, t0 = children_cpu_ms(), time.perf_counter()
    subprocess.run(argv, env=clean_env(), cwd=cwd, capture_output=True, check=True)
    return (time.perf_counter() - t0) * 1e3, children_cpu_ms() - c0


def report_startup(reps: int, launcher_dir: Path) -> None:
    python = sys.executable
    cwd = Path("/")  # a neutral cwd: ``-c`` puts it first on sys.path
    runs = [import_time_us(python, "multus.plugin.entry", cwd) for _ in range(reps)]
    entry = statistics.median(r["multus.plugin.entry"] for r in runs) / 1e3
    site = statistics.median(r.get("site", 0) for r in runs) / 1e3
    print(f"\nstart-up, medians of {reps} runs (wall/cpu: of {reps * 2}), bytecode compiled, "
          "PYTHONDONTWRITEBYTECODE unset, ms")
    print(f"  {'-X importtime: multus.plugin.entry (cumulative)':<58}{entry:>8.2f}")
    print(f"  {'-X importtime: site (cumulative; .pth files, editable finder)':<58}{site:>8.2f}")
    multus_cmd = str(Path(python).parent / "multus")
    walls = [
        ("python -c pass", [python, "-c", "pass"]),
        ("python -I -S -c pass", [python, "-I", "-S", "-c", "pass"]),
        ("python -c 'import multus.plugin.entry'", [python, "-c", "import multus.plugin.entry"]),
        ("multus -version (console script, no CNI work)", [multus_cmd, "-version"]),
    ]
    for flags, with_site in (("-I", True), ("-IS", False)):
        launcher = write_launcher(launcher_dir / f"multus{flags}", flags, with_site)
        walls.append((f"multus -version via a python {flags} launcher", [str(launcher), "-version"]))
    print(f"  {'':<58}{'wall':>8}{'cpu':>8}")
    for label, argv in walls:
        wall_and_cpu_ms(argv, cwd)  # warm
        timed = [wall_and_cpu_ms(argv, cwd) for _ in range(reps * 2)]
        wall, cpu = statistics.median(t[0] for t in timed), statistics.median(t[1] for t in timed)
        print(f"  {label:<58}{wall:>8.2f}{cpu:>8.2f}")


# ---- process structure: parent (namespaces) and inner (measurements) ----------------------------------------

def inner(args: argparse.Namespace) -> int:
    """The measurements; runs inside the bench's host namespace, never the machine's own."""
    if not NETNS.inner_allowed(args.host_netns, [args.pod_netns]):
        return NETNS.refuse()
    from multus.testing.kube_api import KubeApiServer

    workdir = Path(tempfile.mkdtemp(prefix="bench-thin-", dir=args.tmp_base))
    api = None
    try:
        benchlib.prepare_macvlan_node()
        certfile = keyfile = None
        if args.tls:  # as production kubeconfigs are: ssl imported and a handshake in every plugin process
            cert, key = workdir / "api-cert.pem", workdir / "api-key.pem"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj",
                            "/CN=bench-api", "-addext", "subjectAltName=IP:127.0.0.1"],
                           check=True, capture_output=True, timeout=60)
            certfile, keyfile = str(cert), str(key)
        api = KubeApiServer("127.0.0.1", certfile=certfile, keyfile=keyfile).start()
        bench = ThinBench(args, workdir, api)
        samples = bench.run(args.iterations, secrets.token_hex(2))
        report(bench, samples, args.iterations)
        report_startup(args.import_reps, workdir)
        leftover = bench.leftovers()
        if leftover:
            print(f"warning: left after the last DEL: {leftover}", file=sys.stderr)
        return 0
    finally:
        benchlib.ignore_interrupts()
        if api is not None:
            api.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def parent(args: argparse.Namespace) -> int:
    """Compile the package, create the namespaces, run ``inner`` inside the host one, always remove them."""
    if not benchlib.require_root("bench_thin needs root (it creates network namespaces)"):
        return 2
    benchlib.compile_bytecode([REPO / "multus"])
    if args.compare_tree:
        if not (Path(args.compare_tree) / "multus" / "plugin" / "entry.py").is_file():
            print(f"--compare-tree {args.compare_tree}: no multus/plugin/entry.py there", file=sys.stderr)
            return 2
        benchlib.compile_bytecode([Path(args.compare_tree) / "multus"])
    tag = secrets.token_hex(3)
    return benchlib.run_inner(__file__, NETNS, [NETNS.name("host", tag), NETNS.name("pod", tag)],
                              forwarded_options(args))


def forwarded_options(args: argparse.Namespace) -> list[str]:
    """The user's options, passed on to the inner run."""
    return benchlib.forwarded_options(args, always=("iterations", "import_reps", "plugins_dir"),
                                      if_set=("compare_tree", "tmp_base"), flags=("launchers", "tls"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200, help="ADD+DEL rounds per arm (default 200)")
    parser.add_argument("--import-reps", type=int, default=10, help="runs of each start-up measurement (default 10)")
    parser.add_argument("--plugins-dir", default=os.environ.get("MULTUS_TEST_CNI_PATH", "/usr/lib/cni"))
    parser.add_argument("--tls", action="store_true",
                        help="the API double serves HTTPS (a self-signed certificate the kubeconfig trusts), as "
                             "production API servers do; default plain HTTP")
    parser.add_argument("--launchers", action="store_true",
                        help="add arms running the standalone config through python -I and -I -S launchers")
    parser.add_argument("--compare-tree", metavar="DIR",
                        help="also run the thin arms with the multus package in DIR (DIR/multus), for before/after")
    parser.add_argument("--tmp-base", help="where configs, caches and leases go (default: $TMPDIR or /tmp)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host-netns", help=argparse.SUPPRESS)
    parser.add_argument("--pod-netns", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iterations < 1 or args.import_reps < 1:
        parser.error("--iterations and --import-reps must be at least 1")
    return benchlib.run_interruptible(lambda: inner(args) if args.inner else parent(args))


if __name__ == "__main__":
    sys.exit(main())
