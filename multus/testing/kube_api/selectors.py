"""Label and field selectors, parsed and matched the way list and watch requests use them.

Label selectors take the full set-based grammar (``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``,
``k notin (a,b)``, ``k``, ``!k``) so that code tested here does not break on a real cluster for using
a form the double rejected. Field selectors take ``=``, ``==`` and ``!=`` on the labels each resource
declares selectable; any other label is a 400, exactly what kube-apiserver answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .errors import bad_request
from .resources import ResourceType

_KEY = r"[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?"
_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_SET_RE = re.compile(rf"^({_KEY})\s+(in|notin)\s+\((.*)\)$")
_EQ_RE = re.compile(rf"^({_KEY})\s*(==|=|!=)\s*(.*)$")
_EXISTS_RE = re.compile(rf"^(!?)\s*({_KEY})$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


@dataclass(frozen=True)
class LabelRequirement:
    """One comma-separated term of a label selector."""

    key: str
    op: str  # "in", "notin", "exists", "!exists"
    values: frozenset[str] = frozenset()

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether an object with these labels satisfies the term (``!=`` and ``notin`` match absence)."""
        present = self.key in labels
        if self.op == "exists":
            return present
        if self.op == "!exists":
            return not present
        if self.op == "in":
            return present and labels[self.key] in self.values
        return not present or labels[self.key] not in self.values


@dataclass(frozen=True)
class FieldRequirement:
    """One term of a field selector: ``label`` equals (or not) ``value``."""

    label: str
    value: str
    equal: bool


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside parentheses, so ``k in (a,b),x=y`` is two terms."""
    parts, depth, current = [], 0, ""
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _check_values(term: str, values: list[str]) -> frozenset[str]:
    for value in values:
        if not _VALUE_RE.match(value):
            raise bad_request(f"unable to parse requirement: invalid label value: {value!r} in {term!r}")
    return frozenset(values)


def _parse_label_term(term: str) -> LabelRequirement:
    if m := _SET_RE.match(term):
        values = [v.strip() for v in m.group(4).split(",")]
        return LabelRequirement(m.group(1), m.group(3), _check_values(term, values))
    if m := _EQ_RE.match(term):
        op = "notin" if m.group(3) == "!=" else "in"
        return LabelRequirement(m.group(1), op, _check_values(term, [m.group(4).strip()]))
    if m := _EXISTS_RE.match(term):
        return LabelRequirement(m.group(2), "!exists" if m.group(1) else "exists")
    raise bad_request(f"unable to parse requirement: {term!r}")


def parse_label_selector(text: str) -> tuple[LabelRequirement, ...]:
    """Parse a ``labelSelector`` query value; a malformed one is a 400 as on the real server."""
    return tuple(_parse_label_term(term) for term in _split_top_level(text))


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(rt: ResourceType, text: str) -> tuple[FieldRequirement, ...]:
    """Parse a ``fieldSelector``; labels the resource does not declare selectable are rejected."""
    terms = []
    for raw in re.split(r"(?<!\\),", text):
        if not raw.strip():
            continue
        m = re.match(r"^(.*?)(!=|==|=)(.*)$", raw.strip())
        if m is None:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{raw}'")
        label, op, value = m.group(1).strip(), m.group(2), _unescape(m.group(3).strip())
        if label not in rt.fields:
            raise bad_request(f'field label not supported: {label}')
        terms.append(FieldRequirement(label, value, op != "!="))
    return tuple(terms)


@dataclass(frozen=True)
class Selector:
    """Everything that narrows a list or watch: namespace, labels and fields."""

    rt: ResourceType
    namespace: str | None = None
    labels: tuple[LabelRequirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()

    def matches(self, obj: dict[str, Any] | None) -> bool:
        """Whether ``obj`` (in storage form) falls inside the selection."""
        if obj is None:
            return False
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        labels = meta.get("labels") or {}
        if not all(req.matches(labels) for req in self.labels):
            return False
        return all((self.rt.field_value(obj, f.label) == f.value) == f.equal for f in self.fields)


def parse_selector(
    rt: ResourceType, namespace: str | None, label_selector: str, field_selector: str
) -> Selector:
    """Build the :class:`Selector` for a request's namespace and selector query values."""
    return Selector(
        rt, namespace, parse_label_selector(label_selector), parse_field_selector(rt, field_selector)
    )
