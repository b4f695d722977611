"""Installing Multus's commands: ``copy_binary``, ``install`` and the ``multus-install`` command.

Checked:

* a binary being executed is replaced without "Text file busy" (an in-place write of the same file
  does fail with ETXTBSY, so the test would catch a regression), the running process is unaffected, the
  new file has the new bytes and mode 0755, and no temp file is left;
* a reader holding the old file open keeps reading the old bytes;
* a failed copy leaves the old file intact and no temp file;
* ``install("thin")`` installs the host bundle as ``multus`` and ``passthru`` (two files, not links;
  tests/install/test_thin_bundle.py checks the bundle itself); ``install("thick")`` copies ``passthru``
  and writes the ``multus-shim`` launcher, or reports it skipped when the launcher writer is missing;
* ``multus-install`` without ``--type`` exits 1 with Go's message; with one it installs and exits 0.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from multus.install import binaries
from multus.install.binaries import copy_binary, install

SLEEP = shutil.which("sleep")


def leftovers(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


@pytest.mark.skipif(SLEEP is None, reason="needs a sleep executable")
def test_a_binary_being_executed_is_replaced_without_text_file_busy(tmp_path: Path) -> None:
    assert SLEEP is not None
    dest = tmp_path / "bin"
    dest.mkdir()
    running = dest / "multus"
    shutil.copy(SLEEP, running)
    running.chmod(0o755)
    new = tmp_path / "new-multus"
    new.write_bytes(b"#!/bin/sh\necho new\n")
    proc = subprocess.Popen([str(running), "30"])
    try:
        deadline = time.monotonic() + 5
        while True:  # wait until the kernel has it mapped for execution
            try:
                with open(running, "r+b"):
                    pass
            except OSError as exc:
                assert exc.errno == errno.ETXTBSY
                break
            assert time.monotonic() < deadline, "the binary never became busy"
            time.sleep(0.01)
        assert copy_binary(new, dest, "multus") == running
        assert running.read_bytes() == new.read_bytes()
        assert stat.S_IMODE(running.stat().st_mode) == 0o755
        assert proc.poll() is None, "the running process is untouched"
        assert subprocess.run([str(running)], capture_output=True, check=True).stdout == b"new\n"
    finally:
        proc.kill()
        proc.wait()
    assert leftovers(dest) == []


def test_a_reader_of_the_old_file_keeps_the_old_bytes(tmp_path: Path) -> None:
    (tmp_path / "dest").mkdir()
    old = tmp_path / "dest" / "passthru"
    old.write_bytes(b"old contents")
    (tmp_path / "passthru").write_bytes(b"new contents")
    with open(old, "rb") as reader:
        copy_binary(tmp_path / "passthru", tmp_path / "dest")
        assert reader.read() == b"old contents"
    assert old.read_bytes() == b"new contents"


def test_a_failed_copy_leaves_the_old_file_and_no_temp_file(tmp_path: Path) -> None:
    old = tmp_path / "multus"
    old.write_bytes(b"old")
    with pytest.raises(FileNotFoundError):
        copy_binary(tmp_path / "missing", tmp_path, "multus")
    assert old.read_bytes() == b"old" and leftovers(tmp_path) == []


def scripts(tmp_path: Path) -> Path:
    source = tmp_path / "venv-bin"
    source.mkdir()
    for name in ("multus", "passthru"):
        (source / name).write_text(f"#!/bin/sh\necho {name}\n")
    return source


def test_install_thin_installs_the_bundle_as_multus_and_passthru(tmp_path: Path) -> None:
    dest = tmp_path / "cni-bin"
    dest.mkdir()
    result = install("thin", dest, python="/opt/python3.11/bin/python3")
    assert sorted(p.name for p in result.installed) == ["multus", "passthru"] and result.skipped == []
    multus, passthru = dest / "multus", dest / "passthru"
    assert multus.read_bytes().startswith(b"#!/opt/python3.11/bin/python3 -IS\nPK")
    assert passthru.read_bytes() == multus.read_bytes()
    assert multus.stat().st_ino != passthru.stat().st_ino, "two files: writing one in place cannot change the other"
    assert all(os.access(p, os.X_OK) for p in (multus, passthru)) and leftovers(dest) == []


def test_install_thick_writes_the_shim_launcher_and_passthru(tmp_path: Path) -> None:
    source, dest = scripts(tmp_path), tmp_path / "cni-bin"
    dest.mkdir()
    result = install("thick", dest, source_dir=source, python=sys.executable)
    assert sorted(p.name for p in result.installed) == ["multus-shim", "passthru"]
    assert (dest / "multus-shim").read_text().startswith(f"#!{sys.executable} -IS\n")
    assert (dest / "passthru").read_bytes().startswith(f"#!{sys.executable} -IS\n".encode()), \
        "passthru is the host bundle: the daemon runs it chrooted into the host"
    assert not (dest / "multus").exists()


def test_install_thick_without_the_launcher_writer_skips_the_shim_with_a_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, dest = scripts(tmp_path), tmp_path / "cni-bin"
    dest.mkdir()
    monkeypatch.setattr(binaries, "find_launcher_writer", lambda: None)
    result = install("thick", dest, source_dir=source)
    assert [p.name for p in result.installed] == ["passthru"]
    assert result.skipped and "write_launcher is not available" in result.skipped[0]
    assert not (dest / "multus-shim").exists()


def test_the_launcher_writer_is_found_when_the_shim_provides_it() -> None:
    from multus.shim.install import write_launcher

    assert binaries.find_launcher_writer() is write_launcher


def test_the_command_needs_a_type(capsys: pytest.CaptureFixture[str]) -> None:
    assert binaries.main([]) == 1
    assert "--type is missing or --type has invalid value" in capsys.readouterr().err


def test_the_command_installs_and_lists_what_it_installed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source, dest = scripts(tmp_path), tmp_path / "cni-bin"
    dest.mkdir()
    assert binaries.main(["-t", "thin", "-d", str(dest), "--host-python", "/usr/bin/python3.11"]) == 0
    assert f"installed {dest}/multus" in capsys.readouterr().out
    assert (dest / "passthru").read_bytes().startswith(b"#!/usr/bin/python3.11 -IS\n")
    assert binaries.main(["-t", "thick", "-d", str(dest), "--source-dir", str(source), "--python", "/bin/py3"]) == 0
    assert (dest / "multus-shim").read_text().startswith("#!/bin/py3 -IS\n"), "--python is --host-python"
    assert binaries.main(["-t", "thin", "-d", str(tmp_path / "no-such-dir")]) == 1
    assert binaries.main(["-t", "thin", "-d", str(dest), "--host-python", "python3"]) == 1
    assert "absolute path" in capsys.readouterr().err
