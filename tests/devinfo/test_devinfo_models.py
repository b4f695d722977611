"""The device-info models: strict construction (the write path) against the spec's rules.

Checked here: each of the four types builds from valid input and serializes to the exact bytes Go
writes (hand-written expected strings, the spec's cleaned examples); required keys; enum values
(vhost-user mode, memif role and mode, vdpa driver); the type <-> sub-object pairing; version rules
(1.0.0/1.1.0 only on write, ``representor-device`` only from 1.1.0); the PCI address format; unknown
keys; both Python and JSON key names on input; immutability; Go's field order.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from devinfo import DeviceInfo, MemifDevice, PciDevice, VdpaDevice, VhostUserDevice
from devinfo.spec import SUBOBJECT_KEYS, TOP_KEYS


def test_a_pci_device_info_serializes_to_the_bytes_go_writes() -> None:
    info = DeviceInfo.for_pci("0000:18:02.5", pf_pci_address="0000:18:00.0", representor_device="eth3")
    assert info.to_json() == ('{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:18:02.5",'
                              '"pf-pci-address":"0000:18:00.0","representor-device":"eth3"}}')


def test_pci_keys_come_out_in_go_struct_order_whatever_order_they_were_given() -> None:
    pci = PciDevice(representor_device="eth3", rdma_device="mlx5_3", vhost_net="/dev/vhost-net",
                    pci_address="0000:18:0a.2", pf_pci_address="0000:18:00.0")
    info = DeviceInfo(pci=pci, version="1.1.0", type="pci")
    assert info.to_json() == ('{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:18:0a.2",'
                              '"vhost-net":"/dev/vhost-net","rdma-device":"mlx5_3","pf-pci-address":"0000:18:00.0",'
                              '"representor-device":"eth3"}}')


def test_a_vdpa_device_info_serializes_to_the_bytes_go_writes() -> None:
    info = DeviceInfo.for_vdpa("vdpa2", "vhost", "/dev/vhost-vdpa-0", pci_address="0000:02:01.6")
    assert info.to_json() == ('{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa2","driver":"vhost",'
                              '"path":"/dev/vhost-vdpa-0","pci-address":"0000:02:01.6"}}')


def test_a_vhost_user_device_info_serializes_to_the_bytes_go_writes() -> None:
    info = DeviceInfo.for_vhost_user("client", "/var/run/net3/vhost.sock")
    assert info.to_json() == ('{"type":"vhost-user","version":"1.1.0","vhost-user":{"mode":"client",'
                              '"path":"/var/run/net3/vhost.sock"}}')


def test_a_memif_device_info_serializes_to_the_bytes_go_writes() -> None:
    info = DeviceInfo.for_memif("master", "/run/memif/net4.sock", "ethernet", version="1.0.0")
    assert info.to_json() == ('{"type":"memif","version":"1.0.0","memif":{"role":"master",'
                              '"path":"/run/memif/net4.sock","mode":"ethernet"}}')


def test_json_key_names_and_python_names_are_both_accepted_when_constructing() -> None:
    by_json = DeviceInfo.model_validate({"type": "vhost-user", "version": "1.1.0",
                                         "vhost-user": {"mode": "server", "path": "/s.sock"}})
    by_python = DeviceInfo(type="vhost-user", version="1.1.0",
                           vhost_user=VhostUserDevice(mode="server", path="/s.sock"))
    assert by_json == by_python
    assert PciDevice.model_validate({"pci-address": "0000:00:01.0"}).pci_address == "0000:00:01.0"


@pytest.mark.parametrize(("model", "kwargs", "missing"), [
    (PciDevice, {}, "pci.pci-address: required"),
    (VdpaDevice, {"parent_device": "vdpa0", "driver": "vhost"}, "vdpa.path: required"),
    (VdpaDevice, {"driver": "vhost", "path": "/dev/vhost-vdpa-0"}, "vdpa.parent-device: required"),
    (VhostUserDevice, {"path": "/s.sock"}, "vhost-user.mode: required"),
    (MemifDevice, {"path": "/m.sock", "mode": "ip"}, "memif.role: required"),
    (MemifDevice, {"role": "slave", "path": "/m.sock"}, "memif.mode: required"),
])
def test_a_sub_object_without_a_required_key_is_refused_naming_the_key(model: type, kwargs: dict[str, str],
                                                                        missing: str) -> None:
    with pytest.raises(ValidationError, match=missing):
        model(**kwargs)


def test_device_info_without_type_or_version_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        DeviceInfo(pci=PciDevice(pci_address="0000:00:01.0"))
    assert "type: required" in str(caught.value) and "version: required" in str(caught.value)


@pytest.mark.parametrize(("build", "reason"), [
    (lambda: VhostUserDevice(mode="both", path="/s.sock"), "must be one of client, server"),
    (lambda: MemifDevice(role="primary", path="/m.sock", mode="ip"), "must be one of master, slave"),
    (lambda: MemifDevice(role="master", path="/m.sock", mode="bridge"), "must be one of ethernet, ip, inject-punt"),
    (lambda: VdpaDevice(parent_device="vdpa0", driver="vfio", path="/dev/x"), "must be one of vhost, virtio"),
    (lambda: VhostUserDevice(mode="client", path="relative.sock"), "must be an absolute path"),
])
def test_values_outside_the_spec_are_refused_on_write(build: object, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        build()  # type: ignore[operator]


def test_gos_punt_spelling_is_refused_on_write_with_the_specs_spelling_named() -> None:
    with pytest.raises(ValidationError, match="spells it 'inject-punt'"):
        MemifDevice(role="master", path="/m.sock", mode="punt")
    assert MemifDevice(role="master", path="/m.sock", mode="inject-punt").normalized_mode == "inject-punt"


def test_the_sub_object_named_by_type_must_be_present_and_no_other() -> None:
    with pytest.raises(ValidationError) as caught:
        DeviceInfo(type="pci", version="1.1.0", vdpa=VdpaDevice(parent_device="v", driver="vhost", path="/dev/v"))
    assert "pci: required when type is 'pci'" in str(caught.value)
    assert "vdpa: must be absent when type is 'pci'" in str(caught.value)


def test_an_unknown_type_such_as_auxiliary_is_refused_on_write() -> None:
    with pytest.raises(ValidationError, match="type: must be one of pci, vdpa, vhost-user, memif"):
        DeviceInfo(type="auxiliary", version="1.1.0")


@pytest.mark.parametrize("version", ["2.0.0", "1.1", "latest"])
def test_versions_other_than_1_0_0_and_1_1_0_are_refused_on_write(version: str) -> None:
    with pytest.raises(ValidationError, match="version: must be one of 1.0.0, 1.1.0"):
        DeviceInfo.for_pci("0000:00:01.0", version=version)


def test_the_v_prefixed_version_is_refused_on_write_with_the_plain_spelling_suggested() -> None:
    with pytest.raises(ValidationError, match="write '1.1.0', not 'v1.1.0'"):
        DeviceInfo.for_pci("0000:00:01.0", version="v1.1.0")


def test_representor_device_needs_version_1_1_0_on_write() -> None:
    with pytest.raises(ValidationError, match=r"pci.representor-device: needs version 1.1.0"):
        DeviceInfo.for_pci("0000:00:01.0", representor_device="eth3", version="1.0.0")
    with pytest.raises(ValidationError, match=r"vdpa.representor-device: needs version 1.1.0"):
        DeviceInfo.for_vdpa("vdpa0", "vhost", "/dev/vhost-vdpa-0", representor_device="eth3", version="1.0.0")
    assert DeviceInfo.for_pci("0000:00:01.0", version="1.0.0").version == "1.0.0"


@pytest.mark.parametrize("address", ["0000:18:02.5", "0000:af:1f.7", "10000:00:02.0"])
def test_kernel_style_pci_addresses_are_accepted(address: str) -> None:
    assert PciDevice(pci_address=address).pci_address == address


@pytest.mark.parametrize(("address", "reason"), [
    ("0000:02:01:6", "not a PCI address"),      # the spec's own malformed example
    ("0000:18:20.0", "not a PCI address"),      # device > 0x1f
    ("0000:18:02.8", "not a PCI address"),      # function > 7
    ("18:02.5", "not a PCI address"),           # no domain
    ("0000:AF:00.0", "must be lowercase"),
])
def test_malformed_pci_addresses_are_refused_with_the_reason(address: str, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        PciDevice(pci_address=address)
    with pytest.raises(ValidationError, match="pf-pci-address"):
        PciDevice(pci_address="0000:00:01.0", pf_pci_address=address)


def test_rdma_device_takes_comma_joined_names_but_not_empty_ones() -> None:
    assert PciDevice(pci_address="0000:00:01.0", rdma_device="mlx5_2,mlx5_3").rdma_device == "mlx5_2,mlx5_3"
    with pytest.raises(ValidationError, match="rdma-device"):
        PciDevice(pci_address="0000:00:01.0", rdma_device="mlx5_2,,mlx5_3")


def test_a_representor_that_is_not_an_interface_name_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a network interface name"):
        PciDevice(pci_address="0000:00:01.0", representor_device="a-name-longer-than-15")


def test_an_unknown_key_is_refused_on_write_so_a_typo_does_not_vanish() -> None:
    with pytest.raises(ValidationError, match="pci.pci_adress: unknown key"):
        DeviceInfo.model_validate({"type": "pci", "version": "1.1.0", "pci": {"pci_adress": "0000:00:01.0"}})
    with pytest.raises(ValidationError, match="vendor: unknown key"):
        DeviceInfo.model_validate({"type": "pci", "version": "1.1.0", "vendor": "x",
                                   "pci": {"pci-address": "0000:00:01.0"}})


def test_models_are_immutable() -> None:
    info = DeviceInfo.for_pci("0000:00:01.0")
    with pytest.raises(ValidationError):
        info.version = "1.0.0"


def test_model_fields_follow_gos_struct_order() -> None:
    def keys(model: type) -> tuple[str, ...]:
        return tuple(f.serialization_alias or n for n, f in model.model_fields.items())  # type: ignore[attr-defined]

    assert keys(DeviceInfo) == TOP_KEYS
    for sub, model in (("pci", PciDevice), ("vdpa", VdpaDevice), ("vhost-user", VhostUserDevice),
                       ("memif", MemifDevice)):
        assert keys(model) == SUBOBJECT_KEYS[sub]


def test_device_returns_the_sub_object_the_type_names() -> None:
    info = DeviceInfo.for_vhost_user("server", "/s.sock")
    assert info.device == VhostUserDevice(mode="server", path="/s.sock")
    assert DeviceInfo.for_pci("0000:00:01.0").device == PciDevice(pci_address="0000:00:01.0")
