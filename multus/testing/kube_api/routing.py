"""URL routing and API discovery: which resource (or discovery document) a path names.

Resource paths have the shapes kube-apiserver serves::

    /api/v1/{plural}                                     all namespaces
    /api/v1/namespaces/{ns}/{plural}[/{name}[/{sub}]]
    /apis/{group}/{version}/{plural}
    /apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}[/{sub}]]

Discovery (``/api``, ``/api/v1``, ``/apis``, ``/apis/{group}``, ``/apis/{group}/{version}``) and
``/version`` are answered minimally but in the real formats, enough for clients that look first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from . import resources
from .errors import no_route
from .resources import RESOURCES, ResourceType

Obj = dict[str, Any]
SERVER_VERSION: Obj = {
    "major": "1", "minor": "31", "gitVersion": "v1.31.0-multus-py-double", "gitCommit": "",
    "gitTreeState": "clean", "buildDate": "1970-01-01T00:00:00Z", "goVersion": "none",
    "compiler": "python", "platform": "linux/amd64",
}
_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


@dataclass(frozen=True)
class Route:
    """A resource path: collection (no name), object, or object subresource."""

    rt: ResourceType
    namespace: str | None
    name: str | None = None
    subresource: str | None = None


def resolve(path: str) -> Route | None:
    """The resource route for ``path``; None for non-resource paths; 404 for unknown resources."""
    parts = [unquote(p) for p in path.strip("/").split("/") if p]
    if len(parts) >= 3 and parts[0] == "api" and parts[1] == "v1":
        return _resource_route("v1", parts[2:])
    if len(parts) >= 4 and parts[0] == "apis":
        return _resource_route(f"{parts[1]}/{parts[2]}", parts[3:])
    return None


def _resource_route(api_version: str, rest: list[str]) -> Route:
    namespace: str | None = None
    if rest[0] == "namespaces" and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    rt = resources.find(api_version, rest[0])
    if rt is None or len(rest) > 3 or (namespace is None and len(rest) > 1):
        raise no_route()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if sub is not None and not (sub == "status" and rt.status_subresource):
        raise no_route()
    return Route(rt, namespace, name, sub)


def _groups() -> dict[str, list[ResourceType]]:
    groups: dict[str, list[ResourceType]] = {}
    for rt in RESOURCES:
        if rt.group:
            groups.setdefault(rt.group, []).append(rt)
    return groups


def _group_doc(group: str, rts: list[ResourceType]) -> Obj:
    versions = [{"groupVersion": rt.api_version, "version": rt.version} for rt in rts]
    unique = list({v["groupVersion"]: v for v in versions}.values())
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": unique,
            "preferredVersion": unique[0]}


def _resource_list(api_version: str) -> Obj | None:
    entries: list[Obj] = []
    for rt in RESOURCES:
        if rt.api_version != api_version:
            continue
        singular = rt.kind.lower()
        entries.append({"name": rt.plural, "singularName": singular, "namespaced": rt.namespaced,
                        "kind": rt.kind, "verbs": _VERBS})
        if rt.status_subresource:
            entries.append({"name": f"{rt.plural}/status", "singularName": "", "namespaced": rt.namespaced,
                            "kind": rt.kind, "verbs": ["get", "patch", "update"]})
    if not entries:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": api_version,
            "resources": entries}


def discovery(path: str) -> Obj | None:
    """The discovery or version document at ``path``, or None when there is none."""
    parts = [p for p in path.strip("/").split("/") if p]
    groups = _groups()
    if parts == ["api"]:
        return {"kind": "APIVersions", "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
    if parts == ["api", "v1"]:
        return _resource_list("v1")
    if parts == ["apis"]:
        return {"kind": "APIGroupList", "apiVersion": "v1",
                "groups": [_group_doc(g, rts) for g, rts in sorted(groups.items())]}
    if len(parts) == 2 and parts[0] == "apis" and parts[1] in groups:
        return _group_doc(parts[1], groups[parts[1]])
    if len(parts) == 3 and parts[0] == "apis":
        return _resource_list(f"{parts[1]}/{parts[2]}")
    if parts == ["version"]:
        return dict(SERVER_VERSION)
    return None
