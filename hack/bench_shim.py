#!/usr/bin/env python3
"""Benchmark: wall time of one multus-shim process, per way of launching it (medians).

The shim is a fresh process per CNI call on every pod's start path, so what counts is exec to exit.
Each arm runs ``--iterations`` times, interleaved (the order rotates each round) so machine drift hits
them alike; the environment is what a runtime gives a plugin (PATH and CNI_*), no PYTHON* variables.

Launches:
  launcher            ``write_launcher``'s file: ``#!python -IS`` running the embedded compiled code
  launcher (host)     the same naming the host's /usr/bin/python3, as the thick DaemonSet installs it
  plain script        ``#!python -IS`` + the module's source: what the launcher costs when the bytecode
                      magic differs and it compiles its embedded source
  console script      pip's ``multus-shim`` wrapper (site, then ``from multus.shim.shim import main``)
  python -m           ``python -m multus.shim``

Calls: VERSION (answered locally: start-up and exit) and ADD against an in-process daemon double on a
unix socket that answers ``/cni`` at once (``Connection: close`` like Go's daemon)
with the extension header (our daemon: body printed verbatim) or without it (Go's daemon: the shim
decodes and converts the result, importing json and multus.cni.types). References: ``python -IS -c
pass`` and a Go CNI plugin's VERSION (the Go start-up floor on this machine), if one is installed.

    .venv/bin/python hack/bench_shim.py --iterations 200
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import benchlib  # noqa: E402

from multus.shim.install import write_launcher  # noqa: E402

RESULT_031 = (b'{"cniVersion":"0.3.1","interfaces":[{"name":"eth0","mac":"0a:58:0a:80:00:05","sandbox":"/x"}],'
              b'"ips":[{"version":"4","interface":0,"address":"10.128.0.5/24","gateway":"10.128.0.1"}],"dns":{}}')
RESULT_GO = json.dumps({"Result": {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": "0a:58:0a:80:00:05",
                        "sandbox": "/x"}], "ips": [{"interface": 0, "address": "10.128.0.5/24",
                        "gateway": "10.128.0.1"}], "dns": {}}}).encode()


class InstantDaemon:
    """Answers every request at once and closes the connection, as Go's daemon does."""

    def __init__(self, path: str, extension: bool) -> None:
        self.extension = extension
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(64)
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while b"\r\n\r\n" not in buf:
                    buf += conn.recv(65536)
                head, _, body = buf.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                answer, extra = b"", b""
                if head.startswith(b"POST /cni"):
                    answer, extra = (RESULT_031, b"X-Multus-Result-Version: 0.3.1\r\n") if self.extension \
                        else (RESULT_GO, b"")
                conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Type: application/json\r\n" + extra
                             + b"Content-Length: " + str(len(answer)).encode() + b"\r\n\r\n" + answer)


def timed(argv: list[str], env: dict[str, str], stdin: bytes) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, input=stdin, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed: {done.stdout!r} {done.stderr!r}")
    return elapsed


def import_times(iterations: int) -> None:
    """``-X importtime`` of the shim module in a ``-I -S`` interpreter: median cumulative us per module."""
    code = f"import sys; sys.path.append({str(REPO)!r}); import multus.shim.shim"
    samples: dict[str, list[int]] = {}
    for _ in range(iterations):
        done = subprocess.run([sys.executable, "-IS", "-X", "importtime", "-c", code], capture_output=True,
                              text=True, check=True)
        for line in done.stderr.splitlines()[1:]:
            _, _, cumulative, name = (part.strip() for part in line.replace("|", ":", 2).split(":"))
            samples.setdefault(name, []).append(int(cumulative))
    print("import (python -IS -X importtime)   median cumulative us")
    for name, values in samples.items():
        if name in ("_socket", "binascii", "multus", "multus.shim", "multus.shim.shim"):
            print(f"  {name:32}  {statistics.median(values):8.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=200)
    args = parser.parse_args()

    # Bytecode for the package (this environment may set PYTHONDONTWRITEBYTECODE; installs ship it).
    compileall.compile_dir(str(REPO / "multus" / "shim"), quiet=1)
    compileall.compile_file(str(REPO / "multus" / "__init__.py"), quiet=1)
    import_times(min(args.iterations, 100))
    work = Path(tempfile.mkdtemp(prefix="shimbench-", dir="/tmp"))
    try:
        launcher = str(write_launcher(work / "multus-shim"))
        # What the thick DaemonSet installs: the host's python3 in the #! line (if it runs our bytecode).
        host_python = benchlib.host_shim_python()
        host_launcher = (str(write_launcher(work / "multus-shim-host", python=host_python))
                         if host_python != sys.executable else None)
        plain = work / "multus-shim-plain"  # what the launcher falls back to: the source as a script
        plain.write_text(f"#!{sys.executable} -IS\n" + (REPO / "multus/shim/shim.py").read_text().replace(
            '_PROJECT_PATH = ""', f"_PROJECT_PATH = {str(REPO)!r}"))
        plain.chmod(0o755)
        (work / "ours").mkdir()
        (work / "go").mkdir()
        InstantDaemon(str(work / "ours" / "multus.sock"), extension=True)
        InstantDaemon(str(work / "go" / "multus.sock"), extension=False)

        launches = {
            "launcher": [launcher],
            **({f"launcher ({host_python})": [host_launcher]} if host_launcher else {}),
            "plain script": [str(plain)],
            "console script": [str(Path(sys.executable).parent / "multus-shim")],
            "python -m": [sys.executable, "-m", "multus.shim"],
        }
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        cni = base | {"CNI_CONTAINERID": "c0ffee", "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0",
                      "CNI_PATH": "/opt/cni/bin", "CNI_ARGS": "K8S_POD_NAMESPACE=default;K8S_POD_NAME=p"}
        config = '{{"cniVersion":"0.3.1","name":"multus-cni-network","type":"multus-shim","daemonSocketDir":"{}"}}'
        arms: dict[str, tuple[list[str], dict[str, str], bytes]] = {
            "python -IS -c pass": ([sys.executable, "-IS", "-c", "pass"], base, b""),
            "python -c pass": ([sys.executable, "-c", "pass"], base, b""),
        }
        go_plugin = next((p for p in ("/usr/lib/cni/loopback", "/opt/cni/bin/loopback") if os.access(p, os.X_OK)), None)
        if go_plugin:
            arms["Go plugin VERSION (loopback)"] = ([go_plugin], base | {"CNI_COMMAND": "VERSION"}, b"{}")
        for name, argv in launches.items():
            arms[f"{name}: VERSION"] = (argv, base | {"CNI_COMMAND": "VERSION"}, b"")
        for name, argv in launches.items():
            arms[f"{name}: ADD, our daemon"] = (argv, cni | {"CNI_COMMAND": "ADD"},
                                                config.format(work / "ours").encode())
        for name in ("launcher", "console script"):
            arms[f"{name}: ADD, Go daemon"] = (launches[name], cni | {"CNI_COMMAND": "ADD"},
                                               config.format(work / "go").encode())

        times: dict[str, list[float]] = {name: [] for name in arms}
        order = list(arms)
        for name in order:  # warm-up, untimed
            timed(*arms[name])
        for i in range(args.iterations):
            for name in order[i % len(order):] + order[:i % len(order)]:
                times[name].append(timed(*arms[name]))
        width = max(map(len, arms))
        print(f"{'arm':{width}}  median ms   p90 ms   (n={args.iterations})")
        for name, values in times.items():
            ordered = sorted(values)
            p90 = ordered[int(len(ordered) * 0.9)]
            print(f"{name:{width}}  {statistics.median(values) * 1000:9.2f}  {p90 * 1000:7.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
