"""A scripted fake CNI plugin: an executable that answers as told and records how it was called.

Used where a real plugin cannot produce the situation under test (a chosen error code, garbage output,
a crash, a slow plugin). Each plugin reads ``<dir>/<name>.script.json`` at every call, a map from
CNI_COMMAND to ``{"stdout": str, "stderr": str, "exit": int, "sleep": float}``; an ADD without a script
entry prints a result for the config's cniVersion with one address. Every call appends
``{"command", "env": {CNI_*}, "stdin": <decoded config>}`` to ``<dir>/<name>.calls.jsonl``.
"""

from __future__ import annotations

import json
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCRIPT = r'''#!{python} -IS
import json, os, sys, time
here, name = os.path.split(os.path.abspath(sys.argv[0]))
command = os.environ.get("CNI_COMMAND", "")
raw = sys.stdin.read()
try:
    conf = json.loads(raw) if raw else None
except ValueError:
    conf = raw
env = {{k: v for k, v in os.environ.items() if k.startswith("CNI_")}}
with open(os.path.join(here, name + ".calls.jsonl"), "a") as log:
    log.write(json.dumps({{"command": command, "env": env, "stdin": conf}}) + "\n")
try:
    with open(os.path.join(here, name + ".script.json")) as f:
        script = json.load(f).get(command)
except FileNotFoundError:
    script = None
if script is None:
    if command == "ADD":
        version = (conf or {{}}).get("cniVersion", "1.0.0")
        ips = [{{"address": "10.99.0.2/24", "gateway": "10.99.0.1"}}]
        if version.startswith("0.3") or version == "0.4.0":
            ips[0]["version"] = "4"
        print(json.dumps({{"cniVersion": version, "ips": ips, "dns": {{}}}}))
    elif command == "VERSION":
        print(json.dumps({{"cniVersion": "1.1.0",
                          "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}}))
    sys.exit(0)
time.sleep(script.get("sleep", 0))
sys.stdout.write(script.get("stdout", ""))
sys.stderr.write(script.get("stderr", ""))
sys.exit(script.get("exit", 0))
'''


@dataclass
class FakePlugin:
    directory: Path
    name: str

    @property
    def path(self) -> Path:
        return self.directory / self.name

    def script(self, **commands: dict[str, Any]) -> None:
        """Set the answers per command, e.g. ``script(ADD={"stdout": "...", "exit": 1})``."""
        (self.directory / f"{self.name}.script.json").write_text(json.dumps(commands))

    def calls(self) -> list[dict[str, Any]]:
        log = self.directory / f"{self.name}.calls.jsonl"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def commands(self) -> list[str]:
        return [call["command"] for call in self.calls()]


def make_fake_plugin(directory: Path, name: str) -> FakePlugin:
    path = directory / name
    path.write_text(_SCRIPT.format(python=sys.executable))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return FakePlugin(directory, name)


__all__ = ["FakePlugin", "make_fake_plugin"]
