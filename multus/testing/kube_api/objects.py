"""Per-object rules the real API server applies on every write, independent of the HTTP verb.

These are the rules client code depends on without noticing: system metadata is the server's
(uid, creationTimestamp, resourceVersion, generation), a write through the main resource cannot
change ``status`` of a type with a status subresource, and a write through ``status`` cannot change
``spec`` (but may change labels and annotations: Multus relies on that to publish its
network-status annotation).
"""

from __future__ import annotations

import copy
import random
from typing import Any

from .errors import ApiError, bad_request, invalid
from .resources import ResourceType

Obj = dict[str, Any]

_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SERVER_FIELDS = ("uid", "creationTimestamp", "resourceVersion", "deletionTimestamp", "generation")


def external(rt: ResourceType, obj: Obj) -> Obj:
    """The object as served at ``rt``'s endpoint: converted from storage, with its type meta."""
    out = rt.from_storage(copy.deepcopy(obj))
    out["apiVersion"] = rt.api_version
    out["kind"] = rt.kind
    return out


def list_item(rt: ResourceType, obj: Obj) -> Obj:
    """A list element: built-in lists omit the items' ``kind``/``apiVersion``, custom ones keep them."""
    out = external(rt, obj)
    if rt.builtin:
        del out["apiVersion"], out["kind"]
    return out


def check_type_meta(rt: ResourceType, body: Obj) -> None:
    """Reject a body whose ``apiVersion``/``kind`` names another type (400, as on the server)."""
    api_version, kind = body.get("apiVersion"), body.get("kind")
    if api_version and api_version != rt.api_version:
        raise bad_request(
            f"the API version in the data ({api_version}) does not match the expected API version "
            f"({rt.api_version})"
        )
    if kind and kind != rt.kind:
        raise bad_request(f"the kind in the data ({kind}) does not match the expected kind ({rt.kind})")


def to_storage(rt: ResourceType, body: Obj) -> Obj:
    """Convert a request body to its stored form, with the stored type meta."""
    check_type_meta(rt, body)
    obj = rt.to_storage(copy.deepcopy(body))
    if not rt.storage:  # stored as served; a converting type sets the stored type meta itself
        obj["apiVersion"], obj["kind"] = rt.api_version, rt.kind
    obj.setdefault("metadata", {})
    if not isinstance(obj["metadata"], dict):
        raise bad_request("metadata must be an object")
    return obj


def check_identity(rt: ResourceType, obj: Obj, namespace: str | None, name: str | None) -> None:
    """The body's namespace and name must agree with the URL (filled in when the body omits them)."""
    meta = obj["metadata"]
    if rt.namespaced:
        meta.setdefault("namespace", namespace)
        if meta["namespace"] != namespace:
            raise bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
    if name is not None:
        meta.setdefault("name", name)
        if meta["name"] != name:
            raise bad_request(
                f"the name of the object ({meta['name']}) does not match the name on the URL ({name})"
            )


def prepare_create(rt: ResourceType, obj: Obj) -> Obj:
    """Apply the server's create-time rules: name, system metadata, initial status, validation."""
    meta = obj["metadata"]
    if meta.get("resourceVersion"):
        raise ApiError(500, "resourceVersion should not be set on objects to be created")
    if not meta.get("name"):
        prefix = meta.get("generateName")
        if not prefix:
            raise invalid(rt.kind, "", [("metadata.name", "Required value: name or generateName is required")])
        meta["name"] = prefix + "".join(random.choices(_NAME_SUFFIX_ALPHABET, k=5))
    for field in _SERVER_FIELDS:
        meta.pop(field, None)
    meta["generation"] = 1
    if rt.status_subresource:
        obj.pop("status", None)
        if rt.initial_status is not None:
            obj["status"] = copy.deepcopy(rt.initial_status)
    validate(rt, obj)
    return obj


def validate(rt: ResourceType, obj: Obj) -> None:
    """422 Invalid when the resource's validation finds problems."""
    causes = rt.validate(obj)
    if causes:
        raise invalid(rt.kind, str(obj["metadata"].get("name", "")), causes)


def _spec_part(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def prepare_update(rt: ResourceType, current: Obj, new: Obj, subresource: str | None) -> Obj:
    """Apply the update-time rules; ``subresource`` is ``"status"`` for writes through it."""
    meta, old_meta = new["metadata"], current["metadata"]
    for field in ("uid", "creationTimestamp", "deletionTimestamp", "generation"):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    if subresource == "status":
        for key in _spec_part(current).keys() | _spec_part(new).keys():
            if key in current:
                new[key] = copy.deepcopy(current[key])
            else:
                new.pop(key, None)
        if "ownerReferences" in old_meta:
            meta["ownerReferences"] = copy.deepcopy(old_meta["ownerReferences"])
        else:
            meta.pop("ownerReferences", None)
    elif rt.status_subresource:
        if "status" in current:
            new["status"] = copy.deepcopy(current["status"])
        else:
            new.pop("status", None)
    if _spec_part(new) != _spec_part(current):
        meta["generation"] = int(old_meta.get("generation") or 0) + 1
    validate(rt, new)
    return new


def finalizing_done(obj: Obj) -> bool:
    """An object marked for deletion whose last finalizer is gone must now really be deleted."""
    meta = obj.get("metadata") or {}
    return bool(meta.get("deletionTimestamp")) and not meta.get("finalizers")


def list_document(rt: ResourceType, items: list[Obj], resource_version: int, meta: Obj) -> Obj:
    """A ``<Kind>List`` body with the list's resourceVersion and paging metadata."""
    return {
        "kind": f"{rt.kind}List",
        "apiVersion": rt.api_version,
        "metadata": {"resourceVersion": str(resource_version), **meta},
        "items": [list_item(rt, obj) for obj in items],
    }
