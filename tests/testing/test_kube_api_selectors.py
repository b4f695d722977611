"""Label and field selector parsing of the kube-apiserver double, checked directly (no HTTP).

The double must accept every selector form a real API server accepts (or code would be tested
against a narrower contract than production) and reject the ones it rejects.
"""

from __future__ import annotations

import pytest

from multus.testing.kube_api import ApiError
from multus.testing.kube_api.resources import NETWORK_ATTACHMENT_DEFINITIONS, PODS
from multus.testing.kube_api.selectors import parse_selector

POD = {"metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"}},
       "spec": {"nodeName": "node-1", "hostNetwork": True}, "status": {"phase": "Running"}}


@pytest.mark.parametrize(("labels", "fields", "expected"), [
    ("app=web", "", True),
    ("app==web,tier", "", True),
    ("app!=web", "", False),
    ("missing!=x", "", True),
    ("app in (db, web)", "", True),
    ("app notin (web)", "", False),
    ("!tier", "", False),
    ("", "spec.nodeName=node-1,status.phase=Running", True),
    ("", "spec.nodeName!=node-1", False),
    ("", "spec.hostNetwork=true", True),
    ("", "metadata.namespace=other", False),
])
def test_selectors_match_a_pod_as_the_real_server_would(labels: str, fields: str, expected: bool) -> None:
    assert parse_selector(PODS, None, labels, fields).matches(POD) is expected


def test_the_namespace_of_the_request_is_part_of_the_selection() -> None:
    assert parse_selector(PODS, "default", "", "").matches(POD)
    assert not parse_selector(PODS, "other", "", "").matches(POD)


@pytest.mark.parametrize(("labels", "fields"), [
    ("app in web", ""),
    ("app=has space", ""),
    ("", "spec.nodeName"),
    ("", "spec.nodeName=node-1,bogus=1"),
])
def test_malformed_selectors_are_rejected_with_400(labels: str, fields: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_selector(PODS, None, labels, fields)
    assert caught.value.code == 400


def test_a_custom_resource_only_selects_on_name_and_namespace() -> None:
    assert parse_selector(NETWORK_ATTACHMENT_DEFINITIONS, None, "", "metadata.name=web").matches(POD)
    with pytest.raises(ApiError):
        parse_selector(NETWORK_ATTACHMENT_DEFINITIONS, None, "", "spec.nodeName=node-1")
