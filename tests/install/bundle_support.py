"""Shared helpers of ``tests/install/test_thin_bundle*.py`` (holds no tests): running the host bundle.

The bundle runs exactly as a container runtime runs a plugin: exec'd by path (its ``#!`` line names the
"host python"), a clean environment with only PATH and the CNI variables, the config on stdin. With
``host_ns`` it runs under ``nsenter --net=<host_ns>``, so bridges and host veths land in the test's own
namespace, never the machine's.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import venv
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PATH = os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")


@dataclass
class Run:
    """What one call printed: exit code, stdout decoded as JSON when it is JSON, stderr text."""

    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(self.stdout)
        return body


def run_cni(command: Path, verb: str | None, stdin: bytes | dict[str, Any] = b"", *, host_ns: str | None = None,
            args: tuple[str, ...] = (), env: Mapping[str, str] | None = None) -> Run:
    """Exec ``command`` as a runtime does; ``env`` adds CNI_* variables (:func:`cni_env`)."""
    data = json.dumps(stdin).encode() if isinstance(stdin, dict) else stdin
    environment = {"PATH": PATH, **(env or {})}
    if verb is not None:
        environment["CNI_COMMAND"] = verb
    argv = [str(command), *args]
    if host_ns is not None:
        argv = ["nsenter", f"--net={host_ns}", "--", *argv]
    done = subprocess.run(argv, input=data, env=environment, capture_output=True, check=False, timeout=120, cwd="/")
    return Run(done.returncode, done.stdout.decode(), done.stderr.decode())


def cni_env(container_id: str, netns: str, cni_path: str, ifname: str = "eth0", cni_args: str = "") -> dict[str, str]:
    env = {"CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": ifname, "CNI_PATH": cni_path}
    if cni_args:
        env["CNI_ARGS"] = cni_args
    return env


def bare_python(directory: Path) -> Path:
    """A python whose site directories are empty: a host without grpc, protobuf or anything else."""
    venv.EnvBuilder(with_pip=False, symlinks=True).create(directory)
    return directory / "bin" / "python"


def rewrite_archive(source: Path, dest: Path, *, shebang: bytes | None = None,
                    replace: dict[str, bytes] | None = None) -> Path:
    """A copy of a bundle with another ``#!`` line and/or some members replaced (mode 0755)."""
    raw = source.read_bytes()
    first_line, _, _ = raw.partition(b"\n")
    with zipfile.ZipFile(source) as old:
        members = [(info, old.read(info)) for info in old.infolist()]
    body = io.BytesIO()
    with zipfile.ZipFile(body, "w", compression=zipfile.ZIP_DEFLATED) as new:
        for info, data in members:
            new.writestr(info, (replace or {}).get(info.filename, data))
    dest.write_bytes((shebang or first_line) + b"\n" + body.getvalue())
    dest.chmod(0o755)
    return dest


# ---- a delegate that works inside the pod's namespace only ----------------------------------------------------

_DUMMY = r'''#!{python} -IS
# A test CNI plugin: ADD creates a veth pair CNI_IFNAME/p-CNI_IFNAME *inside* the pod namespace
# (``ip -n``: never in the namespace it runs in; not a dummy link, which not every kernel has),
# CNI_IFNAME with the address its script gives that name (and a default route when asked); DEL
# removes it. Every call's stdin is appended to <name>.calls.jsonl beside it.
import json, os, subprocess, sys
here, name = os.path.split(os.path.abspath(sys.argv[0]))
command, ifname = os.environ.get("CNI_COMMAND", ""), os.environ.get("CNI_IFNAME", "")
conf = json.loads(sys.stdin.read() or "null")
with open(os.path.join(here, name + ".calls.jsonl"), "a") as log:
    log.write(json.dumps({{"command": command, "ifname": ifname, "stdin": conf}}) + "\n")
ns = os.path.basename(os.environ.get("CNI_NETNS", ""))
def ip(*args):
    return subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True)
if command == "ADD":
    with open(os.path.join(here, name + ".script.json")) as f:
        plan = json.load(f)[ifname]
    for args in (["link", "add", ifname, "type", "veth", "peer", "name", "p-" + ifname],
                 ["addr", "add", plan["address"], "dev", ifname], ["link", "set", "p-" + ifname, "up"],
                 ["link", "set", ifname, "up"]) + ((["route", "add", "default", "via", plan["gateway"]],)
                                                  if plan.get("default") else ()):
        done = ip(*args)
        if done.returncode != 0:
            print(json.dumps({{"code": 999, "msg": "ip " + " ".join(args) + ": " + done.stderr.strip()}}))
            sys.exit(1)
    result = {{"cniVersion": conf["cniVersion"], "interfaces": [{{"name": ifname, "sandbox": os.environ["CNI_NETNS"]}}],
              "ips": [{{"address": plan["address"], "gateway": plan["gateway"], "interface": 0}}], "dns": {{}}}}
    if plan.get("default"):
        result["routes"] = [{{"dst": "0.0.0.0/0", "gw": plan["gateway"]}}]
    print(json.dumps(result))
elif command == "DEL":
    ip("link", "del", ifname)
elif command == "VERSION":
    print(json.dumps({{"cniVersion": "1.0.0", "supportedVersions": ["0.3.1", "0.4.0", "1.0.0"]}}))
'''


@dataclass
class DummyPlugin:
    """A plugin made by :func:`make_dummy_plugin`; ``plan`` maps an ifname to its address and gateway."""

    path: Path

    def plan(self, **ifnames: dict[str, Any]) -> None:
        self.path.with_name(self.path.name + ".script.json").write_text(json.dumps(ifnames))

    def calls(self, command: str | None = None) -> list[dict[str, Any]]:
        log = self.path.with_name(self.path.name + ".calls.jsonl")
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [c for c in calls if command is None or c["command"] == command]


def make_dummy_plugin(directory: Path, name: str = "dummy-in-pod") -> DummyPlugin:
    path = directory / name
    path.write_text(_DUMMY.format(python=sys.executable))
    path.chmod(0o755)
    return DummyPlugin(path)
