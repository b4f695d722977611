"""JSON merge patch (RFC 7386) and the subset of strategic merge patch the double implements.

Strategic merge patch is what ``kubernetes.client`` sends for a dict body to a built-in resource
(``patch_namespaced_pod``, ``patch_namespaced_pod_status``), so it has to get the common cases right:
maps merge recursively and a ``null`` value deletes the key (how annotations are removed), and
lists that the Kubernetes types mark ``patchStrategy: merge`` merge element-wise by their merge key
instead of being replaced. The real server reads that strategy from the Go type of each field;
the double approximates it by field name (:data:`MERGE_KEYS`), which holds for the Pod API.
Directives supported: ``$patch: replace|delete`` (maps and list elements), ``$retainKeys``,
``$deleteFromPrimitiveList/<field>``; ``$setElementOrder/<field>`` is accepted and ignored.
"""

from __future__ import annotations

import copy
from typing import Any

from .jsonpatch import PatchError

# Field name -> merge key of list fields that the Kubernetes API types patch by merging.
MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "conditions": "type",
    "podIPs": "ip",
    "hostIPs": "ip",
    "ownerReferences": "uid",
    "resourceClaims": "name",
}
# Lists of scalars that merge as sets rather than being replaced.
MERGED_SCALAR_LISTS: frozenset[str] = frozenset({"finalizers"})

_DELETE = object()  # returned for a map carrying ``$patch: delete``


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Apply a strategic merge patch to ``target`` (not modified) and return the result."""
    result = _smp_value(target, patch, field=None)
    if result is _DELETE:
        raise PatchError("a strategic merge patch cannot delete the whole object")
    return result


def _smp_value(target: Any, patch: Any, field: str | None) -> Any:
    if isinstance(patch, dict):
        return _smp_map(target if isinstance(target, dict) else {}, patch)
    if isinstance(patch, list) and field is not None:
        return _smp_list(target if isinstance(target, list) else [], patch, field)
    return copy.deepcopy(patch)


def _smp_map(target: dict[str, Any], patch: dict[str, Any]) -> Any:
    directive = patch.get("$patch")
    if directive == "delete":
        return _DELETE
    body = {k: v for k, v in patch.items() if k != "$patch"}
    if directive == "replace":
        return _strip_directives(body)
    if directive is not None:
        raise PatchError(f"unknown patch directive: {directive!r}")
    result = copy.deepcopy(target)
    for key, value in body.items():
        if key.startswith("$setElementOrder/") or key == "$retainKeys":
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name, []) if v not in (value or [])]
            continue
        if value is None:
            result.pop(key, None)
            continue
        merged = _smp_value(result.get(key), value, key)
        if merged is _DELETE:
            result.pop(key, None)
        else:
            result[key] = merged
    if isinstance(body.get("$retainKeys"), list):
        keep = set(body["$retainKeys"])
        result = {k: v for k, v in result.items() if k in keep}
    return result


def _smp_list(target: list[Any], patch: list[Any], field: str) -> list[Any]:
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [_strip_directives(i) for i in patch if not (isinstance(i, dict) and "$patch" in i)]
    if field in MERGED_SCALAR_LISTS:
        return copy.deepcopy(target) + [v for v in patch if v not in target]
    key = MERGE_KEYS.get(field)
    if key is None:
        return _strip_directives(patch)  # type: ignore[no-any-return]
    result = copy.deepcopy(target)
    for item in patch:
        if not isinstance(item, dict) or key not in item:
            raise PatchError(f"{field}: every element needs the merge key {key!r}")
        index = next((i for i, old in enumerate(result) if isinstance(old, dict)
                      and old.get(key) == item[key]), None)
        merged = _smp_map(result[index] if index is not None else {}, item)
        if merged is _DELETE:
            if index is not None:
                del result[index]
        elif index is not None:
            result[index] = merged
        else:
            result.append(merged)
    return result


def _strip_directives(value: Any) -> Any:
    """A copy of ``value`` without ``$``-prefixed directive keys, for verbatim replacement."""
    if isinstance(value, dict):
        return {k: _strip_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip_directives(v) for v in value]
    return copy.deepcopy(value)
