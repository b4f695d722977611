"""Device-info JSON read and written the way Go's ``encoding/json`` does with the NAD-client types.

Files are shared with Go programs (the SR-IOV device plugin writes them, Go Multus copies them), so:

Reading follows ``json.Unmarshal`` into ``v1.DeviceInfo``: the top level must be an object (``null``
gives an empty object); a key matches its field exactly or else case-insensitively, and the last one
given wins; unknown keys are ignored; ``null`` leaves a string field unset and clears a sub-object; a
repeated sub-object key merges into the first, as Go decodes into the existing pointer; a value of the
wrong JSON type is an error (Go's ``UnmarshalTypeError``), as is any JSON syntax error, NaN included.
Invalid UTF-8 becomes U+FFFD, as in Go.

Writing follows ``json.Marshal``: keys in Go's struct order, empty strings omitted (``omitempty``), a
present sub-object always written (even ``{}``), no spaces, no trailing newline, and Go's escaping:
``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\u`` escapes, other non-ASCII as raw UTF-8, ``\\b``/``\\f``
short escapes (Go 1.22+), lone surrogates as ``\\ufffd``.

Standard library only: the thin meta-plugin's per-call path copies and reads device-info without
pydantic (see ``docs/architecture.md`` on the import budget).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devinfo.errors import InvalidDeviceInfoError
from devinfo.spec import SUBOBJECT_KEYS, TOP_KEYS, WireDict, spec_problems

_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_GO_ESCAPE_RE = re.compile("[<>&\u2028\u2029]|[\ud800-\udfff]")


class _Pairs(list[tuple[str, Any]]):
    """A JSON object as its key/value pairs in document order, duplicates kept (Go sees every one)."""


@dataclass(frozen=True)
class Decoded:
    """A decoded object: its wire form, and the keys Go would ignore or accepted only by case folding."""

    wire: WireDict
    notes: tuple[str, ...] = ()

    def strict_problems(self) -> list[str]:
        """What a strict check reports: the ignored or miscased keys, then the spec's rules."""
        return [*self.notes, *spec_problems(self.wire)]


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, _Pairs | Mapping):
        return "object"
    return "array"


def _pairs(value: Any) -> list[tuple[str, Any]]:
    return list(value) if isinstance(value, _Pairs) else list(value.items())


def _match(key: str, known: tuple[str, ...]) -> str | None:
    if key in known:
        return key
    folded = key.casefold()
    return next((name for name in known if name.casefold() == folded), None)


def _decode_fields(obj: Any, known: tuple[str, ...], where: str, into: WireDict,
                   problems: list[str], notes: list[str]) -> None:
    """Decode one JSON object's pairs into ``into`` (string fields and sub-objects), Go's way."""
    for key, value in _pairs(obj):
        path = f"{where}{key}"
        name = _match(key, known)
        if name is None:
            notes.append(f"{path}: unknown key (ignored on read)")
            continue
        if name != key:
            notes.append(f"{path}: spell it {where}{name} (Go matches keys case-insensitively)")
        if value is None:
            if name in SUBOBJECT_KEYS:
                into.pop(name, None)
            continue
        if name in SUBOBJECT_KEYS and not where:
            if not isinstance(value, _Pairs | Mapping):
                problems.append(f"{name}: expected an object, got {_json_kind(value)}")
                continue
            _decode_fields(value, SUBOBJECT_KEYS[name], f"{name}.", into.setdefault(name, {}), problems, notes)
        elif isinstance(value, str):
            into[name] = value
        else:
            problems.append(f"{where}{name}: expected a string, got {_json_kind(value)}")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"invalid JSON value {name}")


def parse_json(data: str | bytes) -> Any:
    """Parse JSON text, keeping objects as ordered pairs; raises InvalidDeviceInfoError on bad syntax."""
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    try:
        return json.loads(text, object_pairs_hook=_Pairs, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidDeviceInfoError([f"not valid JSON: {exc}"]) from None


def decode_object(obj: Any) -> Decoded:
    """Decode an already-parsed JSON value (a dict, or the pairs :func:`parse_json` returns)."""
    if obj is None:
        return Decoded({})
    if not isinstance(obj, _Pairs | Mapping):
        raise InvalidDeviceInfoError([f"expected a JSON object, got {_json_kind(obj)}"])
    wire: WireDict = {}
    problems: list[str] = []
    notes: list[str] = []
    _decode_fields(obj, TOP_KEYS, "", wire, problems, notes)
    if problems:
        raise InvalidDeviceInfoError(problems)
    return Decoded(wire, tuple(notes))


def decode(data: str | bytes) -> Decoded:
    """Decode device-info JSON text leniently, as Go reads it."""
    return decode_object(parse_json(data))


def loads(data: str | bytes, *, strict: bool = False) -> WireDict:
    """The wire form of device-info JSON; ``strict`` also refuses unknown keys and spec violations."""
    decoded = decode(data)
    if strict and (problems := decoded.strict_problems()):
        raise InvalidDeviceInfoError(problems)
    return decoded.wire


def _go_escape(match: re.Match[str]) -> str:
    return _GO_ESCAPES.get(match.group(), "\\ufffd")


def dumps(wire: Mapping[str, Any]) -> str:
    """Serialize a wire-form object exactly as Go's ``json.Marshal`` of ``v1.DeviceInfo`` would."""
    ordered: dict[str, Any] = {}
    for key in TOP_KEYS:
        value = wire.get(key)
        if key in SUBOBJECT_KEYS:
            if value is not None:
                ordered[key] = {name: value[name] for name in SUBOBJECT_KEYS[key] if value.get(name)}
        elif value:
            ordered[key] = value
    text = json.dumps(ordered, ensure_ascii=False, separators=(",", ":"))
    return _GO_ESCAPE_RE.sub(_go_escape, text)
