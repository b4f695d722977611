"""What each delegate plugin is run with (multus.plugin.runtime_conf; features §3.6, §5, §6.2, §4.6).

Checked here:
* interface names: the requested one wins, the master takes CNI_IFNAME, every other delegate is
  ``net<index>`` where the index counts the whole delegate list (requests and master included);
* delegate CNI_ARGS: Multus's base five come first with empty values kept, the runtime's own pairs
  fill an empty slot or are appended (duplicates included, as in Go), items without ``=`` are
  skipped, values may contain ``=``, and ``MAC=``/``IP=`` are added for ADD only;
* capability args: the master gets the top-level runtimeConfig unchanged, other delegates have it
  overridden by their selection's requests; ``deviceID`` comes from the resource map, else from the
  selection; ``CNIDeviceInfoFile`` is ``<dir>/<ns>-<nad>-<containerID>_<ifname>`` (``/`` -> ``-``)
  whenever a deviceID is offered and replaces a top-level one; only non-empty values are offered.
"""

from __future__ import annotations

from typing import Any

import pytest

from multus.plugin.delegate import Delegate
from multus.plugin.k8s_args import ContainerID, K8sArgs, Namespace, PodName, PodUID, parse_k8s_args
from multus.plugin.runtime_conf import (
    DEVINFO_CNI_DIR,
    capability_args,
    delegate_cni_args,
    delegate_ifname,
    delegate_runtime_conf,
    device_info_path,
)

CONF = b'{"cniVersion":"1.0.0","name":"n","type":"bridge"}'


def k8s(name: str, namespace: str, uid: str, infra: str = "") -> K8sArgs:
    return K8sArgs(pod_name=PodName(name), pod_namespace=Namespace(namespace), pod_uid=PodUID(uid),
                   pod_infra_container_id=ContainerID(infra))


POD = k8s("web", "default", "uid-1", "sandbox")
PORTS = ({"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},)
BANDWIDTH = {"ingressRate": 1000, "ingressBurst": 10, "egressRate": 2000, "egressBurst": 20}


def delegate(**fields: Any) -> Delegate:
    return Delegate(config=CONF, **fields)


# ---- interface names ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fields, index, expected", [
    ({"master": True}, 0, "eth0"),
    ({"master": True, "ifname_request": "ext0"}, 0, "ext0"),
    ({}, 1, "net1"),
    ({}, 3, "net3"),
    ({"ifname_request": "sriov0"}, 2, "sriov0"),
    ({"master": True}, 2, "eth0"),  # a master that is not first still takes CNI_IFNAME
])
def test_the_interface_name_is_the_request_then_cni_ifname_for_the_master_then_net_index(
        fields: dict[str, Any], index: int, expected: str) -> None:
    assert delegate_ifname(delegate(**fields), index, "eth0") == expected


def test_net_indexes_count_the_whole_list_including_named_interfaces() -> None:
    delegates = [delegate(master=True), delegate(), delegate(ifname_request="data0"), delegate(), delegate()]
    names = [delegate_ifname(d, i, "eth0") for i, d in enumerate(delegates)]
    assert names == ["eth0", "net1", "data0", "net3", "net4"]


# ---- CNI_ARGS ----------------------------------------------------------------------------------------


def test_the_base_five_come_first_and_empty_values_are_kept() -> None:
    args = delegate_cni_args(k8s("testpod", "test", "testUID"), "")
    assert args == (("IgnoreUnknown", "true"), ("K8S_POD_NAMESPACE", "test"), ("K8S_POD_NAME", "testpod"),
                    ("K8S_POD_INFRA_CONTAINER_ID", ""), ("K8S_POD_UID", "testUID"))


def test_runtime_pairs_fill_empty_slots_and_everything_else_is_appended_with_duplicates() -> None:
    env = ("IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=abc;"
           "K8S_POD_UID=u1;FOO=bar")
    args = delegate_cni_args(k8s("web", "default", "u1"), env)
    assert args == (
        ("IgnoreUnknown", "true"), ("K8S_POD_NAMESPACE", "default"), ("K8S_POD_NAME", "web"),
        ("K8S_POD_INFRA_CONTAINER_ID", "abc"), ("K8S_POD_UID", "u1"),
        ("IgnoreUnknown", "1"), ("K8S_POD_NAMESPACE", "default"), ("K8S_POD_NAME", "web"),
        ("K8S_POD_UID", "u1"), ("FOO", "bar"))


def test_an_empty_runtime_value_does_not_take_an_empty_slot_it_is_appended_as_in_go() -> None:
    # Go fills a slot only with a non-empty value; so a later non-empty pair can still fill it.
    args = delegate_cni_args(K8sArgs(), "K8S_POD_UID=;K8S_POD_UID=late")
    assert args[4] == ("K8S_POD_UID", "late")
    assert args[5:] == (("K8S_POD_UID", ""),)


@pytest.mark.parametrize("env, extra", [
    ("novalue;A=1", (("A", "1"),)),
    (";;A=1;", (("A", "1"),)),
    ("A=x=y", (("A", "x=y"),)),  # split on the first '=' only
    ("A=", (("A", ""),)),
])
def test_items_without_an_equals_sign_are_skipped_and_values_keep_later_equals_signs(
        env: str, extra: tuple[tuple[str, str], ...]) -> None:
    assert delegate_cni_args(POD, env)[5:] == extra


def test_mac_and_ip_requests_come_last() -> None:
    args = delegate_cni_args(POD, "X=1", mac="c2:11:22:33:44:66", ips=("10.0.0.1/24", "fd00::1/64"))
    assert args[-3:] == (("X", "1"), ("MAC", "c2:11:22:33:44:66"), ("IP", "10.0.0.1/24,fd00::1/64"))


@pytest.mark.parametrize("for_add", [True, False])
def test_mac_and_ip_are_sent_to_add_only(for_add: bool) -> None:
    d = delegate(mac_request="c2:11:22:33:44:66", ip_request=("10.0.0.1",))
    rt = delegate_runtime_conf(d, index=1, container_id="ctr", netns="/var/run/netns/p", cni_ifname="eth0",
                               k8s=POD, env_cni_args="", base_runtime_config={}, for_add=for_add)
    keys = [key for key, _ in rt.args]
    assert ("MAC" in keys, "IP" in keys) == (for_add, for_add)
    # the capability args carry the requests either way (libcni caches them for DEL)
    assert rt.capability_args["mac"] == "c2:11:22:33:44:66" and rt.capability_args["ips"] == ["10.0.0.1"]


def test_the_runtime_conf_puts_it_all_together() -> None:
    d = delegate(name="default/sriov", device_id="0000:03:00.1", ifname_request="sr0")
    env = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web"
    rt = delegate_runtime_conf(d, index=2, container_id="ctr9", netns="/var/run/netns/p", cni_ifname="eth0",
                               k8s=parse_k8s_args(env), env_cni_args=env, base_runtime_config={},
                               for_add=True, cache_dir="/tmp/c")
    assert (rt.container_id, rt.netns, rt.if_name, rt.cache_dir) == ("ctr9", "/var/run/netns/p", "sr0", "/tmp/c")
    assert rt.args[:3] == (("IgnoreUnknown", "true"), ("K8S_POD_NAMESPACE", "default"), ("K8S_POD_NAME", "web"))
    assert dict(rt.capability_args) == {"deviceID": "0000:03:00.1",
                                        "CNIDeviceInfoFile": f"{DEVINFO_CNI_DIR}/default-sriov-ctr9_sr0"}


# ---- capability args ---------------------------------------------------------------------------------

BASE = {"portMappings": [{"hostPort": 9090, "containerPort": 90}], "bandwidth": {"ingressRate": 1},
        "ips": ["10.9.9.9"], "mac": "02:00:00:00:00:01"}


def test_the_master_gets_the_top_level_runtime_config_unchanged_whatever_it_requested() -> None:
    master = delegate(master=True, mac_request="c2:00:00:00:00:02", ip_request=("10.1.1.1",),
                      port_mappings=PORTS, bandwidth=BANDWIDTH, infiniband_guid_request="aa:bb")
    assert capability_args(master, BASE, "ctr", "eth0") == BASE


def test_other_delegates_have_the_base_overridden_by_their_requests() -> None:
    d = delegate(name="default/net", mac_request="c2:00:00:00:00:02", ip_request=("10.1.1.1", "fd00::1"),
                 port_mappings=PORTS, bandwidth=BANDWIDTH, infiniband_guid_request="00:11:22:33:44:55:66:77")
    assert capability_args(d, BASE, "ctr", "net1") == {
        "portMappings": list(PORTS), "bandwidth": BANDWIDTH, "ips": ["10.1.1.1", "fd00::1"],
        "mac": "c2:00:00:00:00:02", "infinibandGUID": "00:11:22:33:44:55:66:77"}


def test_a_delegate_without_requests_gets_the_base_as_it_is() -> None:
    assert capability_args(delegate(name="default/net"), BASE, "ctr", "net1") == BASE


def test_the_base_is_not_modified() -> None:
    base = dict(BASE)
    capability_args(delegate(mac_request="c2:00:00:00:00:02", device_id="dev"), base, "ctr", "net1")
    assert base == BASE


@pytest.mark.parametrize("device_id, device_id_request, expected", [
    ("0000:03:00.1", "", "0000:03:00.1"),
    ("", "0000:04:00.2", "0000:04:00.2"),
    ("0000:03:00.1", "0000:04:00.2", "0000:03:00.1"),  # the resource map wins over the selection
])
def test_the_device_id_comes_from_the_resource_map_else_from_the_selection(
        device_id: str, device_id_request: str, expected: str) -> None:
    d = delegate(name="ns1/sriov-net", device_id=device_id, device_id_request=device_id_request)
    args = capability_args(d, {}, "ctr1", "net1")
    assert args == {"deviceID": expected, "CNIDeviceInfoFile": f"{DEVINFO_CNI_DIR}/ns1-sriov-net-ctr1_net1"}


def test_a_device_id_replaces_a_top_level_device_info_file() -> None:
    d = delegate(name="ns1/sriov-net", device_id="0000:03:00.1")
    args = capability_args(d, {"CNIDeviceInfoFile": "/elsewhere.json"}, "ctr1", "net2", devinfo_dir="/run/devinfo")
    assert args["CNIDeviceInfoFile"] == "/run/devinfo/ns1-sriov-net-ctr1_net2"


def test_the_master_keeps_a_top_level_device_id_and_gets_its_device_info_path() -> None:
    master = delegate(name="cluster", master=True, device_id_request="ignored")
    assert capability_args(master, {"deviceID": "0000:05:00.0"}, "ctr", "eth0") == {
        "deviceID": "0000:05:00.0", "CNIDeviceInfoFile": f"{DEVINFO_CNI_DIR}/cluster-ctr_eth0"}


def test_no_device_id_no_device_info_file_and_a_top_level_one_is_kept() -> None:
    args = capability_args(delegate(name="ns/n"), {"CNIDeviceInfoFile": "/given.json"}, "ctr", "net1")
    assert args == {"CNIDeviceInfoFile": "/given.json"}


def test_only_non_empty_values_are_offered() -> None:
    base: dict[str, Any] = {"portMappings": [], "bandwidth": None, "ips": [], "mac": "", "infinibandGUID": "",
                            "deviceID": "", "CNIDeviceInfoFile": ""}
    assert capability_args(delegate(), base, "ctr", "net1") == {}
    assert capability_args(delegate(master=True), base, "ctr", "eth0") == {}


@pytest.mark.parametrize("name, container_id, ifname, expected", [
    ("default/sriov", "abc", "net1", "/base/default-sriov-abc_net1"),
    ("cluster", "abc", "eth0", "/base/cluster-abc_eth0"),
    ("a/b/c", "x/y", "net2", "/base/a-b-c-x-y_net2"),  # every '/' in the name part, none in the base
])
def test_the_device_info_path_replaces_slashes_in_the_file_name_only(
        name: str, container_id: str, ifname: str, expected: str) -> None:
    assert device_info_path(name, container_id, ifname, "/base") == expected


def test_the_default_device_info_directory_is_go_multus_s() -> None:
    assert device_info_path("ns/n", "c", "net1") == "/var/run/k8s.cni.cncf.io/devinfo/cni/ns-n-c_net1"
