"""The runtime's verbs over network lists, observed through scripted fake plugins.

Checked: what each plugin reads on stdin (name/cniVersion injected, prevResult chaining, runtimeConfig
only for declared capabilities); the cache written after ADD (and not after a failed ADD); DEL in reverse
with the cached result as prevResult from 0.4.0 on, tolerant of a missing or corrupt cache; CHECK's version
gate, disableCheck and missing cache; GC deleting stale attachments and sending valid-attachments, gated
by version and disableGC; STATUS; VERSION-based validation; identifier validation before any exec.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from multus.cni.errors import CniError, ConfigError, ErrorCode, PluginError, VersionError
from multus.cni.netconf import NetworkConfig, NetworkConfigList
from multus.cni.runtime import Attachment, CNIRuntime, RuntimeConf
from multus.testing.fake_plugin import FakePlugin

RT = RuntimeConf(container_id="ctr1", netns="/var/run/netns/pod", if_name="eth0",
                 args=(("IgnoreUnknown", "true"), ("K8S_POD_NAME", "web")),
                 capability_args={"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
                                  "mac": "c2:11:22:33:44:55"})

Plugins = Callable[[str], FakePlugin]


def netlist(version: str = "1.0.0", **extra: Any) -> NetworkConfigList:
    return NetworkConfigList.from_object({
        "cniVersion": version, "name": "testnet", **extra,
        "plugins": [{"type": "first", "option": 1},
                    {"type": "second", "capabilities": {"portMappings": True, "bandwidth": True}}]})


def test_add_chains_results_and_injects_name_version_and_declared_capabilities(
        runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, second = fake_plugin("first"), fake_plugin("second")
    second.script(ADD={"stdout": json.dumps({"cniVersion": "1.0.0", "ips": [{"address": "10.2.0.9/16"}]})})
    result = runtime.add_network_list(netlist(), RT)
    first_in, second_in = first.calls()[0]["stdin"], second.calls()[0]["stdin"]
    assert first_in == {"type": "first", "option": 1, "name": "testnet", "cniVersion": "1.0.0"}
    assert second_in["prevResult"]["ips"] == [{"address": "10.99.0.2/24", "gateway": "10.99.0.1"}]
    assert second_in["runtimeConfig"] == {"portMappings": RT.capability_args["portMappings"]}
    assert second.calls()[0]["env"]["CNI_ARGS"] == "IgnoreUnknown=true;K8S_POD_NAME=web"
    assert result.to_dict()["ips"] == [{"address": "10.2.0.9/16"}]


def test_add_caches_the_final_result_with_the_list_and_the_arguments(
        runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first"), fake_plugin("second")
    runtime.add_network_list(netlist(), RT)
    entry = runtime.get_cached_attachment("testnet", RT)
    assert entry is not None
    assert json.loads(entry.config)["plugins"][1]["type"] == "second"
    assert entry.cni_args == RT.args and entry.capability_args == dict(RT.capability_args)
    assert entry.netns == RT.netns and entry.result is not None


def test_a_single_conf_is_cached_with_its_own_bytes(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first")
    conf = NetworkConfig.from_object({"cniVersion": "0.4.0", "name": "single", "type": "first"})
    result = runtime.add_network(conf, RT)
    entry = runtime.get_cached_attachment("single", RT)
    assert entry is not None and json.loads(entry.config) == conf.raw
    assert result.cni_version == "0.4.0"


def test_a_failed_add_raises_the_plugin_error_and_caches_nothing(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first")
    fake_plugin("second").script(ADD={"stdout": '{"code": 7, "msg": "bad config"}', "exit": 1})
    with pytest.raises(PluginError) as info:
        runtime.add_network_list(netlist(), RT)
    assert info.value.code == ErrorCode.INVALID_NETWORK_CONFIG
    assert runtime.get_cached_attachment("testnet", RT) is None


def test_del_runs_in_reverse_with_the_cached_result_and_drops_the_cache(
        runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, second = fake_plugin("first"), fake_plugin("second")
    runtime.add_network_list(netlist(), RT)
    runtime.del_network_list(netlist(), RT)
    assert [c["command"] for c in second.calls()] == ["ADD", "DEL"]
    del_first, del_second = first.calls()[1], second.calls()[1]
    assert del_second["stdin"]["prevResult"]["ips"][0]["address"] == "10.99.0.2/24"
    assert del_first["stdin"]["prevResult"] == del_second["stdin"]["prevResult"]
    assert runtime.get_cached_attachment("testnet", RT) is None


def test_del_order_is_last_plugin_first(runtime: CNIRuntime, fake_plugin: Plugins, plugin_dir: Any) -> None:
    first, second = fake_plugin("first"), fake_plugin("second")
    runtime.del_network_list(netlist(), RT)
    log = sorted([("first", c) for c in first.calls()] + [("second", c) for c in second.calls()],
                 key=lambda item: (plugin_dir / f"{item[0]}.calls.jsonl").stat().st_mtime_ns)
    assert [name for name, _ in log] == ["second", "first"]


def test_del_before_0_4_0_sends_no_prev_result(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, _ = fake_plugin("first"), fake_plugin("second")
    runtime.add_network_list(netlist("0.3.1"), RT)
    runtime.del_network_list(netlist("0.3.1"), RT)
    assert "prevResult" not in first.calls()[1]["stdin"]


def test_del_without_a_cache_still_runs_every_plugin(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, second = fake_plugin("first"), fake_plugin("second")
    runtime.del_network_list(netlist(), RT)
    runtime.del_network_list(netlist(), RT)
    assert first.commands() == ["DEL", "DEL"] and second.commands() == ["DEL", "DEL"]
    assert "prevResult" not in first.calls()[0]["stdin"]


def test_del_with_a_corrupt_cache_releases_without_prev_result_and_removes_it(
        runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, _ = fake_plugin("first"), fake_plugin("second")
    runtime.add_network_list(netlist(), RT)
    path = Path(runtime._cache(RT).path("testnet", "ctr1", "eth0"))
    path.write_text(path.read_text()[:30])
    runtime.del_network_list(netlist(), RT)
    assert first.commands() == ["ADD", "DEL"] and "prevResult" not in first.calls()[1]["stdin"]
    assert not path.exists()


def test_a_failed_del_keeps_the_cache_for_the_retry(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first"), fake_plugin("second")
    runtime.add_network_list(netlist(), RT)
    fake_plugin("first").script(DEL={"stdout": '{"code": 11, "msg": "later"}', "exit": 1})
    with pytest.raises(PluginError):
        runtime.del_network_list(netlist(), RT)
    assert runtime.get_cached_attachment("testnet", RT) is not None


def test_check_sends_the_cached_result_to_every_plugin(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, second = fake_plugin("first"), fake_plugin("second")
    runtime.add_network_list(netlist(), RT)
    runtime.check_network_list(netlist(), RT)
    assert first.commands() == ["ADD", "CHECK"] and second.commands() == ["ADD", "CHECK"]
    assert second.calls()[1]["stdin"]["prevResult"] == second.calls()[0]["stdin"]["prevResult"] | {}
    assert first.calls()[1]["stdin"]["prevResult"]["ips"][0]["address"] == "10.99.0.2/24"


def test_check_converts_the_cached_result_to_the_list_version(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, _ = fake_plugin("first"), fake_plugin("second")
    runtime.add_network_list(netlist("0.4.0"), RT)
    runtime.check_network_list(netlist("0.4.0"), RT)
    assert first.calls()[1]["stdin"]["prevResult"]["ips"][0]["version"] == "4"


def test_check_is_refused_before_0_4_0(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first = fake_plugin("first")
    with pytest.raises(VersionError, match="does not support the CHECK command"):
        runtime.check_network_list(netlist("0.3.1"), RT)
    assert first.calls() == []


def test_check_does_nothing_when_the_list_disables_it(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first = fake_plugin("first")
    runtime.check_network_list(netlist(disableCheck=True), RT)
    assert first.calls() == []


def test_check_without_a_cached_result_says_so(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first")
    with pytest.raises(CniError, match="no cached result") as info:
        runtime.check_network_list(netlist(), RT)
    assert info.value.code == ErrorCode.UNKNOWN_CONTAINER


def attach(runtime: CNIRuntime, net: NetworkConfigList, container: str, if_name: str) -> RuntimeConf:
    rt = RuntimeConf(container_id=container, netns=f"/var/run/netns/{container}", if_name=if_name)
    runtime.add_network_list(net, rt)
    return rt


def test_gc_deletes_stale_attachments_and_sends_valid_ones(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, _ = fake_plugin("first"), fake_plugin("second")
    net = netlist("1.1.0")
    attach(runtime, net, "keep", "eth0")
    stale = attach(runtime, net, "stale", "eth0")
    runtime.gc_network_list(net, [Attachment("keep", "eth0")])
    dels = [c for c in first.calls() if c["command"] == "DEL"]
    assert [c["env"]["CNI_CONTAINERID"] for c in dels] == ["stale"]
    assert dels[0]["env"]["CNI_NETNS"] == "/var/run/netns/stale"
    assert runtime.get_cached_attachment("testnet", stale) is None
    gc = [c for c in first.calls() if c["command"] == "GC"][0]
    assert gc["stdin"]["cni.dev/valid-attachments"] == [{"containerID": "keep", "ifname": "eth0"}]
    assert gc["stdin"]["cni.dev/attachments"] == gc["stdin"]["cni.dev/valid-attachments"]
    assert gc["env"]["CNI_CONTAINERID"] == "" and gc["stdin"]["name"] == "testnet"


def test_gc_leaves_other_networks_alone(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, _ = fake_plugin("first"), fake_plugin("second")
    other = NetworkConfigList.from_object({"cniVersion": "1.1.0", "name": "other", "plugins": [{"type": "first"}]})
    rt = attach(runtime, other, "ctr", "eth0")
    runtime.gc_network_list(netlist("1.1.0"), [])
    assert "DEL" not in first.commands() and runtime.get_cached_attachment("other", rt) is not None


def test_gc_before_1_1_0_deletes_stale_attachments_but_sends_no_gc(
        runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, _ = fake_plugin("first"), fake_plugin("second")
    attach(runtime, netlist(), "stale", "eth0")
    runtime.gc_network_list(netlist(), [])
    assert first.commands() == ["ADD", "DEL"]


def test_gc_does_nothing_when_the_list_disables_it(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, _ = fake_plugin("first"), fake_plugin("second")
    attach(runtime, netlist("1.1.0"), "stale", "eth0")
    runtime.gc_network_list(netlist("1.1.0", disableGC=True), [])
    assert first.commands() == ["ADD"]


def test_gc_reports_every_failure_together(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first")
    second = fake_plugin("second")
    attach(runtime, netlist("1.1.0"), "stale", "eth0")
    second.script(DEL={"stdout": '{"code": 5, "msg": "del broke"}', "exit": 1},
                  GC={"stdout": '{"code": 5, "msg": "gc broke"}', "exit": 1})
    with pytest.raises(CniError) as info:
        runtime.gc_network_list(netlist("1.1.0"), [])
    assert "del broke" in info.value.details and "gc broke" in info.value.details


def test_status_asks_every_plugin_and_raises_the_first_error(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first, second = fake_plugin("first"), fake_plugin("second")
    runtime.get_status_network_list(netlist("1.1.0"))
    assert first.commands() == ["STATUS"] and second.commands() == ["STATUS"]
    second.script(STATUS={"stdout": '{"code": 50, "msg": "no IPs left"}', "exit": 1})
    with pytest.raises(PluginError) as info:
        runtime.get_status_network_list(netlist("1.1.0"))
    assert info.value.code == ErrorCode.PLUGIN_NOT_AVAILABLE


def test_status_before_1_1_0_runs_nothing(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    first = fake_plugin("first")
    runtime.get_status_network_list(netlist("1.0.0"))
    assert first.calls() == []


def test_validation_asks_each_plugin_its_versions(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first"), fake_plugin("second")
    assert runtime.validate_network_list(netlist()) == ["bandwidth", "portMappings"]
    fake_plugin("second").script(VERSION={"stdout": '{"cniVersion": "0.4.0", "supportedVersions": ["0.4.0"]}'})
    with pytest.raises(VersionError, match="second"):
        runtime.validate_network_list(netlist())


def test_a_pre_version_plugin_is_assumed_to_speak_0_1_0_and_0_2_0(
        runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first").script(VERSION={"stdout": '{"cniVersion": "0.2.0"}'})
    assert runtime.get_version_info("first").supported_versions == ("0.1.0", "0.2.0")


@pytest.mark.parametrize("rt, error", [
    (RuntimeConf(container_id="", if_name="eth0"), CniError),
    (RuntimeConf(container_id="bad id", if_name="eth0"), CniError),
    (RuntimeConf(container_id="ctr", if_name="averyveryverylongname"), CniError),
    (RuntimeConf(container_id="ctr", if_name="a/b"), CniError),
])
def test_bad_identifiers_are_refused_before_any_plugin_runs(
        runtime: CNIRuntime, fake_plugin: Plugins, rt: RuntimeConf, error: type[Exception]) -> None:
    first = fake_plugin("first")
    with pytest.raises(error):
        runtime.add_network_list(netlist(), rt)
    with pytest.raises(error):
        runtime.del_network_list(netlist(), rt)
    assert first.calls() == []


def test_a_result_the_plugin_mislabels_is_decoded_in_its_own_version_and_converted(
        runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first").script(ADD={"stdout": json.dumps({
        "cniVersion": "0.3.1", "ips": [{"version": "4", "address": "10.3.0.2/24"}]})})
    net = NetworkConfigList.from_object({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "first"}]})
    result = runtime.add_network_list(net, RT)
    assert result.cni_version == "1.0.0" and result.to_dict()["ips"] == [{"address": "10.3.0.2/24"}]


def test_the_cache_config_is_base64_of_the_list(runtime: CNIRuntime, fake_plugin: Plugins) -> None:
    fake_plugin("first"), fake_plugin("second")
    runtime.add_network_list(netlist(), RT)
    body = json.loads(Path(runtime._cache(RT).path("testnet", "ctr1", "eth0")).read_text())
    assert json.loads(base64.b64decode(body["config"]))["name"] == "testnet"


def test_config_errors_are_code_7() -> None:
    with pytest.raises(ConfigError) as info:
        NetworkConfigList.from_object({"name": "x", "plugins": [{}]})
    assert info.value.code == 7
