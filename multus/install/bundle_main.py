"""The ``__main__.py`` of the thin bundle: the first code the host's interpreter runs for a CNI call.

:mod:`multus.install.bundle` copies this file into the archive as ``__main__.py``. The container runtime
execs the archive as ``multus`` or ``passthru``; this module picks the command from that name, so one
archive serves both.

Why it is written in this odd, old style (string annotations, string concatenation, only ``sys``
imported at module level): it is the one module that runs *before* we know the host's Python is new
enough. multus-py needs Python >= 3.11 (``StrEnum``, ``Self``...); on an older interpreter importing it
would die with a SyntaxError or ImportError traceback, which the runtime shows as an unreadable failure
on every pod. So this module must parse and run on any Python 3 and answer with a CNI error object
instead (code 999, exit status 1).

Why :class:`HostPackageFinder`: the archive runs with ``-IS``, so the host's site-packages are not on
sys.path (which is what makes the bundle independent of whatever else is installed there). grpc and
protobuf, which the kubelet PodResources client needs, are compiled extensions the bundle cannot carry;
the finder looks them up, and only them, in the host interpreter's own site directories when they are
first imported, and otherwise fails with an error that says what to install.
"""

import sys

MINIMUM_PYTHON = (3, 11)
PASSTHRU = "passthru"
INTERNAL_ERROR = 999
# Top-level packages taken from the host interpreter's site directories, never from elsewhere.
HOST_PACKAGES = ("grpc", "google", "typing_extensions")
# What podresources/_proto's generated code accepts (its runtime version checks).
HOST_PACKAGES_REQUIREMENT = "grpcio>=1.85.1 and protobuf>=7.35.1,<8"

TYPE_CHECKING = False
if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec


def version_problem(version: "tuple[int, ...]", executable: str = "python") -> "str | None":
    """Why ``version`` (a ``sys.version_info``) cannot run multus-py, or None when it can."""
    if tuple(version[:2]) >= MINIMUM_PYTHON:
        return None
    have = ".".join(str(part) for part in version[:3])
    need = ".".join(str(part) for part in MINIMUM_PYTHON)
    return ("multus-py needs Python >= " + need + " on the node, but " + executable + " is Python " + have
            + ": install a newer python3 on the node, or point multus-install --host-python at one")


def cni_error(msg: str, details: str = "", code: int = INTERNAL_ERROR) -> str:
    """A CNI error object (the spec's code/msg/details) as the text a plugin prints on stdout."""
    import json

    body = {"code": code, "msg": msg}  # type: dict[str, object]
    if details:
        body["details"] = details
    return json.dumps(body)


def command_name(argv0: str) -> str:
    """The command to run for the name the archive was started as: ``passthru``, else ``multus``.

    Any other name (a renamed copy, ``python3 bundle.pyz``) is the meta-plugin, the bundle's main job.
    """
    name = argv0.replace("\\", "/").rsplit("/", 1)[-1]
    return PASSTHRU if name == PASSTHRU else "multus"


def host_site_dirs() -> "list[str]":
    """The host interpreter's site directories (Debian: /usr/local/lib/python3.X/dist-packages, ...)."""
    import os
    import site  # with -S, importing site computes paths but changes nothing (no .pth processing)

    return [d for d in site.getsitepackages() if os.path.isdir(d)]


class HostPackageFinder:
    """A last-resort meta-path finder: :data:`HOST_PACKAGES` from the host's site directories.

    It sits at the end of ``sys.meta_path``: the stdlib and the archive always win, and it costs nothing
    until one of these packages is imported. A namespace package (``google``) gets a plain ``__path__``
    list, so it does not recompute itself from sys.path, which lacks these directories.
    """

    def __init__(self, site_dirs: "list[str] | None" = None) -> None:
        self._site_dirs = site_dirs

    def site_dirs(self) -> "list[str]":
        if self._site_dirs is None:
            self._site_dirs = host_site_dirs()
        return self._site_dirs

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> "ModuleSpec | None":
        if path is not None or fullname not in HOST_PACKAGES:
            return None
        from importlib.machinery import PathFinder

        dirs = self.site_dirs()
        spec = PathFinder.find_spec(fullname, dirs)
        if spec is None:
            raise ModuleNotFoundError(
                "No module named " + repr(fullname) + ": the kubelet PodResources API needs "
                + HOST_PACKAGES_REQUIREMENT + " installed for " + sys.executable + " on the node (looked in "
                + (", ".join(dirs) or "no site directory") + "); without them only the device manager "
                "checkpoint can be read, i.e. when the kubelet's pod-resources socket does not exist",
                name=fullname)
        if spec.loader is None and spec.submodule_search_locations is not None:
            spec.submodule_search_locations = list(spec.submodule_search_locations)
        return spec


def pin_archive(archive: str) -> str:
    """A path to the archive this process started from that stays valid when the file is replaced.

    zipimport reads the zip's directory once, then reopens the archive *by path* for every later import,
    seeking to the offsets it read. When ``multus-install`` renames a new version over the file while a
    call is running (a DaemonSet upgrade), the call's next lazy import would read the new file at the old
    offsets and fail ("bad local file header"). ``/proc/self/fd/N`` of a descriptor opened now always
    names the file this process started with. zipimport's directory, already read, is reused for the new
    path (its entries carry the archive's path, which becomes module paths: rewritten), so nothing is
    read twice. When the cache is not in the expected shape (another Python's zipimport) or /proc is not
    mounted, the path is kept: the call works as before, only without this protection.
    """
    import os
    import zipimport

    cache = getattr(zipimport, "_zip_directory_cache", None)
    toc = cache.get(archive) if isinstance(cache, dict) else None
    if not isinstance(toc, dict) or not all(isinstance(entry, tuple) and entry and isinstance(entry[0], str)
                                            and entry[0].startswith(archive) for entry in toc.values()):
        return archive
    try:
        fd = os.open(archive, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return archive
    pinned = "/proc/self/fd/" + str(fd)
    if not os.path.isfile(pinned):
        os.close(fd)
        return archive
    cut = len(archive)
    assert isinstance(cache, dict)
    cache[pinned] = {name: (pinned + entry[0][cut:],) + entry[1:] for name, entry in toc.items()}
    return pinned


def fail(msg: str, details: str = "") -> int:
    """Report a failure before the plugin's own error handling exists: CNI error on stdout, a line on stderr."""
    sys.stdout.write(cni_error(msg, details) + "\n")
    sys.stdout.flush()
    sys.stderr.write("multus-py bundle: " + msg + "\n")
    return 1


def main() -> int:
    problem = version_problem(tuple(sys.version_info[:3]), sys.executable)
    if problem is not None:
        return fail(problem)
    sys.meta_path.append(HostPackageFinder())
    archive = __file__.rsplit("/", 1)[0]  # this file is <archive>/__main__.py
    if sys.path and sys.path[0] == archive:
        sys.path[0] = pin_archive(archive)
    try:
        if command_name(sys.argv[0]) == PASSTHRU:
            from multus.passthru import main as run
        else:
            from multus.plugin.entry import main as run
    except Exception as exc:  # a damaged archive or host: still an error object, not a traceback
        return fail("cannot load multus-py from " + sys.argv[0], type(exc).__name__ + ": " + str(exc))
    run()  # exits the process with the plugin's own status
    return 0


if __name__ == "__main__":
    sys.exit(main())
