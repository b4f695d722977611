#!/usr/bin/env python3
"""The span-instrumented ``multus-daemon`` of ``hack/bench_thick.py --profile``, and its report.

Run by the bench as a child process in its node namespace, it is ``multus-daemon`` as its console script
runs it, with perf_counter spans (and the request thread's CPU time) wrapped around the steps of a
request (:data:`SPAN_POINTS`) and the HTTP exchange around them (:data:`HTTP_POINTS`), one record per
connection; at exit it writes the records (and optionally a cProfile of the /cni handler) to a file,
which :func:`report_profile` prints. ``--tree DIR`` puts another ``multus`` tree first on sys.path, for
the bench's before/after comparison.

    python hack/thick_spans.py --config daemon-config.json --out spans.json [--tree DIR]
                               [--cprofile-out daemon.pstats --cprofile wall|cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchlib import med

# (label, parent label or "", module, attribute): wrapped with a perf_counter span. Labels may repeat
# (summed). Parents are for display only: a child's time is part of its parent's.
SPAN_POINTS: list[tuple[str, str, str, str]] = [
    ("request parse", "", "multus.daemon.wire", "requested_result_version"),
    ("request parse", "", "multus.daemon.wire", "decode_request"),
    ("request parse", "", "multus.daemon.wire", "extract_call"),
    ("config override", "", "multus.daemon.handlers", "override_request_config"),
    ("context build", "", "multus.daemon.wire", "CallArgs.to_cmd_args"),
    ("context build", "", "multus.daemon.handlers", "build_context"),
    ("pod lookup", "", "multus.daemon.kube_cache", "CachedKube.get_pod"),
    ("delegate resolution", "", "multus.plugin.add", "resolve_delegates"),
    ("NAD lookup", "delegate resolution", "multus.daemon.kube_cache", "CachedKube.get_network_attachment_definition"),
    ("scratch-cache write", "", "multus.plugin.scratch", "save_delegates"),
    ("ifname check", "", "multus.plugin.execute", "check_interface_free"),
    ("plugin exec", "", "multus.cni.runtime", "exec_with_result"),
    ("plugin exec", "", "multus.cni.runtime", "exec_without_result"),
    ("result-cache write", "", "multus.cni.cache", "ResultCache.save"),
    ("result-cache read", "", "multus.cni.cache", "ResultCache.load"),
    ("result-cache remove", "", "multus.cni.cache", "ResultCache.remove"),
    ("default-route fix", "", "multus.plugin.add", "fix_default_route"),
    ("network-status PATCH", "", "multus.plugin.add", "write_network_status"),
    ("events", "", "multus.plugin.events", "KubeEventSink.emit"),
    ("event POST", "events", "multus.daemon.kube_cache", "CachedKube.create_event"),
    ("scratch-cache read", "", "multus.plugin.scratch", "load_delegates"),
    ("scratch-cache remove", "", "multus.plugin.scratch", "remove_delegates"),
    ("result-cache scan", "", "multus.plugin.delete", "release_uncovered_attachments"),
    ("response", "", "multus.daemon.wire", "add_response"),
]
TOTAL = "handler total"
# The daemon's HTTP work around the handler, per connection (the shim's /cni; /readyz first only when it
# had to wait for the daemon).
HTTP_POINTS: list[tuple[str, str, str, str]] = [
    ("http: request line + headers", "", "multus.daemon.connection", "HttpConnection._read_request_head"),
    ("http: body read", "", "multus.daemon.connection", "HttpConnection._read_body"),
    ("http: routing + probes + metrics", "", "multus.daemon.handlers", "Router.__call__"),
    ("http: response write", "", "multus.daemon.connection", "HttpConnection._write"),
]
CONNECTION = "connection open (accept to close)"
HANDLER_CPU = "handler thread CPU"
CPU = "cpu|"  # prefix of a span's CPU-time twin
CONNECTION_CPU = "connection thread CPU (HTTP + handler)"


class SpanRecorder:
    """Span totals per connection (the shim's /cni), kept on the serving thread; spans outside a
    connection go to 'background'."""

    def __init__(self) -> None:
        self.local = threading.local()
        self.lock = threading.Lock()
        self.requests: list[dict[str, Any]] = []
        self.background: dict[str, list[float]] = {}

    def add(self, label: str, seconds: float) -> None:
        current = getattr(self.local, "record", None)
        if current is not None:
            current["spans"][label] = current["spans"].get(label, 0.0) + seconds
        else:
            with self.lock:
                self.background.setdefault(label, []).append(seconds)

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        perf = time.perf_counter

        cpu_label, thread_time = CPU + label, time.thread_time

        def spanned(*a: Any, **kw: Any) -> Any:
            t0, c0 = perf(), thread_time()
            try:
                return fn(*a, **kw)
            finally:
                self.add(label, perf() - t0)
                self.add(cpu_label, thread_time() - c0)

        return spanned

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.background.clear()


def install_spans(recorder: SpanRecorder, cprofile_out: str | None, cprofile_clock: str = "wall") -> Any:
    """Wrap SPAN_POINTS, HTTP_POINTS, the connection (one record each) and the /cni handler (its total,
    and optionally cProfile). Returns the profiler, if any."""
    import importlib

    import multus.daemon.handlers as handlers
    import multus.daemon.server as server
    import multus.daemon.wire as wire

    for label, _parent, module_name, attr in SPAN_POINTS + HTTP_POINTS:
        target: Any = importlib.import_module(module_name)
        *owners, name = attr.split(".")
        for owner in owners:
            target = getattr(target, owner)
        setattr(target, name, recorder.wrap(label, getattr(target, name)))

    original_extract = wire.extract_call

    def extract_call(env: Any, stdin: bytes) -> Any:
        call = original_extract(env, stdin)
        record = getattr(recorder.local, "record", None)
        if record is not None:
            record["verb"] = call.command
            record["pod"] = next((p.split("=", 1)[1] for p in call.args.split(";")
                                  if p.startswith("K8S_POD_NAME=")), "")
        return call

    wire.extract_call = extract_call
    profiler = None
    profile_lock = threading.Lock()
    if cprofile_out:
        import cProfile

        profiler = cProfile.Profile(time.thread_time) if cprofile_clock == "cpu" else cProfile.Profile()
    original_cni = handlers.Handlers.cni

    def cni(self: Any, request: Any) -> Any:
        profiling = profiler is not None and profile_lock.acquire(blocking=False)
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            if profiling:
                assert profiler is not None
                profiler.enable()
            return original_cni(self, request)
        finally:
            if profiling:
                assert profiler is not None
                profiler.disable()
                profile_lock.release()
            recorder.add(TOTAL, time.perf_counter() - t0)
            recorder.add(HANDLER_CPU, time.thread_time() - c0)

    handlers.Handlers.cni = cni  # type: ignore[method-assign]
    original_serve = server.DaemonServer._serve

    def serve(self: Any, conn: Any) -> None:
        record: dict[str, Any] = {"verb": "", "pod": "", "spans": {}}
        recorder.local.record = record
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            original_serve(self, conn)
        finally:
            record["spans"][CONNECTION] = time.perf_counter() - t0
            record["spans"][CONNECTION_CPU] = time.thread_time() - c0
            recorder.local.record = None
            if record["verb"]:
                with recorder.lock:
                    recorder.requests.append(record)

    server.DaemonServer._serve = serve  # type: ignore[method-assign]
    original_call = handlers.Router.__call__

    def route(self: Any, request: Any) -> Any:
        if request.path == "/bench/spans/reset":
            recorder.reset()
            if profiler is not None:
                with profile_lock:
                    profiler.clear()
            return wire.EMPTY_OK
        return original_call(self, request)

    handlers.Router.__call__ = route  # type: ignore[method-assign]
    return profiler


def span_daemon(config_path: str, out_path: str, cprofile_out: str | None, cprofile_clock: str) -> int:
    """``multus-daemon`` as its console script runs it, with spans; writes them to ``out_path`` at exit."""
    recorder = SpanRecorder()
    profiler = install_spans(recorder, cprofile_out, cprofile_clock)
    from multus.daemon.autoconfig import autoconfig_extension
    from multus.daemon.main import run
    from multus.daemon.service import production_daemon

    try:
        return run(["--config", config_path], extensions=[autoconfig_extension()], daemon_factory=production_daemon)
    finally:
        with recorder.lock:
            Path(out_path).write_text(json.dumps({"requests": recorder.requests, "background": recorder.background}))
        if profiler is not None and cprofile_out:
            profiler.dump_stats(cprofile_out)



def report_profile(data: dict[str, Any], iterations: int) -> None:
    print(f"\nwhere a request's time goes inside the daemon running {data['tree']}: {iterations} sequential ADD+DEL "
          "per\nnetwork count, ms; medians of perf_counter spans (wall) and of the request thread's CPU time in them "
          "(cpu)")
    parents = {label: parent for label, parent, _, _ in SPAN_POINTS}
    order = list(dict.fromkeys(label for label, _, _, _ in SPAN_POINTS))
    groups: dict[tuple[str, str], list[dict[str, float]]] = {}
    for record in data["requests"]:
        kind = record["pod"].split("-", 1)[0]
        if kind in ("t1", "t2") and record["verb"] in ("ADD", "DEL"):
            groups.setdefault((kind, record["verb"]), []).append(record["spans"])
    keys = [(k, v) for v in ("ADD", "DEL") for k in ("t1", "t2") if (k, v) in groups]
    names = {"t1": "1 net", "t2": "2 nets"}
    header = f"  {'step':<36}" + "".join(f"{names[k] + ' ' + v:>15}{'cpu':>7}" for k, v in keys)
    print(header)
    print("  " + "-" * (len(header) - 2))
    Derived = Callable[[dict[str, float]], float]

    def row(label: str, wall: Derived, cpu: Derived | None = None, indent: str = "") -> None:
        cells = ""
        for key in keys:
            cells += f"{med([wall(spans) for spans in groups[key]]) * 1e3:>15.3f}"
            cells += f"{med([cpu(spans) for spans in groups[key]]) * 1e3:>7.2f}" if cpu else f"{'':>7}"
        print(f"  {indent + label:<36}{cells}")

    def span(label: str) -> Derived:
        return lambda spans: spans.get(label, 0.0)

    def cpu_of(label: str) -> Derived:
        return lambda spans: spans.get(CPU + label, 0.0)

    for label in order:
        if any(span(label)(spans) for key in keys for spans in groups[key]):
            row(label, span(label), cpu_of(label), "  " if parents[label] else "")
    top = [label for label in order if not parents[label]]
    row("(unattributed)", lambda spans: spans.get(TOTAL, 0.0) - sum(spans.get(label, 0.0) for label in top),
        lambda spans: spans.get(HANDLER_CPU, 0.0) - sum(spans.get(CPU + label, 0.0) for label in top))
    row(TOTAL, span(TOTAL), span(HANDLER_CPU))
    router = HTTP_POINTS[2][0]
    print("  daemon HTTP around the handler (the shim's connection: /cni at once, no readiness probe):")
    for label, _, _, _ in HTTP_POINTS:
        if label == router:  # its span holds the handler's
            row(label, lambda spans: spans.get(router, 0.0) - spans.get(TOTAL, 0.0),
                lambda spans: spans.get(CPU + router, 0.0) - spans.get(HANDLER_CPU, 0.0), "  ")
        else:
            row(label, span(label), cpu_of(label), "  ")
    row(CONNECTION, span(CONNECTION), span(CONNECTION_CPU), "  ")
    row("waiting on the shim", lambda spans: spans.get(CONNECTION, 0.0) - spans.get(router, 0.0) - sum(
        spans.get(label, 0.0) for label, _, _, _ in HTTP_POINTS if label != router), None, "  ")
    if "daemon_cpu_per_pair" in data:
        print(f"  daemon process CPU, all threads (/proc/<pid>/stat), per ADD+DEL, both network counts: "
              f"{data['daemon_cpu_per_pair'] * 1e3:.2f} ms (span and clock overhead included)")
    client = {(k, v): data["client"].get(f"{k}|{v}", []) for k, v in keys}
    print(f"  {'shim process wall (client)':<36}" + "".join(f"{med(client[key]):>15.3f}{'':>7}" for key in keys))
    print(f"  {'outside the handler':<36}" + "".join(
        f"{med(client[key]) - med([s.get(TOTAL, 0.0) for s in groups[key]]) * 1e3:>15.3f}{'':>7}" for key in keys))
    print("  (waiting on the shim: the connection's open time not spent in the daemon's HTTP code or the handler, "
          "i.e.\n  the shim's work between connecting and sending; outside the handler: median client wall minus "
          "median handler\n  total: the shim's interpreter start and exit, connect and HTTP exchange)")
    if data.get("background"):
        print("  off the request path (background threads), median ms / count:")
        for label, values in data["background"].items():
            if not label.startswith(CPU):
                print(f"    {label:<26}{med(values) * 1e3:>9.3f} / {len(values)}")
    for key in ("cprofile_tottime", "cprofile_cumulative"):
        if key in data:
            print(f"\ncProfile of the /cni handler ({data.get('cprofile_clock', 'wall')} time, by "
                  f"{key.split('_')[1]}):")
            print("\n".join(line for line in data[key].splitlines() if line.strip())[:6000])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="the daemon config")
    parser.add_argument("--out", required=True, help="where the span records go at exit (JSON)")
    parser.add_argument("--tree", help="run the multus package of this tree (before/after comparisons)")
    parser.add_argument("--cprofile-out", help="also cProfile the /cni handler into this file")
    parser.add_argument("--cprofile", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args(argv)
    sys.path.insert(0, args.tree or str(Path(__file__).resolve().parents[1]))  # before anything imports multus
    # No signal juggling: the daemon handles SIGTERM itself.
    return span_daemon(args.config, args.out, args.cprofile_out, args.cprofile)


if __name__ == "__main__":
    sys.exit(main())
