"""RBAC of both DaemonSet manifests is least privilege, and wired to the pods that use it.

Checked here:
- the exact set of (apiGroup, resource, verb) each ClusterRole grants: for thick, pods get/list/watch,
  pods/status patch, network-attachment-definitions get/list/watch, events create/patch in core and
  events.k8s.io; for thin (single GETs, no caches, core events only) a strict subset of that;
- no wildcard anywhere, no resourceNames/nonResourceURLs rules, no Role or ClusterRole besides these, and
  no write verb except patch on pods/status and create/patch on events;
- the ClusterRoleBinding binds that role to the ServiceAccount the DaemonSet runs as, and the pods
  mount its token (the daemon and the thin kubeconfig use it).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from deployments_support import NAMESPACE, THICK, THIN, Obj, all_of, find, load, pod_spec

Grant = tuple[str, str, str]
NAD = ("k8s.cni.cncf.io", "network-attachment-definitions")

THICK_GRANTS: set[Grant] = (
    {("", "pods", v) for v in ("get", "list", "watch")}
    | {("", "pods/status", "patch")}
    | {(*NAD, v) for v in ("get", "list", "watch")}
    | {(g, "events", v) for g in ("", "events.k8s.io") for v in ("create", "patch")}
)
THIN_GRANTS: set[Grant] = {("", "pods", "get"), ("", "pods/status", "patch"), (*NAD, "get"), ("", "events", "create")}
WRITES_ALLOWED = {"pods/status", "events"}
READ_VERBS = {"get", "list", "watch"}

MANIFESTS = pytest.mark.parametrize("path,expected", [(THICK, THICK_GRANTS), (THIN, THIN_GRANTS)],
                                    ids=["thick", "thin"])


def grants(role: Obj) -> set[Grant]:
    return {(group, resource, verb) for rule in role["rules"] for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def the_role(path: Path) -> Obj:
    roles = all_of(path, "ClusterRole") + all_of(path, "Role")
    assert len(roles) == 1, f"{path.name}: one role expected, found {[r['metadata']['name'] for r in roles]}"
    return roles[0]


@MANIFESTS
def test_the_cluster_role_grants_exactly_what_multus_calls_need(path: Path, expected: set[Grant]) -> None:
    assert grants(the_role(path)) == expected


@MANIFESTS
def test_no_rule_uses_a_wildcard_or_reaches_beyond_named_resources(path: Path, expected: set[Grant]) -> None:
    for rule in the_role(path)["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, f"unexpected rule keys: {sorted(rule)}"
        for key in ("apiGroups", "resources", "verbs"):
            assert rule[key], f"empty {key}"
            assert not any("*" in value for value in rule[key]), f"wildcard in {key}: {rule[key]}"


@MANIFESTS
def test_writes_are_only_the_status_patch_and_events(path: Path, expected: set[Grant]) -> None:
    writes = {(g, r, v) for g, r, v in grants(the_role(path)) if v not in READ_VERBS}
    assert {r for _, r, _ in writes} <= WRITES_ALLOWED
    assert ("", "pods/status", "patch") in writes
    assert not any(v in {"update", "delete", "deletecollection", "escalate", "bind", "impersonate"}
                   for _, _, v in writes)


def test_thin_grants_are_a_strict_subset_of_thick_ones() -> None:
    assert grants(the_role(THIN)) < grants(the_role(THICK))


@MANIFESTS
def test_the_binding_gives_the_role_to_the_daemonsets_service_account(path: Path, expected: set[Grant]) -> None:
    role, binding = the_role(path), find(path, "ClusterRoleBinding")
    account = find(path, "ServiceAccount")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": role["kind"],
                                  "name": role["metadata"]["name"]}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account["metadata"]["name"],
                                    "namespace": NAMESPACE}]
    spec = pod_spec(find(path, "DaemonSet"))
    assert spec["serviceAccountName"] == account["metadata"]["name"]
    # The token is how the daemon (in-cluster) and the thin plugin (its kubeconfig) authenticate.
    assert spec.get("automountServiceAccountToken", True) is True
    assert account.get("automountServiceAccountToken", True) is True


@MANIFESTS
def test_nothing_else_in_the_manifest_grants_permissions(path: Path, expected: set[Grant]) -> None:
    kinds = [o["kind"] for o in load(path)]
    assert kinds.count("ClusterRoleBinding") == 1
    assert "RoleBinding" not in kinds
