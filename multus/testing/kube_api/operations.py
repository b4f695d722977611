"""The API verbs (get, list, create, update, patch, delete) with kube-apiserver's semantics.

Every verb reads and writes through :class:`~.store.Store`; the read-modify-write verbs hold the
store lock throughout, so a conflicting resourceVersion is detected exactly as etcd's
compare-and-swap would. ``dryRun=All`` runs every check and returns the result without storing.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import objects
from .errors import ApiError, already_exists, bad_request, conflict, invalid, status_object, unsupported_media_type
from .jsonpatch import PatchError, apply_json_patch
from .patching import merge_patch, strategic_merge_patch
from .resources import ResourceType
from .selectors import parse_selector
from .store import Store, now_rfc3339

Obj = dict[str, Any]

_PATCHERS = {
    "application/json-patch+json": apply_json_patch,
    "application/merge-patch+json": merge_patch,
    "application/strategic-merge-patch+json": strategic_merge_patch,
}


@dataclass(frozen=True)
class Call:
    """One API request addressed to a resource, after routing and body decoding."""

    rt: ResourceType
    namespace: str | None
    name: str | None = None
    subresource: str | None = None
    query: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    content_type: str = "application/json"

    @property
    def dry_run(self) -> bool:
        """``dryRun=All``: validate and answer, but store nothing."""
        return self.query.get("dryRun") == "All"

    def object_body(self) -> Obj:
        """The body, which must be a JSON object for this verb."""
        if not isinstance(self.body, dict):
            raise bad_request("the request body must be a JSON object")
        return self.body


class Operations:
    """The verbs over one store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, call: Call) -> Obj:
        """GET an object (also through its ``status`` subresource, which returns the whole object)."""
        return objects.external(call.rt, self.store.require(call.rt, call.namespace or "", call.name or ""))

    def list(self, call: Call) -> Obj:
        """GET a collection, filtered by namespace and selectors, paged by ``limit``/``continue``."""
        selector = parse_selector(call.rt, call.namespace, call.query.get("labelSelector", ""),
                                  call.query.get("fieldSelector", ""))
        items, rv = self.store.list_objects(call.rt, call.namespace)
        items = [o for o in items if selector.matches(o)]
        start = _decode_continue(call.query.get("continue", ""))
        if start is not None:
            items = [o for o in items if _key(o) > start]
        meta: Obj = {}
        limit = _int_param(call.query, "limit")
        if 0 < limit < len(items):
            meta = {"continue": _encode_continue(_key(items[limit - 1]), rv),
                    "remainingItemCount": len(items) - limit}
            items = items[:limit]
        return objects.list_document(call.rt, items, rv, meta)

    def create(self, call: Call) -> Obj:
        """POST a new object; 409 AlreadyExists when the name is taken."""
        obj = objects.to_storage(call.rt, call.object_body())
        objects.check_identity(call.rt, obj, call.namespace, None)
        obj = objects.prepare_create(call.rt, obj)
        with self.store.transaction():
            if call.dry_run:
                if self.store.get(call.rt, call.namespace or "", obj["metadata"]["name"]) is not None:
                    raise already_exists(call.rt.qualified, obj["metadata"]["name"])
                return objects.external(call.rt, obj)
            return objects.external(call.rt, self.store.create(call.rt, obj))

    def replace(self, call: Call) -> Obj:
        """PUT a whole object (or its status); a stale ``metadata.resourceVersion`` is a 409."""
        new = objects.to_storage(call.rt, call.object_body())
        objects.check_identity(call.rt, new, call.namespace, call.name)
        expected = new["metadata"].get("resourceVersion")
        if not expected and not call.rt.builtin:
            raise invalid(call.rt.kind, call.name or "",
                          [("metadata.resourceVersion", "Invalid value: 0: must be specified for an update")])
        with self.store.transaction():
            current = self.store.require(call.rt, call.namespace or "", call.name or "")
            return self._update(call, current, new, expected)

    def patch(self, call: Call) -> Obj:
        """PATCH an object (or its status) with JSON patch, merge patch or strategic merge patch."""
        content_type = call.content_type.split(";")[0].strip().lower()
        if content_type not in call.rt.patch_types:
            raise unsupported_media_type(content_type, call.rt.patch_types)
        if content_type == "application/json-patch+json" and not isinstance(call.body, list):
            raise bad_request("a JSON patch must be a list of operations")
        if content_type != "application/json-patch+json":
            call.object_body()
        with self.store.transaction():
            current = self.store.require(call.rt, call.namespace or "", call.name or "")
            try:
                patched = _PATCHERS[content_type](objects.external(call.rt, current), call.body)
            except PatchError as exc:
                raise ApiError(422, str(exc), "Invalid") from exc
            if not isinstance(patched, dict):
                raise ApiError(422, "the patch turned the object into a non-object", "Invalid")
            new = objects.to_storage(call.rt, patched)
            # A uid in a patch acts as a precondition on the real server: a replaced object is a 409.
            _check_preconditions(call.rt, current, {"uid": new["metadata"].get("uid")})
            if _identity(new) != _identity(current):
                raise invalid(call.rt.kind, call.name or "",
                              [("metadata.name", "Invalid value: field is immutable")])
            return self._update(call, current, new, new["metadata"].get("resourceVersion"))

    def _update(self, call: Call, current: Obj, new: Obj, expected: str | None) -> Obj:
        """The shared tail of PUT and PATCH: concurrency check, update rules, finalization."""
        if expected and expected != current["metadata"].get("resourceVersion"):
            raise conflict(call.rt.qualified, call.name or "")
        new = objects.prepare_update(call.rt, current, new, call.subresource)
        if call.dry_run:
            return objects.external(call.rt, new)
        if objects.finalizing_done(new):
            stored = self.store.update(call.rt, new, expected)
            return objects.external(call.rt, self.store.delete(call.rt, *_identity(stored)))
        return objects.external(call.rt, self.store.update(call.rt, new, expected))

    def delete(self, call: Call) -> Obj:
        """DELETE an object, honouring preconditions; objects with finalizers are only marked."""
        options = call.body if isinstance(call.body, dict) else {}
        with self.store.transaction():
            current = self.store.require(call.rt, call.namespace or "", call.name or "")
            _check_preconditions(call.rt, current, options.get("preconditions") or {})
            return self._delete_one(call, current, call.dry_run or "All" in (options.get("dryRun") or []))

    def delete_collection(self, call: Call) -> Obj:
        """DELETE a collection: every object the selectors match, answered with the deleted list."""
        selector = parse_selector(call.rt, call.namespace, call.query.get("labelSelector", ""),
                                  call.query.get("fieldSelector", ""))
        with self.store.transaction():
            items, _ = self.store.list_objects(call.rt, call.namespace)
            gone = [self._delete_one(call, o, call.dry_run) for o in items if selector.matches(o)]
            return {"kind": f"{call.rt.kind}List", "apiVersion": call.rt.api_version,
                    "metadata": {"resourceVersion": str(self.store.resource_version)},
                    "items": gone}

    def _delete_one(self, call: Call, current: Obj, dry_run: bool) -> Obj:
        meta = current["metadata"]
        if meta.get("finalizers"):
            if not meta.get("deletionTimestamp"):
                meta["deletionTimestamp"] = now_rfc3339()
                meta["deletionGracePeriodSeconds"] = 0
                if not dry_run:
                    current = self.store.update(call.rt, current)
            return objects.external(call.rt, current)
        final = current if dry_run else self.store.delete(call.rt, *_identity(current))
        if call.rt.return_deleted:
            return objects.external(call.rt, final)
        details = {"name": meta.get("name"), "kind": call.rt.plural, "uid": meta.get("uid")}
        if call.rt.group:
            details["group"] = call.rt.group
        return status_object(200, "", None, details)


def _int_param(query: Mapping[str, str], name: str) -> int:
    try:
        return int(query.get(name) or 0)
    except ValueError as exc:
        raise bad_request(f"invalid {name}: {query.get(name)!r}") from exc


def _identity(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


_key = _identity


def _check_preconditions(rt: ResourceType, current: Obj, preconditions: Obj) -> None:
    meta = current["metadata"]
    for field_name, label in (("uid", "UID"), ("resourceVersion", "ResourceVersion")):
        wanted = preconditions.get(field_name)
        if wanted and wanted != meta.get(field_name):
            raise conflict(rt.qualified, meta.get("name", ""),
                           f"Precondition failed: {label} in precondition: {wanted}, "
                           f"{label} in object meta: {meta.get(field_name)}")


def _encode_continue(start: tuple[str, str], rv: int) -> str:
    raw = json.dumps({"rv": rv, "start": list(start)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> tuple[str, str] | None:
    if not token:
        return None
    try:
        start = json.loads(base64.urlsafe_b64decode(token.encode()))["start"]
        return str(start[0]), str(start[1])
    except (ValueError, KeyError, IndexError, TypeError, binascii.Error) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from exc
