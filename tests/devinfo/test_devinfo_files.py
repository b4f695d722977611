"""Device-info files: naming, safe names, atomic no-overwrite saves, loading, copying, updating, cleaning.

Checked here, all under a temporary base directory: the DP and CNI file names (the spec's example,
``/`` -> ``-`` in every part, Multus's ``<net>-<cid>_<ifname>``); names that would leave the directory
refused; ``save`` writing Go's bytes with mode 0444 and directories 0755 whatever the umask, refusing
to overwrite with Go's message (also when another writer wins the race), leaving no temporary file
and replacing by rename; ``load`` (missing -> None, or an error when required; bad JSON names the
file; strict); ``copy_dp_to_cni`` (Go's re-encoding, missing DP, existing CNI); ``update``; ``clean``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from devinfo import (
    DeviceInfo,
    DeviceInfoExistsError,
    DeviceInfoNotFoundError,
    InvalidDeviceInfoError,
    UnsafeNameError,
    clean,
    clean_for_dp,
    cni_path,
    copy_dp_to_cni,
    dp_path,
    load,
    load_from_dp,
    load_raw,
    multus_cni_name,
    save,
    save_for_dp,
    update,
)

VF = DeviceInfo.for_pci("0000:03:02.3", pf_pci_address="0000:03:00.0")
VF_JSON = '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:03:02.3","pf-pci-address":"0000:03:00.0"}}'


def test_the_dp_path_is_the_specs_example_with_slashes_replaced_in_both_parts() -> None:
    assert dp_path("intel.com/sriov_net_A", "0000:03:02.3") == \
        Path("/var/run/k8s.cni.cncf.io/devinfo/dp/intel.com-sriov_net_A-0000:03:02.3-device.json")
    assert dp_path("a/b/c", "x/y", base_dir="/base").as_posix() == "/base/dp/a-b-c-x-y-device.json"


def test_the_cni_path_uses_multus_unique_name_with_slashes_replaced() -> None:
    name = multus_cni_name("default/sriov-net", "0123abcd", "net1")
    assert cni_path(name, base_dir="/base") == Path("/base/cni/default-sriov-net-0123abcd_net1")


@pytest.mark.parametrize("name", ["", ".", "..", "a\0b", "x" * 256])
def test_a_cni_name_that_would_not_name_a_file_inside_cni_is_refused(name: str) -> None:
    with pytest.raises(UnsafeNameError):
        cni_path(name)


@pytest.mark.parametrize(("resource", "device_id"), [("", "0000:00:01.0"), ("intel.com/x", ""),
                                                     ("intel.com/x\0", "0000:00:01.0"), ("r", "d" * 250)])
def test_a_dp_name_that_would_not_name_a_file_inside_dp_is_refused(resource: str, device_id: str) -> None:
    with pytest.raises(UnsafeNameError):
        dp_path(resource, device_id)


@pytest.mark.parametrize("name", ["../../etc/passwd", "../x", "/abs/path"])
def test_names_with_dot_dot_segments_stay_inside_the_directory_after_sanitisation(name: str) -> None:
    path = cni_path(name, base_dir="/base")
    assert path.parent == Path("/base/cni") and "/" not in path.name


def test_save_writes_gos_compact_json_with_mode_0444_and_new_directories_0755(base_dir: Path) -> None:
    old_umask = os.umask(0o077)
    try:
        path = save(cni_path("ns/net-cid_net1", base_dir=base_dir), VF)
    finally:
        os.umask(old_umask)
    assert path.read_bytes() == VF_JSON.encode()
    assert stat.S_IMODE(path.stat().st_mode) == 0o444
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o755
    assert stat.S_IMODE(base_dir.stat().st_mode) == 0o755
    assert os.listdir(path.parent) == [path.name]  # no temporary file left behind


def test_save_refuses_to_overwrite_with_gos_message_and_keeps_the_old_content(base_dir: Path) -> None:
    path = save(base_dir / "cni" / "f", VF)
    other = DeviceInfo.for_pci("0000:03:02.4")
    with pytest.raises(DeviceInfoExistsError) as caught:
        save(path, other)
    assert str(caught.value) == f"Device Information file already exists: {path}"
    assert isinstance(caught.value, FileExistsError)
    assert path.read_bytes() == VF_JSON.encode()
    assert os.listdir(path.parent) == ["f"]


def test_save_with_overwrite_replaces_by_rename_so_an_open_reader_keeps_the_old_file(base_dir: Path) -> None:
    path = save(base_dir / "f", VF)
    with open(path, "rb") as reader:
        save(path, DeviceInfo.for_pci("0000:03:02.4"), overwrite=True)
        assert reader.read() == VF_JSON.encode()
    assert load(path) == DeviceInfo.for_pci("0000:03:02.4")
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_no_overwrite_holds_when_another_writer_creates_the_file_during_the_write(
        base_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = base_dir / "cni" / "raced"
    real_fsync = os.fsync

    def fsync_then_lose_the_race(fd: int) -> None:
        real_fsync(fd)
        if not target.exists() and stat.S_ISREG(os.fstat(fd).st_mode):
            target.write_text("the other writer")

    monkeypatch.setattr(os, "fsync", fsync_then_lose_the_race)
    with pytest.raises(DeviceInfoExistsError):
        save(target, VF)
    assert target.read_text() == "the other writer"
    assert os.listdir(target.parent) == ["raced"]


def test_a_failed_write_leaves_neither_the_file_nor_a_temporary_file(base_dir: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(5, "Input/output error")

    (base_dir / "cni").mkdir(parents=True)
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="Input/output error"):
        save(base_dir / "cni" / "f", VF)
    assert os.listdir(base_dir / "cni") == []


def test_save_refuses_an_object_that_breaks_the_spec_unless_told_not_to_check(base_dir: Path) -> None:
    lenient = DeviceInfo.parse('{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa1","driver":"virtio"}}')
    with pytest.raises(InvalidDeviceInfoError, match="vdpa.path: required"):
        save(base_dir / "strict", lenient)
    assert not (base_dir / "strict").exists()
    assert save(base_dir / "lenient", lenient, strict=False).read_text() == lenient.to_json()


def test_load_returns_none_for_a_missing_file_or_raises_when_it_is_required(base_dir: Path) -> None:
    assert load(base_dir / "absent") is None
    assert load_raw(base_dir / "absent") is None
    with pytest.raises(DeviceInfoNotFoundError) as caught:
        load(base_dir / "absent", missing_ok=False)
    assert isinstance(caught.value, FileNotFoundError) and str(base_dir / "absent") in str(caught.value)


def test_load_reads_leniently_by_default_and_strictly_on_request(base_dir: Path) -> None:
    base_dir.mkdir(parents=True)
    path = base_dir / "f"
    path.write_text('{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:03:02.3"},"extra":1}')
    assert load(path) == DeviceInfo.for_pci("0000:03:02.3")
    assert load_raw(path) == {"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:03:02.3"}}
    with pytest.raises(InvalidDeviceInfoError, match="extra: unknown key"):
        load(path, strict=True)


def test_a_malformed_file_raises_an_error_naming_the_file(base_dir: Path) -> None:
    base_dir.mkdir(parents=True)
    (base_dir / "bad").write_text('{"type": ')
    with pytest.raises(InvalidDeviceInfoError, match=f"^{base_dir / 'bad'}: not valid JSON"):
        load(base_dir / "bad")


def test_copy_dp_to_cni_re_encodes_like_go_dropping_unknown_keys(base_dir: Path) -> None:
    dp = dp_path("intel.com/sriov", "0000:03:02.3", base_dir=base_dir)
    dp.parent.mkdir(parents=True)
    dp.write_text('{"pci": {"pf-pci-address": "0000:03:00.0", "pci-address": "0000:03:02.3"}, "x": 1,\n'
                  ' "version": "1.1.0", "type": "pci"}\n')
    cni = cni_path("default/net-cid_net1", base_dir=base_dir)
    assert copy_dp_to_cni(cni, "intel.com/sriov", "0000:03:02.3", base_dir=base_dir) == cni
    assert cni.read_text() == VF_JSON
    assert stat.S_IMODE(cni.stat().st_mode) == 0o444


def test_copy_passes_on_what_the_device_plugin_wrote_even_if_not_strictly_valid(base_dir: Path) -> None:
    text = '{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa1","driver":"virtio"}}'
    dp = dp_path("r/v", "0000:65:00.2", base_dir=base_dir)
    dp.parent.mkdir(parents=True)
    dp.write_text(text)
    assert copy_dp_to_cni(base_dir / "cni" / "c", "r/v", "0000:65:00.2", base_dir=base_dir).read_text() == text


def test_copy_fails_when_the_dp_file_is_missing_and_creates_nothing(base_dir: Path) -> None:
    with pytest.raises(DeviceInfoNotFoundError, match="intel.com-sriov-0000:03:02.3-device.json"):
        copy_dp_to_cni(base_dir / "cni" / "c", "intel.com/sriov", "0000:03:02.3", base_dir=base_dir)
    assert not (base_dir / "cni" / "c").exists()


def test_copy_fails_when_the_cni_file_exists_and_keeps_it(base_dir: Path) -> None:
    save_for_dp("intel.com/sriov", "0000:03:02.3", VF, base_dir=base_dir)
    cni = save(base_dir / "cni" / "c", DeviceInfo.for_pci("0000:03:02.4"))
    with pytest.raises(DeviceInfoExistsError):
        copy_dp_to_cni(cni, "intel.com/sriov", "0000:03:02.3", base_dir=base_dir)
    assert load(cni) == DeviceInfo.for_pci("0000:03:02.4")


def test_update_replaces_an_existing_file_and_keeps_mode_0444(base_dir: Path) -> None:
    path = save(base_dir / "cni" / "c", VF)
    updated = DeviceInfo.for_pci("0000:03:02.3", pf_pci_address="0000:03:00.0", representor_device="eth3")
    update(path, updated)
    assert load(path) == updated
    assert stat.S_IMODE(path.stat().st_mode) == 0o444


def test_update_of_a_missing_file_is_an_error_and_creates_nothing(base_dir: Path) -> None:
    with pytest.raises(DeviceInfoNotFoundError):
        update(base_dir / "cni" / "c", VF)
    assert not (base_dir / "cni" / "c").exists()


def test_clean_removes_a_file_and_a_missing_file_is_fine(base_dir: Path) -> None:
    path = save(base_dir / "cni" / "c", VF)
    assert clean(path) is True
    assert not path.exists()
    assert clean(path) is False


def test_the_dp_helpers_round_trip_under_a_custom_base_dir(base_dir: Path) -> None:
    written = save_for_dp("intel.com/sriov", "0000:03:02.3", VF, base_dir=base_dir)
    assert written == base_dir / "dp" / "intel.com-sriov-0000:03:02.3-device.json"
    assert load_from_dp("intel.com/sriov", "0000:03:02.3", base_dir=base_dir) == VF
    assert clean_for_dp("intel.com/sriov", "0000:03:02.3", base_dir=base_dir) is True
    assert load_from_dp("intel.com/sriov", "0000:03:02.3", base_dir=base_dir) is None
