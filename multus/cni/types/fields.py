"""How a result's wire JSON is read and checked: the family map, field checks and the decoder.

Stdlib only, on purpose: results sit on the per-call path of CNI plugin binaries (a fresh Python process
per call, on every pod's start path), where importing pydantic and building its first model took ~90 ms,
more than the whole thin Multus call may take.

Results arrive as JSON from plugins we do not control, so decoding validates at this boundary: an
address that is not an address, or an ``ips`` entry pointing at a missing interface, is rejected here
once instead of surfacing later as a confusing failure somewhere else. Two ways in, same checks:
``Model.from_dict(obj)`` reads wire JSON through a :class:`Decoder`, which records every problem with
its path (``ips.0.address: invalid CIDR address '10.0.0.300/24'``) and raises :class:`DecodeError`
listing them all; ``Model(field=...)`` from Python runs the checks in ``__init__`` (:func:`fix`),
normalizing addresses and lists (to tuples) and raising :class:`FieldError`, a ValueError, at the first
problem. The models themselves are in :mod:`multus.cni.types.common`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from multus.cni.errors import VersionError
from multus.cni.version import ALL_VERSIONS

if TYPE_CHECKING:
    from multus.cni.types.common import WireModel

T = TypeVar("T")
D = TypeVar("D")
M = TypeVar("M", bound="WireModel")
Decode = Callable[[Mapping[str, Any], "Decoder", str], T]

# Which model decodes which cniVersion. Versions within a family share one wire shape.
FAMILIES: dict[str, str] = {
    "0.1.0": "020",
    "0.2.0": "020",
    "0.3.0": "040",
    "0.3.1": "040",
    "0.4.0": "040",
    "1.0.0": "100",
    "1.1.0": "100",
}


def family_of(version: str) -> str:
    """``"0.3.1"`` -> ``"040"``. Exact strings only, as libcni matches result versions."""
    try:
        return FAMILIES[version]
    except KeyError:
        raise VersionError(
            f"unsupported CNI result version {version!r}", f"supported versions: {', '.join(ALL_VERSIONS)}"
        ) from None


def ip_version(cidr: str) -> int:
    """4 or 6 for an already validated address (with or without prefix)."""
    return ipaddress.ip_interface(cidr).version


# --- field checks: value -> normalized value, or ValueError saying what is wrong -----------------------

class FieldError(ValueError):
    """A field that fails its check; ``path`` names it relative to the checked object (``ips.0.interface``)."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path, self.problem = path, problem


class DecodeError(ValueError):
    """A wire object that does not decode; ``problems`` holds every ``path: problem`` found."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


_JSON_TYPES = {bool: "boolean", str: "string", int: "number", float: "number", dict: "object", list: "array",
               tuple: "array", type(None): "null"}


def json_type(value: object) -> str:
    """What JSON calls the type of a decoded value, for messages (Python's name for anything else)."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


def as_str(value: object) -> str:
    if not isinstance(value, str):  # strict, as Go's encoding/json: a number is never a string
        raise ValueError(f"expected a string, got {json_type(value)}")
    return value


def as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):  # strict, as Go: not "0", 0.0 or true
        raise ValueError(f"expected an integer, got {json_type(value)}")
    return value


def as_strs(value: object) -> tuple[str, ...]:
    """An array of strings, as a tuple; a bad element is reported at its index."""
    if not isinstance(value, list | tuple):
        raise ValueError(f"expected an array of strings, got {json_type(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise FieldError(str(index), f"expected a string, got {json_type(item)}")
    return tuple(value)


def _reject_zone(value: str) -> None:
    # ipaddress accepts "fe80::1%eth0", Go's ParseIP/ParseCIDR do not; a result must not carry zones.
    if "%" in value:
        raise ValueError(f"invalid IP address {value!r}: zone identifiers are not allowed")


def as_cidr(value: object) -> str:
    """An address with prefix length, returned canonically with host bits kept (like Go's IPNet)."""
    _reject_zone(text := as_str(value))
    _, _, prefix = text.partition("/")
    # ipaddress also takes a bare address or a dotted netmask; Go's ParseCIDR takes only "addr/len".
    if not (prefix.isascii() and prefix.isdigit()):
        raise ValueError(f"invalid CIDR address {text!r}: expected address/prefix-length")
    try:
        return ipaddress.ip_interface(text).with_prefixlen
    except ValueError:
        raise ValueError(f"invalid CIDR address {text!r}") from None


def as_ip(value: object) -> str:
    """A bare IP address (a gateway), returned canonically."""
    _reject_zone(text := as_str(value))
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError(f"invalid IP address {text!r}") from None


def version_in(family: str) -> Callable[[object], str]:
    """The check for ``cniVersion``: a model must never carry a version of another family."""

    def check(value: object) -> str:
        if FAMILIES.get(version := as_str(value)) != family:
            members = ", ".join(v for v, f in FAMILIES.items() if f == family)
            raise ValueError(f"cniVersion {version!r} does not belong to this result family ({members})")
        return version

    return check


def instance_of(model: type[M]) -> Callable[[object], M]:
    """The check for a nested model given from Python: an instance of ``model`` (a dict is not one)."""

    def check(value: object) -> M:
        if not isinstance(value, model):
            raise ValueError(f"expected a {model.__name__}, got {type(value).__name__}")
        return value

    return check


def tuple_of(model: type[M]) -> Callable[[object], tuple[M, ...]]:
    """The check for a sequence of nested models given from Python; a list becomes a tuple."""

    def check(value: object) -> tuple[M, ...]:
        if not isinstance(value, list | tuple):
            raise ValueError(f"expected a sequence of {model.__name__}, got {type(value).__name__}")
        for index, item in enumerate(value):
            if not isinstance(item, model):
                raise FieldError(str(index), f"expected a {model.__name__}, got {type(item).__name__}")
        return tuple(value)

    return check


def fix(obj: WireModel, name: str, value: Any, check: Callable[[Any], Any], *, optional: bool = False) -> None:
    """In a model's ``__init__``: check ``value`` for field ``name`` (None passes when ``optional``) and
    store the normalized value, bypassing the frozen ``__setattr__``. Raises :class:`FieldError` naming it."""
    if value is not None or not optional:
        try:
            value = check(value)
        except FieldError as exc:  # an element of a sequence
            raise FieldError(f"{name}.{exc.path}", exc.problem) from None
        except ValueError as exc:
            raise FieldError(name, str(exc)) from None
    object.__setattr__(obj, name, value)


# --- reading the wire form -------------------------------------------------------------------------------

class Decoder:
    """Reads one wire object tree, recording every problem as ``path: problem`` instead of stopping.

    ``path`` arguments are prefixes ending in ``.`` (``""`` at the top, ``"ips.0."`` inside). JSON
    ``null`` reads as absent: Go decodes null into the zero value, and non-Go plugins do print
    ``"ips": null``. Unknown keys are never read: plugins add their own, which must not fail the call.
    A reader that finds a problem records it and returns its default; :meth:`build` then declines to
    build the object holding it (and so every object above it).
    """

    def __init__(self) -> None:
        self.problems: list[str] = []

    def mark(self) -> int:
        """Where an object's problems start; taken before reading it, passed to :meth:`build`."""
        return len(self.problems)

    def field(self, obj: Mapping[str, Any], key: str, path: str, check: Callable[[Any], T], default: D) -> T | D:
        """``obj[key]`` through ``check``; ``default`` when absent, null or wrong."""
        value = obj.get(key)
        if value is None:
            return default
        try:
            return check(value)
        except FieldError as exc:  # an element of an array
            self.problems.append(f"{path}{key}.{exc.path}: {exc.problem}")
        except ValueError as exc:
            self.problems.append(f"{path}{key}: {exc}")
        return default

    def required(self, obj: Mapping[str, Any], key: str, path: str, check: Callable[[Any], T]) -> T | None:
        if obj.get(key) is None:
            self.problems.append(f"{path}{key}: field required")
            return None
        return self.field(obj, key, path, check, None)

    def nested(self, obj: Mapping[str, Any], key: str, path: str, decode: Decode[T | None]) -> T | None:
        """An optional nested object (``ip4``, ``dns``), read by its model's ``decode``."""
        value = obj.get(key)
        return None if value is None else self._object(value, f"{path}{key}", decode)

    def objects(self, obj: Mapping[str, Any], key: str, path: str, decode: Decode[T | None]) -> tuple[T, ...]:
        """An array of nested objects; every element is read, so the problems of all are found."""
        value = obj.get(key)
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            self.problems.append(f"{path}{key}: expected an array, got {json_type(value)}")
            return ()
        items = [self._object(item, f"{path}{key}.{index}", decode) for index, item in enumerate(value)]
        return tuple(item for item in items if item is not None)

    def _object(self, value: object, path: str, decode: Decode[T | None]) -> T | None:
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected an object, got {json_type(value)}")
            return None
        return decode(value, self, f"{path}.")

    def build(self, model: type[M], path: str, mark: int, **fields: Any) -> M | None:
        """``model(**fields)``, or None when reading them found problems (since ``mark``) or when the
        model's own cross-field checks (interface indexes, address families) fail."""
        if len(self.problems) > mark:
            return None
        try:
            return model(**fields)
        except FieldError as exc:
            self.problems.append(f"{path}{exc.path}: {exc.problem}")
            return None
