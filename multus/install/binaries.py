"""Installing Multus's commands into the host's CNI bin dir, and ``multus-install`` (Go's install_multus).

Every file is replaced atomically (:mod:`multus.install.atomic`): a runtime executing the old file at
that moment keeps running it, and nothing ever sees half a file ("Text file busy" is impossible).

    multus-install -t thick|thin [-d /host/opt/cni/bin] [--host-python /usr/bin/python3] [--source-dir DIR]

thin installs ``multus`` and ``passthru`` as the self-contained bundle (:mod:`multus.install.bundle`),
which the host's own interpreter runs; thick installs ``passthru`` (pip's console script, copied from
``--source-dir``) and the ``multus-shim`` launcher (one fast-starting file,
:func:`multus.shim.install.write_launcher`). ``--host-python`` (alias ``--python``) is the node's
interpreter, written into the ``#!`` line of what runs on the host: /usr/bin/python3 by default for
thin; for thick, as before, the interpreter running ``multus-install`` unless given.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from multus.install.atomic import copy_executable
from multus.install.bundle import DEFAULT_HOST_PYTHON, BundleError, install_thin_bundle

DEFAULT_DEST_DIR = "/host/opt/cni/bin"
Kind = Literal["thin", "thick"]


def default_source_dir() -> Path:
    """Where pip put this installation's console scripts: next to the interpreter running us."""
    return Path(sys.executable).parent


def copy_binary(src: str | os.PathLike[str], dest_dir: str | os.PathLike[str], name: str | None = None) -> Path:
    """Copy ``src`` to ``dest_dir/name`` (default: its own name) atomically, mode 0755; the new path."""
    return copy_executable(src, dest_dir, name)


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
            python: str | None = None) -> InstallResult:
    """Install the commands of ``kind`` into ``dest_dir``; a missing shim writer is reported, not fatal.

    ``python`` is the node's interpreter for the ``#!`` lines: for thin, the bundle's (default
    /usr/bin/python3); for thick, the shim launcher's and passthru's (default: this interpreter for the
    shim, /usr/bin/python3 for passthru). Thick's ``passthru`` is the same host bundle as thin's: the
    daemon runs delegates chrooted into the host, where pip's console script (bound to the image's
    Python and site-packages) cannot run. ``source_dir`` is no longer needed and is ignored.
    """
    if kind not in ("thin", "thick"):
        raise ValueError(f"--type is missing or --type has invalid value: {kind!r}")
    dest = Path(dest_dir)
    result = InstallResult()
    if kind == "thin":
        result.installed += install_thin_bundle(dest, host_python=python or DEFAULT_HOST_PYTHON)
        return result
    result.installed += install_thin_bundle(dest, host_python=python or DEFAULT_HOST_PYTHON, names=("passthru",))
    launcher = install_shim_launcher(dest, python or sys.executable)
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
    parser.add_argument("--source-dir", default=None,
                        help="thick: where the passthru console script is (default: beside python)")
    parser.add_argument("--host-python", "--python", dest="python", default=None, metavar="PATH",
                        help="the node's interpreter, for the #! line of what runs on the host (default: "
                             f"{DEFAULT_HOST_PYTHON} for thin, this python for thick)")
    args = parser.parse_args(argv)
    if args.kind is None:
        print("--type is missing or --type has invalid value", file=sys.stderr)
        return 1
    try:
        result = install(args.kind, args.dest_dir, source_dir=args.source_dir, python=args.python)
    except (OSError, ValueError, BundleError) as exc:
        print(f"failed to install multus ({args.kind}): {exc}", file=sys.stderr)
        return 1
    for path in result.installed:
        print(f"installed {path}")
    for message in result.skipped:
        print(f"skipped {message}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
