"""Unit tests of multus.devices.deviceinfo: copy, read and removal of device-info files, edge cases.

Nothing here may fail an ADD or a DEL, so every failure is checked to end in a logged warning and a
harmless answer. Checked:
* ``cni_file_of``: the capability arg, or "";
* ``copy_from_device_plugin``: nothing without a CNI file, resource name or device ID; no CNI file when
  the DP file is missing or unreadable; a copy re-encoded like Go's (unknown keys dropped), 0444; an
  existing CNI file is left alone (warning); device IDs with ``/`` map to Go's file names;
* ``read_for_status``: the CNI file's object as written; an unreadable or empty CNI file falls back to
  sysfs (warning); sysfs only for a PCI device ID present in the tree, and only when enabled;
* ``remove``: "" and missing files are fine; a path that cannot be unlinked is a warning, not an error.
"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import pytest

import devinfo
from devinfo.testing import FakeSysfs
from multus.devices import deviceinfo
from multus.plugin.delegate import Delegate

RESOURCE = "intel.com/sriov_a"
PF, VF = "0000:03:00.0", "0000:03:02.1"
PCI_INFO = {"type": "pci", "version": "1.1.0", "pci": {"pci-address": VF}}


def delegate(device_id: str = VF, resource: str = RESOURCE) -> Delegate:
    return Delegate(config=b'{"cniVersion":"1.0.0","type":"sriov"}', name="ns/net1", device_id=device_id,
                    resource_name=resource)


def write_dp(base: Path, body: str, device_id: str = VF) -> Path:
    path = devinfo.dp_path(RESOURCE, device_id, base_dir=base)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path / "devinfo"


@pytest.fixture
def cni_file(base: Path) -> Path:
    return base / "cni" / "ns-net1-ctr1_net1"


def test_the_cni_file_is_the_capability_arg_or_nothing() -> None:
    assert deviceinfo.cni_file_of({"CNIDeviceInfoFile": "/x/y", "deviceID": VF}) == "/x/y"
    assert deviceinfo.cni_file_of({"deviceID": VF}) == ""
    assert deviceinfo.cni_file_of({"CNIDeviceInfoFile": None}) == ""


# ---- copy ----------------------------------------------------------------------------------------------------


def test_the_dp_file_is_copied_re_encoded_like_go_and_read_only(base: Path, cni_file: Path) -> None:
    write_dp(base, '{ "version": "1.1.0", "type": "pci", "pci": {"pci-address": "VF"}, "x-vendor": 1 }'
             .replace("VF", VF))

    assert deviceinfo.copy_from_device_plugin(delegate(), str(cni_file), str(base)) is True

    assert cni_file.read_text() == '{"type":"pci","version":"1.1.0","pci":{"pci-address":"VF"}}'.replace("VF", VF)
    assert stat.S_IMODE(cni_file.stat().st_mode) == 0o444


@pytest.mark.parametrize("cni, device_id, resource", [("", VF, RESOURCE), ("set", "", RESOURCE), ("set", VF, "")],
                         ids=["no-cni-file", "no-device", "no-resource"])
def test_nothing_is_copied_without_a_cni_file_a_device_or_a_resource(
        base: Path, cni_file: Path, cni: str, device_id: str, resource: str) -> None:
    write_dp(base, json.dumps(PCI_INFO))
    target = str(cni_file) if cni else ""
    assert deviceinfo.copy_from_device_plugin(delegate(device_id, resource), target, str(base)) is False
    assert not cni_file.exists()


def test_without_a_dp_file_no_cni_file_is_created(base: Path, cni_file: Path) -> None:
    assert deviceinfo.copy_from_device_plugin(delegate(), str(cni_file), str(base)) is False
    assert not cni_file.exists() and not cni_file.parent.exists()


def test_an_unreadable_dp_file_is_a_warning_and_creates_no_cni_file(
        base: Path, cni_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_dp(base, "{not json")
    with caplog.at_level(logging.WARNING, logger="multus.devices.deviceinfo"):
        assert deviceinfo.copy_from_device_plugin(delegate(), str(cni_file), str(base)) is False
    assert not cni_file.exists()
    assert "could not copy device-info" in caplog.text


def test_an_existing_cni_file_is_left_alone_with_a_warning(
        base: Path, cni_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_dp(base, json.dumps(PCI_INFO))
    cni_file.parent.mkdir(parents=True)
    cni_file.write_text('{"type":"pci","version":"1.0.0","pci":{"pci-address":"0000:00:00.0"}}')
    with caplog.at_level(logging.WARNING, logger="multus.devices.deviceinfo"):
        assert deviceinfo.copy_from_device_plugin(delegate(), str(cni_file), str(base)) is False
    assert "0000:00:00.0" in cni_file.read_text()
    assert str(cni_file) in caplog.text


def test_a_device_id_with_a_slash_uses_gos_dp_file_name(base: Path, cni_file: Path) -> None:
    write_dp(base, json.dumps(PCI_INFO), device_id="pool/dev-1")
    assert (base / "dp" / "intel.com-sriov_a-pool-dev-1-device.json").exists()
    assert deviceinfo.copy_from_device_plugin(delegate("pool/dev-1"), str(cni_file), str(base)) is True


def test_the_default_base_dir_is_the_specs() -> None:
    assert deviceinfo.DEFAULT_DEVINFO_DIR == "/var/run/k8s.cni.cncf.io/devinfo"


# ---- read ------------------------------------------------------------------------------------------------------


def test_the_cni_file_is_reported_as_written_key_order_kept(cni_file: Path, tmp_path: Path) -> None:
    cni_file.parent.mkdir(parents=True)
    cni_file.write_text('{"version":"1.0.0","type":"pci","pci":{"pci-address":"VF"}}'.replace("VF", VF))
    found = deviceinfo.read_for_status(delegate(), str(cni_file), sysfs_root=str(tmp_path / "sys"))
    assert found == {"version": "1.0.0", "type": "pci", "pci": {"pci-address": VF}}
    assert list(found or {}) == ["version", "type", "pci"]


def sysfs(tmp_path: Path) -> str:
    FakeSysfs(tmp_path).add_sriov_pf(PF, vfs=[VF])
    return str(tmp_path / "sys")


@pytest.mark.parametrize("content", ["{broken", "{}"], ids=["unreadable", "empty-object"])
def test_an_unusable_cni_file_falls_back_to_sysfs(
        cni_file: Path, tmp_path: Path, content: str, caplog: pytest.LogCaptureFixture) -> None:
    cni_file.parent.mkdir(parents=True)
    cni_file.write_text(content)
    with caplog.at_level(logging.WARNING, logger="multus.devices.deviceinfo"):
        found = deviceinfo.read_for_status(delegate(), str(cni_file), sysfs_root=sysfs(tmp_path))
    assert found == {"type": "pci", "version": "1.1.0", "pci": {"pci-address": VF, "pf-pci-address": PF}}
    assert ("ignoring unreadable device-info" in caplog.text) == (content == "{broken")


def test_a_missing_cni_file_falls_back_to_sysfs_only_when_enabled(cni_file: Path, tmp_path: Path) -> None:
    root = sysfs(tmp_path)
    assert deviceinfo.read_for_status(delegate(), str(cni_file), sysfs_root=root) is not None
    assert deviceinfo.read_for_status(delegate(), str(cni_file), from_sysfs=False, sysfs_root=root) is None
    assert deviceinfo.read_for_status(delegate(), "", sysfs_root=root) is not None  # no CNI file path at all


@pytest.mark.parametrize("device_id", ["", "mlx5_core.sf.4", "0000:03:02.7"],
                         ids=["no-device", "not-pci", "pci-not-in-sysfs"])
def test_sysfs_gives_nothing_for_a_device_it_cannot_describe(tmp_path: Path, device_id: str) -> None:
    assert deviceinfo.read_for_status(delegate(device_id), "", sysfs_root=sysfs(tmp_path)) is None


# ---- remove ----------------------------------------------------------------------------------------------------


def test_remove_deletes_the_file_and_tolerates_nothing_to_delete(cni_file: Path) -> None:
    cni_file.parent.mkdir(parents=True)
    cni_file.write_text("{}")
    cni_file.chmod(0o444)
    deviceinfo.remove(str(cni_file))
    assert not cni_file.exists()
    deviceinfo.remove(str(cni_file))  # already gone
    deviceinfo.remove("")  # no file for this delegate


def test_a_path_that_cannot_be_removed_is_a_warning_not_an_error(
        cni_file: Path, caplog: pytest.LogCaptureFixture) -> None:
    cni_file.mkdir(parents=True)  # a directory where the file should be
    with caplog.at_level(logging.WARNING, logger="multus.devices.deviceinfo"):
        deviceinfo.remove(str(cni_file))
    assert cni_file.is_dir()
    assert f"could not remove device-info {cni_file}" in caplog.text
