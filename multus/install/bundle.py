"""The thin plugin for the host: one executable zip (stdlib ``zipapp``) that the node's own python3 runs.

In thin mode the container runtime runs ``multus`` on the host, from /opt/cni/bin. pip's console
scripts cannot go there: their ``#!`` names the image's interpreter and they import multus-py from the
image's site-packages. The bundle carries everything a CNI call imports instead:

* our pure-Python packages: ``multus`` (without ``testing``, ``daemon``, ``install`` and ``shim``, which
  run only in containers or in thick mode), ``devinfo`` and ``podresources`` (without their ``testing``
  doubles);
* the pure-Python third-party packages the call path may import: ``pyroute2`` (default-route edits;
  without the subpackages nothing imports on Linux: BSD, DHCP, nftables, the pcap decoder, pytest
  fixtures...) and ``yaml`` (a YAML kubeconfig; only its Python part: the C loader is a compiled
  extension), with their license files under ``LICENSES/``. Nothing else: the call path is
  stdlib-only by design (tests/test_import_budget.py), and grpc/protobuf, compiled, are found on the
  host if at all (see :mod:`multus.install.bundle_main`);
* next to every ``.py``, its bytecode for the build interpreter: zipimport uses a ``.pyc`` beside the
  source when its magic number matches and recompiles the source at every start otherwise (a host
  Python of another version still works, only slower). The ``.pyc`` files are hash-based and
  unchecked, so nothing depends on timestamps, which makes the archive reproducible;
* ``__main__.py`` (:mod:`multus.install.bundle_main`): checks the Python version, then runs ``multus``
  or ``passthru`` depending on the name it was started as.

The ``#!`` line is ``#!<host python> -IS`` (``-IS``, not ``-I -S``: Linux passes what follows the
interpreter as one argument). ``-I`` ignores PYTHON* variables and the current directory, ``-S`` skips
``site``: the archive is sys.path[0], so nothing installed on the host can shadow the bundle's code,
and start-up skips .pth processing.

What each call pays, and what keeps it small: the interpreter parses the whole zip directory (in
Python, ~5 µs per entry) before the first import from it, so the archive holds files only, no directory
entries, and no unused modules; and zipimport inflates every compressed module it imports, so nothing
is compressed (measured: 3-5 ms per call saved, for 5.4 MB instead of 1.9 MB per file).

The same archive is installed under each name as a separate file, not a hard or symbolic link: an
installer that later writes one of the names in place (``cp`` over an existing file) would otherwise
change the other command too.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
import zipapp
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path

import multus
from multus.install import bundle_main
from multus.install.atomic import copy_executable, write_executable

DEFAULT_HOST_PYTHON = "/usr/bin/python3"
BUNDLE_NAMES = ("multus", "passthru")
OUR_PACKAGES = ("multus", "devinfo", "podresources")
THIRD_PARTY = {"pyroute2": "pyroute2", "yaml": "PyYAML"}  # import name -> distribution (for its licenses)
# Never on the host's call path: test doubles, the daemon, the container-side installer, thick's shim, and
# pyroute2 subpackages that neither ``import pyroute2`` nor IPRoute imports (checked by the bundle's tests).
EXCLUDED = ("multus/testing", "multus/daemon", "multus/install", "multus/shim", "devinfo/testing.py",
            "podresources/testing.py", *(f"pyroute2/{name}" for name in (
                "bsd", "decoder", "dhcp", "ext", "fixtures", "inotify", "nftables", "wirouting")))
# Linux reads at most 255 bytes of a "#!" line (127 before 5.1) and cuts longer ones silently.
MAX_SHEBANG = 255
# Every entry gets this mtime (1980-01-02 UTC, valid for zip in any time zone): reproducible archives.
FIXED_MTIME = 315619200
PYC_FLAGS_HASH_UNCHECKED = 0b01


class BundleError(Exception):
    """The bundle cannot be built (a package is missing, the interpreter path is unusable)."""


def shebang(python: str) -> str:
    """The interpreter part of the ``#!`` line; ValueError for a path Linux or Python would mangle."""
    if not os.path.isabs(python) or any(c.isspace() for c in python):
        raise ValueError(f"the host python must be an absolute path without spaces, not {python!r}")
    line = f"{python} -IS"
    if len(f"#!{line}".encode()) > MAX_SHEBANG:
        raise ValueError(f"the python path is too long for a #! line ({MAX_SHEBANG} bytes): {python!r}")
    return line


def package_dir(name: str) -> Path:
    """Where package ``name`` is installed, found without importing it (pyroute2 costs ~150 ms)."""
    if name == "multus":
        return Path(multus.__file__).resolve().parent
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise BundleError(f"cannot bundle {name}: it is not installed for this python")
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def _excluded(relative: str) -> bool:
    return any(relative == entry or relative.startswith(entry + "/") for entry in EXCLUDED)


def package_sources(name: str) -> Iterator[tuple[str, Path]]:
    """``(path in the archive, source file)`` for every module of package ``name``, sorted."""
    root = package_dir(name)
    for path in sorted(root.rglob("*.py")):
        relative = f"{name}/{path.relative_to(root).as_posix()}"
        if "__pycache__" not in path.parts and not _excluded(relative):
            yield relative, path


def compile_pyc(source: bytes, archive_path: str) -> bytes:
    """Unchecked hash-based bytecode for this interpreter (PEP 552): magic, flags, source hash, code."""
    import marshal

    code = compile(source, archive_path, "exec", dont_inherit=True, optimize=0)  # asserts kept, whatever -O
    header = importlib.util.MAGIC_NUMBER + PYC_FLAGS_HASH_UNCHECKED.to_bytes(4, "little")
    return header + importlib.util.source_hash(source) + marshal.dumps(code)


def license_files(distribution: str) -> Iterator[tuple[str, bytes]]:
    """The license texts of an installed distribution, as ``(name, bytes)``."""
    try:
        files = metadata.distribution(distribution).files or []
    except metadata.PackageNotFoundError:
        return
    for entry in files:
        upper = entry.name.upper()
        if upper.startswith(("LICENSE", "LICENCE", "COPYING", "NOTICE")) or "licenses" in entry.parts:
            yield entry.name, entry.read_binary()


def _put(staging: Path, relative: str, data: bytes) -> None:
    target = staging / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    os.utime(target, (FIXED_MTIME, FIXED_MTIME))


def stage(staging: Path, *, bytecode: bool = True) -> list[str]:
    """Lay the archive's files out in ``staging``; their archive paths."""
    written: list[str] = []

    def put(relative: str, data: bytes) -> None:
        _put(staging, relative, data)
        written.append(relative)

    main_source = Path(bundle_main.__file__).read_bytes()
    modules: list[tuple[str, bytes]] = [("__main__.py", main_source)]
    for name in (*OUR_PACKAGES, *THIRD_PARTY):
        modules += [(relative, path.read_bytes()) for relative, path in package_sources(name)]
    for relative, source in modules:
        put(relative, source)
        if bytecode:
            put(relative[:-3] + ".pyc", compile_pyc(source, relative))
    for name, distribution in THIRD_PARTY.items():
        for file_name, data in license_files(distribution):
            put(f"LICENSES/{name}/{file_name}", data)
    return written


def build_thin_bundle(dest: str | os.PathLike[str], *, python_shebang: str = DEFAULT_HOST_PYTHON,
                      bytecode: bool = True) -> Path:
    """Build the bundle at ``dest`` (atomically, mode 0755); ``dest``.

    ``python_shebang``: the interpreter on the node, written into the ``#!`` line with ``-IS``.
    ``bytecode=False`` leaves the ``.pyc`` files out (what a host of another Python version gets).
    """
    interpreter = shebang(python_shebang)
    with tempfile.TemporaryDirectory(prefix="multus-bundle-") as tmp:
        staging = Path(tmp)
        stage(staging, bytecode=bytecode)
        return write_executable(dest, lambda out: zipapp.create_archive(
            staging, out, interpreter=interpreter, compressed=False, filter=lambda p: (staging / p).is_file()))


def install_thin_bundle(dest_dir: str | os.PathLike[str], *, host_python: str = DEFAULT_HOST_PYTHON,
                        names: Sequence[str] = BUNDLE_NAMES) -> list[Path]:
    """Build the bundle once and install it under each of ``names`` in ``dest_dir``, each atomically.

    Installing the same version again gives the same files (the archive is reproducible), so an init
    container that runs at every pod start rewrites nothing but identical bytes.
    """
    for name in names:
        if name not in BUNDLE_NAMES:
            raise ValueError(f"the bundle runs as {' or '.join(BUNDLE_NAMES)}, not {name!r}")
    with tempfile.TemporaryDirectory(prefix="multus-bundle-") as tmp:
        built = build_thin_bundle(Path(tmp) / "bundle.pyz", python_shebang=host_python)
        return [copy_executable(built, dest_dir, name) for name in names]


def archive_names(path: str | os.PathLike[str]) -> list[str]:
    """The paths inside a built bundle (to inspect or test it)."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        return archive.namelist()


__all__ = ["BUNDLE_NAMES", "DEFAULT_HOST_PYTHON", "BundleError", "archive_names", "build_thin_bundle",
           "install_thin_bundle", "shebang"]
