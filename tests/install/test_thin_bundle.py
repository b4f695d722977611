"""The thin plugin's host bundle (:mod:`multus.install.bundle`): what it holds and how it runs.

The bundle is installed in a tmp "host" bin dir as ``multus`` and ``passthru``, its ``#!`` line naming
this test run's python, and exec'd as a runtime does (clean environment, cwd /). Checked:

* VERSION answers as ``multus`` (0.1.0 to 1.1.0) and as ``passthru`` (0.3.0 to 1.1.0): one archive,
  dispatched on the name; ``-version`` prints Go's line;
* bad stdin, an unknown command: a CNI error object on stdout, exit 1, no traceback;
* the archive: a ``#!<python> -IS`` line, files only, every module with its bytecode beside it, our
  packages and pyroute2/yaml (license files included), and no pydantic, kubernetes, grpc, protobuf,
  compiled extension, ``multus/testing`` or ``multus/daemon``;
* the bytecode is what runs (sources replaced by ``raise`` still work), and a .pyc for another Python
  (wrong magic) falls back to the source;
* every import comes from the archive (pyroute2, yaml without its C loader, a YAML kubeconfig loaded);
* a call in flight keeps reading the archive it started from when a new one is installed over it;
* the machine's own python3 (no multus-py, no dependencies: a node's) runs it;
* ``__main__``'s pieces: the version check (an old Python gets a CNI error, code 999), the command
  name, the source parsing as Python 3.4, the host-package finder (grpc from the host's site
  directories only, a clear error naming grpcio/protobuf when missing, in the versions the generated
  code requires);
* ``install_thin_bundle``: atomic (a new inode, old readers unaffected, no temp file) and idempotent
  (the archive is reproducible, byte for byte).
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from bundle_support import rewrite_archive, run_cni

from multus.install import bundle_main
from multus.install.bundle import archive_names, build_thin_bundle, install_thin_bundle

MODULES_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import devinfo, multus.k8s.access, multus.netns, multus.plugin.add, multus.plugin.delete, podresources, pyroute2, yaml
from multus.k8s.access import load_kubeconfig
access = load_kubeconfig(sys.argv[2])
names = ("devinfo", "multus", "multus.netns", "podresources", "pyroute2", "yaml")
print(json.dumps({"files": {n: sys.modules[n].__file__ for n in names}, "libyaml": yaml.__with_libyaml__,
                  "server": access.server, "pydantic": "pydantic" in sys.modules}))
"""


# ---- running it ------------------------------------------------------------------------------------------


def test_version_answers_as_multus_and_as_passthru(bundle_bin: Path) -> None:
    multus = run_cni(bundle_bin / "multus", "VERSION", {"cniVersion": "1.0.0"})
    passthru = run_cni(bundle_bin / "passthru", "VERSION", {"cniVersion": "1.0.0"})
    assert (multus.code, passthru.code) == (0, 0), (multus, passthru)
    assert multus.json["supportedVersions"][0] == "0.1.0" and multus.json["supportedVersions"][-1] == "1.1.0"
    assert passthru.json["supportedVersions"] == ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]
    version = run_cni(bundle_bin / "multus", None, args=("-version",))
    assert version.stdout.startswith("multus: version:0.1.0(") and version.code == 0


SYSTEM_PYTHON = "/usr/bin/python3"


def system_python_problem() -> str | None:
    """Why the machine's own python3 cannot stand in for a node's, or None."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"no {SYSTEM_PYTHON}"
    done = subprocess.run([SYSTEM_PYTHON, "-IS", "-c", "import sys; print(sys.version_info >= (3, 11))"],
                          capture_output=True, text=True, check=False)
    return None if done.stdout.strip() == "True" else f"{SYSTEM_PYTHON} is older than 3.11"


@pytest.mark.skipif(system_python_problem() is not None, reason=str(system_python_problem()))
def test_a_system_python3_without_multus_py_runs_it(tmp_path: Path) -> None:
    # the machine's python3 (Debian's here) has none of multus-py's dependencies: like a real node's
    install_thin_bundle(tmp_path, host_python=SYSTEM_PYTHON)
    assert run_cni(tmp_path / "multus", "VERSION", b"{}").json["supportedVersions"][0] == "0.1.0"
    assert run_cni(tmp_path / "passthru", "VERSION", b"{}").json["supportedVersions"][0] == "0.3.0"


@pytest.mark.parametrize("name", ["multus", "passthru"])
def test_bad_stdin_is_a_cni_error_without_a_traceback(bundle_bin: Path, name: str) -> None:
    env = {"CNI_CONTAINERID": "c1", "CNI_NETNS": "/var/run/netns/none", "CNI_IFNAME": "eth0", "CNI_PATH": "/x"}
    bad = run_cni(bundle_bin / name, "ADD", b"{not json", env=env)
    assert bad.code == 1 and bad.json["code"] == 6 and "could not be decoded" in bad.json["msg"]
    unknown = run_cni(bundle_bin / name, "FROB", b"{}", env=env)
    assert unknown.code == 1 and unknown.json["code"] == 4
    assert "Traceback" not in bad.stderr + unknown.stderr


# ---- what it holds ------------------------------------------------------------------------------------------


def test_the_archive_holds_the_call_path_and_nothing_heavy(bundle_bin: Path) -> None:
    archive = bundle_bin / "multus"
    assert archive.read_bytes().split(b"\n", 1)[0] == f"#!{sys.executable} -IS".encode()
    names = archive_names(archive)
    assert all(not name.endswith("/") for name in names), "no directory entries: each costs every call"
    modules = [name for name in names if name.endswith(".py")]
    assert {name + "c" for name in modules} == {name for name in names if name.endswith(".pyc")}
    for needed in ("__main__.py", "multus/plugin/entry.py", "multus/passthru.py", "multus/plugin/gateway.py",
                   "multus/k8s/access.py", "devinfo/__init__.py", "podresources/client.py",
                   "podresources/checkpoint.py", "podresources/_proto/v1/api_pb2.py", "pyroute2/__init__.py",
                   "pyroute2/iproute/linux.py", "yaml/__init__.py", "LICENSES/yaml/LICENSE"):
        assert needed in names, needed
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"__main__.py", "__main__.pyc", "multus", "devinfo", "podresources", "pyroute2", "yaml", "LICENSES"}
    assert any(name.startswith("LICENSES/pyroute2/") for name in names)
    for banned in ("multus/testing/", "multus/daemon/", "multus/install/", "podresources/testing.py",
                   "devinfo/testing.py"):
        assert not any(name.startswith(banned) for name in names), banned
    assert not [name for name in names if name.endswith((".so", ".pyd", ".pyi")) or "__pycache__" in name]


def test_the_bytecode_runs_and_the_source_is_the_fallback(bundle_bin: Path, tmp_path: Path) -> None:
    archive = bundle_bin / "multus"
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
        pycs = {name: zipped.read(name) for name in names if name.endswith(".pyc")}
    broken_sources = {name: b"raise SystemExit('the source ran')\n" for name in names
                      if name.endswith(".py") and name != "__main__.py"}
    (tmp_path / "bytecode").mkdir()
    only_bytecode = rewrite_archive(archive, tmp_path / "bytecode" / "multus", replace=broken_sources)
    assert run_cni(only_bytecode, "VERSION", b"{}").code == 0, "the .pyc beside each source is what runs"
    other_magic = {name: b"\x00\x00\r\n" + data[4:] for name, data in pycs.items()}
    (tmp_path / "source").mkdir()
    only_source = rewrite_archive(archive, tmp_path / "source" / "passthru", replace=other_magic)
    fallback = run_cni(only_source, "VERSION", b"{}")
    assert fallback.code == 0 and fallback.json["supportedVersions"][0] == "0.3.0", fallback


def test_every_import_comes_from_the_archive(bundle_bin: Path, tmp_path: Path) -> None:
    archive = str(bundle_bin / "multus")
    kubeconfig = tmp_path / "kubeconfig.yaml"  # YAML, not JSON: the pure-Python yaml in the bundle reads it
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://k:6443\n"
                          "users:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: x\n  context:\n"
                          "    cluster: c\n    user: u\ncurrent-context: x\n")
    done = subprocess.run([sys.executable, "-IS", "-c", MODULES_PROBE, archive, str(kubeconfig)],
                          capture_output=True, text=True, check=True, cwd="/")
    probe = json.loads(done.stdout)
    assert all(path.startswith(archive + "/") for path in probe["files"].values()), probe["files"]
    assert probe["libyaml"] is False and probe["server"] == "https://k:6443" and probe["pydantic"] is False


# ---- a new version installed while a call runs ----------------------------------------------------------------


def wait_until_pinned(pid: int, archive: Path, timeout: float = 30.0) -> None:
    """Until process ``pid`` holds a descriptor of ``archive`` open for good (seen twice, 50 ms apart)."""
    def archive_fds() -> set[str]:
        found = set()
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(archive):
                    found.add(fd)
            except OSError:
                continue
        return found

    deadline = time.monotonic() + timeout
    previous: set[str] = set()
    while True:
        current = archive_fds()
        if current & previous:
            return
        assert time.monotonic() < deadline, "the call never pinned its archive"
        previous = current
        time.sleep(0.05)



def test_a_call_in_flight_keeps_the_archive_it_started_from(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    install_thin_bundle(tmp_path / "bin", host_python=sys.executable, names=("passthru",))
    passthru = tmp_path / "bin" / "passthru"
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "CNI_COMMAND": "ADD", "CNI_CONTAINERID": "c1",
           "CNI_NETNS": "/var/run/netns/x", "CNI_IFNAME": "eth0", "CNI_PATH": "/x"}
    # passthru blocks reading stdin, then imports its result types lazily (from the archive)
    proc = subprocess.Popen([str(passthru)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    try:
        first = passthru.stat().st_ino
        wait_until_pinned(proc.pid, passthru)
        # the new version: a longer #! line moves every offset in the zip
        longer = f"#!{os.path.dirname(sys.executable)}/./python -IS".encode()
        rewrite_archive(passthru, tmp_path / "new", shebang=longer)
        os.replace(tmp_path / "new", passthru)
        assert passthru.stat().st_ino != first
        out, err = proc.communicate(json.dumps({"cniVersion": "1.0.0", "name": "n", "type": "passthru"}).encode(),
                                    timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err  # without the pin: "bad local file header", the call fails
    result = json.loads(out)
    assert result["cniVersion"] == "1.0.0" and result.get("interfaces", []) == []


def test_pinning_is_skipped_for_an_archive_zipimport_has_not_read(tmp_path: Path) -> None:
    archive = tmp_path / "not-read.pyz"
    archive.write_bytes(b"")
    assert bundle_main.pin_archive(str(archive)) == str(archive), "nothing to reuse: keep the path"


# ---- __main__'s pieces ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "ok"), [((3, 11, 0), True), ((3, 13, 2), True), ((4, 0, 0), True),
                                             ((3, 10, 12), False), ((3, 6, 8), False)])
def test_the_version_check(version: tuple[int, int, int], ok: bool) -> None:
    problem = bundle_main.version_problem(version, "/usr/bin/python3")
    if ok:
        assert problem is None
    else:
        assert problem is not None and "needs Python >= 3.11" in problem
        assert "/usr/bin/python3 is Python " + ".".join(map(str, version)) in problem


def test_an_old_python_gets_a_cni_error_not_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "version_info", (3, 9, 18, "final", 0))
    meta_path = list(sys.meta_path)
    assert bundle_main.main() == 1
    assert sys.meta_path == meta_path, "nothing set up before the check"
    out, err = capsys.readouterr()
    error = json.loads(out)
    assert error["code"] == 999 and "Python 3.9.18" in error["msg"] and "needs Python >= 3.11" in err


def test_the_main_module_parses_as_old_python() -> None:
    source = Path(bundle_main.__file__).read_text()
    ast.parse(source, feature_version=(3, 4))  # no f-strings, no variable annotations, ...


@pytest.mark.parametrize(("argv0", "command"), [("/opt/cni/bin/passthru", "passthru"), ("passthru", "passthru"),
                                                ("/opt/cni/bin/multus", "multus"), ("/tmp/x/bundle.pyz", "multus"),
                                                ("/opt/cni/bin/passthru-old", "multus")])
def test_the_command_is_the_name_it_was_started_as(argv0: str, command: str) -> None:
    assert bundle_main.command_name(argv0) == command


def test_the_host_package_finder_looks_only_in_the_host_s_site_dirs(tmp_path: Path) -> None:
    site = tmp_path / "dist-packages"
    (site / "grpc").mkdir(parents=True)
    (site / "grpc" / "__init__.py").write_text("")
    (site / "google" / "protobuf").mkdir(parents=True)  # a namespace package, as protobuf installs it
    (site / "requests").mkdir()
    (site / "requests" / "__init__.py").write_text("")
    finder = bundle_main.HostPackageFinder([str(site)])
    grpc = finder.find_spec("grpc")
    assert grpc is not None and grpc.origin == str(site / "grpc" / "__init__.py")
    google = finder.find_spec("google")
    assert google is not None and google.submodule_search_locations == [str(site / "google")]
    assert finder.find_spec("requests") is None, "only the packages the bundle cannot carry"
    assert finder.find_spec("grpc._cython", [str(site / "grpc")]) is None, "submodules: the package's own path"
    with pytest.raises(ModuleNotFoundError, match=r"grpcio>=1\.85\.1 and protobuf>=7\.35\.1") as missing:
        bundle_main.HostPackageFinder([str(tmp_path / "empty")]).find_spec("grpc")
    assert missing.value.name == "grpc" and "device manager checkpoint" in str(missing.value)


def test_the_named_grpc_and_protobuf_versions_are_the_generated_code_s() -> None:
    proto = Path(__file__).resolve().parents[2] / "podresources" / "_proto" / "v1"
    grpc_version = re.search(r"GRPC_GENERATED_VERSION = '([\d.]+)'", (proto / "api_pb2_grpc.py").read_text())
    protobuf_version = re.search(r"Protobuf Python Version: ([\d.]+)", (proto / "api_pb2.py").read_text())
    assert grpc_version and protobuf_version
    assert bundle_main.HOST_PACKAGES_REQUIREMENT == (
        f"grpcio>={grpc_version[1]} and protobuf>={protobuf_version[1]},<{int(protobuf_version[1].split('.')[0]) + 1}")


# ---- installing it --------------------------------------------------------------------------------------------


def test_install_is_atomic_and_idempotent(tmp_path: Path) -> None:
    dest = tmp_path / "cni-bin"
    dest.mkdir()
    install_thin_bundle(dest, host_python="/usr/bin/python3")
    first = {name: ((dest / name).read_bytes(), (dest / name).stat().st_ino) for name in ("multus", "passthru")}
    with open(dest / "multus", "rb") as reader:
        install_thin_bundle(dest, host_python="/usr/bin/python3")
        assert reader.read() == first["multus"][0], "a reader of the old file keeps the old bytes"
    for name, (data, inode) in first.items():
        path = dest / name
        assert path.read_bytes() == data, "the same version gives the same bytes (reproducible)"
        assert path.stat().st_ino != inode, "replaced by a rename, never written in place"
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert sorted(os.listdir(dest)) == ["multus", "passthru"], "no temp file left"


def test_a_bad_host_python_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    for python in ("python3", "/usr/bin/python 3", "/" + "p" * 300):
        with pytest.raises(ValueError):
            build_thin_bundle(tmp_path / "multus", python_shebang=python)
    assert os.listdir(tmp_path) == []
