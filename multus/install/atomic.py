"""Replacing an executable in the host's CNI bin dir without ever exposing a partial or busy file.

Every file is written to a temp file in the destination directory, synced, made 0755, then renamed over
the old one. Writing into the old file instead fails with "Text file busy" while the runtime is
executing it, which deadlocked node reboots (multus#1221: CRI-O runs the old ``multus-shim``, which
waits for the daemon, whose init container cannot overwrite the shim). A rename never touches the
running file: the process keeps the old inode, the next exec gets the new one. The directory is synced
after the rename so that the rename itself survives a crash.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def fsync_dir(directory: Path) -> None:
    """Make a rename in ``directory`` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_executable(target: str | os.PathLike[str], write: Callable[[BinaryIO], object],
                     mode: int = 0o755) -> Path:
    """Create ``target`` atomically from what ``write`` writes into an open temp file; the target path.

    On any failure (``write`` raising included) the old file is left as it was and no temp file remains.
    """
    path = Path(target)
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def copy_executable(src: str | os.PathLike[str], dest_dir: str | os.PathLike[str], name: str | None = None) -> Path:
    """Copy ``src`` to ``dest_dir/name`` (default: its own name) atomically, mode 0755; the new path."""
    source = Path(src)
    with source.open("rb") as data:  # opened first: a missing source must not create a temp file
        return write_executable(Path(dest_dir) / (name or source.name), lambda out: shutil.copyfileobj(data, out))
