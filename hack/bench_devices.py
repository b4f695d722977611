#!/usr/bin/env python3
"""Benchmark: the deviceID path of a Multus ADD against a kubelet test double.

Every ADD goes in-process through the ``multus`` entry point (:func:`multus.plugin.entry.plugin_funcs`,
the same verb table the binary uses), with a pod whose annotation names one NAD carrying
``k8s.v1.cni.cncf.io/resourceName``. Delegates (the static master and the SR-IOV-like NAD) are answered
in-process by a scripted executor, so no plugin process is exec'd and the Multus path, the device path
included, dominates. The Kubernetes API server is a test double (:mod:`multus.testing.kube_api`, real
HTTP); the kubelet is a test double too (:class:`podresources.testing.FakeKubelet`, real gRPC on a unix
socket). Unless ``--client shared``, each ADD gets a fresh PodResources client, as the thin plugin has (a
process per call); ``shared`` is the daemon's case.

Three measurements:

1. **ADD latency on a sparse and a dense node.** Two FakeKubelets (no rate limit here, so only the device
   path's own cost shows): one with 10 other pods, one with 500 other pods, 4 devices each, both also
   holding the bench pod. The two nodes are alternated ADD by ADD in one run (the order flips every
   iteration; each ADD has a new container ID and is followed by an untimed DEL) so drift of the machine
   hits both alike. Medians, p90, the difference of the medians in % with a 95 % bootstrap interval, the
   median of the pairwise differences, and the device lookup's own time (the DeviceSource call, client
   creation included).
2. **kubelet RPCs per ADD**, from the FakeKubelets' call counters. For reference, the time of one ``List``
   of each node: what Go Multus calls on every ADD.
3. **Failures under the kubelet's rate limit**: 1,000 ADDs (50 pods at concurrency 16, repeated 20 times)
   against a FakeKubelet enforcing 100 requests/s, burst 10, once with a client per ADD (thin) and once
   with one shared client (daemon). ADD/s is the throughput of the ADD phases (the DELs between rounds
   are not counted).

Targets: exactly one Get per ADD; 500 pods within 1 % of 10 pods; 0 failures of 1,000. Go Multus: a List
per ADD, +3-5 % from 10 to 500 pods, 8 failures of 1,000 in thick mode. The latency verdict is PASS within
1 %, NOISE when the difference is larger but its 95 % bootstrap interval includes 0 (the machine could not
resolve it: run more iterations on a quieter machine), FAIL otherwise; the exit code is 1 only on a FAIL.

Safety: needs root for one network namespace (an ADD checks interface names inside the pod's namespace);
the namespace, the doubles and the temporary directory are removed on success, failure and Ctrl-C/SIGTERM.

    .venv/bin/python hack/bench_devices.py                 # defaults: 500 ADDs per latency arm
    .venv/bin/python hack/bench_devices.py --iterations 1000 --client shared
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import logging
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchlib
from benchlib import percentile

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from multus.cni.invoke import InvokeArgs, PluginOutput  # noqa: E402
from multus.cni.skel import plugin_main  # noqa: E402
from multus.cni.version import ALL_VERSIONS, CURRENT_VERSION, PluginInfo  # noqa: E402
from multus.devices.source import LazyPodResources  # noqa: E402
from multus.plugin.entry import ABOUT, plugin_funcs  # noqa: E402
from multus.testing.kube_api import KubeApiServer  # noqa: E402
from podresources import PodResourcesClient  # noqa: E402
from podresources.testing import FakeKubelet  # noqa: E402

NAMESPACE = "bench"
RESOURCE = "intel.com/sriov_bench"
DEVICES_PER_POD = 4
WARMUP = 10
GO_REFERENCE = {"list_growth": "+3-5 %", "failures": "8 of 1,000 (thick mode)", "rpcs": "v1.List 1"}


# ---- statistics ------------------------------------------------------------------------------------------------


def pct(new: float, old: float) -> float:
    return (new - old) / old * 100.0


def paired_ci(base: Sequence[float], other: Sequence[float], resamples: int = 2000) -> tuple[float, float]:
    """95 % bootstrap interval of the difference of medians in %, resampling the (adjacent) pairs together."""
    import random

    rng = random.Random(20240601)
    n = len(base)
    diffs = []
    for _ in range(resamples):
        picks = [rng.randrange(n) for _ in range(n)]
        diffs.append(pct(statistics.median(other[i] for i in picks), statistics.median(base[i] for i in picks)))
    diffs.sort()
    return diffs[int(resamples * 0.025)], diffs[int(resamples * 0.975) - 1]


# ---- delegates answered in-process -------------------------------------------------------------------------------


class FastDelegates:
    """A PluginExecutor answering every delegate in-process: ADD returns one interface, DEL nothing."""

    def find_in_path(self, plugin: str, paths: Sequence[str]) -> str:
        return f"/in-process/{plugin}"

    def exec_plugin(self, plugin_path: str, stdin: bytes, args: InvokeArgs, timeout: float | None) -> PluginOutput:
        if args.command != "ADD":
            return PluginOutput(b"", b"")
        body = {"cniVersion": "1.0.0", "interfaces": [{"name": args.if_name, "sandbox": args.netns}],
                "ips": [{"address": "10.56.0.2/24", "interface": 0}], "dns": {}}
        return PluginOutput(json.dumps(body).encode(), b"")


# ---- the node ----------------------------------------------------------------------------------------------------


def devices(prefix: int, index: int) -> list[str]:
    """DEVICES_PER_POD distinct PCI addresses for pod ``index`` of a kubelet (``prefix`` keeps kubelets apart)."""
    return [f"{prefix:04x}:{index // 256:02x}:{index % 256:02x}.{f}" for f in range(DEVICES_PER_POD)]


class TimedSource:
    """Wraps a device source and records how long each lookup took (the device path's own share)."""

    def __init__(self, inner: LazyPodResources, into: list[float]) -> None:
        self.inner = inner
        self.into = into

    def pod_devices(self, namespace: str, name: str, uid: str | None = None) -> dict[str, list[str]]:
        start = time.perf_counter()
        try:
            return self.inner.pod_devices(namespace, name, uid)
        finally:
            self.into.append((time.perf_counter() - start) * 1e3)


@dataclass
class Arm:
    label: str
    kubelet: FakeKubelet
    pod_prefix: str
    latencies: list[float] = field(default_factory=list)
    lookups: list[float] = field(default_factory=list)
    rpcs: dict[str, float] = field(default_factory=dict)


class DeviceBench:
    def __init__(self, work: Path, netns: str, api: KubeApiServer, client_mode: str) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.netns = netns
        self.api = api
        self.client_mode = client_mode
        self.executor = FastDelegates()
        self.kubeconfig = api.write_kubeconfig(work / "kubeconfig")
        api.add_nad(NAMESPACE, "sriov-net", {"cniVersion": "1.0.0", "type": "sriov",
                                              "capabilities": {"deviceID": True, "CNIDeviceInfoFile": True}},
                    {"k8s.v1.cni.cncf.io/resourceName": RESOURCE})
        self._shared: dict[str, LazyPodResources] = {}
        self._lock = threading.Lock()
        self.retries = 0

    def config(self, kubelet: FakeKubelet) -> dict[str, Any]:
        return {"cniVersion": "1.0.0", "name": "multus", "type": "multus", "kubeconfig": str(self.kubeconfig),
                "cniDir": str(self.work / "cni"), "confDir": str(self.work / "net.d"),
                "kubeletRootDir": kubelet.root_dir, "deviceInfoDir": str(self.work / "devinfo"),
                "deviceInfoFromSysfs": False,  # no PCI device of the bench exists in sysfs
                "delegates": [{"cniVersion": "1.0.0", "name": "master", "type": "master"}]}

    def add_pod(self, name: str) -> None:
        self.api.add_pod(NAMESPACE, name, uid=f"uid-{name}",
                         annotations={"k8s.v1.cni.cncf.io/networks": "sriov-net"},
                         spec={"containers": [{"name": "app", "image": "pause",
                                               "resources": {"limits": {RESOURCE: str(DEVICES_PER_POD)}}}]})

    def source(self, kubelet: FakeKubelet) -> tuple[LazyPodResources, bool]:
        """The device source of one call, and whether the call owns (closes) it."""
        if self.client_mode == "per-call":
            return LazyPodResources(kubelet.root_dir), True
        with self._lock:
            if kubelet.root_dir not in self._shared:
                self._shared[kubelet.root_dir] = LazyPodResources(kubelet.root_dir)
            return self._shared[kubelet.root_dir], False

    def call(self, command: str, kubelet: FakeKubelet, pod: str, container_id: str,
             lookups: list[float] | None = None) -> tuple[int, str]:
        """One CNI call; (exit code, stdout). ``lookups`` collects the device lookup's duration."""
        environ = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_IFNAME": "eth0",
                   "CNI_NETNS": self.netns, "CNI_PATH": str(self.work),
                   "CNI_ARGS": f"K8S_POD_NAMESPACE={NAMESPACE};K8S_POD_NAME={pod};K8S_POD_UID=uid-{pod}"}
        source, owned = self.source(kubelet)
        device_source = TimedSource(source, lookups) if lookups is not None else source
        out = io.StringIO()
        try:
            code = plugin_main(plugin_funcs(environ, executor=self.executor, device_source=device_source),
                               PluginInfo(CURRENT_VERSION, ALL_VERSIONS), ABOUT, environ=environ,
                               stdin=io.BytesIO(json.dumps(self.config(kubelet)).encode()), stdout=out,
                               stderr=io.StringIO())
        finally:
            if owned:
                self._count_retries(source)
                source.close()
        return code, out.getvalue()

    def _count_retries(self, source: LazyPodResources) -> None:
        client = source._client
        if client is not None:
            with self._lock:
                self.retries += client.retry_count

    def close(self) -> None:
        for source in self._shared.values():
            self._count_retries(source)
            source.close()
        self._shared.clear()

    def timed_add(self, arm: Arm, pod: str, container_id: str) -> None:
        start = time.perf_counter()
        code, out = self.call("ADD", arm.kubelet, pod, container_id, arm.lookups)
        elapsed = (time.perf_counter() - start) * 1e3
        if code != 0:
            raise RuntimeError(f"{arm.label}: ADD of {pod} failed: {out}")
        arm.latencies.append(elapsed)
        code, out = self.call("DEL", arm.kubelet, pod, container_id)
        if code != 0:
            raise RuntimeError(f"{arm.label}: DEL of {pod} failed: {out}")


def fill_kubelet(kubelet: FakeKubelet, prefix: int, others: int, bench_pods: Sequence[str]) -> None:
    for index in range(others):
        namespace = "other" if index % 2 else NAMESPACE
        kubelet.add_pod(namespace, f"other-{index}", {"app": {RESOURCE: devices(prefix, index)}})
    for index, pod in enumerate(bench_pods):
        kubelet.add_pod(NAMESPACE, pod, {"app": {RESOURCE: devices(prefix + 1, index)}})


# ---- 1 and 2: latency and RPCs -----------------------------------------------------------------------------------


def latency(bench: DeviceBench, iterations: int, sizes: tuple[int, int]) -> dict[str, Any]:
    """One bench pod, present on both nodes, ADDed (and DELed) with a new container ID each time: the
    nodes then hold exactly ``size`` other pods plus it."""
    pod = "lat-pod"
    bench.add_pod(pod)
    arms = []
    for n, size in enumerate(sizes):
        kubelet = FakeKubelet(rate=None).start()
        fill_kubelet(kubelet, 0x10 * (n + 1), size, [pod])
        arms.append(Arm(f"{size} other pods", kubelet, f"n{size}"))
    try:
        for i in range(iterations + WARMUP):
            if i == WARMUP:
                for arm in arms:
                    arm.latencies.clear()
                    arm.lookups.clear()
                    arm.kubelet.reset_counts()
                gc.collect()
            for arm in (arms if i % 2 == 0 else arms[::-1]):
                bench.timed_add(arm, pod, f"{arm.pod_prefix}-{i}")
        lists = {}
        for arm in arms:
            calls = arm.kubelet.calls()
            arm_rpcs = {method: count / len(arm.latencies) for method, count in sorted(calls.items())}
            with PodResourcesClient(kubelet_root_dir=arm.kubelet.root_dir) as client:
                client.list()  # connect first
                times = []
                for _ in range(30):
                    start = time.perf_counter()
                    client.list()
                    times.append((time.perf_counter() - start) * 1e3)
            lists[arm.label] = statistics.median(times)
            arm.rpcs = arm_rpcs
        return {"arms": arms, "lists": lists}
    finally:
        for arm in arms:
            arm.kubelet.stop()


# ---- 3: the rate limit --------------------------------------------------------------------------------------------


def rate_limited(bench: DeviceBench, pods: int, concurrency: int, rounds: int) -> dict[str, Any]:
    names = [f"rl-{bench.client_mode}-{i}" for i in range(pods)]
    for name in names:
        bench.add_pod(name)
    kubelet = FakeKubelet(rate=100.0, burst=10).start()
    failures: list[str] = []
    bench.retries = 0
    try:
        fill_kubelet(kubelet, 0x40, 0, names)
        wall = 0.0
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            for r in range(rounds):
                def add(name: str, r: int = r) -> tuple[int, str]:
                    return bench.call("ADD", kubelet, name, f"{name}-r{r}")

                start = time.perf_counter()
                outcomes = list(pool.map(add, names))
                wall += time.perf_counter() - start
                for name, (code, out) in zip(names, outcomes, strict=True):
                    if code != 0:
                        failures.append(f"{name} round {r}: {out.strip()[:300]}")
                for name in names:  # untimed cleanup; DEL never asks the kubelet
                    bench.call("DEL", kubelet, name, f"{name}-r{r}")
        bench.close()
        calls = kubelet.calls()
        return {"adds": pods * rounds, "failures": failures, "calls": calls, "rejected": kubelet.rejected,
                "retries": bench.retries, "wall": wall}
    finally:
        kubelet.stop()


# ---- output --------------------------------------------------------------------------------------------------------


def report(args: argparse.Namespace, lat: dict[str, Any], limited: dict[str, dict[str, Any]]) -> bool:
    small, dense = lat["arms"]
    print(f"\nADD latency with the device path ({args.iterations} ADDs per node, alternated ADD by ADD; "
          f"client: {args.client}; delegates in-process)")
    print(f"  {'node':<28}{'median ms':>11}{'p90 ms':>10}{'min ms':>10}{'lookup ms':>11}   kubelet RPCs per ADD")
    for arm in (small, dense):
        rpcs = ", ".join(f"{m} {v:.2f}" for m, v in arm.rpcs.items()) or "none"
        print(f"  {arm.label:<28}{statistics.median(arm.latencies):>11.3f}{percentile(arm.latencies, 90):>10.3f}"
              f"{min(arm.latencies):>10.3f}{statistics.median(arm.lookups):>11.3f}   {rpcs}")
    d_med = pct(statistics.median(dense.latencies), statistics.median(small.latencies))
    d_p90 = pct(percentile(dense.latencies, 90), percentile(small.latencies, 90))
    low, high = paired_ci(small.latencies, dense.latencies)
    d_look = pct(statistics.median(dense.lookups), statistics.median(small.lookups))
    print(f"  {'difference, dense vs sparse':<28}{d_med:>+10.2f}%{d_p90:>+9.2f}%{'':>10}{d_look:>+10.2f}%")
    paired = benchlib.paired_median(dense.latencies, small.latencies)
    paired_pct = paired / statistics.median(small.latencies) * 100
    print(f"  (difference of the medians: 95 % bootstrap interval {low:+.2f} % .. {high:+.2f} %; median of the "
          f"pairwise differences: {paired * 1e3:+.0f} us = {paired_pct:+.2f} %;")
    print("   lookup ms: the device source's share of an ADD, client creation included)")
    l_small, l_dense = lat["lists"][small.label], lat["lists"][dense.label]
    print(f"  for reference, one List of the whole node (Go's call per ADD): {l_small:.3f} ms with {small.label}, "
          f"{l_dense:.3f} ms with {dense.label} ({pct(l_dense, l_small):+.0f} %)")

    if limited:
        print_rate_limited(args, limited)

    one_get = all(arm.rpcs == {"v1.Get": 1.0} for arm in (small, dense))
    within = abs(d_med) <= 1.0
    # Outside 1 % but with an interval that includes 0, this machine could not resolve the difference:
    # say so rather than claim a slowdown (or a speed-up) that the data does not show.
    verdict = "PASS" if within else ("NOISE" if low <= 0.0 <= high else "FAIL")
    no_failures = all(not res["failures"] for res in limited.values())
    print("\nTargets                                   this run                          Go Multus")
    print(f"  exactly one Get per ADD              {'PASS' if one_get else 'FAIL':<6}"
          f"{', '.join(f'{m} {v:.2f}' for m, v in dense.rpcs.items()):<28}{GO_REFERENCE['rpcs']} per ADD")
    print(f"  dense node within 1 % of sparse      {verdict:<6}"
          f"{f'{d_med:+.2f} % ({low:+.1f} .. {high:+.1f})':<28}{GO_REFERENCE['list_growth']}")
    print(f"    (pairwise: {paired_pct:+.2f} %; device lookup alone: {d_look:+.2f} %)")
    if limited:
        total = sum(len(res["failures"]) for res in limited.values())
        adds = sum(res["adds"] for res in limited.values())
        print(f"  0 failures of 1,000 rate-limited     {'PASS' if no_failures else 'FAIL':<6}"
              f"{f'{total} of {adds:,} ({len(limited)} clients)':<28}{GO_REFERENCE['failures']}")
    return one_get and verdict != "FAIL" and no_failures


def print_rate_limited(args: argparse.Namespace, limited: dict[str, dict[str, Any]]) -> None:
    print(f"\nFailures under the kubelet's rate limit (100 requests/s, burst 10): {args.rate_pods} pods at "
          f"concurrency {args.concurrency}, {args.rate_rounds} rounds")
    print(f"  {'client':<22}{'ADDs':>6}{'failures':>10}{'Gets sent':>11}{'rejected':>10}{'admitted/ADD':>14}"
          f"{'retries':>9}{'ADD/s':>8}")
    for mode, res in limited.items():
        gets = res["calls"].get("v1.Get", 0)
        admitted = (sum(res["calls"].values()) - res["rejected"]) / res["adds"]
        label = "per ADD (thin)" if mode == "per-call" else "shared (daemon)"
        print(f"  {label:<22}{res['adds']:>6}{len(res['failures']):>10}{gets:>11}{res['rejected']:>10}"
              f"{admitted:>14.2f}{res['retries']:>9}{res['adds'] / res['wall']:>8.0f}")
        for failure in res["failures"][:5]:
            print(f"    {failure}")


# ---- main -----------------------------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=500, help="timed ADDs per latency arm (default 500)")
    parser.add_argument("--sizes", type=int, nargs=2, default=(10, 500), metavar=("SMALL", "DENSE"),
                        help="other pods on the two nodes (default 10 500)")
    parser.add_argument("--client", choices=("per-call", "shared"), default="per-call",
                        help="PodResources client for the latency arms: one per ADD (thin, default) or shared")
    parser.add_argument("--rate-pods", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate-rounds", type=int, default=20)
    parser.add_argument("--rate-modes", nargs="*", choices=("per-call", "shared"), default=["per-call", "shared"],
                        help="clients for the rate-limit arm (default: both; none given: skip that arm)")
    args = parser.parse_args(argv)
    if not benchlib.require_root("bench_devices: needs root (one network namespace for the pod)"):
        return 2
    logging.disable(logging.WARNING)  # the bench prints its own report; plugin warnings would interleave

    from multus import netns as nsmod

    signal.signal(signal.SIGTERM, benchlib.raise_interrupt)
    work = Path(tempfile.mkdtemp(prefix="bench-devices-"))
    netns = ""
    try:
        netns = nsmod.create_netns(f"benchdev-{secrets.token_hex(4)}")
        with KubeApiServer() as api:
            bench = DeviceBench(work, netns, api, args.client)
            try:
                print(f"latency: {args.iterations} + {WARMUP} warm-up ADDs on each of two nodes ...", flush=True)
                lat = latency(bench, args.iterations, tuple(args.sizes))
            finally:
                bench.close()
            limited = {}
            for mode in args.rate_modes:
                print(f"rate limit: {args.rate_pods * args.rate_rounds} ADDs, client {mode} ...", flush=True)
                rl_bench = DeviceBench(work / f"rl-{mode}", netns, api, mode)
                try:
                    limited[mode] = rate_limited(rl_bench, args.rate_pods, args.concurrency, args.rate_rounds)
                finally:
                    rl_bench.close()
        ok = report(args, lat, limited)
        return 0 if ok else 1
    finally:
        if netns:
            nsmod.remove_netns(netns)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
