"""Reading device-info leniently, as Go's ``json.Unmarshal`` does, and writing Go's exact bytes.

Checked here: the Go quirks a reader must accept (``v1.1.0``, ``punt``, vdpa without ``path`` as the
SR-IOV device plugin writes it, unknown types and keys, ``representor-device`` in a 1.0.0 object)
while :meth:`DeviceInfo.problems` still names them; Go's decoding rules (``null``, case-insensitive
keys, last duplicate wins, sub-object merging, type errors, non-objects, NaN, invalid UTF-8);
strict parsing; and Go's encoding (omitempty, ``{}`` for an empty sub-object, HTML escaping,
raw non-ASCII, U+2028, no newline), each against hand-written expected strings.
"""

from __future__ import annotations

import pytest

from devinfo import DeviceInfo, InvalidDeviceInfoError, PciDevice, wire

CLEAN_EXAMPLES = [
    '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:18:02.5","pf-pci-address":"0000:18:00.0",'
    '"representor-device":"eth3"}}',
    '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:18:0a.2","vhost-net":"/dev/vhost-net",'
    '"rdma-device":"mlx5_3"}}',
    '{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa2","driver":"vhost","path":"/dev/vhost-vdpa-0",'
    '"pci-address":"0000:02:01.6"}}',
    '{"type":"vhost-user","version":"1.1.0","vhost-user":{"mode":"client","path":"/var/run/net3/vhost.sock"}}',
    '{"type":"memif","version":"1.1.0","memif":{"role":"master","path":"/run/memif/net4.sock","mode":"ethernet"}}',
]


@pytest.mark.parametrize("text", CLEAN_EXAMPLES)
def test_the_specs_examples_parse_strictly_and_round_trip_byte_for_byte(text: str) -> None:
    info = DeviceInfo.parse(text, strict=True)
    assert info.problems() == []
    assert info.to_json() == text


def test_the_v_prefixed_version_is_read_and_understood_as_1_1_0() -> None:
    info = DeviceInfo.parse('{"type":"pci","version":"v1.1.0","pci":{"pci-address":"0000:00:01.0"}}')
    assert info.version == "v1.1.0" and info.spec_version == "1.1.0"
    assert info.to_json().count('"v1.1.0"') == 1  # kept as written, as Go would copy it


def test_gos_punt_spelling_is_read_and_normalized() -> None:
    info = DeviceInfo.parse('{"type":"memif","version":"1.1.0","memif":{"role":"slave","path":"/m","mode":"punt"}}')
    assert info.memif is not None and info.memif.mode == "punt" and info.memif.normalized_mode == "inject-punt"
    assert any("inject-punt" in problem for problem in info.problems())


def test_a_vdpa_object_without_path_as_the_sriov_device_plugin_writes_it_is_read() -> None:
    info = DeviceInfo.parse('{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa1","driver":"virtio",'
                            '"pci-address":"0000:65:00.2"}}')
    assert info.vdpa is not None and info.vdpa.path == "" and info.vdpa.driver == "virtio"
    assert info.problems() == ["vdpa.path: required"]


def test_a_1_0_0_object_with_a_representor_keeps_it_on_read_and_reports_it() -> None:
    info = DeviceInfo.parse('{"type":"pci","version":"1.0.0","pci":{"pci-address":"0000:00:01.0",'
                            '"representor-device":"eth3"}}')
    assert info.pci == PciDevice.model_construct(pci_address="0000:00:01.0", representor_device="eth3")
    assert info.problems() == ["pci.representor-device: needs version 1.1.0 (the key was added in 1.1.0)"]
    with pytest.raises(InvalidDeviceInfoError, match="needs version 1.1.0"):
        DeviceInfo.parse(info.to_json(), strict=True)


def test_unknown_types_and_keys_are_read_like_go_ignores_them() -> None:
    info = DeviceInfo.parse('{"type":"auxiliary","version":"1.1.0","aux":{"name":"mlx5_core.sf.4"},'
                            '"pci":{"pci-address":"0000:00:01.0","numa":0}}')
    assert info.type == "auxiliary" and info.device is None
    assert info.to_json() == '{"type":"auxiliary","version":"1.1.0","pci":{"pci-address":"0000:00:01.0"}}'


def test_strict_parsing_reports_unknown_keys_and_every_spec_problem_at_once() -> None:
    with pytest.raises(InvalidDeviceInfoError) as caught:
        DeviceInfo.parse('{"type":"pci","version":"1.1.0","pci":{"pci_address":"0000:00:01.0"}}', strict=True)
    assert caught.value.problems == ["pci.pci_address: unknown key (ignored on read)", "pci.pci-address: required"]


def test_keys_match_case_insensitively_like_go_and_strict_names_the_right_spelling() -> None:
    decoded = wire.decode('{"Type":"pci","VERSION":"1.1.0","PCI":{"PCI-Address":"0000:00:01.0"}}')
    assert decoded.wire == {"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:00:01.0"}}
    assert "Type: spell it type (Go matches keys case-insensitively)" in decoded.notes


def test_the_last_duplicate_key_wins_and_repeated_sub_objects_merge_like_go() -> None:
    decoded = wire.decode('{"type":"x","type":"pci","pci":{"pci-address":"0000:00:01.0"},'
                          '"pci":{"rdma-device":"mlx5_0"}}')
    assert decoded.wire == {"type": "pci", "pci": {"pci-address": "0000:00:01.0", "rdma-device": "mlx5_0"}}


def test_null_leaves_a_string_unset_and_clears_a_sub_object() -> None:
    assert wire.loads('{"type":null,"version":"1.1.0","pci":{"pci-address":"a"},"pci":null}') == {"version": "1.1.0"}


def test_a_null_document_reads_as_an_empty_object_as_in_go() -> None:
    assert DeviceInfo.parse("null").to_json() == "{}"


@pytest.mark.parametrize(("text", "reason"), [
    ('{"type":1}', "type: expected a string, got number"),
    ('{"pci":"0000:00:01.0"}', "pci: expected an object, got string"),
    ('{"pci":{"pci-address":["a"]}}', "pci.pci-address: expected a string, got array"),
    ('{"version":true}', "version: expected a string, got bool"),
    ("[]", "expected a JSON object, got array"),
    ('{"type":"pci"', "not valid JSON"),
    ('{"type":NaN}', "not valid JSON"),
    ("", "not valid JSON"),
])
def test_what_go_cannot_unmarshal_is_an_error_naming_the_key(text: str, reason: str) -> None:
    with pytest.raises(InvalidDeviceInfoError, match=reason):
        DeviceInfo.parse(text)


def test_invalid_utf8_becomes_the_replacement_character_as_in_go() -> None:
    info = DeviceInfo.parse(b'{"type":"pci","version":"1.1.0","pci":{"pci-address":"bad\xff"}}')
    assert info.pci is not None and info.pci.pci_address == "bad\ufffd"


def test_empty_strings_are_omitted_but_an_empty_sub_object_is_written_as_go_does() -> None:
    assert wire.dumps({"type": "pci", "version": "", "pci": {"pci-address": "", "vhost-net": ""}}) == \
        '{"type":"pci","pci":{}}'


def test_html_characters_and_line_separators_are_escaped_and_other_unicode_is_raw() -> None:
    text = wire.dumps({"type": "<&>", "version": "é\u2028\u2029", "memif": {"path": "/a\tb\x01"}})
    assert text == '{"type":"\\u003c\\u0026\\u003e","version":"é\\u2028\\u2029","memif":{"path":"/a\\tb\\u0001"}}'
    assert not text.endswith("\n")


def test_a_lone_surrogate_is_written_as_the_replacement_escape_like_go() -> None:
    assert wire.dumps({"type": "a\ud800b"}) == '{"type":"a\\ufffdb"}'


def test_parse_accepts_an_already_decoded_mapping_such_as_network_status_device_info() -> None:
    info = DeviceInfo.parse({"type": "pci", "version": "1.1.0", "pci": {"pci-address": "0000:18:02.5"}}, strict=True)
    assert info.pci is not None and info.pci.pci_address == "0000:18:02.5"
