"""Device-info files around one delegate (the NPWG device-info spec, via the ``devinfo`` library).

Before the delegate's ADD, the device plugin's DP file for its device is copied to the attachment's CNI
file (``CNIDeviceInfoFile``), so the plugin can read and complete it. If the device plugin wrote none,
no CNI file is created: plugins that write their own device-info refuse to overwrite an existing file.
After the ADD the CNI file (whoever wrote it) goes into network-status; when there is none and the device
ID is a PCI address present in sysfs, the device-info is built from sysfs for network-status instead
(``deviceInfoFromSysfs``, on by default), without writing a file. DEL and rollback remove the CNI file.
Nothing here ever fails an ADD or a DEL: device-info is reported, not required.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from multus.devices import DEFAULT_DEVINFO_DIR
from multus.logs import get_logger

if TYPE_CHECKING:
    from multus.plugin.delegate import Delegate

__all__ = ["DEFAULT_DEVINFO_DIR", "cni_file_of", "copy_from_device_plugin", "read_for_status", "remove"]

log = get_logger(__name__)


def cni_file_of(capability_args: dict[str, Any]) -> str:
    return str(capability_args.get("CNIDeviceInfoFile") or "")


def copy_from_device_plugin(delegate: Delegate, cni_file: str, base_dir: str = DEFAULT_DEVINFO_DIR) -> bool:
    """Copy the DP file of the delegate's device to ``cni_file``; True if a file was copied."""
    if not (cni_file and delegate.resource_name and delegate.device_id):
        return False
    import devinfo
    from devinfo.errors import DevInfoError

    source = devinfo.dp_path(delegate.resource_name, delegate.device_id, base_dir=base_dir)
    if not source.exists():
        log.debug("no device-info from the device plugin at %s", source)
        return False
    try:
        devinfo.copy_dp_to_cni(cni_file, delegate.resource_name, delegate.device_id, base_dir=base_dir)
    except DevInfoError as exc:
        log.warning("could not copy device-info %s to %s: %s", source, cni_file, exc)
        return False
    return True


def read_for_status(delegate: Delegate, cni_file: str, *, from_sysfs: bool = True,
                    sysfs_root: str | None = None) -> dict[str, Any] | None:
    """The device-info to put in the delegate's network-status entries, or None."""
    if cni_file:
        import devinfo
        from devinfo.errors import DevInfoError

        try:
            found = devinfo.load_raw(cni_file)
        except DevInfoError as exc:
            log.warning("ignoring unreadable device-info %s: %s", cni_file, exc)
            found = None
        if found:
            return dict(found)
    if from_sysfs and delegate.device_id:
        return _from_sysfs(delegate.device_id, sysfs_root)
    return None


def _from_sysfs(device_id: str, sysfs_root: str | None) -> dict[str, Any] | None:
    from devinfo.errors import DevInfoError
    from devinfo.spec import is_pci_address
    from devinfo.sysfs import build_device_info_dict

    if not is_pci_address(device_id):
        return None
    try:
        return dict(build_device_info_dict(device_id, sysfs_root=sysfs_root))
    except DevInfoError as exc:
        log.debug("no sysfs device-info for %s: %s", device_id, exc)
        return None


def remove(cni_file: str) -> None:
    if not cni_file:
        return
    import devinfo
    from devinfo.errors import DevInfoError

    try:
        devinfo.clean(cni_file)
    except (DevInfoError, OSError) as exc:
        log.warning("could not remove device-info %s: %s", cni_file, exc)
