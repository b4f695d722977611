"""The kube-apiserver double's other resources: NetworkAttachmentDefinitions, events, discovery.

Each is checked through the real ``kubernetes`` client, as Multus will use them against a cluster.
"""

# The client's models type every field Optional; the tests read them directly and let a None fail.
# mypy: disable-error-code="union-attr"

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kube_api_support import NAD, NAD_PLURAL, client_for, close_client
from kubernetes import client
from kubernetes.client import ApiException

from multus.testing.kube_api import KubeApiServer

MACVLAN = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0"}


def test_network_attachment_definitions_are_read_and_listed_through_custom_objects_api(
    api: KubeApiServer, custom: client.CustomObjectsApi
) -> None:
    api.add_nad("default", "macvlan", MACVLAN, annotations={"k8s.v1.cni.cncf.io/resourceName": "x/y"})
    api.add_nad("other", "bridge", '{"type": "bridge"}')
    got: Any = custom.get_namespaced_custom_object(*NAD, "default", NAD_PLURAL, "macvlan")
    assert (got["apiVersion"], got["kind"]) == ("k8s.cni.cncf.io/v1", "NetworkAttachmentDefinition")
    assert json.loads(got["spec"]["config"]) == MACVLAN
    assert got["metadata"]["annotations"] == {"k8s.v1.cni.cncf.io/resourceName": "x/y"}
    listed: Any = custom.list_namespaced_custom_object(*NAD, "default", NAD_PLURAL)
    assert [i["metadata"]["name"] for i in listed["items"]] == ["macvlan"]
    assert listed["items"][0]["kind"] == "NetworkAttachmentDefinition"  # custom lists keep type meta
    everywhere: Any = custom.list_cluster_custom_object(*NAD, NAD_PLURAL)
    assert [i["metadata"]["name"] for i in everywhere["items"]] == ["macvlan", "bridge"]


def test_a_missing_network_attachment_definition_is_a_404_naming_the_group(
    custom: client.CustomObjectsApi,
) -> None:
    with pytest.raises(ApiException) as caught:
        custom.get_namespaced_custom_object(*NAD, "default", NAD_PLURAL, "nope")
    assert caught.value.status == 404
    body = json.loads(str(caught.value.body))
    assert body["details"] == {"name": "nope", "kind": NAD_PLURAL, "group": "k8s.cni.cncf.io"}


def test_a_network_attachment_definition_is_created_patched_and_deleted_over_http(
    api: KubeApiServer, custom: client.CustomObjectsApi
) -> None:
    body = {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": "net1"}, "spec": {"config": json.dumps(MACVLAN)}}
    custom.create_namespaced_custom_object(*NAD, "default", NAD_PLURAL, body)
    assert json.loads(api.get_nad("default", "net1")["spec"]["config"]) == MACVLAN
    custom.patch_namespaced_custom_object(*NAD, "default", NAD_PLURAL, "net1",
                                          {"metadata": {"labels": {"team": "net"}}})
    assert api.get_nad("default", "net1")["metadata"]["labels"] == {"team": "net"}
    answer: Any = custom.delete_namespaced_custom_object(*NAD, "default", NAD_PLURAL, "net1")
    assert (answer["kind"], answer["status"]) == ("Status", "Success")
    with pytest.raises(KeyError):
        api.get_nad("default", "net1")


def test_a_network_attachment_definition_config_that_is_not_a_string_is_rejected_with_422(
    custom: client.CustomObjectsApi,
) -> None:
    body = {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
            "metadata": {"name": "net1"}, "spec": {"config": MACVLAN}}
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(*NAD, "default", NAD_PLURAL, body)
    assert caught.value.status == 422


def test_strategic_merge_patch_on_a_custom_resource_is_rejected_with_415_as_on_a_real_server(
    api: KubeApiServer, custom: client.CustomObjectsApi
) -> None:
    api.add_nad("default", "net1", MACVLAN)
    with pytest.raises(ApiException) as caught:
        custom.patch_namespaced_custom_object(
            *NAD, "default", NAD_PLURAL, "net1", {"metadata": {"labels": {"a": "b"}}},
            _content_type="application/strategic-merge-patch+json")
    assert caught.value.status == 415


def test_replacing_a_custom_resource_without_a_resource_version_is_rejected_with_422(
    api: KubeApiServer, custom: client.CustomObjectsApi
) -> None:
    stored = api.add_nad("default", "net1", MACVLAN)
    del stored["metadata"]["resourceVersion"]
    with pytest.raises(ApiException) as caught:
        custom.replace_namespaced_custom_object(*NAD, "default", NAD_PLURAL, "net1", stored)
    assert caught.value.status == 422


def test_a_core_event_created_over_http_is_listed_and_returned_by_the_helper(
    api: KubeApiServer, core: client.CoreV1Api
) -> None:
    event = client.CoreV1Event(
        metadata=client.V1ObjectMeta(name="web.1", namespace="default"),
        involved_object=client.V1ObjectReference(kind="Pod", name="web", namespace="default"),
        reason="AddedInterface", message="Add eth0 [10.0.0.2/24]", type="Normal")
    core.create_namespaced_event("default", event)
    listed = core.list_namespaced_event("default", field_selector="involvedObject.name=web")
    assert [e.reason for e in listed.items] == ["AddedInterface"]
    assert [e["message"] for e in api.events("default")] == ["Add eth0 [10.0.0.2/24]"]
    assert core.list_namespaced_event("default", field_selector="reason=Other").items == []


def test_an_events_k8s_io_event_is_stored_in_core_form_like_on_a_real_cluster(
    api: KubeApiServer, kube: client.ApiClient, core: client.CoreV1Api
) -> None:
    events_v1 = client.EventsV1Api(kube)
    body = client.EventsV1Event(
        metadata=client.V1ObjectMeta(name="web.2", namespace="default"),
        event_time=datetime(2024, 1, 1, tzinfo=UTC), reason="AddedInterface", note="Add net1",
        action="Add", reporting_controller="multus", reporting_instance="node-1",
        regarding=client.V1ObjectReference(kind="Pod", name="web", namespace="default"), type="Normal")
    created = events_v1.create_namespaced_event("default", body)
    assert (created.note, created.regarding.name) == ("Add net1", "web")
    [stored] = api.events()
    assert (stored["apiVersion"], stored["message"], stored["involvedObject"]["name"]) == ("v1", "Add net1", "web")
    assert [e.message for e in core.list_namespaced_event("default").items] == ["Add net1"]


def test_discovery_describes_the_core_and_custom_groups(kube: client.ApiClient) -> None:
    assert client.CoreApi(kube).get_api_versions().versions == ["v1"]
    core_resources = {r.name for r in client.CoreV1Api(kube).get_api_resources().resources}
    assert {"pods", "pods/status", "events"} <= core_resources
    groups = {g.name: g.preferred_version.group_version for g in client.ApisApi(kube).get_api_versions().groups}
    assert groups["k8s.cni.cncf.io"] == "k8s.cni.cncf.io/v1"
    assert client.VersionApi(kube).get_code().major == "1"


def test_a_server_with_a_token_accepts_its_kubeconfig_and_rejects_anonymous_calls_with_401(
    tmp_path: Path,
) -> None:
    with KubeApiServer(token="s3cret") as api:
        api.add_pod("default", "web")
        authed = client_for(api.write_kubeconfig(tmp_path / "kubeconfig"))
        anonymous_config = client.Configuration(host=api.url)
        anonymous = client.ApiClient(anonymous_config)
        try:
            assert client.CoreV1Api(authed).read_namespaced_pod("web", "default").metadata.name == "web"
            with pytest.raises(ApiException) as caught:
                client.CoreV1Api(anonymous).read_namespaced_pod("web", "default")
            assert caught.value.status == 401
        finally:
            close_client(authed)
            close_client(anonymous)
