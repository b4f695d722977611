"""CNI_ARGS: the runtime's ``K1=V1;K2=V2`` side channel, parsed into ordered pairs and formatted back.

The runtime passes extra arguments (``IgnoreUnknown``, ``K8S_POD_NAME``, ...) in one environment
variable. Pairs are kept as an ordered list rather than a dict because the string may repeat a key
and because a plugin that forwards CNI_ARGS to its delegates must not reorder or drop anything.

Stdlib only, so the thin plugin can import it without paying for pydantic.
"""

from __future__ import annotations

from collections.abc import Iterable

from multus.cni.errors import CniError, ErrorCode

PAIR_SEPARATOR = ";"
KEY_VALUE_SEPARATOR = "="


class CniArgsError(CniError, ValueError):
    """A malformed CNI_ARGS string or an unformattable pair; code 4 (invalid environment variables)."""

    default_code = ErrorCode.INVALID_ENVIRONMENT_VARIABLES


def parse_cni_args(text: str) -> list[tuple[str, str]]:
    """``"K1=V1;K2=V2"`` -> ``[("K1", "V1"), ("K2", "V2")]``, in order, duplicates kept.

    Each item is split on its first ``=`` only, so a value may itself contain ``=``.
    An empty string means no arguments.
    """
    if not text:
        return []
    return [_parse_item(item) for item in text.split(PAIR_SEPARATOR)]


def _parse_item(item: str) -> tuple[str, str]:
    key, sep, value = item.partition(KEY_VALUE_SEPARATOR)
    if not sep:
        raise CniArgsError(f"invalid CNI_ARGS pair {item!r}: expected KEY=VALUE")
    if not key:
        raise CniArgsError(f"invalid CNI_ARGS pair {item!r}: the key is empty")
    return key, value


def format_cni_args(pairs: Iterable[tuple[str, str]]) -> str:
    """The inverse of :func:`parse_cni_args`: ``[("K", "V"), ...]`` -> ``"K=V;..."``.

    A pair that could not be parsed back unchanged (a ``;`` anywhere, an ``=`` or nothing in the key)
    is rejected rather than silently producing a different argument list.
    """
    return PAIR_SEPARATOR.join(_format_pair(key, value) for key, value in pairs)


def _format_pair(key: str, value: str) -> str:
    if not key:
        raise CniArgsError(f"cannot format CNI_ARGS pair {(key, value)!r}: the key is empty")
    if PAIR_SEPARATOR in key or KEY_VALUE_SEPARATOR in key:
        raise CniArgsError(f"cannot format CNI_ARGS pair {(key, value)!r}: the key contains ';' or '='")
    if PAIR_SEPARATOR in value:
        raise CniArgsError(f"cannot format CNI_ARGS pair {(key, value)!r}: the value contains ';'")
    return f"{key}{KEY_VALUE_SEPARATOR}{value}"


def lookup(pairs: Iterable[tuple[str, str]], key: str) -> str | None:
    """The value of the first pair named ``key``, or None.

    The first occurrence wins because runtimes put their own arguments (``IgnoreUnknown``, the
    ``K8S_*`` pod identity) at the front and callers append overrides or user-supplied extras after
    them; an appended duplicate must not be able to spoof what the runtime said.
    """
    for name, value in pairs:
        if name == key:
            return value
    return None
