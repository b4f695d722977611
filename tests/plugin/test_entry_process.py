"""The ``multus`` command as a process: ``main()`` ends with ``os._exit`` and must lose nothing on the way.

Skipping the interpreter's teardown skips its implicit flushes too, so these run the real entry point in
a fresh interpreter and check what a container runtime would read: the exit status, stdout (result or
CNI error object), stderr, and the log file the config names.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from multus import __version__

MAIN = "from multus.plugin.entry import main; main()"


def run_multus(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-c", MAIN, *argv], input=stdin, env={"PATH": "/usr/bin:/bin", **env},
                          capture_output=True, timeout=60, check=False)


def multus_conf(tmp_path: Path, **extra: Any) -> bytes:
    conf = {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus", "kubeconfig": "",
            "cniDir": str(tmp_path / "multus"), "binDir": str(tmp_path / "bin"),
            "delegates": [{"cniVersion": "1.0.0", "name": "weave1", "type": "weave-net"}], **extra}
    return json.dumps(conf).encode()


def test_version_flag_prints_the_line_and_exits_0() -> None:
    done = run_multus(["-version"], {})
    assert (done.returncode, done.stderr) == (0, b"")
    assert done.stdout.decode() == (f"multus: version:{__version__}(clean,released), "
                                    "commit:unknown commit, date:unknown date\n")


def test_the_version_command_answers_on_stdout() -> None:
    done = run_multus([], {"CNI_COMMAND": "VERSION"}, b'{"cniVersion": "1.0.0"}')
    assert done.returncode == 0
    assert json.loads(done.stdout)["cniVersion"] == "1.0.0"


def cni_env(tmp_path: Path, command: str) -> dict[str, str]:
    return {"CNI_COMMAND": command, "CNI_CONTAINERID": "c0ffee", "CNI_NETNS": str(tmp_path / "no-such-netns"),
            "CNI_IFNAME": "eth0", "CNI_PATH": str(tmp_path / "bin")}


def test_a_failed_call_leaves_its_error_object_and_stderr_line() -> None:
    done = run_multus([], cni_env(Path("/nonexistent"), "ADD"), multus_conf(Path("/nonexistent")))
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["code"] != 0 and "weave1" in error["msg"]
    assert done.stderr.decode().splitlines()[-1].startswith("CNI ADD failed: ")


def test_what_a_call_logs_reaches_the_log_file_and_stderr(tmp_path: Path) -> None:
    # A DEL with neither a scratch cache nor a pod succeeds, warning that it released only what the
    # result cache recorded.
    log_file = tmp_path / "multus.log"
    done = run_multus([], cni_env(tmp_path, "DEL"), multus_conf(tmp_path, logLevel="debug", logFile=str(log_file)))
    assert (done.returncode, done.stdout) == (0, b"")
    logged = log_file.read_text()
    assert logged.endswith("\n") and "[error] warning: no cached delegates and no pod" in logged
    assert "[error] warning: no cached delegates and no pod" in done.stderr.decode()
