"""Install the shim as one executable file, e.g. ``/opt/cni/bin/multus-shim``, the fastest way to start it.

The pip console script imports ``re`` and runs ``site`` (several ms per CNI call). A ``#!<python> -IS``
script skips both (``-IS`` rather than ``-I -S``: Linux passes everything after the interpreter as ONE
argument, which Python rejects). But Python recompiles a script's source at every start and never
caches it, ~6 ms for the shim's ~380 lines. So the launcher embeds the module's code compiled (marshal,
base64) and runs that when the interpreter's bytecode magic matches the one it was compiled with; with
any other interpreter it compiles the embedded source instead, slower but correct.

    python -m multus.shim.install /opt/cni/bin/multus-shim [--python /usr/bin/python3]
"""

from __future__ import annotations

import argparse
import binascii
import importlib.util
import marshal
import os
import sys
from pathlib import Path

import multus
from multus.shim import shim

# Linux reads at most 255 bytes of a "#!" line (127 before 5.1) and cuts longer ones silently.
MAX_SHEBANG = 255
_PROJECT_LINE = '_PROJECT_PATH = ""\n'

_TEMPLATE = """#!{python} -IS
# multus-shim, written by multus.shim.install from {origin}; do not edit.
# The code is embedded compiled because a script's source is compiled again at every start.
import binascii, marshal, sys
if getattr(sys.modules.get("_frozen_importlib_external"), "MAGIC_NUMBER", None) == {magic!r}:
    exec(marshal.loads(binascii.a2b_base64({code!r})))
else:
    exec(compile({source!r}, __file__, "exec"))
"""


def launcher_source(dest_path: str | os.PathLike[str], python: str = sys.executable,
                    project_path: str | None = None) -> str:
    """The launcher text: shebang, the shim's compiled code and its source as fallback."""
    if not os.path.isabs(python) or any(c.isspace() for c in python):
        raise ValueError(f"the launcher's python must be an absolute path without spaces, not {python!r}")
    if len(f"#!{python} -IS".encode()) > MAX_SHEBANG:
        raise ValueError(f"the python path is too long for a #! line ({MAX_SHEBANG} bytes): {python!r}")
    origin = Path(shim.__file__)
    source = origin.read_text(encoding="utf-8")
    if source.count(_PROJECT_LINE) != 1:
        raise RuntimeError(f"{origin}: cannot find the line {_PROJECT_LINE.strip()!r}")
    if project_path is None:
        project_path = str(Path(multus.__file__).resolve().parent.parent)
    source = source.replace(_PROJECT_LINE, f"_PROJECT_PATH = {project_path!r}\n")
    code = marshal.dumps(compile(source, os.fspath(dest_path), "exec"))
    return _TEMPLATE.format(python=python, origin=origin, magic=importlib.util.MAGIC_NUMBER, source=source,
                            code=binascii.b2a_base64(code, newline=False).decode("ascii"))


def write_launcher(dest_path: str | os.PathLike[str], python: str = sys.executable,
                   project_path: str | None = None) -> Path:
    """Write the launcher atomically (a temporary file renamed over ``dest_path``), mode 0755.

    ``project_path`` is where the launcher imports ``multus`` from to convert a Go daemon's result
    (our daemon needs no conversion): by default the tree this module comes from; "" for none, e.g.
    for a host that has only an interpreter.
    """
    dest = Path(dest_path)
    text = launcher_source(dest, python, project_path)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o755)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fchmod(out.fileno(), 0o755)
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Install multus-shim as a single fast-starting file.")
    parser.add_argument("dest", help="where to write it, e.g. /opt/cni/bin/multus-shim")
    parser.add_argument("--python", default=sys.executable, help="the interpreter in the #! line")
    parser.add_argument("--project-path", help="where to import multus from (default: this tree; '' for none)")
    args = parser.parse_args(argv)
    print(write_launcher(args.dest, args.python, args.project_path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
