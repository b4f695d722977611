"""Typed errors of the devinfo library.

Every error derives from :class:`DevInfoError`, so a caller can catch the library's failures in one
clause, and also from the matching built-in (``ValueError``, ``FileExistsError``, ``LookupError``), so
code written against the standard exceptions keeps working.
"""

from __future__ import annotations

from collections.abc import Sequence


class DevInfoError(Exception):
    """Base of every error raised on purpose by devinfo."""


class InvalidDeviceInfoError(DevInfoError, ValueError):
    """A device-info object (or file) breaks the JSON syntax, Go's types, or the spec's rules.

    ``problems`` lists every reason found, one readable sentence each, so a validator can report them
    all at once instead of the first only.
    """

    def __init__(self, problems: Sequence[str], *, path: str | None = None) -> None:
        self.problems = list(problems) or ["invalid device-info"]
        self.path = path
        where = f"{path}: " if path else ""
        super().__init__(where + "; ".join(self.problems))


class UnsafeNameError(DevInfoError, ValueError):
    """A resource name, device ID or CNI file name would not name a file inside its directory."""


class DeviceInfoExistsError(DevInfoError, FileExistsError):
    """The target file exists and the write does not overwrite (the Go helpers' rule)."""

    def __init__(self, path: str) -> None:
        self.path = path
        # Same text as network-attachment-definition-client's saveDeviceInfo, so logs read alike.
        super().__init__(f"Device Information file already exists: {path}")


class DeviceInfoNotFoundError(DevInfoError, FileNotFoundError):
    """A device-info file that had to exist does not."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"Device Information file not found: {path}")


class SysfsError(DevInfoError):
    """sysfs discovery failed: bad address, missing device, or an unusable sysfs root."""


class PciDeviceNotFoundError(SysfsError, LookupError):
    """No PCI device with that address exists under the sysfs root."""
