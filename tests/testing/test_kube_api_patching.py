"""The patch formats the kube-apiserver double applies, checked directly (no HTTP).

The double stands in for kube-apiserver, whose patch semantics callers rely on: a merge patch's
``null`` deletes, a strategic merge patch merges keyed lists instead of replacing them, and a JSON
patch is all-or-nothing.
"""

from __future__ import annotations

import copy
import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from multus.testing.kube_api import KubeApiServer, PatchError, apply_json_patch, merge_patch, strategic_merge_patch

POD: dict[str, Any] = {
    "metadata": {"name": "web", "annotations": {"a": "1", "b": "2"}, "finalizers": ["x"]},
    "spec": {
        "containers": [{"name": "app", "image": "app:1"}, {"name": "side", "image": "side:1"}],
        "tolerations": [{"key": "t1"}],
    },
}


def test_a_merge_patch_merges_maps_deletes_nulls_and_replaces_lists() -> None:
    patched = merge_patch(POD, {"metadata": {"annotations": {"a": None, "c": "3"}},
                                "spec": {"containers": [{"name": "only"}]}})
    assert patched["metadata"]["annotations"] == {"b": "2", "c": "3"}
    assert patched["spec"]["containers"] == [{"name": "only"}]
    assert patched["spec"]["tolerations"] == [{"key": "t1"}]
    assert POD["metadata"]["annotations"] == {"a": "1", "b": "2"}  # the input is not modified


def test_a_strategic_merge_patch_merges_containers_by_name_and_replaces_unkeyed_lists() -> None:
    patched = strategic_merge_patch(POD, {"spec": {
        "containers": [{"name": "side", "image": "side:2"}, {"name": "new", "image": "new:1"}],
        "tolerations": [{"key": "t2"}]}})
    assert patched["spec"]["containers"] == [
        {"name": "app", "image": "app:1"}, {"name": "side", "image": "side:2"}, {"name": "new", "image": "new:1"}]
    assert patched["spec"]["tolerations"] == [{"key": "t2"}]


def test_strategic_merge_patch_directives_delete_replace_and_prune() -> None:
    patched = strategic_merge_patch(POD, {
        "metadata": {"annotations": {"$patch": "replace", "only": "this"},
                     "$deleteFromPrimitiveList/finalizers": ["x"]},
        "spec": {"containers": [{"name": "app", "$patch": "delete"}],
                 "$setElementOrder/containers": [{"name": "side"}]},
    })
    assert patched["metadata"]["annotations"] == {"only": "this"}
    assert patched["metadata"]["finalizers"] == []
    assert [c["name"] for c in patched["spec"]["containers"]] == ["side"]
    assert "$setElementOrder/containers" not in patched["spec"]


def test_strategic_merge_patch_adds_finalizers_as_a_set_and_nulls_delete_keys() -> None:
    patched = strategic_merge_patch(POD, {"metadata": {"finalizers": ["x", "y"], "annotations": {"a": None}}})
    assert patched["metadata"]["finalizers"] == ["x", "y"]
    assert patched["metadata"]["annotations"] == {"b": "2"}


def test_a_keyed_list_element_without_its_merge_key_is_a_patch_error() -> None:
    with pytest.raises(PatchError):
        strategic_merge_patch(POD, {"spec": {"containers": [{"image": "nameless"}]}})


def test_json_patch_supports_add_remove_replace_move_copy_and_escaped_pointers() -> None:
    patched = apply_json_patch(POD, [
        {"op": "add", "path": "/metadata/annotations/k8s.v1.cni.cncf.io~1networks", "value": "net1"},
        {"op": "remove", "path": "/metadata/annotations/a"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "app:2"},
        {"op": "add", "path": "/metadata/finalizers/-", "value": "y"},
        {"op": "copy", "from": "/metadata/annotations/b", "path": "/metadata/labels"},
        {"op": "move", "from": "/spec/tolerations", "path": "/spec/oldTolerations"},
    ])
    assert patched["metadata"]["annotations"] == {"b": "2", "k8s.v1.cni.cncf.io/networks": "net1"}
    assert patched["spec"]["containers"][0]["image"] == "app:2"
    assert patched["metadata"]["finalizers"] == ["x", "y"]
    assert patched["metadata"]["labels"] == "2"
    assert "tolerations" not in patched["spec"] and patched["spec"]["oldTolerations"] == [{"key": "t1"}]


@pytest.mark.parametrize("operations", [
    [{"op": "test", "path": "/metadata/name", "value": "other"}],
    [{"op": "remove", "path": "/metadata/labels"}],
    [{"op": "replace", "path": "/spec/containers/5/image", "value": "x"}],
    [{"op": "add", "path": "/missing/child", "value": 1}],
    [{"op": "frobnicate", "path": "/metadata"}],
])
def test_a_failing_json_patch_raises_and_leaves_the_document_untouched(operations: list[dict[str, object]]) -> None:
    original = copy.deepcopy(POD)
    with pytest.raises(PatchError):
        apply_json_patch(POD, [{"op": "add", "path": "/metadata/labels2", "value": {}}, *operations])
    assert POD == original


def test_a_patch_carrying_another_uid_is_refused_as_a_precondition_conflict(api: KubeApiServer) -> None:
    """kube-apiserver treats metadata.uid in a patch as a precondition; the double does the same."""
    api.add_pod("default", "web", uid="uid-new")
    body = json.dumps({"metadata": {"uid": "uid-old", "annotations": {"a": "b"}}}).encode()
    request = urllib.request.Request(f"{api.url}/api/v1/namespaces/default/pods/web/status", data=body,
                                     method="PATCH", headers={"Content-Type": "application/merge-patch+json"})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request, timeout=10)
    assert info.value.code == 409
    assert "Precondition failed: UID" in json.loads(info.value.read())["message"]
    assert "a" not in (api.get_pod("default", "web")["metadata"].get("annotations") or {})
