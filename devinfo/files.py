"""Device-info files: where they live, and saving, loading, copying and removing them safely.

Layout (spec 1.1.0 section 4, and the NAD client's helpers)::

    <base>/dp/<resourceName>-<deviceID>-device.json   written by a device plugin, one per device
    <base>/cni/<unique name>                           one per network attachment (Multus copies the DP
                                                       file here; the CNI plugin may read and update it)

with ``<base>`` = ``/var/run/k8s.cni.cncf.io/devinfo`` unless a ``base_dir`` is given. Like Go, every
``/`` in a name becomes ``-`` and nothing else is changed (``:`` and ``.`` stay). Unlike Go, a name that
would still not name a file inside its directory -- empty, containing NUL, ``.``/``..`` after the
replacement, or longer than NAME_MAX -- is refused with :class:`~devinfo.errors.UnsafeNameError`.

Writes keep Go's rules (no overwrite by default, with Go's error text; files 0444) and add what Go
lacks: the file is written to a temporary file in the same directory, fsynced, then linked into place
(``link`` fails if the name exists, so two racing writers cannot both "create" the file) or renamed
over it when overwriting, so a reader never sees half a file. New directories get 0755 (Go asks for
mode 0, which only root can use).

Standard library only, like :mod:`devinfo.wire`: the meta-plugin's per-call path can compute paths,
copy, read raw objects and clean without pydantic. :func:`save` and :func:`load` take or return
:class:`~devinfo.models.DeviceInfo`, which imports pydantic on first use.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from devinfo import wire
from devinfo.errors import DeviceInfoExistsError, DeviceInfoNotFoundError, InvalidDeviceInfoError, UnsafeNameError
from devinfo.spec import WireDict

if TYPE_CHECKING:
    from devinfo.models import DeviceInfo

DEFAULT_BASE_DIR = Path("/var/run/k8s.cni.cncf.io/devinfo")
DP_SUBDIR = "dp"
CNI_SUBDIR = "cni"
FILE_MODE = 0o444
DIR_MODE = 0o755
_NAME_MAX = 255

StrPath = str | os.PathLike[str]


def _sanitize(what: str, value: str) -> str:
    """``/`` -> ``-`` as Go does; refuse what is empty or holds NUL (no file can have that name)."""
    if not value:
        raise UnsafeNameError(f"{what} is empty")
    if "\0" in value:
        raise UnsafeNameError(f"{what} {value!r} contains a NUL character")
    return value.replace("/", "-")


def _checked_file_name(what: str, name: str) -> str:
    if name in (".", ".."):
        raise UnsafeNameError(f"{what} becomes {name!r}, which would leave the directory")
    if len(name.encode("utf-8", errors="surrogateescape")) > _NAME_MAX:
        raise UnsafeNameError(f"{what} is longer than {_NAME_MAX} bytes once made a file name: {name[:40]}...")
    return name


def dp_path(resource_name: str, device_id: str, *, base_dir: StrPath = DEFAULT_BASE_DIR) -> Path:
    """The device plugin's file: ``<base>/dp/<resourceName>-<deviceID>-device.json``, ``/`` -> ``-`` in both."""
    name = f"{_sanitize('resource name', resource_name)}-{_sanitize('device ID', device_id)}-device.json"
    return Path(base_dir) / DP_SUBDIR / _checked_file_name("resource name and device ID", name)


def cni_path(name: str, *, base_dir: StrPath = DEFAULT_BASE_DIR) -> Path:
    """A CNI attachment's file: ``<base>/cni/<name>`` with ``/`` -> ``-`` (Multus uses ``<net>-<cid>_<ifname>``)."""
    return Path(base_dir) / CNI_SUBDIR / _checked_file_name(f"CNI file name {name!r}", _sanitize("CNI file name", name))


def multus_cni_name(network: str, container_id: str, ifname: str) -> str:
    """The unique name Multus gives an attachment's CNI file: ``<network>-<containerID>_<ifname>``."""
    return f"{network}-{container_id}_{ifname}"


# ---- writing


def _ensure_dir(directory: Path) -> None:
    """Create missing directories with mode 0755 exactly, whatever the umask; leave existing ones alone."""
    missing: list[Path] = []
    current = directory
    while not current.is_dir():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another writer made it meanwhile
            path.mkdir()
            path.chmod(DIR_MODE)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: StrPath, data: bytes, *, overwrite: bool = False) -> Path:
    """Put ``data`` at ``path`` (mode 0444) so readers see the old content or the new, never a part.

    Without ``overwrite`` an existing file is an error (:class:`DeviceInfoExistsError`) and the check is
    race-free: the temporary file is hard-linked to the name, which fails if the name exists.
    """
    target = Path(path)
    _ensure_dir(target.parent)
    if not overwrite and target.exists():
        raise DeviceInfoExistsError(str(target))
    tmp = target.parent / f".{target.name[:200]}.tmp-{secrets.token_hex(6)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fchmod(fd, FILE_MODE)
            os.fsync(fd)
        finally:
            os.close(fd)
        if overwrite:
            os.replace(tmp, target)
        else:
            _link_exclusive(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    _fsync_dir(target.parent)
    return target


def _link_exclusive(tmp: Path, target: Path) -> None:
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise DeviceInfoExistsError(str(target)) from None
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if target.exists():  # a filesystem without hard links: check, then rename (a small race remains)
            raise DeviceInfoExistsError(str(target)) from None
        os.rename(tmp, target)


def save(path: StrPath, info: DeviceInfo, *, overwrite: bool = False, strict: bool = True) -> Path:
    """Write ``info`` as Go's compact JSON, atomically, mode 0444, creating directories (0755).

    ``strict`` (the default) refuses an object that breaks the spec, listing every problem; pass
    False to write a lenient object read elsewhere unchanged. Returns the path written.
    """
    if info is None:
        raise InvalidDeviceInfoError(["Device Information is null"])
    if strict and (problems := info.problems()):
        raise InvalidDeviceInfoError(problems, path=str(path))
    return write_atomic(path, info.to_json().encode("utf-8"), overwrite=overwrite)


def update(path: StrPath, info: DeviceInfo, *, strict: bool = True) -> Path:
    """Replace an *existing* file atomically (spec 1.1.0: a CNI plugin may update its CNI file).

    A missing file is an error (:class:`DeviceInfoNotFoundError`): an update of nothing is a bug, and
    creating belongs to :func:`save`.
    """
    if not Path(path).exists():
        raise DeviceInfoNotFoundError(str(path))
    return save(path, info, overwrite=True, strict=strict)


def save_for_dp(resource_name: str, device_id: str, info: DeviceInfo, *, overwrite: bool = False,
                base_dir: StrPath = DEFAULT_BASE_DIR) -> Path:
    """A device plugin's write (Go's ``SaveDeviceInfoForDP``): :func:`save` at :func:`dp_path`."""
    return save(dp_path(resource_name, device_id, base_dir=base_dir), info, overwrite=overwrite)


# ---- reading


def load_raw(path: StrPath, *, missing_ok: bool = True) -> WireDict | None:
    """The file's object in wire form, decoded as Go does (no pydantic); None if missing and ``missing_ok``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise DeviceInfoNotFoundError(str(path)) from None
    try:
        return wire.decode(data).wire
    except InvalidDeviceInfoError as exc:
        raise InvalidDeviceInfoError(exc.problems, path=str(path)) from None


def load(path: StrPath, *, missing_ok: bool = True, strict: bool = False) -> DeviceInfo | None:
    """Read a file into a :class:`DeviceInfo`; None if it is missing, unless ``missing_ok`` is False.

    Reading is lenient like Go's unless ``strict``, which also refuses unknown keys and spec violations.
    Unreadable JSON raises :class:`InvalidDeviceInfoError` naming the file.
    """
    from devinfo.models import DeviceInfo

    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise DeviceInfoNotFoundError(str(path)) from None
    try:
        return DeviceInfo.parse(data, strict=strict)
    except InvalidDeviceInfoError as exc:
        raise InvalidDeviceInfoError(exc.problems, path=str(path)) from None


def load_from_dp(resource_name: str, device_id: str, *, missing_ok: bool = True,
                 base_dir: StrPath = DEFAULT_BASE_DIR) -> DeviceInfo | None:
    """Read a device plugin's file (Go's ``LoadDeviceInfoFromDP``)."""
    return load(dp_path(resource_name, device_id, base_dir=base_dir), missing_ok=missing_ok)


# ---- copying and removing


def copy_dp_to_cni(cni_file: StrPath, resource_name: str, device_id: str, *,
                   base_dir: StrPath = DEFAULT_BASE_DIR) -> Path:
    """Copy a DP file to an attachment's CNI file, as Multus does before the delegate's ADD.

    Fails if the DP file is missing (:class:`DeviceInfoNotFoundError`) or unreadable, or if the CNI
    file exists (:class:`DeviceInfoExistsError`). Like Go, the object is decoded and re-encoded (unknown
    keys dropped) and not checked against the spec: the copy passes on what the device plugin wrote.
    """
    source = dp_path(resource_name, device_id, base_dir=base_dir)
    raw = load_raw(source, missing_ok=False)
    assert raw is not None  # missing_ok=False raised instead
    return write_atomic(cni_file, wire.dumps(raw).encode("utf-8"))


def clean(path: StrPath) -> bool:
    """Remove a device-info file; a missing one is fine. True if a file was removed."""
    try:
        Path(path).unlink()
    except FileNotFoundError:
        return False
    return True


def clean_for_dp(resource_name: str, device_id: str, *, base_dir: StrPath = DEFAULT_BASE_DIR) -> bool:
    """Remove a device plugin's file (Go's ``CleanDeviceInfoForDP``), e.g. when the plugin stops."""
    return clean(dp_path(resource_name, device_id, base_dir=base_dir))

