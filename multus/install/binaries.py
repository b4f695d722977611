"""Installing Multus's commands into the host's CNI bin dir, and ``multus-install`` (Go's install_multus).

Every file is replaced atomically: written to a temp file in the destination directory, synced, made
0755, then renamed over the old one. Writing into the old file instead fails with "Text file busy"
while the runtime is executing it, which deadlocked node reboots (multus#1221: CRI-O runs the old
``multus-shim``, which waits for the daemon, whose init container cannot overwrite the shim). A rename
never touches the running file: the process keeps the old inode, the next exec gets the new one.

    multus-install -t thick|thin [-d /host/opt/cni/bin] [--source-dir DIR] [--python PATH]

thin installs the ``multus`` and ``passthru`` commands; thick installs ``passthru`` and the
``multus-shim`` launcher (a single fast-starting file, :func:`multus.shim.install.write_launcher`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

DEFAULT_DEST_DIR = "/host/opt/cni/bin"
Kind = Literal["thin", "thick"]


def default_source_dir() -> Path:
    """Where pip put this installation's console scripts: next to the interpreter running us."""
    return Path(sys.executable).parent


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_binary(src: str | os.PathLike[str], dest_dir: str | os.PathLike[str], name: str | None = None) -> Path:
    """Copy ``src`` to ``dest_dir/name`` (default: its own name) atomically, mode 0755; the new path."""
    source = Path(src)
    directory = Path(dest_dir)
    target = directory / (name or source.name)
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, source.open("rb") as data:
            shutil.copyfileobj(data, out)
            out.flush()
            os.fchmod(out.fileno(), 0o755)
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(directory)  # the rename itself survives a crash
    return target


@dataclass
class InstallResult:
    installed: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def find_launcher_writer() -> Callable[..., Path] | None:
    """``multus.shim.install.write_launcher``, looked up at run time: an older tree may lack it."""
    try:
        writer = getattr(importlib.import_module("multus.shim.install"), "write_launcher", None)
    except ImportError:
        return None
    return writer if callable(writer) else None


def install_shim_launcher(dest_dir: Path, python: str) -> Path | None:
    """Write the multus-shim launcher (atomically, 0755), or None when the writer is not available."""
    writer = find_launcher_writer()
    if writer is None:
        return None
    return Path(writer(dest_dir / "multus-shim", python=python))


def install(kind: Kind, dest_dir: str | os.PathLike[str], *, source_dir: str | os.PathLike[str] | None = None,
            python: str = sys.executable) -> InstallResult:
    """Install the commands of ``kind`` into ``dest_dir``; a missing piece is reported, not fatal."""
    if kind not in ("thin", "thick"):
        raise ValueError(f"--type is missing or --type has invalid value: {kind!r}")
    dest = Path(dest_dir)
    source = Path(source_dir) if source_dir is not None else default_source_dir()
    result = InstallResult()
    commands = ["multus", "passthru"] if kind == "thin" else ["passthru"]
    for command in commands:
        if not (source / command).is_file():
            raise FileNotFoundError(f"cannot install {command}: {source / command} does not exist "
                                    "(is multus-py installed with pip in this environment?)")
        result.installed.append(copy_binary(source / command, dest))
    if kind == "thick":
        launcher = install_shim_launcher(dest, python)
        if launcher is None:
            result.skipped.append("multus-shim: multus.shim.install.write_launcher is not available in this "
                                  "version; the shim was not installed")
        else:
            result.installed.append(launcher)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multus-install", description="Install Multus's CNI commands atomically.")
    parser.add_argument("-t", "--type", dest="kind", choices=("thick", "thin"), help="installer type (thick/thin)")
    parser.add_argument("-d", "--dest-dir", default=DEFAULT_DEST_DIR, help="destination directory")
    parser.add_argument("--source-dir", default=None, help="where the console scripts are (default: beside python)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the multus-shim launcher")
    args = parser.parse_args(argv)
    if args.kind is None:
        print("--type is missing or --type has invalid value", file=sys.stderr)
        return 1
    try:
        result = install(args.kind, args.dest_dir, source_dir=args.source_dir, python=args.python)
    except (OSError, ValueError) as exc:
        print(f"failed to install multus ({args.kind}): {exc}", file=sys.stderr)
        return 1
    for path in result.installed:
        print(f"installed {path}")
    for message in result.skipped:
        print(f"skipped {message}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
