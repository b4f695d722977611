"""JSON Patch (RFC 6902) with JSON Pointer (RFC 6901) paths.

``kubernetes.client`` sends ``application/json-patch+json`` whenever a patch body is a list, and
callers use it for guarded edits (a ``test`` op on ``/metadata/resourceVersion`` followed by a
``replace``), so all six operations are implemented, atomically: a failing op leaves the object
untouched.
"""

from __future__ import annotations

import copy
from typing import Any


class PatchError(ValueError):
    """A patch that cannot be applied to the object (the server answers 422)."""


def _tokens(pointer: str) -> list[str]:
    """Split a JSON Pointer into unescaped reference tokens."""
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"invalid JSON pointer {pointer!r}: must start with '/'")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, pointer: str, *, appending: bool) -> int:
    if appending and token == "-":
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r} in {pointer!r}")
    index = int(token)
    limit = len(container) if appending else len(container) - 1
    if index > limit:
        raise PatchError(f"array index {index} out of range in {pointer!r}")
    return index


def _parent(doc: Any, pointer: str) -> tuple[Any, str]:
    """The container holding the pointer's target, and the last token."""
    tokens = _tokens(pointer)
    if not tokens:
        raise PatchError("the operation needs a path below the document root")
    node = doc
    for token in tokens[:-1]:
        node = _child(node, token, pointer)
    return node, tokens[-1]


def _child(node: Any, token: str, pointer: str) -> Any:
    if isinstance(node, dict):
        if token not in node:
            raise PatchError(f"path {pointer!r} does not exist (missing {token!r})")
        return node[token]
    if isinstance(node, list):
        return node[_index(node, token, pointer, appending=False)]
    raise PatchError(f"path {pointer!r} goes through a scalar")


def _get(doc: Any, pointer: str) -> Any:
    node = doc
    for token in _tokens(pointer):
        node = _child(node, token, pointer)
    return node


def _add(doc: Any, pointer: str, value: Any) -> Any:
    if pointer == "":
        return copy.deepcopy(value)
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        parent[token] = copy.deepcopy(value)
    elif isinstance(parent, list):
        parent.insert(_index(parent, token, pointer, appending=True), copy.deepcopy(value))
    else:
        raise PatchError(f"cannot add below scalar at {pointer!r}")
    return doc


def _remove(doc: Any, pointer: str) -> Any:
    parent, token = _parent(doc, pointer)
    if isinstance(parent, dict):
        if token not in parent:
            raise PatchError(f"cannot remove {pointer!r}: no such member")
        del parent[token]
    elif isinstance(parent, list):
        del parent[_index(parent, token, pointer, appending=False)]
    else:
        raise PatchError(f"cannot remove below scalar at {pointer!r}")
    return doc


def _replace(doc: Any, pointer: str, value: Any) -> Any:
    _get(doc, pointer)  # the target must exist
    if pointer == "":
        return copy.deepcopy(value)
    parent, token = _parent(doc, pointer)
    if isinstance(parent, list):
        parent[_index(parent, token, pointer, appending=False)] = copy.deepcopy(value)
    else:
        parent[token] = copy.deepcopy(value)
    return doc


def _operand(op: dict[str, Any], name: str) -> Any:
    if name not in op:
        raise PatchError(f"operation {op.get('op')!r} is missing {name!r}")
    return op[name]


def _apply_one(doc: Any, op: dict[str, Any]) -> Any:
    kind = op.get("op")
    path = _operand(op, "path")
    if not isinstance(path, str):
        raise PatchError("'path' must be a string")
    if kind == "add":
        return _add(doc, path, _operand(op, "value"))
    if kind == "remove":
        return _remove(doc, path)
    if kind == "replace":
        return _replace(doc, path, _operand(op, "value"))
    if kind == "test":
        if _get(doc, path) != _operand(op, "value"):
            raise PatchError(f"testing value {path} failed: test operation does not apply")
        return doc
    if kind in ("move", "copy"):
        source = _operand(op, "from")
        value = copy.deepcopy(_get(doc, source))
        if kind == "move":
            if path.startswith(source + "/"):
                raise PatchError(f"cannot move {source!r} into its own child {path!r}")
            doc = _remove(doc, source)
        return _add(doc, path, value)
    raise PatchError(f"unknown JSON patch operation {kind!r}")


def apply_json_patch(doc: Any, operations: Any) -> Any:
    """Apply RFC 6902 ``operations`` to a copy of ``doc``; raise :class:`PatchError` on any failure."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch must be a list of operations")
    result = copy.deepcopy(doc)
    for op in operations:
        if not isinstance(op, dict):
            raise PatchError("each JSON patch operation must be an object")
        result = _apply_one(result, op)
    return result
