"""The resource types the double serves, and what makes each behave like the real one.

Each :class:`ResourceType` carries what kube-apiserver knows about a resource and the double needs:
its group/version/plural/kind, whether it is namespaced, whether it has a ``status`` subresource
(which decides which half of an object a write may change), the field-selector labels it accepts,
and its validation. ``events.k8s.io/v1`` events share the storage of core ``v1`` events, as in a
real cluster, through a field-renaming conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Obj = dict[str, Any]
Causes = list[tuple[str, str]]


def _no_conversion(obj: Obj) -> Obj:
    return obj


def _no_validation(obj: Obj) -> Causes:
    return []


@dataclass(frozen=True)
class ResourceType:
    """One served resource: addressing, behaviour flags and hooks.

    ``builtin`` types accept strategic merge patch, update without a resourceVersion and list
    their items without ``kind``/``apiVersion``; custom resources do none of these.
    ``return_deleted`` types answer DELETE with the object (pods), others with a ``Status``.
    """

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False
    builtin: bool = True
    return_deleted: bool = False
    fields: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    initial_status: Obj | None = None
    validate: Callable[[Obj], Causes] = _no_validation
    storage: str = ""
    to_storage: Callable[[Obj], Obj] = _no_conversion
    from_storage: Callable[[Obj], Obj] = _no_conversion

    @property
    def api_version(self) -> str:
        """``v1`` for the core group, ``group/version`` otherwise."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``plural`` or ``plural.group``, as error messages name the resource."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def store_key(self) -> str:
        """The bucket objects live in; resources sharing storage share the key."""
        return self.storage or self.qualified

    @property
    def patch_types(self) -> list[str]:
        """Patch media types accepted: strategic merge only for built-in types, as in the real API."""
        types = ["application/json-patch+json", "application/merge-patch+json"]
        return types + ["application/strategic-merge-patch+json"] if self.builtin else types

    def field_value(self, obj: Obj, label: str) -> str | None:
        """The string a field selector compares against, or None when the label is not selectable."""
        path = self.fields.get(label)
        if path is None:
            return None
        value: Any = obj
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, bool):
            return "true" if value else "false"
        return "" if value is None else str(value)


def _metadata_fields(extra: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Every resource selects on name and namespace; built-ins add their own labels."""
    return {"metadata.name": ("metadata", "name"), "metadata.namespace": ("metadata", "namespace"), **extra}


def _validate_pod(obj: Obj) -> Causes:
    """The part of pod validation a caller is likely to trip over: containers need name and image."""
    containers = (obj.get("spec") or {}).get("containers")
    if not isinstance(containers, list) or not containers:
        return [("spec.containers", "Required value")]
    causes: Causes = []
    for i, container in enumerate(containers):
        for key in ("name", "image"):
            if not isinstance(container, dict) or not container.get(key):
                causes.append((f"spec.containers[{i}].{key}", "Required value"))
    return causes


def _validate_nad(obj: Obj) -> Causes:
    """The NetworkAttachmentDefinition CRD schema types ``spec.config`` as a string."""
    spec = obj.get("spec")
    if spec is None:
        return []
    if not isinstance(spec, dict):
        return [("spec", "Invalid value: must be of type object")]
    config = spec.get("config")
    if config is not None and not isinstance(config, str):
        return [("spec.config", "Invalid value: must be of type string")]
    return []


# events.k8s.io/v1 name -> core/v1 name; the real server converts between the two the same way.
_EVENT_RENAMES = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}


def _rename(obj: Obj, renames: Mapping[str, str], api_version: str) -> Obj:
    out = {renames.get(k, k): v for k, v in obj.items()}
    out["apiVersion"] = api_version
    out["kind"] = "Event"
    return out


def _event_to_core(obj: Obj) -> Obj:
    return _rename(obj, _EVENT_RENAMES, "v1")


def _event_from_core(obj: Obj) -> Obj:
    return _rename(obj, {v: k for k, v in _EVENT_RENAMES.items()}, "events.k8s.io/v1")


_POD_FIELDS = _metadata_fields({
    "spec.nodeName": ("spec", "nodeName"),
    "spec.restartPolicy": ("spec", "restartPolicy"),
    "spec.schedulerName": ("spec", "schedulerName"),
    "spec.serviceAccountName": ("spec", "serviceAccountName"),
    "spec.hostNetwork": ("spec", "hostNetwork"),
    "status.phase": ("status", "phase"),
    "status.podIP": ("status", "podIP"),
    "status.nominatedNodeName": ("status", "nominatedNodeName"),
})

_EVENT_FIELDS = _metadata_fields({
    **{f"involvedObject.{k}": ("involvedObject", k)
       for k in ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")},
    "reason": ("reason",),
    "reportingComponent": ("reportingComponent",),
    "source": ("source", "component"),
    "type": ("type",),
})

PODS = ResourceType(
    "", "v1", "pods", "Pod", status_subresource=True, return_deleted=True, fields=_POD_FIELDS,
    initial_status={"phase": "Pending"}, validate=_validate_pod,
)
EVENTS = ResourceType("", "v1", "events", "Event", fields=_EVENT_FIELDS)
EVENTS_V1 = ResourceType(
    "events.k8s.io", "v1", "events", "Event", fields=_EVENT_FIELDS, storage=EVENTS.qualified,
    to_storage=_event_to_core, from_storage=_event_from_core,
)
NETWORK_ATTACHMENT_DEFINITIONS = ResourceType(
    "k8s.cni.cncf.io", "v1", "network-attachment-definitions", "NetworkAttachmentDefinition",
    builtin=False, fields=_metadata_fields({}), validate=_validate_nad,
)

RESOURCES: tuple[ResourceType, ...] = (PODS, EVENTS, EVENTS_V1, NETWORK_ATTACHMENT_DEFINITIONS)


def find(api_version: str, plural: str) -> ResourceType | None:
    """The resource served at ``api_version`` under ``plural``, if any."""
    for rt in RESOURCES:
        if rt.api_version == api_version and rt.plural == plural:
            return rt
    return None


def find_kind(api_version: str, kind: str) -> ResourceType | None:
    """The resource whose objects carry this ``apiVersion``/``kind`` pair, if any."""
    for rt in RESOURCES:
        if rt.api_version == api_version and rt.kind == kind:
            return rt
    return None
