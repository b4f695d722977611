"""The JSON Schema export: it describes what the strict writer enforces.

Checked here: properties are the spec's JSON names (from the models), required lists, enums,
non-empty strings, no additional properties, the type <-> sub-object ``if/then`` rules, the 1.0.0
representor rule, and that the schema's regex patterns accept and refuse the same values as the
Python checks. (No JSON Schema validator is a dependency, so the rules are checked structurally.)
"""

from __future__ import annotations

import re

import pytest

from devinfo import schema
from devinfo.spec import SUBOBJECT_KEYS, TOP_KEYS, is_pci_address


def test_the_schema_is_draft_2020_12_and_a_fresh_copy_each_time() -> None:
    first = schema()
    assert first["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    first["properties"].clear()
    assert schema()["properties"]


def test_top_level_properties_and_required_keys_follow_the_spec() -> None:
    top = schema()
    assert tuple(top["properties"]) == TOP_KEYS
    assert top["required"] == ["type", "version"]
    assert top["additionalProperties"] is False
    assert top["properties"]["type"]["enum"] == ["pci", "vdpa", "vhost-user", "memif"]
    assert top["properties"]["version"]["enum"] == ["1.0.0", "1.1.0"]
    assert top["properties"]["pci"] == {"$ref": "#/$defs/PciDevice"}


@pytest.mark.parametrize(("name", "sub", "required"), [
    ("PciDevice", "pci", ["pci-address"]),
    ("VdpaDevice", "vdpa", ["parent-device", "driver", "path"]),
    ("VhostUserDevice", "vhost-user", ["mode", "path"]),
    ("MemifDevice", "memif", ["role", "path", "mode"]),
])
def test_each_sub_object_lists_its_keys_required_keys_and_forbids_others(name: str, sub: str,
                                                                         required: list[str]) -> None:
    definition = schema()["$defs"][name]
    assert tuple(definition["properties"]) == SUBOBJECT_KEYS[sub]
    assert definition["required"] == required
    assert definition["additionalProperties"] is False
    assert all(prop["minLength"] == 1 and "default" not in prop for prop in definition["properties"].values())


def test_enum_like_values_are_enums_in_the_schema() -> None:
    defs = schema()["$defs"]
    assert defs["VhostUserDevice"]["properties"]["mode"]["enum"] == ["client", "server"]
    assert defs["MemifDevice"]["properties"]["role"]["enum"] == ["master", "slave"]
    assert defs["MemifDevice"]["properties"]["mode"]["enum"] == ["ethernet", "ip", "inject-punt"]
    assert defs["VdpaDevice"]["properties"]["driver"]["enum"] == ["vhost", "virtio"]


@pytest.mark.parametrize("value", ["0000:18:02.5", "0000:AF:00.0", "0000:02:01:6", "0000:18:20.0", "10000:00:02.0",
                                   "0000:18:02.5\n"])
def test_the_pci_address_pattern_agrees_with_the_python_check(value: str) -> None:
    pattern = schema()["$defs"]["PciDevice"]["properties"]["pci-address"]["pattern"]
    ecma_pattern = pattern.removesuffix("$") + r"\Z"  # ECMAScript's $ never matches before a final newline
    assert (re.search(ecma_pattern, value) is not None) == is_pci_address(value)


def test_each_type_requires_its_sub_object_and_forbids_the_others() -> None:
    rules = [rule for rule in schema()["allOf"] if "type" in rule["if"]["properties"]]
    by_type = {rule["if"]["properties"]["type"]["const"]: rule["then"] for rule in rules}
    assert set(by_type) == set(SUBOBJECT_KEYS)
    assert by_type["pci"]["required"] == ["pci"]
    assert by_type["pci"]["not"]["anyOf"] == [{"required": ["vdpa"]}, {"required": ["vhost-user"]},
                                             {"required": ["memif"]}]


def test_version_1_0_0_forbids_representor_device_in_the_schema() -> None:
    rule = next(rule for rule in schema()["allOf"] if "version" in rule["if"]["properties"])
    assert rule["if"]["properties"]["version"]["const"] == "1.0.0"
    assert rule["then"]["properties"]["pci"] == {"not": {"required": ["representor-device"]}}
    assert rule["then"]["properties"]["vdpa"] == {"not": {"required": ["representor-device"]}}
