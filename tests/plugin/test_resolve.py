"""Behaviour of delegate resolution (multus.plugin.resolve, and the NAD delegate in multus.plugin.nads).

Checked here, against a fake NAD reader (a dict; missing NADs raise multus.k8s.errors.NotFoundError with
the API server's message), a recording event sink and a fake device allocator with sorted IDs:
* the NAD delegate (getKubernetesDelegate): ``<ns>/<nad>`` names, the pod's requests carried, the
  ``NoNetworkFound`` warning and Go's error text (§11.2 #2), device IDs from the allocator only for a
  NAD with ``resourceName`` and a known pod, injected into conf and list;
* clusterNetwork (§3.5): NAD in multusNamespace, else a conf-dir file by name, else ``cannot find
  network``; paths: directory, ``.conflist`` with and without its subdirectory chain, single file, missing
  path; ``defaultNetworks`` in order and skipped for system-namespace pods; a reader is required
  (§11.2 #7, #9);
* static delegates: ``[0]`` is the master, names and Go-marshalled bytes;
* the pod's annotations (§11.2 #1, #2, #3, #5, #8, #9, #11): ``networks`` appended in order with
  duplicates, other namespaces, unknown JSON keys; ``default-network`` replacing the master for cluster
  and static configs, renaming it; namespace isolation and ``globalNamespaces``;
* the default-route check (§7): ECMP refused per family, ``[]`` filtering default routes everywhere;
* devices shared by two NADs consumed in delegate order, across the whole list;
* the auxiliary chain (§6.7): path requirement, passthru plus sorted ``*.conf``, skipped (and logged)
  when empty or broken.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from multus.cni.errors import CniError, ErrorCode
from multus.k8s.errors import NotFoundError
from multus.plugin.config import MultusNetConf, load_netconf
from multus.plugin.delegate import Delegate, build_delegate
from multus.plugin.nads import NetworkRef, nad_delegate
from multus.plugin.resolve import (
    ECMP_ERROR,
    ResolveError,
    aux_chain_delegate,
    check_gateway_config,
    cluster_and_default_networks,
    pod_delegates,
    static_delegates,
)
from multus.plugin.selection import parse_network_selections

MACVLAN = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0"}
RESOURCE = "intel.com/sriov"
NETWORKS = "k8s.v1.cni.cncf.io/networks"
DEFAULT_NETWORK = "v1.multus-cni.io/default-network"


# ---------------------------------------------------------------- fakes


class FakeNads:
    """A NadReader over a dict; a missing NAD fails like the API client does (HTTP info in details)."""

    def __init__(self, *nads: dict[str, Any]) -> None:
        self.nads = {(n["metadata"]["namespace"], n["metadata"]["name"]): n for n in nads}
        self.calls: list[tuple[str, str]] = []

    def get_network_attachment_definition(self, namespace: str, name: str) -> dict[str, Any]:
        self.calls.append((namespace, name))
        try:
            return self.nads[(namespace, name)]
        except KeyError:
            raise NotFoundError(f'network-attachment-definitions.k8s.cni.cncf.io "{name}" not found', status=404,
                                reason="NotFound", details=f"GET {namespace}/{name}: HTTP 404 NotFound") from None


class Events:
    """A recording EventSink: (pod name, type, reason, message)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []

    def emit(self, pod: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        self.seen.append((pod["metadata"]["name"], event_type, reason, message))


class Devices:
    """A DeviceAllocator: each resource's IDs sorted, handed out in order, "" when exhausted."""

    def __init__(self, **ids: list[str]) -> None:
        self.ids = {RESOURCE if key == "sriov" else key: sorted(value) for key, value in ids.items()}
        self.calls: list[str] = []

    def allocate(self, resource_name: str) -> str:
        self.calls.append(resource_name)
        left = self.ids.get(resource_name, [])
        return left.pop(0) if left else ""


def nad(name: str, namespace: str = "test", config: dict[str, Any] | None = None,
        resource: str = "") -> dict[str, Any]:
    """A NAD; ``config=None`` gives a macvlan config named after the NAD, ``{}`` an empty spec."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if resource:
        meta["annotations"] = {"k8s.v1.cni.cncf.io/resourceName": resource}
    body = {**MACVLAN, "name": name} if config is None else config
    return {"metadata": meta, "spec": {"config": json.dumps(body)} if body else {}}


def pod(namespace: str = "test", networks: str | None = None, default: str | None = None,
        name: str = "testPod") -> dict[str, Any]:
    annotations = {key: value for key, value in ((NETWORKS, networks), (DEFAULT_NETWORK, default)) if value}
    return {"metadata": {"name": name, "namespace": namespace, "annotations": annotations}}


def netconf(tmp_path: Path, **keys: Any) -> MultusNetConf:
    """A Multus config whose confDir is ``<tmp>/net.d``; ``keys`` must bring clusterNetwork or delegates."""
    body = {"name": "multus", "type": "multus", "cniVersion": "0.4.0", "confDir": str(tmp_path / "net.d"), **keys}
    return load_netconf(json.dumps(body).encode())


def write(directory: Path, filename: str, body: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def summary(delegates: list[Delegate]) -> list[tuple[str, bool]]:
    return [(d.name, d.master) for d in delegates]


def master_list(tmp_path: Path) -> list[Delegate]:
    """What a clusterNetwork NAD ``net0`` resolves to: the list pod_delegates starts from."""
    conf = netconf(tmp_path, clusterNetwork="net0")
    return cluster_and_default_networks(conf, FakeNads(nad("net0", "kube-system")), pod(), None, None)


# ---------------------------------------------------------------- the NAD delegate


def test_a_nad_delegate_is_named_namespace_slash_nad_and_keeps_its_configs_name(tmp_path: Path) -> None:
    reader = FakeNads(nad("net1", config={**MACVLAN, "name": "macvlan-conf"}))
    delegate = nad_delegate(reader, NetworkRef("net1", "test"), str(tmp_path), pod(), Events(), None)
    assert (delegate.name, delegate.network_name, delegate.master) == ("test/net1", "macvlan-conf", False)
    assert reader.calls == [("test", "net1")]


def test_a_nad_delegate_carries_the_pods_requests_for_it(tmp_path: Path) -> None:
    (selection,) = parse_network_selections(json.dumps([{
        "name": "net1", "interface": "ext0", "mac": "c2:11:22:33:44:55", "ips": ["10.1.1.11/24"],
        "default-route": ["10.1.1.254"], "cni-args": {"foo": "bar"}}]), "test")
    delegate = nad_delegate(FakeNads(nad("net1")), selection, str(tmp_path), pod(), None, None)
    assert (delegate.ifname_request, delegate.mac_request, delegate.ip_request, delegate.gateway_request) == (
        "ext0", "c2:11:22:33:44:55", ("10.1.1.11/24",), ("10.1.1.254",))
    assert delegate.raw["args"] == {"cni": {"foo": "bar"}}


def test_a_missing_nad_warns_the_pod_and_fails_with_gos_text(tmp_path: Path) -> None:
    events = Events()
    with pytest.raises(ResolveError) as info:
        nad_delegate(FakeNads(), NetworkRef("net1", "test"), str(tmp_path), pod(), events, None)
    cause = 'cannot find a network-attachment-definition (net1) in namespace (test): ' \
            'network-attachment-definitions.k8s.cni.cncf.io "net1" not found'
    assert info.value.msg == f"getKubernetesDelegate: {cause}"
    assert info.value.details == "GET test/net1: HTTP 404 NotFound"
    assert events.seen == [("testPod", "Warning", "NoNetworkFound", cause)]


def test_a_missing_nad_without_a_pod_sends_no_event(tmp_path: Path) -> None:
    events = Events()
    with pytest.raises(ResolveError):
        nad_delegate(FakeNads(), NetworkRef("net1", "test"), str(tmp_path), None, events, None)
    assert events.seen == []


def test_any_reader_failure_is_a_missing_network(tmp_path: Path) -> None:
    class Broken:
        def get_network_attachment_definition(self, namespace: str, name: str) -> dict[str, Any]:
            raise ConnectionRefusedError("connection refused")

    with pytest.raises(ResolveError) as info:
        nad_delegate(Broken(), NetworkRef("net1", "test"), str(tmp_path), pod(), None, None)
    assert str(info.value).endswith("in namespace (test): connection refused")


def test_a_nad_whose_config_cannot_run_fails_naming_the_nad(tmp_path: Path) -> None:
    with pytest.raises(ResolveError) as info:
        nad_delegate(FakeNads(nad("net1", config={"name": "x"})), NetworkRef("net1", "test"), str(tmp_path),
                     pod(), None, None)
    assert info.value.msg.startswith("getKubernetesDelegate: network-attachment-definition test/net1: "
                                     "LoadDelegateNetConf:")


@pytest.mark.parametrize("config", [MACVLAN, {"cniVersion": "0.3.1", "plugins": [MACVLAN, {"type": "tuning"}]}],
                         ids=["conf", "conflist"])
def test_a_resource_nad_gets_the_next_device_injected(tmp_path: Path, config: dict[str, Any]) -> None:
    devices = Devices(sriov=["0000:03:00.1", "0000:03:00.0"])
    reader = FakeNads(nad("net1", config={**config, "name": "net1"}, resource=RESOURCE))
    delegate = nad_delegate(reader, NetworkRef("net1", "test"), str(tmp_path), pod(), None, devices)
    assert (delegate.device_id, delegate.resource_name) == ("0000:03:00.0", RESOURCE)
    targets = [delegate.raw] if "type" in config else delegate.raw["plugins"]
    assert [(t["deviceID"], t["pciBusID"]) for t in targets] == [("0000:03:00.0", "0000:03:00.0")] * len(targets)


@pytest.mark.parametrize(("the_pod", "resource", "with_allocator"), [
    (None, RESOURCE, True),
    ({"metadata": {"namespace": "test"}}, RESOURCE, True),
    (pod(), "", True),
    (pod(), RESOURCE, False),
], ids=["no-pod", "pod-without-name", "no-resourceName", "no-allocator"])
def test_no_device_is_chosen_without_a_resource_a_known_pod_and_an_allocator(
        tmp_path: Path, the_pod: dict[str, Any] | None, resource: str, with_allocator: bool) -> None:
    devices = Devices(sriov=["0000:03:00.0"])
    delegate = nad_delegate(FakeNads(nad("net1", resource=resource)), NetworkRef("net1", "test"), str(tmp_path),
                            the_pod, None, devices if with_allocator else None)
    assert delegate.device_id == ""
    assert "deviceID" not in delegate.raw
    assert devices.calls == []


def test_an_exhausted_resource_silently_gives_no_device(tmp_path: Path) -> None:
    delegate = nad_delegate(FakeNads(nad("net1", resource=RESOURCE)), NetworkRef("net1", "test"), str(tmp_path),
                            pod(), None, Devices(sriov=[]))
    assert (delegate.device_id, "deviceID" in delegate.raw) == ("", False)


# ---------------------------------------------------------------- clusterNetwork and defaultNetworks


def test_a_cluster_network_nad_is_the_master_from_the_multus_namespace(tmp_path: Path) -> None:
    reader = FakeNads(nad("net0", "kube-system"))
    delegates = cluster_and_default_networks(netconf(tmp_path, clusterNetwork="net0"), reader, pod(), None, None)
    assert summary(delegates) == [("kube-system/net0", True)]
    assert reader.calls == [("kube-system", "net0")]


def test_the_multus_namespace_setting_moves_the_lookup(tmp_path: Path) -> None:
    conf = netconf(tmp_path, clusterNetwork="net0", multusNamespace="infra")
    delegates = cluster_and_default_networks(conf, FakeNads(nad("net0", "infra")), pod(), None, None)
    assert summary(delegates) == [("infra/net0", True)]


def test_default_networks_follow_the_master_in_config_order(tmp_path: Path) -> None:
    conf = netconf(tmp_path, clusterNetwork="net0", defaultNetworks=["net2", "net1"])
    reader = FakeNads(*(nad(n, "kube-system") for n in ("net0", "net1", "net2")))
    delegates = cluster_and_default_networks(conf, reader, pod(), None, None)
    assert summary(delegates) == [("kube-system/net0", True), ("kube-system/net2", False),
                                  ("kube-system/net1", False)]


@pytest.mark.parametrize(("pod_namespace", "keys"), [
    ("kube-system", {}),
    ("infra", {"systemNamespaces": ["infra"]}),
], ids=["default-system-namespace", "configured-system-namespace"])
def test_system_namespace_pods_get_no_default_networks(tmp_path: Path, pod_namespace: str,
                                                       keys: dict[str, Any]) -> None:
    conf = netconf(tmp_path, clusterNetwork="net0", defaultNetworks=["net1"], **keys)
    reader = FakeNads(nad("net0", "kube-system"), nad("net1", "kube-system"))
    delegates = cluster_and_default_networks(conf, reader, pod(pod_namespace), None, None)
    assert summary(delegates) == [("kube-system/net0", True)]


def test_without_a_pod_default_networks_are_added(tmp_path: Path) -> None:
    conf = netconf(tmp_path, clusterNetwork="net0", defaultNetworks=["net1"])
    reader = FakeNads(nad("net0", "kube-system"), nad("net1", "kube-system"))
    assert len(cluster_and_default_networks(conf, reader, None, None, None)) == 2


def test_a_cluster_network_name_without_a_nad_is_a_conf_dir_file(tmp_path: Path) -> None:
    write(tmp_path / "net.d", "10-kindnet.conf", {**MACVLAN, "name": "kindnet"})
    events = Events()
    conf = netconf(tmp_path, clusterNetwork="kindnet")
    delegates = cluster_and_default_networks(conf, FakeNads(), pod(), events, None)
    assert summary(delegates) == [("kindnet", True)]
    assert [e[2] for e in events.seen] == ["NoNetworkFound"]  # the failed NAD lookup is still reported


def test_a_nad_wins_over_a_conf_dir_file_of_the_same_name(tmp_path: Path) -> None:
    write(tmp_path / "net.d", "10-net0.conf", {**MACVLAN, "name": "net0", "master": "file"})
    conf = netconf(tmp_path, clusterNetwork="net0")
    (delegate,) = cluster_and_default_networks(conf, FakeNads(nad("net0", "kube-system")), pod(), None, None)
    assert (delegate.name, delegate.raw["master"]) == ("kube-system/net0", "eth0")


@pytest.mark.parametrize(("value", "problem"), [
    ("net9", "getNetDelegate: cannot find network: net9"),
    ("/nonexistent/net.conf", "stat /nonexistent/net.conf: no such file or directory"),
])
def test_an_unresolvable_cluster_network_fails_in_gos_words(tmp_path: Path, value: str, problem: str) -> None:
    with pytest.raises(ResolveError) as info:
        cluster_and_default_networks(netconf(tmp_path, clusterNetwork=value), FakeNads(), pod(), None, None)
    assert str(info.value) == f"GetDefaultNetworks: failed to get clusterNetwork {value} in namespace kube-system: " \
                              f"{problem}"


def test_an_empty_spec_nad_with_a_broken_conf_dir_cannot_be_the_cluster_network(tmp_path: Path) -> None:
    write(tmp_path / "net.d", "00-bad.conf", "asdf")
    conf = netconf(tmp_path, clusterNetwork="net0")
    with pytest.raises(ResolveError) as info:
        cluster_and_default_networks(conf, FakeNads(nad("net0", "kube-system", config={})), pod(), None, None)
    assert str(info.value).endswith("getNetDelegate: cannot find network: net0")


def test_an_unresolvable_default_network_names_itself(tmp_path: Path) -> None:
    conf = netconf(tmp_path, clusterNetwork="net0", defaultNetworks=["net9"])
    with pytest.raises(ResolveError) as info:
        cluster_and_default_networks(conf, FakeNads(nad("net0", "kube-system")), pod(), None, None)
    assert str(info.value) == ("GetDefaultNetworks: failed to get defaultNetwork net9 in namespace kube-system: "
                               "getNetDelegate: cannot find network: net9")


@pytest.mark.parametrize("value", ["net0", "/etc/cni/net.d/10-net.conf"])
def test_cluster_networks_need_a_nad_reader_even_for_paths(tmp_path: Path, value: str) -> None:
    with pytest.raises(ResolveError) as info:
        cluster_and_default_networks(netconf(tmp_path, clusterNetwork=value), None, pod(), None, None)
    assert str(info.value) == "GetDefaultNetworks: must have either Kubernetes config or delegates"


def test_a_config_without_cluster_network_has_no_cluster_network_to_resolve(tmp_path: Path) -> None:
    conf = netconf(tmp_path, delegates=[{**MACVLAN, "name": "weave1"}])
    with pytest.raises(ResolveError, match="clusterNetwork is not set"):
        cluster_and_default_networks(conf, FakeNads(), pod(), None, None)


def test_a_cluster_network_directory_gives_its_first_config(tmp_path: Path) -> None:
    net_d = tmp_path / "cni"
    write(net_d, "20-second.conf", {**MACVLAN, "name": "second"})
    write(net_d, "10-first.conf", {**MACVLAN, "name": "first"})
    conf = netconf(tmp_path, clusterNetwork=str(net_d))
    assert summary(cluster_and_default_networks(conf, FakeNads(), pod(), None, None)) == [("first", True)]


@pytest.mark.parametrize(("only_inlined", "types"), [(False, ["ptp", "tuning"]), (True, ["ptp"])])
def test_a_cluster_network_conflist_path_brings_its_subdirectory_chain(tmp_path: Path, only_inlined: bool,
                                                                       types: list[str]) -> None:
    path = write(tmp_path / "cni", "10-kindnet.conflist",
                 {"cniVersion": "0.3.1", "name": "kindnet", "plugins": [{"type": "ptp"}],
                  "loadOnlyInlinedPlugins": only_inlined})
    write(tmp_path / "cni" / "kindnet", "10-tuning.conf", {"type": "tuning", "name": "t"})
    conf = netconf(tmp_path, clusterNetwork=str(path))
    (delegate,) = cluster_and_default_networks(conf, FakeNads(), pod(), None, None)
    assert (delegate.name, delegate.master) == ("kindnet", True)
    assert [p["type"] for p in delegate.raw["plugins"]] == types


def test_a_cluster_network_file_path_is_a_single_config(tmp_path: Path) -> None:
    path = write(tmp_path / "cni", "weave.json", {**MACVLAN, "name": "weave1"})
    conf = netconf(tmp_path, clusterNetwork=str(path))
    (delegate,) = cluster_and_default_networks(conf, FakeNads(), pod(), None, None)
    assert (delegate.name, delegate.raw["type"]) == ("weave1", "macvlan")


def test_a_cluster_network_file_without_type_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "cni", "weave.conf", {"name": "weave1", "cniVersion": "0.3.1"})
    with pytest.raises(ResolveError) as info:
        cluster_and_default_networks(netconf(tmp_path, clusterNetwork=str(path)), FakeNads(), pod(), None, None)
    assert str(info.value).startswith(f"GetDefaultNetworks: failed to get clusterNetwork {path} in namespace "
                                      "kube-system: ")
    assert "type" in str(info.value)


# ---------------------------------------------------------------- static delegates


def test_static_delegates_have_the_first_as_master_and_their_config_names(tmp_path: Path) -> None:
    conf = netconf(tmp_path, delegates=[{**MACVLAN, "name": "weave1"},
                                        {"cniVersion": "0.3.1", "name": "list2", "plugins": [MACVLAN]}])
    delegates = static_delegates(conf)
    assert summary(delegates) == [("weave1", True), ("list2", False)]
    assert delegates[0].config == b'{"cniVersion":"0.3.1","master":"eth0","name":"weave1","type":"macvlan"}'


# ---------------------------------------------------------------- the pod's annotations


def test_text_networks_are_appended_after_the_master_in_order_with_duplicates(tmp_path: Path) -> None:
    conf = netconf(tmp_path, clusterNetwork="net0")
    reader = FakeNads(nad("net1"), nad("net2"))
    delegates = pod_delegates(conf, reader, pod(networks="net1, net2,net1"), master_list(tmp_path), None, None)
    assert summary(delegates) == [("kube-system/net0", True), ("test/net1", False), ("test/net2", False),
                                  ("test/net1", False)]


def test_a_missing_network_fails_with_gos_exact_text(tmp_path: Path) -> None:
    events = Events()
    with pytest.raises(ResolveError) as info:
        pod_delegates(netconf(tmp_path, clusterNetwork="net0"), FakeNads(), pod(networks="net1"),
                      master_list(tmp_path), events, None)
    assert info.value.msg == (
        "GetNetworkDelegates: failed getting the delegate: getKubernetesDelegate: cannot find a "
        "network-attachment-definition (net1) in namespace (test): "
        'network-attachment-definitions.k8s.cni.cncf.io "net1" not found')
    assert len(events.seen) == 1


def test_json_networks_keep_order_reach_other_namespaces_and_ignore_unknown_keys(tmp_path: Path) -> None:
    annotation = json.dumps([
        {"name": "net1"},
        {"name": "net2", "namespace": "other-ns", "interface": "ext2", "unknown": {"x": 1}},
        {"name": "net3", "default-route": ["10.1.1.254"]},
    ])
    reader = FakeNads(nad("net1"), nad("net2", "other-ns"), nad("net3"))
    delegates = pod_delegates(netconf(tmp_path, clusterNetwork="net0"), reader, pod(networks=annotation),
                              master_list(tmp_path), None, None)
    assert summary(delegates) == [("kube-system/net0", True), ("test/net1", False), ("other-ns/net2", False),
                                  ("test/net3", False)]
    assert delegates[2].ifname_request == "ext2"
    assert [(d.filter_v4_gateway, d.filter_v6_gateway) for d in delegates] == [(True, True)] * 3 + [(False, True)]


def test_an_empty_spec_network_is_resolved_from_the_conf_dir(tmp_path: Path) -> None:
    write(tmp_path / "net.d", "10-net1.conf", {"cniVersion": "0.3.1", "name": "net1", "type": "mynet"})
    delegates = pod_delegates(netconf(tmp_path, clusterNetwork="net0"), FakeNads(nad("net1", config={})),
                              pod(networks="net1"), master_list(tmp_path), None, None)
    assert (delegates[1].name, delegates[1].raw["type"]) == ("test/net1", "mynet")


def test_a_network_config_without_a_name_gets_the_nads(tmp_path: Path) -> None:
    reader = FakeNads(nad("net1", config={"type": "mynet"}))
    delegates = pod_delegates(netconf(tmp_path, clusterNetwork="net0"), reader, pod(networks="net1"),
                              master_list(tmp_path), None, None)
    assert delegates[1].network_name == "net1"


def test_an_empty_spec_network_with_a_broken_conf_dir_fails(tmp_path: Path) -> None:
    bad = write(tmp_path / "net.d", "00-bad.conf", "asdf")
    with pytest.raises(ResolveError) as info:
        pod_delegates(netconf(tmp_path, clusterNetwork="net0"), FakeNads(nad("net1", config={})),
                      pod(networks="net1"), master_list(tmp_path), None, None)
    assert str(info.value) == (
        "GetNetworkDelegates: failed getting the delegate: GetCNIConfig: err in GetCNIConfigFromFile: "
        f"Error loading CNI config file {bad}: error parsing configuration: "
        "invalid character 'a' looking for beginning of value")


def test_a_malformed_networks_annotation_fails_with_the_parsers_text(tmp_path: Path) -> None:
    with pytest.raises(CniError) as info:
        pod_delegates(netconf(tmp_path, clusterNetwork="net0"), FakeNads(), pod(networks="[adsfasdfasdfasf]"),
                      master_list(tmp_path), None, None)
    assert str(info.value) == ("parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection "
                               "Annotation JSON format: invalid character 'a' looking for beginning of value")


@pytest.mark.parametrize("keys", [{"clusterNetwork": "net0"},
                                  {"delegates": [{**MACVLAN, "name": "weave1"}, {**MACVLAN, "name": "s2"}]}],
                         ids=["clusterNetwork", "static-delegates"])
def test_the_default_network_annotation_replaces_the_master(tmp_path: Path, keys: dict[str, Any]) -> None:
    conf = netconf(tmp_path, **keys)
    reader = FakeNads(nad("net0", "kube-system"), nad("alt", "kube-system"))
    start = (cluster_and_default_networks(conf, reader, pod(), None, None) if "clusterNetwork" in keys
             else static_delegates(conf))
    delegates = pod_delegates(conf, reader, pod(default="alt"), start, None, None)
    assert summary(delegates) == [("kube-system/alt", True)] + summary(start)[1:]


def test_the_default_network_annotation_can_name_a_namespace_and_rename_the_master(tmp_path: Path) -> None:
    reader = FakeNads(nad("alt", "infra"))
    delegates = pod_delegates(netconf(tmp_path, clusterNetwork="net0", namespaceIsolation=True), reader,
                              pod(default="infra/alt@eth9"), master_list(tmp_path), None, None)
    assert (delegates[0].name, delegates[0].master, delegates[0].ifname_request) == ("infra/alt", True, "eth9")


def test_a_missing_default_network_fails_the_pod(tmp_path: Path) -> None:
    with pytest.raises(ResolveError) as info:
        pod_delegates(netconf(tmp_path, clusterNetwork="net0"), FakeNads(), pod(default="alt"),
                      master_list(tmp_path), None, None)
    assert info.value.msg.startswith("TryLoadPodDelegates: error in loading K8s cluster default network from pod "
                                     "annotation: tryLoadK8sPodDefaultNetwork: failed getting the delegate: "
                                     "getKubernetesDelegate: cannot find a network-attachment-definition (alt) "
                                     "in namespace (kube-system)")


def test_more_than_one_default_network_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CniError) as info:
        pod_delegates(netconf(tmp_path, clusterNetwork="net0"), FakeNads(), pod(default="a,b"),
                      master_list(tmp_path), None, None)
    assert str(info.value) == "tryLoadK8sPodDefaultNetwork: more than one default network is specified: a,b"


@pytest.mark.parametrize(("reader", "the_pod"), [(None, pod(networks="net1")), (FakeNads(nad("net1")), None)],
                         ids=["no-reader", "no-pod"])
def test_without_kubernetes_or_a_pod_the_delegates_are_unchanged(tmp_path: Path, reader: FakeNads | None,
                                                                 the_pod: dict[str, Any] | None) -> None:
    start = master_list(tmp_path)
    assert pod_delegates(netconf(tmp_path, clusterNetwork="net0"), reader, the_pod, start, None, None) == start


def test_a_pod_without_annotations_keeps_the_delegates(tmp_path: Path) -> None:
    start = master_list(tmp_path)
    bare = {"metadata": {"name": "p", "namespace": "test"}}
    assert pod_delegates(netconf(tmp_path, clusterNetwork="net0"), FakeNads(), bare, start, None, None) == start


def test_namespace_isolation_refuses_another_namespaces_network_in_gos_words(tmp_path: Path) -> None:
    conf = netconf(tmp_path, clusterNetwork="net0", namespaceIsolation=True)
    with pytest.raises(CniError) as info:
        pod_delegates(conf, FakeNads(nad("net1", "kube-system")), pod(networks="kube-system/net1"),
                      master_list(tmp_path), None, None)
    assert str(info.value) == ("GetNetworkDelegates: namespace isolation enabled, annotation violates permission, "
                               "pod is in namespace test but refers to target namespace kube-system")


@pytest.mark.parametrize(("keys", "networks"), [
    ({"namespaceIsolation": True, "globalNamespaces": "kube-system,donkey-kong"}, "kube-system/net1"),
    ({"namespaceIsolation": True}, "default/net1"),
    ({"namespaceIsolation": True}, "test/net1"),
    ({}, "kube-system/net1"),
], ids=["global-namespaces", "default-is-global", "own-namespace", "isolation-off"])
def test_namespace_isolation_allows_own_and_global_namespaces(tmp_path: Path, keys: dict[str, Any],
                                                              networks: str) -> None:
    namespace = networks.split("/")[0]
    delegates = pod_delegates(netconf(tmp_path, clusterNetwork="net0", **keys), FakeNads(nad("net1", namespace)),
                              pod(networks=networks), master_list(tmp_path), None, None)
    assert delegates[-1].name == networks


# ---------------------------------------------------------------- default-route check


def with_gateways(*requests: tuple[str, ...] | None) -> list[Delegate]:
    base = build_delegate(json.dumps({**MACVLAN, "name": "n"}).encode())
    return [Delegate(config=base.config, name=f"d{i}", master=i == 0, gateway_request=r)
            for i, r in enumerate(requests)]


def flags(delegates: list[Delegate]) -> list[tuple[bool, bool]]:
    return [(d.filter_v4_gateway, d.filter_v6_gateway) for d in delegates]


def test_without_default_route_requests_nothing_is_filtered() -> None:
    assert flags(check_gateway_config(with_gateways(None, None))) == [(False, False)] * 2


def test_an_empty_default_route_filters_default_routes_everywhere() -> None:
    assert flags(check_gateway_config(with_gateways(None, (), None))) == [(True, True)] * 3


@pytest.mark.parametrize(("requests", "expected"), [
    ((None, ("10.1.1.254",)), [(True, True), (False, True)]),
    ((("fd00::1",), ("10.1.1.254",)), [(True, False), (False, True)]),
    ((None, ("10.1.1.254", "fd00::1")), [(True, True), (False, False)]),
], ids=["v4-on-one", "v6-and-v4-apart", "dual-stack-on-one"])
def test_only_the_family_of_a_requested_gateway_is_kept(requests: tuple[tuple[str, ...] | None, ...],
                                                        expected: list[tuple[bool, bool]]) -> None:
    assert flags(check_gateway_config(with_gateways(*requests))) == expected


@pytest.mark.parametrize("requests", [
    (("10.1.1.1",), ("10.1.2.1",)),
    (None, ("10.1.1.1", "10.1.2.1")),
    (("fd00::1",), ("fd01::1",)),
], ids=["two-v4-apart", "two-v4-on-one", "two-v6"])
def test_more_than_one_gateway_per_family_is_ecmp_and_refused(requests: tuple[tuple[str, ...] | None, ...]) -> None:
    with pytest.raises(ResolveError) as info:
        check_gateway_config(with_gateways(*requests))
    assert str(info.value) == ECMP_ERROR == "multus does not support ECMP for default-route"


def test_the_pods_default_route_requests_are_checked_across_all_networks(tmp_path: Path) -> None:
    annotation = json.dumps([{"name": "net1", "default-route": ["10.1.1.1"]},
                             {"name": "net2", "default-route": ["10.1.2.1"]}])
    with pytest.raises(ResolveError, match="ECMP"):
        pod_delegates(netconf(tmp_path, clusterNetwork="net0"), FakeNads(nad("net1"), nad("net2")),
                      pod(networks=annotation), master_list(tmp_path), None, None)


# ---------------------------------------------------------------- devices across the list


def test_nads_sharing_a_resource_get_its_sorted_devices_in_delegate_order(tmp_path: Path) -> None:
    devices = Devices(sriov=["0000:03:00.2", "0000:03:00.0", "0000:03:00.1"])
    conf = netconf(tmp_path, clusterNetwork="net0", defaultNetworks=["dflt"])
    reader = FakeNads(nad("net0", "kube-system"), nad("dflt", "kube-system", resource=RESOURCE),
                      nad("sriov-a", resource=RESOURCE), nad("plain"), nad("sriov-b", resource=RESOURCE))
    the_pod = pod(networks="sriov-b,plain,sriov-a")
    start = cluster_and_default_networks(conf, reader, the_pod, None, devices)
    delegates = pod_delegates(conf, reader, the_pod, start, None, devices)
    assert [(d.name, d.device_id) for d in delegates] == [
        ("kube-system/net0", ""), ("kube-system/dflt", "0000:03:00.0"), ("test/sriov-b", "0000:03:00.1"),
        ("test/plain", ""), ("test/sriov-a", "0000:03:00.2")]
    assert [d.raw.get("deviceID") for d in delegates] == [None, "0000:03:00.0", "0000:03:00.1", None,
                                                          "0000:03:00.2"]


# ---------------------------------------------------------------- auxiliary chain


def aux_conf(tmp_path: Path, *confs: tuple[str, Any], name: str = "vendor-cni-chain") -> MultusNetConf:
    """clusterNetwork ``<tmp>/cni/10-kindnet.conflist`` with ``confs`` written to ``<tmp>/cni/<name>/``."""
    path = write(tmp_path / "cni", "10-kindnet.conflist",
                 {"cniVersion": "0.3.1", "name": "kindnet", "plugins": [{"type": "ptp"}]})
    for filename, body in confs:
        write(tmp_path / "cni" / name, filename, body)
    return netconf(tmp_path, clusterNetwork=str(path), auxiliaryCNIChainName=name)


def test_no_aux_chain_is_added_unless_configured(tmp_path: Path) -> None:
    assert aux_chain_delegate(netconf(tmp_path, clusterNetwork="net0")) is None


@pytest.mark.parametrize("keys", [{"clusterNetwork": "net0"}, {"delegates": [{**MACVLAN, "name": "weave1"}]}],
                         ids=["network-name", "static-delegates"])
def test_an_aux_chain_needs_a_cluster_network_path(tmp_path: Path, keys: dict[str, Any]) -> None:
    with pytest.raises(ResolveError) as info:
        aux_chain_delegate(netconf(tmp_path, auxiliaryCNIChainName="vendor", **keys))
    value = keys.get("clusterNetwork", "")
    assert str(info.value) == ("auxiliary chain used but ClusterNetwork must be a path, and it is not a path: "
                               f"{value}")


def test_the_aux_chain_is_passthru_then_its_sorted_conf_files(tmp_path: Path) -> None:
    conf = aux_conf(tmp_path, ("20-sysctl.conf", {"type": "tuning", "name": "b"}),
                    ("10-first.conf", {"type": "tuning", "name": "a"}), ("30-skip.json", {"type": "skip"}))
    delegate = aux_chain_delegate(conf)
    assert delegate is not None
    assert (delegate.name, delegate.master, delegate.raw["name"], delegate.raw["cniVersion"]) == (
        "vendor-cni-chain", False, "vendor-cni-chain", "0.4.0")
    assert [(p["type"], p.get("name")) for p in delegate.raw["plugins"]] == [
        ("passthru", "passthru-cni"), ("tuning", "a"), ("tuning", "b")]


def test_an_aux_chain_with_only_passthru_is_not_added(tmp_path: Path) -> None:
    assert aux_chain_delegate(aux_conf(tmp_path, ("README.md", "nothing"))) is None


@pytest.mark.parametrize(("confs", "name"), [
    ((("10-bad.conf", {"name": "no-type"}),), "vendor-cni-chain"),
    ((("10-bad.conf", "asdf"),), "vendor-cni-chain"),
    ((("10-ok.conf", {"type": "tuning"}),), "-bad-name"),
], ids=["no-type", "unparsable", "bad-chain-name"])
def test_an_aux_chain_that_cannot_load_is_logged_and_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                                              confs: tuple[tuple[str, Any], ...], name: str) -> None:
    conf = aux_conf(tmp_path, *confs, name=name)
    with caplog.at_level(logging.ERROR, logger="multus.plugin.resolve"):
        assert aux_chain_delegate(conf) is None
    assert any(name in record.getMessage() for record in caplog.records)


def test_a_cluster_network_directory_keeps_its_aux_chain_inside_it(tmp_path: Path) -> None:
    write(tmp_path / "cni", "10-kindnet.conf", {**MACVLAN, "name": "kindnet"})
    write(tmp_path / "cni" / "aux", "10-tuning.conf", {"type": "tuning"})
    delegate = aux_chain_delegate(netconf(tmp_path, clusterNetwork=str(tmp_path / "cni"),
                                          auxiliaryCNIChainName="aux"))
    assert delegate is not None
    assert [p["type"] for p in delegate.raw["plugins"]] == ["passthru", "tuning"]


def test_resolution_errors_carry_gos_generic_code(tmp_path: Path) -> None:
    with pytest.raises(ResolveError) as info:
        cluster_and_default_networks(netconf(tmp_path, clusterNetwork="net9"), FakeNads(), pod(), None, None)
    assert info.value.code == ErrorCode.INTERNAL
