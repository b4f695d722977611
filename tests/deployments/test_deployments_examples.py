"""The examples under ``deployments/examples/`` are usable as written.

Checked here:
- every NAD's ``spec.config`` is a CNI config the project's runtime loads (``multus.cni.netconf``), with
  a name equal to the NAD's (the name Multus would inject anyway) and cniVersion 1.0.0;
- the SR-IOV NAD ties itself to ``intel.com/sriov_netdevice`` with the resourceName annotation, runs the
  sriov plugin with an IPAM section and leaves deviceID to Multus;
- the SR-IOV pod requests one of that resource, in requests and limits alike, and its networks
  annotation selects that NAD;
- the macvlan pod uses the JSON form of the annotation, which the project's parser accepts, asks for two
  networks that the examples define, and asks for ``ips`` only on a network whose config declares the
  ``ips`` capability (otherwise the address would be silently dropped).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from deployments_support import EXAMPLES, Obj, all_of, find

netconf = pytest.importorskip("multus.cni.netconf", reason="multus.cni is not in the tree")
selection = pytest.importorskip("multus.plugin.selection", reason="multus.plugin is not in the tree")

NETWORKS = "k8s.v1.cni.cncf.io/networks"
RESOURCE_NAME = "k8s.v1.cni.cncf.io/resourceName"
SRIOV_RESOURCE = "intel.com/sriov_netdevice"
NAD_KIND = "NetworkAttachmentDefinition"


def nads() -> dict[tuple[str, str], Obj]:
    found = {}
    for path in sorted(EXAMPLES.glob("*.yml")):
        for nad in all_of(path, NAD_KIND):
            found[(nad["metadata"]["namespace"], nad["metadata"]["name"])] = nad
    return found


def selections(pod: Obj) -> list[Any]:
    return list(selection.parse_network_selections(pod["metadata"]["annotations"][NETWORKS],
                                                   pod["metadata"]["namespace"]))


@pytest.mark.parametrize("key", sorted(nads()), ids=lambda k: f"{k[0]}/{k[1]}")
def test_each_nad_holds_a_cni_config_the_runtime_loads(key: tuple[str, str]) -> None:
    nad = nads()[key]
    network = netconf.load_any(nad["spec"]["config"])
    assert network.name == nad["metadata"]["name"]
    assert network.cni_version == "1.0.0"
    assert all(plugin.type for plugin in network.plugins)


def test_the_sriov_nad_names_the_device_plugin_resource_and_leaves_device_id_to_multus() -> None:
    nad = find(EXAMPLES / "sriov-nad.yml", NAD_KIND)
    assert nad["metadata"]["annotations"][RESOURCE_NAME] == SRIOV_RESOURCE
    config = json.loads(nad["spec"]["config"])
    assert config["type"] == "sriov"
    assert config["ipam"]["type"] and config["ipam"]["ranges"]
    assert "deviceID" not in config


def test_the_sriov_pod_requests_one_device_and_selects_the_sriov_network() -> None:
    pod = find(EXAMPLES / "sriov-pod.yml", "Pod")
    [ctr] = pod["spec"]["containers"]
    assert ctr["resources"]["requests"][SRIOV_RESOURCE] == "1"
    assert ctr["resources"]["limits"][SRIOV_RESOURCE] == "1"
    [chosen] = selections(pod)
    nad = nads()[(chosen.namespace, chosen.name)]
    assert nad["metadata"]["annotations"][RESOURCE_NAME] == SRIOV_RESOURCE


def test_the_macvlan_pod_asks_for_two_defined_networks_in_json_form() -> None:
    pod = find(EXAMPLES / "macvlan-pod.yml", "Pod")
    annotation = pod["metadata"]["annotations"][NETWORKS]
    assert selection.is_json_form(annotation)
    chosen = selections(pod)
    assert len(chosen) == 2 and len({c.interface for c in chosen}) == 2
    defined = nads()
    for element in chosen:
        assert (element.namespace, element.name) in defined, f"{element.name} is not defined in the examples"
    assert any(element.ips for element in chosen)


def test_addresses_are_requested_only_from_networks_with_the_ips_capability() -> None:
    pod = find(EXAMPLES / "macvlan-pod.yml", "Pod")
    for element in selections(pod):
        if element.ips:
            network = netconf.load_any(nads()[(element.namespace, element.name)]["spec"]["config"])
            assert any(plugin.capabilities.get("ips") for plugin in network.plugins), element.name


def test_the_examples_cover_sriov_and_macvlan() -> None:
    names = {p.name for p in EXAMPLES.glob("*.yml")}
    assert {"sriov-nad.yml", "sriov-pod.yml", "macvlan-nad.yml", "macvlan-pod.yml"} <= names
