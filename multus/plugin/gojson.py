"""Go's ``encoding/json`` in the standard library: decoding into typed structs, error texts, marshalling.

Configs and annotations written for Go Multus must read the same here, so decoding follows the way Go
fills a struct: a key matches its field case-insensitively (an exact match first), the last spelling
given wins, ``null`` leaves the field at its default, types are strict (a number is never a string,
``1.0`` is not an int, ints are 64-bit) and unknown keys are skipped.

Why not pydantic: these modules sit on the thin plugin's per-call path, a fresh Python process per
CNI call on every pod's start. Importing pydantic and building the first model costs ~90 ms per
process, more than the whole call's budget, so this layer uses nothing beyond the standard library.

A struct is a class built from keyword arguments, with its own defaults (on the per-call path a
``typing.NamedTuple``, immutable), and, declared next to it, a :class:`JsonStruct` table: one
:class:`JsonField` per decoded attribute, naming its Go key and a *reader*, a function
``(value, path) -> typed value`` that raises :class:`JsonTypeError` naming the key path
(``runtimeConfig.portMappings[0].hostPort``) and the JSON type received. An absent or ``null`` key
is left out of the constructor call, so the struct's own default applies; defaults are never
mutable objects shared between instances (lists are tuples, an empty map a read-only one). Value
checks beyond the type (MAC formats, canonical forms) belong in the table's ``check``, which
:func:`decode_struct` runs on the built struct, as Go validates after ``json.Unmarshal``.

Why not the standard library's data classes: on the same per-call path, importing their module alone
costs ~6 ms per process (it pulls in ``inspect``, ``ast``, ``dis``, ``tokenize``...) and creating each
frozen data class ~0.3 ms, against ~0.06 ms for a NamedTuple class.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from typing import Any, Generic, NamedTuple, NoReturn, TypeVar

T = TypeVar("T")

# A field reader: the decoded JSON value and its key path in, the typed value out (or JsonTypeError).
Reader = Callable[[Any, str], T]

GO_INT_MIN = -(2**63)
GO_INT_MAX = 2**63 - 1

# ---------------------------------------------------------------- Go's texts

_GO_ESCAPES = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n",
               "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(text: str) -> str:
    """``text`` quoted like Go's ``%q``, so error messages match the Go originals byte for byte."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'  # nothing to escape (the common case, e.g. every daemon request's log line)
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_json_type(value: Any) -> str:
    """The JSON type name Go uses in its decoding errors (``number``, ``array``...)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, (list, tuple)) else "object"


def _go_char(doc: str, pos: int) -> str:
    ch = doc[pos]
    return "'\\''" if ch == "'" else "'\"'" if ch == '"' else "'" + go_quote(ch)[1:-1] + "'"


def _innermost_container(doc: str, pos: int) -> str:
    """``[`` or ``{``: which container is open at ``pos`` (strings skipped)."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in doc[:pos]:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


def go_json_error(exc: json.JSONDecodeError) -> str:
    """Python's JSON syntax error phrased as Go's decoder phrases it (operators grep for these)."""
    doc, pos, msg = exc.doc, exc.pos, exc.msg
    if msg.startswith("Unterminated string") or pos >= len(doc):
        return "unexpected end of JSON input"
    if msg == "Invalid \\escape" and pos + 1 < len(doc):
        return f"invalid character {_go_char(doc, pos + 1)} in string escape code"
    where = {
        "Expecting value": "looking for beginning of value",
        "Expecting ':' delimiter": "after object key",
        "Expecting property name enclosed in double quotes": "looking for beginning of object key string",
        "Extra data": "after top-level value",
        "Expecting ',' delimiter": "after array element"
        if _innermost_container(doc, pos) == "["
        else "after object key:value pair",
    }.get(msg)
    if where is None and msg.startswith("Invalid control character"):
        where = "in string literal"
    if where is None:
        return str(exc)
    return f"invalid character {_go_char(doc, pos)} {where}"


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def decode_json(data: bytes | str) -> Any:
    """Strict JSON (no NaN/Infinity, like Go); syntax errors carry Go's wording."""
    try:
        return json.loads(data, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(go_json_error(exc)) from None


def _go_number(value: Any) -> Any:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
        return int(value)  # Go prints a whole float64 without a fraction
    if isinstance(value, dict):
        return {k: _go_number(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_go_number(v) for v in value]
    return value


def go_marshal(value: Any) -> bytes:
    """JSON bytes as Go's ``json.Marshal`` writes a decoded map: sorted keys, compact, HTML-escaped."""
    text = json.dumps(_go_number(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text.encode()


# ---------------------------------------------------------------- readers


class JsonTypeError(ValueError):
    """A JSON value that does not fit its field (Go's UnmarshalTypeError): wrong type or out of range.

    The message names the key path first (``logOptions.maxAge: must be an integer (got string)``);
    the class is kept apart from plain ValueErrors so callers can tell decoding failures from later
    value checks, which Go reports differently.
    """

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        super().__init__(f"{path}: {problem}" if path else problem)


def wrong_type(path: str, want: str, value: Any) -> JsonTypeError:
    """``<path>: must be <want> (got <JSON type>)``."""
    return JsonTypeError(path, f"must be {want} (got {go_json_type(value)})")


def read_str(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise wrong_type(path, "a string", value)
    return value


def read_bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise wrong_type(path, "a boolean", value)
    return value


def read_int(value: Any, path: str) -> int:
    """Go's ``int``: a JSON number without fraction or exponent, within 64 bits."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise wrong_type(path, "an integer", value)
    if not GO_INT_MIN <= value <= GO_INT_MAX:
        raise JsonTypeError(path, f"number {value} overflows Go's int64")
    return value


def read_object(value: Any, path: str) -> dict[str, Any]:
    """Go's ``map[string]interface{}``: any object, values untouched (a shallow copy)."""
    if not isinstance(value, dict):
        raise wrong_type(path, "an object", value)
    return dict(value)


def list_of(read: Reader[T]) -> Reader[list[T]]:
    """A JSON array, each element read by ``read`` under ``path[i]``."""

    def read_list(value: Any, path: str) -> list[T]:
        if not isinstance(value, list):
            raise wrong_type(path, "an array", value)
        return [read(item, f"{path}[{i}]") for i, item in enumerate(value)]

    return read_list


def tuple_of(read: Reader[T]) -> Reader[tuple[T, ...]]:
    """Like :func:`list_of`, for the fields of immutable structs."""
    read_list = list_of(read)
    return lambda value, path: tuple(read_list(value, path))


def map_of(read: Reader[T]) -> Reader[dict[str, T]]:
    """A JSON object with every value read by ``read`` under ``path.key``."""

    def read_map(value: Any, path: str) -> dict[str, T]:
        if not isinstance(value, dict):
            raise wrong_type(path, "an object", value)
        return {key: read(item, _join(path, key)) for key, item in value.items()}

    return read_map


def struct_of(struct: JsonStruct[T]) -> Reader[T]:
    """A nested struct, decoded by its table."""
    return lambda value, path: decode_struct(struct, value, path)


# ---------------------------------------------------------------- structs


class JsonField(NamedTuple):
    """One row of a struct's JSON table: the attribute, its Go key, and the reader of its value."""

    attr: str
    key: str
    read: Reader[Any]


class JsonStruct(Generic[T]):
    """A struct's JSON table: how Go's decoder fills ``cls`` from an object.

    ``fields`` lists the decoded attributes; attributes not listed are not read from JSON (``raw``,
    ``extras``...). ``check``, when given, receives the built struct and returns it or a corrected
    copy (``_replace``), raising ValueError for a value Go's parser refuses.
    """

    __slots__ = ("cls", "check", "_exact", "_folded")

    def __init__(self, cls: type[T], fields: Iterable[JsonField],
                 check: Callable[[T], T] | None = None) -> None:
        self.cls = cls
        self.check = check
        self._exact = {f.key: f for f in fields}
        self._folded = {key.casefold(): f for key, f in self._exact.items()}


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def decode_fields(struct: JsonStruct[Any], data: Any, path: str = "") -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` as Go fills ``struct``: the keyword arguments for its class and the unknown keys.

    Keys are taken in document order, so when two spellings of one key are given the last wins;
    a ``null`` value is skipped, leaving the field's default. The table's ``check`` is not run:
    the caller building the struct from these arguments runs what it needs.
    """
    if not isinstance(data, dict):
        raise wrong_type(path, "an object", data)
    exact, folded = struct._exact, struct._folded
    values: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in data.items():
        entry = exact.get(key) or folded.get(key.casefold())
        if entry is None:
            unknown[key] = value
        elif value is not None:
            attr, name, read = entry
            values[attr] = read(value, _join(path, name))
    return values, unknown


def decode_struct(struct: JsonStruct[T], data: Any, path: str = "") -> T:
    """Build ``struct``'s class from a decoded JSON object and run its check; unknown keys are
    ignored, as Go ignores them."""
    values, _ = decode_fields(struct, data, path)
    built = struct.cls(**values)
    return built if struct.check is None else struct.check(built)
