"""The shim as the runtime runs it: a real process, launched as ``python -m``, console script or launcher.

Checked here:
  * importing ``multus.shim.shim`` in a fresh interpreter loads no json, re, http.client, socket, enum,
    os-level helpers or any multus module besides its packages; a whole ADD against our daemon in a
    ``-I -S`` interpreter never imports json or re either;
  * VERSION, ADD (our daemon and Go's), and error cases (no socket, bad stdin, a 500) through
    ``python -m multus.shim``, the ``multus-shim`` console script and the launcher: right exit codes,
    error JSON on stdout, never a traceback on stderr;
  * ``write_launcher``: a ``#!<python> -IS`` file, mode 0755, written atomically over an old one; it runs
    the embedded compiled code, falls back to the embedded source when the bytecode magic differs, and
    converts a Go daemon's result through the project path it records; bad interpreter paths are refused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from shim_daemon_double import FakeDaemon, cni_env, shim_config

from multus.shim.install import write_launcher

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run_process(argv: list[str], env: dict[str, str], stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(argv, input=stdin, env=env, capture_output=True, timeout=30, check=False)


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_launcher(tmp_path_factory.mktemp("bin") / "multus-shim"))


@pytest.fixture(params=["module", "console-script", "launcher"])
def shim_argv(request: pytest.FixtureRequest, launcher: str) -> list[str]:
    if request.param == "module":
        return [sys.executable, "-m", "multus.shim"]
    if request.param == "console-script":
        script = BIN / "multus-shim"
        if not script.exists():
            pytest.skip("the multus-shim console script is not installed (pip install -e .)")
        return [str(script)]
    return [launcher]


# ---- imports ----------------------------------------------------------------------------------------------

FORBIDDEN = {"json", "re", "http", "http.client", "socket", "enum", "typing", "base64", "selectors"}


def test_importing_the_shim_loads_nothing_heavy() -> None:
    code = ("import sys; before = set(sys.modules); import multus.shim.shim; "
            "print(' '.join(sorted(set(sys.modules) - before)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    loaded = set(done.stdout.split())
    assert not loaded & FORBIDDEN
    assert {m for m in loaded if m.startswith("multus")} == {"multus", "multus.shim", "multus.shim.shim"}
    assert loaded <= {"multus", "multus.shim", "multus.shim.shim", "_socket", "binascii"}


def test_a_whole_add_against_our_daemon_imports_no_json(daemon: FakeDaemon, sock_dir: str) -> None:
    code = ("import sys; sys.path.append(sys.argv[1]); from multus.shim.shim import run; "
            "code, out, err = run(eval(sys.argv[2]), sys.argv[3].encode()); assert code == 0, (out, err); "
            "print(' '.join(sorted(sys.modules)))")
    argv = [sys.executable, "-I", "-S", "-c", code, str(ROOT), repr(cni_env("ADD")), shim_config(sock_dir).decode()]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True)
    assert not set(done.stdout.split()) & FORBIDDEN
    assert daemon.paths() == ["/cni"]


# ---- the three ways to launch it --------------------------------------------------------------------------

def test_version(shim_argv: list[str]) -> None:
    done = run_process(shim_argv, {"CNI_COMMAND": "VERSION"})
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["supportedVersions"][-1] == "1.1.0"


def test_no_command_is_about_text(shim_argv: list[str]) -> None:
    done = run_process(shim_argv, {})
    assert (done.returncode, done.stdout) == (0, b"")
    assert b"multus-shim" in done.stderr


def test_add_against_our_daemon(shim_argv: list[str], daemon: FakeDaemon, sock_dir: str) -> None:
    done = run_process(shim_argv, cni_env("ADD"), shim_config(sock_dir, "0.3.1"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ips"][0]["version"] == "4"


def test_add_against_a_go_daemon_converts(shim_argv: list[str], go_daemon: FakeDaemon, sock_dir: str) -> None:
    done = run_process(shim_argv, cni_env("ADD"), shim_config(sock_dir, "0.3.1"))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["cniVersion"], result["ips"][0]["version"]) == ("0.3.1", "4")


@pytest.mark.parametrize(("case", "code"), [("no-socket", 11), ("bad-stdin", 6), ("daemon-500", 999)])
def test_errors_are_json_never_tracebacks(shim_argv: list[str], daemon: FakeDaemon, sock_dir: str, case: str,
                                          code: int) -> None:
    stdin = {"no-socket": shim_config(sock_dir + "/gone", readinessTimeout=0), "bad-stdin": b"{\xff",
             "daemon-500": shim_config(sock_dir)}[case]
    daemon.cni_error = (500, b"panic: something\n")
    done = run_process(shim_argv, cni_env("ADD"), stdin)
    assert done.returncode == 1
    assert json.loads(done.stdout)["code"] == code
    assert b"Traceback" not in done.stderr
    assert f"[code {code}]".encode() in done.stderr


def test_environment_bytes_that_are_not_utf8_are_replaced(daemon: FakeDaemon, sock_dir: str, launcher: str) -> None:
    env = {k.encode(): v.encode() for k, v in cni_env("ADD").items()} | {b"ODD": b"\xff\xfe"}
    done = subprocess.run([launcher], input=shim_config(sock_dir), env=env, capture_output=True, timeout=30,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert daemon.requests[-1].json()["env"]["ODD"] == "\ufffd\ufffd"


# ---- write_launcher -----------------------------------------------------------------------------------------

def test_the_launcher_file(tmp_path: Path) -> None:
    dest = tmp_path / "multus-shim"
    dest.write_text("old")
    assert write_launcher(dest) == dest
    text = dest.read_text()
    assert text.startswith(f"#!{sys.executable} -IS\n")
    assert dest.stat().st_mode & 0o777 == 0o755
    assert f"_PROJECT_PATH = {str(ROOT)!r}".replace("'", "\\'") in text  # in the repr of the source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multus-shim"]  # no temporary file left


def test_the_launcher_falls_back_to_source_with_another_bytecode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 go_daemon: FakeDaemon, sock_dir: str) -> None:
    monkeypatch.setattr("importlib.util.MAGIC_NUMBER", b"\x00\x00\r\n")
    dest = write_launcher(tmp_path / "multus-shim")
    assert "== b'\\x00\\x00\\r\\n':" in dest.read_text()
    done = run_process([str(dest)], cni_env("ADD"), shim_config(sock_dir, "0.4.0"))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cniVersion"] == "0.4.0"


def test_the_launcher_without_the_project_cannot_convert_but_says_so(tmp_path: Path, go_daemon: FakeDaemon,
                                                                    sock_dir: str) -> None:
    dest = write_launcher(tmp_path / "multus-shim", project_path="")
    done = run_process([str(dest)], cni_env("ADD"), shim_config(sock_dir, "0.4.0"))
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert (error["code"], error["msg"]) == (999, "cannot convert the daemon's result to cniVersion 0.4.0")
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize("python", ["python3", "/usr/bin/my python", "/" + "x" * 300])
def test_write_launcher_refuses_unusable_interpreters(tmp_path: Path, python: str) -> None:
    with pytest.raises(ValueError):
        write_launcher(tmp_path / "multus-shim", python)
    assert not list(tmp_path.iterdir())


def test_install_command_line(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "multus.shim.install", str(tmp_path / "shim")],
                          capture_output=True, text=True, timeout=30, check=True)
    assert done.stdout.strip() == str(tmp_path / "shim")
    assert os.access(tmp_path / "shim", os.X_OK)
