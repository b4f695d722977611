#!/usr/bin/env python3
"""Benchmark: what does CNIRuntime add on top of exec'ing a plugin?

Compares ADD+DEL of the bridge plugin (with host-local IPAM) for one pod namespace, done
  A) through ``CNIRuntime.add_network_list`` / ``del_network_list`` (real SubprocessExecutor), and
  B) by running the bridge binary directly with ``subprocess.run``, with the same stdin and environment
     (B's DEL gets the ADD result as prevResult, as the runtime's cached one).
A and B alternate (ABBA...), so drift of the machine (frequency, page cache, other load) hits both
alike; the overhead per plugin invocation is the median of the paired differences A_i - B_i over two
invocations (ADD and DEL). A second part runs the runtime with a no-op executor (canned plugin output)
to show the runtime's own in-process cost and where it goes.

Safety: everything happens in namespaces the script creates and removes. The parent creates a "host"
and a "pod" namespace and re-runs itself inside the host one (``nsenter --net``), so the bridge, the
host veths and the leases never touch the real host network (leases and cache go to a tmp dir). The
namespaces are removed on success, failure and Ctrl-C/SIGTERM. Needs root.

    .venv/bin/python hack/bench_runtime.py --iterations 200
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import benchlib
from benchlib import PARTS, percentile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from multus.cni.invoke import InvokeArgs, PluginOutput, SubprocessExecutor, find_in_path
from multus.cni.netconf import NetworkConfigList
from multus.cni.runtime import CNIRuntime, RuntimeConf, plugin_stdin

WARMUP = 3  # untimed rounds first: the first ADD creates the bridge and warms the page cache
NETNS = benchlib.BenchNetns("bench", "host")  # bench-host-<tag>, bench-pod-<tag>


# ---- printing ---------------------------------------------------------------------------------------

def row(label: str, values_ms: Sequence[float]) -> str:
    return f"  {label:<40}{statistics.median(values_ms):>9.2f}{percentile(values_ms, 90):>9.2f}"


# ---- the two arms -----------------------------------------------------------------------------------

class Bench:
    """The network, the attachment and both ways of running it, inside the current (host) namespace."""

    def __init__(self, plugins_dir: str, pod_netns: str, workdir: Path) -> None:
        self.net = NetworkConfigList.from_object(
            benchlib.bridge_conflist("benchnet", "cni0", "10.77.0.0/24", workdir / "ipam"))
        self.rt = RuntimeConf(container_id="bench", netns=pod_netns, if_name="eth0")
        self.runtime = CNIRuntime([plugins_dir], cache_dir=str(workdir / "cache"), executor=SubprocessExecutor())
        self.plugin_path = find_in_path("bridge", [plugins_dir])
        self.plugins_dir = plugins_dir
        self.last_result: bytes = b""

    def via_runtime(self) -> tuple[float, float]:
        """ADD and DEL through CNIRuntime; returns their durations in ms."""
        t0 = time.perf_counter()
        self.runtime.add_network_list(self.net, self.rt)
        t1 = time.perf_counter()
        self.runtime.del_network_list(self.net, self.rt)
        t2 = time.perf_counter()
        return (t1 - t0) * 1e3, (t2 - t1) * 1e3

    def _exec(self, command: str, prev: dict[str, Any] | None, timeout: float | None) -> bytes:
        stdin = plugin_stdin(self.net, self.net.plugins[0], self.rt, prev)
        env = InvokeArgs(command, self.rt.container_id, self.rt.netns, self.rt.if_name, "",
                         self.plugins_dir).environ()
        done = subprocess.run([self.plugin_path], input=stdin, env=env, capture_output=True, check=False,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"bridge {command} failed: {done.stdout!r} {done.stderr!r}")
        return done.stdout

    def direct(self, timeout: float | None = None) -> tuple[float, float]:
        """ADD and DEL by exec'ing the bridge binary directly; returns their durations in ms."""
        t0 = time.perf_counter()
        out = self._exec("ADD", None, timeout)
        t1 = time.perf_counter()
        self._exec("DEL", json.loads(out), timeout)
        t2 = time.perf_counter()
        self.last_result = out
        return (t1 - t0) * 1e3, (t2 - t1) * 1e3

    def arms(self) -> dict[str, Callable[[], tuple[float, float]]]:
        """The measured ways of doing ADD+DEL, by name.

        "direct+timeout" passes subprocess.run the same timeout the runtime's executor passes: with a
        timeout, Popen.wait polls (sleeps of 0.5 ms, 1 ms, 2 ms ...) instead of blocking in waitpid, so
        this arm separates that cost of the exec from the runtime's own work.
        """
        return {"runtime": self.via_runtime, "direct": self.direct,
                "direct+timeout": lambda: self.direct(self.runtime.timeout)}


Samples = dict[str, list[tuple[float, float]]]


def run_ab(bench: Bench, iterations: int) -> Samples:
    """Interleave the arms, rotating which goes first, so none always runs on a 'warmer' machine."""
    arms = bench.arms()
    names = list(arms)
    for _ in range(WARMUP):
        for arm in arms.values():
            arm()
    samples: Samples = {name: [] for name in names}
    for i in range(iterations):
        for name in benchlib.rotated(names, i):
            samples[name].append(arms[name]())
    return samples


def paired(samples: Samples, a: str, b: str, part: Callable[[benchlib.Pair], float]) -> float:
    """Median of the per-iteration differences a - b of one part (ADD, DEL or both)."""
    return benchlib.paired_median([part(x) for x in samples[a]], [part(y) for y in samples[b]])


def report_ab(samples: Samples, iterations: int) -> None:
    print(f"\nbridge + host-local, one pod namespace: {iterations} interleaved iterations per arm (ms)")
    print(f"  {'':<40}{'median':>9}{'p90':>9}")
    labels = {"runtime": "CNIRuntime", "direct": "direct subprocess.run",
              "direct+timeout": "direct, with timeout="}
    for arm, label in labels.items():
        print(f"  {label}")
        for name, part in PARTS.items():
            print(row(f"  {name}", [part(s) for s in samples[arm]]))
    print(f"  paired differences, median ms{'':<11}" + "".join(f"{name:>9}" for name in PARTS))
    for a, b in (("runtime", "direct"), ("runtime", "direct+timeout"), ("direct+timeout", "direct")):
        medians = [paired(samples, a, b, part) for part in PARTS.values()]
        print(f"    {a + ' - ' + b:<38}" + "".join(f"{m:>9.2f}" for m in medians))
    overhead = paired(samples, "runtime", "direct", PARTS["ADD+DEL"]) / 2
    print(f"  => runtime overhead per plugin invocation: {overhead:.3f} ms "
          "(median paired ADD+DEL difference / 2 invocations)")


# ---- the runtime alone ------------------------------------------------------------------------------

class NoopExecutor:
    """Answers like the bridge plugin without running anything, so only the runtime's own work is timed."""

    def __init__(self, add_output: bytes, plugin_path: str) -> None:
        self.add_output = add_output
        self.plugin_path = plugin_path

    def find_in_path(self, plugin: str, paths: Sequence[str]) -> str:
        return self.plugin_path

    def exec_plugin(self, plugin_path: str, stdin: bytes, args: InvokeArgs, timeout: float | None) -> PluginOutput:
        return PluginOutput(self.add_output if args.command == "ADD" else b"", b"")


def time_us(fn: Callable[[], object], reps: int) -> float:
    """Median wall time of one call of ``fn`` in µs."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e6)
    return statistics.median(times)


def report_in_process(bench: Bench, workdir: Path, reps: int) -> None:
    from multus.cni import types as cnitypes
    from multus.cni.cache import CachedAttachment, ResultCache

    runtime = CNIRuntime(bench.runtime.plugin_dirs, cache_dir=str(workdir / "noop-cache"),
                         executor=NoopExecutor(bench.last_result, bench.plugin_path))
    net, rt = bench.net, bench.rt
    body = json.loads(bench.last_result)
    result = cnitypes.parse_result(body, "1.0.0")
    cache = ResultCache(workdir / "parts-cache")
    entry = CachedAttachment("bench", "eth0", net.name, net.to_bytes(), rt.netns, result=result.to_dict())
    cache.save(entry)

    def add_del() -> None:
        runtime.add_network_list(net, rt)
        runtime.del_network_list(net, rt)

    total = time_us(add_del, reps)
    parts = [
        ("find_in_path (stat + access)", lambda: find_in_path("bridge", list(bench.runtime.plugin_dirs))),
        ("plugin_stdin (json.dumps)", lambda: plugin_stdin(net, net.plugins[0], rt, body)),
        ("validate ids/ifname/network name", lambda: CNIRuntime._validate_attachment(net.name, rt)),
        ("json.loads(plugin stdout)", lambda: json.loads(bench.last_result)),
        ("parse_result + convert_result", lambda: cnitypes.convert_result(cnitypes.parse_result(body, "1.0.0"),
                                                                            "1.0.0")),
        ("result.to_dict()", result.to_dict),
        ("cache save (write, fsync, rename)", lambda: cache.save(entry)),
        ("cache load + parse (DEL's prevResult)", lambda: runtime.get_cached_result(net, rt)),
    ]
    print(f"\nCNIRuntime in-process cost, no-op executor ({reps} reps, median µs, filesystem of the cache: "
          f"{filesystem_of(workdir)})")
    print(f"  {'ADD+DEL with no-op executor':<40}{total:>9.1f}")
    print("  where it goes (one call each; ADD does stdin+loads+parse+to_dict+save, DEL stdin+load+remove):")
    for label, fn in parts:
        print(f"    {label:<38}{time_us(fn, reps):>9.1f}")


def filesystem_of(path: Path) -> str:
    """The type of the filesystem holding ``path`` (fsync's cost depends on it)."""
    best, fstype = "", "?"
    real = os.path.realpath(path)
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            _, mountpoint, kind, *_ = line.split()
            if (real == mountpoint or real.startswith(mountpoint.rstrip("/") + "/")) and len(mountpoint) > len(best):
                best, fstype = mountpoint, kind
    return fstype


# ---- process structure: parent (namespaces) and inner (measurements) ----------------------------------

def inner(args: argparse.Namespace) -> int:
    """The measurements; runs inside the bench's host namespace, never the machine's own."""
    if not NETNS.inner_allowed(args.host_netns, ()):  # bench_runtime checks its host namespace only
        return NETNS.refuse()
    workdir = Path(tempfile.mkdtemp(prefix="bench-runtime-", dir=args.tmp_base))
    try:
        bench = Bench(args.plugins_dir, args.pod_netns, workdir)
        report_ab(run_ab(bench, args.iterations), args.iterations)
        report_in_process(bench, workdir, args.noop_reps)
        leftover = [p.name for p in (workdir / "ipam" / "benchnet").iterdir() if p.name[0].isdigit()]
        if leftover:
            print(f"warning: leases left after the last DEL: {leftover}", file=sys.stderr)
        return 0
    finally:
        benchlib.ignore_interrupts()
        shutil.rmtree(workdir, ignore_errors=True)


def parent(args: argparse.Namespace) -> int:
    """Create the namespaces, run ``inner`` inside the host one, and always remove them."""
    if not benchlib.require_root("bench_runtime needs root (it creates network namespaces)"):
        return 2
    tag = secrets.token_hex(3)
    return benchlib.run_inner(__file__, NETNS, [NETNS.name("host", tag), NETNS.name("pod", tag)],
                              forwarded_options(args))


def forwarded_options(args: argparse.Namespace) -> list[str]:
    """The user's options, passed on to the inner run."""
    return benchlib.forwarded_options(args, always=("iterations", "noop_reps", "plugins_dir"), if_set=("tmp_base",))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=200, help="ADD+DEL rounds per arm (default 200)")
    parser.add_argument("--noop-reps", type=int, default=2000, help="repetitions of the in-process timings")
    parser.add_argument("--plugins-dir", default=os.environ.get("MULTUS_TEST_CNI_PATH", "/usr/lib/cni"))
    parser.add_argument("--tmp-base", help="where the cache and leases go (default: $TMPDIR or /tmp); the "
                        "cache's fsync cost depends on this filesystem, e.g. compare with /dev/shm")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--host-netns", help=argparse.SUPPRESS)
    parser.add_argument("--pod-netns", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.iterations < 1:
        parser.error("--iterations must be at least 1")
    return benchlib.run_interruptible(lambda: inner(args) if args.inner else parent(args))


if __name__ == "__main__":
    sys.exit(main())
