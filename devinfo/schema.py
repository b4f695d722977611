"""JSON Schema (draft 2020-12) of a device-info object as a *writer* must produce it.

The property list and descriptions come from the pydantic models, so the schema follows the models;
the rules come from :mod:`devinfo.spec`, so the schema says what the strict check enforces: required
keys, enum values, non-empty strings (Go omits empty ones), the PCI address / path / interface-name
patterns, no unknown keys, the type <-> sub-object pairing and ``representor-device`` only in 1.1.0.
Readers are more lenient than this schema, as described in :mod:`devinfo.models`.
"""

from __future__ import annotations

from typing import Any

from devinfo.models import DeviceInfo, MemifDevice, PciDevice, VdpaDevice, VhostUserDevice
from devinfo.spec import (
    DEVICE_NAME_PATTERN,
    ENUM_VALUES,
    IFNAME_PATTERN,
    PATH_KEYS,
    PATH_PATTERN,
    PCI_ADDRESS_KEYS,
    PCI_ADDRESS_PATTERN,
    RDMA_DEVICES_PATTERN,
    REPRESENTOR_KEY,
    REQUIRED_KEYS,
    SUBOBJECT_KEYS,
)

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_DEF_NAMES = {"pci": PciDevice.__name__, "vdpa": VdpaDevice.__name__, "vhost-user": VhostUserDevice.__name__,
              "memif": MemifDevice.__name__}


def _constrain(sub: str, obj: dict[str, Any]) -> None:
    """Turn one generated object schema into the writer's rules for it (``sub`` is "" at the top)."""
    obj["additionalProperties"] = False
    obj["required"] = list(REQUIRED_KEYS[sub])
    for key, prop in obj["properties"].items():
        prop.pop("default", None)
        prop.pop("title", None)
        if key in SUBOBJECT_KEYS and not sub:
            prop.pop("anyOf", None)
            prop["$ref"] = f"#/$defs/{_DEF_NAMES[key]}"
            continue
        prop["minLength"] = 1
        if (enum := ENUM_VALUES.get((sub, key))) is not None:
            prop["enum"] = list(enum)
        if key in PCI_ADDRESS_KEYS:
            prop["pattern"] = PCI_ADDRESS_PATTERN
        elif key in PATH_KEYS:
            prop["pattern"] = PATH_PATTERN
        elif key == REPRESENTOR_KEY:
            prop["pattern"] = IFNAME_PATTERN
        elif key == "parent-device":
            prop["pattern"] = DEVICE_NAME_PATTERN
        elif key == "rdma-device":
            prop["pattern"] = RDMA_DEVICES_PATTERN


def _pairing_rules() -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    for kind in SUBOBJECT_KEYS:
        others = [{"required": [other]} for other in SUBOBJECT_KEYS if other != kind]
        rules.append({"if": {"properties": {"type": {"const": kind}}, "required": ["type"]},
                      "then": {"required": [kind], "not": {"anyOf": others}}})
    no_representor = {"not": {"required": [REPRESENTOR_KEY]}}
    rules.append({"if": {"properties": {"version": {"const": "1.0.0"}}, "required": ["version"]},
                  "then": {"properties": {"pci": no_representor, "vdpa": no_representor}}})
    return rules


def schema() -> dict[str, Any]:
    """The JSON Schema of a device-info object, as a fresh dict (safe to modify)."""
    generated = DeviceInfo.model_json_schema(by_alias=True)
    generated.pop("title", None)
    out: dict[str, Any] = {"$schema": SCHEMA_DIALECT, "title": "NPWG Device Information (spec 1.0.0 / 1.1.0)",
                           **generated}
    _constrain("", out)
    for sub, name in _DEF_NAMES.items():
        definition = out["$defs"][name]
        definition.pop("title", None)
        _constrain(sub, definition)
    out["allOf"] = _pairing_rules()
    return out
