"""The kube-apiserver double, driven by the real ``kubernetes`` client: CRUD, patches, selectors.

The double stands in for kube-apiserver in Multus' tests, so these tests hold it to the real
server's observable behaviour through the very client library the plugin uses.
"""

# The client's models type every field Optional; the tests read them directly and let a None fail.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

import json

import pytest
from kube_api_support import pod_body
from kubernetes import client
from kubernetes.client import ApiException

from multus.testing.kube_api import KubeApiServer

NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status"


def _status_body(exc: ApiException) -> dict[str, object]:
    body = json.loads(str(exc.body))
    assert isinstance(body, dict)
    return body


def test_pods_added_through_the_helper_are_listed_per_namespace_and_across_namespaces(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "a")
    api.add_pod("kube-system", "b")
    assert [p.metadata.name for p in core.list_namespaced_pod("default").items] == ["a"]
    everywhere = core.list_pod_for_all_namespaces()
    assert [(p.metadata.namespace, p.metadata.name) for p in everywhere.items] == [
        ("default", "a"), ("kube-system", "b")]
    assert everywhere.metadata.resource_version == api.resource_version


def test_reading_a_missing_pod_raises_api_exception_with_status_404(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod("ghost", "default")
    assert caught.value.status == 404
    body = _status_body(caught.value)
    assert (body["kind"], body["reason"], body["code"]) == ("Status", "NotFound", 404)
    assert body["message"] == 'pods "ghost" not found'


def test_creating_a_pod_stamps_uid_creation_timestamp_resource_version_and_pending_phase(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    created = core.create_namespaced_pod("default", pod_body("web"))
    assert created.metadata.uid and created.metadata.creation_timestamp is not None
    assert created.metadata.resource_version == api.resource_version
    assert created.status.phase == "Pending"
    assert api.get_pod("default", "web")["metadata"]["uid"] == created.metadata.uid


def test_creating_a_pod_with_a_taken_name_is_rejected_with_409_already_exists(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod("default", pod_body("web"))
    assert caught.value.status == 409
    assert _status_body(caught.value)["reason"] == "AlreadyExists"


def test_creating_a_pod_without_a_container_image_is_rejected_with_422_invalid(
    core: client.CoreV1Api,
) -> None:
    body = pod_body("web")
    del body["spec"]["containers"][0]["image"]
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod("default", body)
    assert caught.value.status == 422
    assert "spec.containers[0].image" in _status_body(caught.value)["message"]  # type: ignore[operator]


def test_a_generate_name_gets_a_random_suffix(core: client.CoreV1Api) -> None:
    body = pod_body("")
    body["metadata"] = {"generateName": "web-"}
    created = core.create_namespaced_pod("default", body)
    name = str(created.metadata.name)
    assert name.startswith("web-") and len(name) == len("web-") + 5


def test_patching_the_pod_status_annotation_changes_only_that_annotation_and_bumps_resource_version(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    before = api.add_pod("default", "web", labels={"app": "web"}, annotations={"keep": "me"})
    patched = core.patch_namespaced_pod_status(
        "web", "default", {"metadata": {"annotations": {NETWORK_STATUS: "[]"}}})
    assert patched.metadata.annotations == {"keep": "me", NETWORK_STATUS: "[]"}
    stored = api.get_pod("default", "web")
    assert int(stored["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    without = {k: v for k, v in stored["metadata"].items() if k not in ("annotations", "resourceVersion")}
    assert without == {k: v for k, v in before["metadata"].items() if k not in ("annotations", "resourceVersion")}
    assert (stored["spec"], stored["status"]) == (before["spec"], before["status"])
    request = api.requests_matching("PATCH", "/status$")[-1]
    assert request.headers["Content-Type"] == "application/strategic-merge-patch+json"


def test_a_status_write_cannot_change_spec_and_a_main_resource_write_cannot_change_status(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web", node_name="node-1")
    core.patch_namespaced_pod_status("web", "default", {"spec": {"nodeName": "elsewhere"},
                                                         "status": {"phase": "Running"}})
    core.patch_namespaced_pod("web", "default", {"status": {"phase": "Failed"}})
    stored = api.get_pod("default", "web")
    assert (stored["spec"]["nodeName"], stored["status"]["phase"]) == ("node-1", "Running")


def test_replacing_the_pod_status_updates_status_and_annotations_but_not_spec(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web", node_name="node-1")
    pod = core.read_namespaced_pod_status("web", "default")
    pod.status.phase = "Running"
    pod.metadata.annotations = {NETWORK_STATUS: "[]"}
    pod.spec.node_name = "node-2"
    core.replace_namespaced_pod_status("web", "default", pod)
    stored = api.get_pod("default", "web")
    assert (stored["status"]["phase"], stored["spec"]["nodeName"]) == ("Running", "node-1")
    assert stored["metadata"]["annotations"] == {NETWORK_STATUS: "[]"}


def test_a_merge_patch_with_null_deletes_the_annotation(api: KubeApiServer, core: client.CoreV1Api) -> None:
    api.add_pod("default", "web", annotations={"gone": "soon", "stays": "yes"})
    core.patch_namespaced_pod("web", "default", {"metadata": {"annotations": {"gone": None}}},
                              _content_type="application/merge-patch+json")
    assert api.get_pod("default", "web")["metadata"]["annotations"] == {"stays": "yes"}
    assert api.requests[-1].headers["Content-Type"] == "application/merge-patch+json"


def test_a_strategic_merge_patch_with_null_deletes_the_label(api: KubeApiServer, core: client.CoreV1Api) -> None:
    api.add_pod("default", "web", labels={"a": "1", "b": "2"})
    core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"a": None}}})
    assert api.get_pod("default", "web")["metadata"]["labels"] == {"b": "2"}


def test_a_json_patch_tests_then_replaces_and_a_failed_test_changes_nothing(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    rv = api.add_pod("default", "web", annotations={NETWORK_STATUS: "old"})["metadata"]["resourceVersion"]
    path = "/metadata/annotations/k8s.v1.cni.cncf.io~1network-status"
    core.patch_namespaced_pod_status("web", "default", [
        {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
        {"op": "replace", "path": path, "value": "new"},
    ])
    assert api.get_pod("default", "web")["metadata"]["annotations"][NETWORK_STATUS] == "new"
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod_status("web", "default", [
            {"op": "test", "path": "/metadata/resourceVersion", "value": rv},
            {"op": "replace", "path": path, "value": "newer"},
        ])
    assert caught.value.status == 422
    assert api.get_pod("default", "web")["metadata"]["annotations"][NETWORK_STATUS] == "new"


def test_replacing_a_pod_with_a_stale_resource_version_fails_with_409_conflict(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    stale = core.read_namespaced_pod("web", "default")
    core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"touched": "yes"}}})
    stale.metadata.labels = {"mine": "yes"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_pod("web", "default", stale)
    assert caught.value.status == 409
    assert _status_body(caught.value)["reason"] == "Conflict"
    assert api.get_pod("default", "web")["metadata"]["labels"] == {"touched": "yes"}


def test_a_replace_with_the_current_resource_version_succeeds(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    current = core.read_namespaced_pod("web", "default")
    current.metadata.labels = {"mine": "yes"}
    replaced = core.replace_namespaced_pod("web", "default", current)
    assert replaced.metadata.labels == {"mine": "yes"}
    assert int(str(replaced.metadata.resource_version)) > int(str(current.metadata.resource_version))


def test_a_patch_carrying_a_stale_resource_version_fails_with_409_conflict(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    old_rv = api.add_pod("default", "web")["metadata"]["resourceVersion"]
    api.patch_pod("default", "web", {"metadata": {"labels": {"moved": "on"}}})
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_pod_status("web", "default", {"metadata": {
            "resourceVersion": old_rv, "annotations": {NETWORK_STATUS: "[]"}}})
    assert caught.value.status == 409
    assert NETWORK_STATUS not in api.get_pod("default", "web")["metadata"].get("annotations", {})


def test_a_patch_that_changes_nothing_keeps_the_resource_version(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    rv = api.add_pod("default", "web", labels={"a": "1"})["metadata"]["resourceVersion"]
    patched = core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"a": "1"}}})
    assert patched.metadata.resource_version == rv == api.resource_version


def test_a_field_selector_on_spec_node_name_filters_the_pod_list(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "here", node_name="node-1")
    api.add_pod("other", "there", node_name="node-2")
    api.add_pod("default", "unscheduled")
    on_node = core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-1")
    assert [p.metadata.name for p in on_node.items] == ["here"]
    named = core.list_namespaced_pod("default", field_selector="metadata.name!=here,spec.nodeName=")
    assert [p.metadata.name for p in named.items] == ["unscheduled"]


def test_a_label_selector_filters_the_pod_list_with_equality_and_set_terms(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "a", labels={"app": "web", "tier": "front"})
    api.add_pod("default", "b", labels={"app": "db"})
    api.add_pod("default", "c")

    def names(selector: str) -> list[str | None]:
        return [p.metadata.name for p in core.list_namespaced_pod("default", label_selector=selector).items]

    assert names("app=web") == ["a"]
    assert names("app in (web,db),!tier") == ["b"]
    assert names("app!=web") == ["b", "c"]


def test_an_unsupported_field_selector_is_rejected_with_400(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.list_namespaced_pod("default", field_selector="spec.unknown=x")
    assert caught.value.status == 400
    assert _status_body(caught.value)["message"] == "field label not supported: spec.unknown"


def test_paging_with_limit_and_continue_returns_every_pod_exactly_once(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    for i in range(5):
        api.add_pod("default", f"p{i}")
    first = core.list_namespaced_pod("default", limit=2)
    assert first.metadata.remaining_item_count == 3
    seen = [p.metadata.name for p in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_pod("default", limit=2, _continue=token)
        seen += [p.metadata.name for p in page.items]
        token = page.metadata._continue
    assert seen == [f"p{i}" for i in range(5)]


def test_deleting_a_pod_returns_it_and_a_second_delete_is_404(api: KubeApiServer, core: client.CoreV1Api) -> None:
    uid = api.add_pod("default", "web")["metadata"]["uid"]
    deleted = core.delete_namespaced_pod("web", "default")
    assert deleted.metadata.uid == uid
    with pytest.raises(KeyError):
        api.get_pod("default", "web")
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_pod("web", "default")
    assert caught.value.status == 404


def test_a_delete_with_a_failing_uid_precondition_is_a_409_and_keeps_the_pod(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    options = client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="not-the-uid"))
    with pytest.raises(ApiException) as caught:
        core.delete_namespaced_pod("web", "default", body=options)
    assert caught.value.status == 409
    assert api.get_pod("default", "web")["metadata"]["name"] == "web"


def test_a_pod_with_a_finalizer_is_only_marked_until_the_finalizer_is_removed(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    core.create_namespaced_pod("default", pod_body("web", finalizers=["example.com/hold"]))
    marked = core.delete_namespaced_pod("web", "default")
    assert marked.metadata.deletion_timestamp is not None
    assert api.get_pod("default", "web")["metadata"]["deletionTimestamp"]
    core.patch_namespaced_pod("web", "default", [{"op": "remove", "path": "/metadata/finalizers"}])
    assert api.pods() == []


def test_a_dry_run_create_answers_with_the_pod_but_stores_nothing(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    answered = core.create_namespaced_pod("default", pod_body("web"), dry_run="All")
    assert answered.metadata.name == "web"
    assert api.pods() == [] and api.resource_version == "0"


def test_deleting_a_collection_removes_only_the_selected_pods(api: KubeApiServer, core: client.CoreV1Api) -> None:
    api.add_pod("default", "a", labels={"app": "web"})
    api.add_pod("default", "b", labels={"app": "db"})
    api.add_pod("other", "c", labels={"app": "web"})
    core.delete_collection_namespaced_pod("default", label_selector="app=web")
    assert [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in api.pods()] == [
        ("default", "b"), ("other", "c")]


def test_the_request_log_counts_api_calls_with_method_path_and_query(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    api.add_pod("default", "web")
    core.read_namespaced_pod("web", "default")
    core.read_namespaced_pod("web", "default")
    core.list_namespaced_pod("default", label_selector="app=web")
    assert len(api.requests_matching("GET", r"/pods/web$")) == 2
    listing = api.requests_matching("GET", r"/namespaces/default/pods$")[0]
    assert listing.query == {"labelSelector": "app=web"} and listing.body is None
    api.clear_requests()
    assert api.requests == []
