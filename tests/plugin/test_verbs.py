"""The thin plugin's verbs with static ``delegates`` (no Kubernetes), through the CNI entry point.

Every delegate is a scripted fake CNI plugin (``weave-net`` for the master ``weave1``, ``other-plugin``
for ``other1``); tests assert on what the plugins recorded (stdin config with name, cniVersion,
runtimeConfig, prevResult; CNI_IFNAME; CNI_ARGS; the order of execs across plugins) and on what the
plugin printed (result or CNI error JSON, exit code) and left in ``cniDir``. No API server is involved
here (``test_verbs_kube.py``, ``test_verbs_network_status.py`` and ``test_verbs_lifecycle.py`` use the
Kubernetes API server double; ``test_verbs_support.py`` holds the shared harness).
Checked (numbers: the §11.1 checklist):

* 1  an unwritable scratch-cache directory fails the ADD before any plugin runs;
* 2  two static delegates: ADD eth0 then net1, the master's result returned, CHECK both, DEL both in reverse;
* 3  a delegate returning an empty result: ADD, CHECK (where the version allows it) and DEL succeed;
* 4  a garbage netns path: the error names the network and the missing namespace, no ADD runs;
* 5  truncated stdin JSON for ADD and DEL: error JSON, exit 1, no plugin run;
* 6  the second delegate fails: both rolled back (2 then 1), Go's error text, the plugin's code kept;
* 7  a delegate with an empty name is rejected before its plugin runs, the first is rolled back;
* 11 the delegate's CNI_ARGS (the K8S_* base, then the runtime's own pairs), CNI_COMMAND, CNI_IFNAME;
* 12 a top-level runtimeConfig.portMappings reaches the conflist plugin that declares the capability;
* 13/14 conflist delegates: ADD chains prevResult, CHECK and DEL (in reverse) run every plugin;
* 18 the scratch cache after ADD, in Go's DelegateNetConf JSON layout, and the DEL it drives;
* retryDeleteOnError: when a failed DEL keeps the scratch cache;
* the readiness indicator file: ADD, STATUS and GC wait for it, DEL does not;
* ``multus -version``.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_verbs_support import CONTAINER_ID, Node, conf, conflist, make_node, plugin_error, result_body

from multus.cni.types import parse_result
from multus.plugin import readiness
from multus.plugin.entry import run

NO_POD_ARGS = "IgnoreUnknown=true;K8S_POD_NAMESPACE=;K8S_POD_NAME=;K8S_POD_INFRA_CONTAINER_ID=;K8S_POD_UID="


@pytest.fixture
def node(tmp_path: Path, netns: str) -> Iterator[Node]:
    yield from make_node(tmp_path, netns, kube=False)


def two_delegates(node: Node, version: str, **extra: Any) -> dict[str, Any]:
    """weave1 (weave-net, the master) and other1 (other-plugin), both answering with one address."""
    node.plugin("weave-net").script(ADD={"stdout": json.dumps(result_body(version, "1.1.1.2/24", gateway="1.1.1.1"))})
    node.plugin("other-plugin").script(ADD={"stdout": json.dumps(result_body(version, "1.1.1.3/24"))})
    return node.multus(version, delegates=[conf(version, "weave1", "weave-net"),
                                           conf(version, "other1", "other-plugin")], **extra)


def cached_results(node: Node) -> list[str]:
    return sorted(p.name for p in node.results_dir.iterdir()) if node.results_dir.exists() else []


# ---- 1, 2, 3: static delegates ----------------------------------------------------------------------------


def test_an_unwritable_scratch_cache_dir_fails_the_add_before_any_plugin_runs(node: Node) -> None:
    blocker = node.work / "not-a-dir"
    blocker.write_text("a file where cniDir's parent should be")
    config = two_delegates(node, "0.2.0", cniDir=str(blocker / "multus"))
    out = node.call("ADD", config)
    assert out.code == 1
    assert out.error["msg"] == "error saving the delegates"
    assert "saveScratchNetConf" in out.error["details"]
    assert node.executor.calls == []


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_two_static_delegates_are_added_eth0_then_net1_and_the_master_result_is_returned(
        node: Node, version: str) -> None:
    out = node.call("ADD", two_delegates(node, version))
    assert out.result == parse_result(result_body(version, "1.1.1.2/24", gateway="1.1.1.1")).to_dict()
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0"), ("ADD", "other-plugin", "net1")]
    weave, other = node.plugin("weave-net").calls()[0], node.plugin("other-plugin").calls()[0]
    assert weave["stdin"] == {"cniVersion": version, "name": "weave1", "type": "weave-net"}
    assert other["stdin"] == {"cniVersion": version, "name": "other1", "type": "other-plugin"}
    assert (weave["env"]["CNI_IFNAME"], other["env"]["CNI_IFNAME"]) == ("eth0", "net1")
    assert weave["env"]["CNI_ARGS"] == other["env"]["CNI_ARGS"] == NO_POD_ARGS
    assert cached_results(node) == [f"other1-{CONTAINER_ID}-net1", f"weave1-{CONTAINER_ID}-eth0"]


@pytest.mark.parametrize("version", ["0.4.0", "1.0.0", "1.1.0"])
def test_check_asks_both_static_delegates_in_order_with_their_cached_results(node: Node, version: str) -> None:
    config = two_delegates(node, version)
    assert node.call("ADD", config).code == 0
    out = node.call("CHECK", config)
    assert (out.code, out.output) == (0, None)
    assert node.executor.sequence("CHECK") == [("CHECK", "weave-net", "eth0"), ("CHECK", "other-plugin", "net1")]
    weave_check = node.plugin("weave-net").calls()[-1]["stdin"]
    assert weave_check["prevResult"] == parse_result(result_body(version, "1.1.1.2/24", gateway="1.1.1.1")).to_dict()


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_del_releases_both_static_delegates_last_first_and_clears_the_caches(node: Node, version: str) -> None:
    config = two_delegates(node, version)
    assert node.call("ADD", config).code == 0
    out = node.call("DEL", config)
    assert (out.code, out.output) == (0, None)
    assert node.executor.sequence("DEL") == [("DEL", "other-plugin", "net1"), ("DEL", "weave-net", "eth0")]
    other_del = node.plugin("other-plugin").calls()[-1]["stdin"]
    if version == "0.2.0":
        assert "prevResult" not in other_del  # cached results reach DEL from 0.4.0 on
    else:
        assert other_del["prevResult"]["ips"][0]["address"] == "1.1.1.3/24"
    assert not node.scratch.exists()
    assert cached_results(node) == []


@pytest.mark.parametrize("version", ["0.2.0", "0.3.1", "1.0.0"])
def test_a_delegate_with_an_empty_result_still_adds_checks_and_deletes(node: Node, version: str) -> None:
    config = two_delegates(node, version)
    node.plugin("other-plugin").script(ADD={"stdout": json.dumps({"cniVersion": version})})
    out = node.call("ADD", config)
    assert out.result == parse_result(result_body(version, "1.1.1.2/24", gateway="1.1.1.1")).to_dict()
    check = node.call("CHECK", config)
    if version == "1.0.0":
        assert check.code == 0
        assert node.plugin("other-plugin").calls()[-1]["stdin"]["prevResult"] == parse_result(
            {"cniVersion": version}).to_dict()
    else:  # the spec has no CHECK before 0.4.0: refused as an incompatible version, nothing asked
        assert (check.error["code"], check.error["msg"]) == (1, "config version does not allow CHECK")
        assert node.executor.sequence("CHECK") == []
    assert node.call("DEL", config).code == 0
    assert node.executor.sequence("DEL") == [("DEL", "other-plugin", "net1"), ("DEL", "weave-net", "eth0")]


# ---- 4, 5, 6, 7: failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_a_garbage_netns_path_fails_naming_the_network_and_the_missing_namespace(node: Node, version: str) -> None:
    out = node.call("ADD", two_delegates(node, version), netns="fsdadfad")
    assert out.error["msg"].startswith(
        '[//:weave1]: error adding container to network "weave1": DelegateAdd: cannot set "weave-net" '
        'interface name to "eth0": validateIfName: no net namespace fsdadfad found: ')
    assert node.executor.sequence("ADD") == []
    assert not node.scratch.exists()


@pytest.mark.parametrize("command", ["ADD", "DEL"])
@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_truncated_stdin_json_is_an_error_object_and_no_plugin_runs(node: Node, command: str, version: str) -> None:
    whole = json.dumps(two_delegates(node, version)).encode()
    out = node.call(command, whole[: len(whole) // 2])
    assert out.code == 1
    assert (out.error["code"], out.error["msg"]) == (6, "stdin could not be decoded as a network config")
    assert node.executor.calls == []


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_a_failing_second_delegate_rolls_back_both_and_keeps_the_plugins_error_code(
        node: Node, version: str) -> None:
    config = two_delegates(node, version)
    node.plugin("other-plugin").script(ADD=plugin_error(11, "expected plugin failure"))
    out = node.call("ADD", config)
    assert out.error["msg"] == '[//:other1]: error adding container to network "other1": expected plugin failure'
    assert out.error["code"] == 11
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0"), ("ADD", "other-plugin", "net1"),
                                        ("DEL", "other-plugin", "net1"), ("DEL", "weave-net", "eth0")]
    assert not node.scratch.exists()
    assert cached_results(node) == []


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_a_delegate_without_a_name_is_rejected_before_its_plugin_runs(node: Node, version: str) -> None:
    node.plugin("weave-net")
    node.plugin("other-plugin")
    config = node.multus(version, delegates=[conf(version, "weave1", "weave-net"), conf(version, "", "other-plugin")])
    out = node.call("ADD", config)
    assert out.error["code"] == 7
    assert out.error["msg"].endswith("missing network name")
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0"), ("DEL", "weave-net", "eth0")]
    assert node.plugin("other-plugin").calls() == []


# ---- 11, 12: what each delegate is run with ---------------------------------------------------------------


@pytest.mark.parametrize("runtime_args, expected", [
    ("K8S_POD_NAMESPACE=test;K8S_POD_NAME=testpod;K8S_POD_UID=testUID",
     "IgnoreUnknown=true;K8S_POD_NAMESPACE=test;K8S_POD_NAME=testpod;K8S_POD_INFRA_CONTAINER_ID=;K8S_POD_UID=testUID"
     ";K8S_POD_NAMESPACE=test;K8S_POD_NAME=testpod;K8S_POD_UID=testUID"),
    ("K8S_POD_NAMESPACE=test;K8S_POD_NAME=testpod",
     "IgnoreUnknown=true;K8S_POD_NAMESPACE=test;K8S_POD_NAME=testpod;K8S_POD_INFRA_CONTAINER_ID=;K8S_POD_UID="
     ";K8S_POD_NAMESPACE=test;K8S_POD_NAME=testpod"),
], ids=["with-uid", "without-uid"])
def test_delegates_get_multus_k8s_args_first_then_the_runtimes_own(
        node: Node, runtime_args: str, expected: str) -> None:
    # Multus's five K8S_* pairs come first, exactly as Go builds them; the runtime's own CNI_ARGS
    # follow, appended as Go appends them (duplicates included: the thin plugin's environment is the
    # runtime's, so Go's delegates see them too).
    assert node.call("ADD", two_delegates(node, "0.3.1"), cni_args=runtime_args).code == 0
    for plugin, ifname in (("weave-net", "eth0"), ("other-plugin", "net1")):
        env = node.plugin(plugin).calls()[0]["env"]
        assert env["CNI_ARGS"] == expected
        assert (env["CNI_COMMAND"], env["CNI_IFNAME"], env["CNI_CONTAINERID"]) == ("ADD", ifname, CONTAINER_ID)


PORT_MAPPINGS = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"},
                 {"hostPort": 8000, "containerPort": 8001, "protocol": "udp"}]


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"])
def test_top_level_port_mappings_reach_the_conflist_plugin_declaring_the_capability(
        node: Node, version: str) -> None:
    node.plugin("weave-net")
    node.plugin("other-plugin")
    delegate = conflist(version, "mycni", {"type": "weave-net", "capabilities": {"portMappings": True}},
                        {"type": "other-plugin"})
    config = node.multus(version, delegates=[delegate], runtimeConfig={"portMappings": PORT_MAPPINGS})
    assert node.call("ADD", config).code == 0
    weave = node.plugin("weave-net").calls()[0]["stdin"]
    assert weave["name"] == "mycni"
    assert weave["runtimeConfig"] == {"portMappings": PORT_MAPPINGS}
    other = node.plugin("other-plugin").calls()[0]["stdin"]
    assert other["name"] == "mycni" and "runtimeConfig" not in other


# ---- 13, 14: conflist delegates ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0", "1.0.0"])
def test_conflist_delegates_chain_add_and_run_check_and_del_over_every_plugin(node: Node, version: str) -> None:
    first = result_body(version, "1.1.1.2/24", gateway="1.1.1.1")
    node.plugin("weave-net").script(ADD={"stdout": json.dumps(first)})
    node.plugin("tuning-fake").script(ADD={"stdout": json.dumps(first)})
    node.plugin("other-plugin").script(ADD={"stdout": json.dumps(result_body(version, "1.1.1.3/24"))})
    config = node.multus(version, delegates=[
        conflist(version, "weave1", {"type": "weave-net"}, {"type": "tuning-fake"}),
        conflist(version, "other1", {"type": "other-plugin"})])

    out = node.call("ADD", config)
    assert out.result == parse_result(first).to_dict()
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0"), ("ADD", "tuning-fake", "eth0"),
                                        ("ADD", "other-plugin", "net1")]
    tuning_add = node.plugin("tuning-fake").calls()[0]["stdin"]
    assert tuning_add["name"] == "weave1" and tuning_add["prevResult"] == parse_result(first).to_dict()

    check = node.call("CHECK", config)
    if version == "0.3.1":
        assert check.error["msg"] == "config version does not allow CHECK"
    else:
        assert check.code == 0
        assert node.executor.sequence("CHECK") == [("CHECK", "weave-net", "eth0"), ("CHECK", "tuning-fake", "eth0"),
                                                   ("CHECK", "other-plugin", "net1")]

    assert node.call("DEL", config).code == 0
    assert node.executor.sequence("DEL") == [("DEL", "other-plugin", "net1"), ("DEL", "tuning-fake", "eth0"),
                                             ("DEL", "weave-net", "eth0")]
    assert not node.scratch.exists() and cached_results(node) == []


# ---- 18: the scratch cache --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["0.2.0", "0.4.0", "1.0.0"])
def test_the_scratch_cache_is_written_in_gos_layout_and_drives_the_del(node: Node, version: str) -> None:
    delegates = [conf(version, "weave1", "weave-net", ipam={"type": "host-local", "subnet": "10.1.0.0/16"}),
                 conflist(version, "other1", {"type": "other-plugin", "capabilities": {"mac": True}})]
    two_delegates(node, version)  # scripts both plugins
    config = node.multus(version, delegates=delegates)
    assert node.call("ADD", config).code == 0

    assert node.scratch.stat().st_mode & 0o777 == 0o600
    cached = json.loads(node.scratch.read_text())
    assert [list(entry) for entry in cached] == [
        ["Conf", "ConfList", "Name", "IsFilterV4Gateway", "IsFilterV6Gateway", "Bytes"]] * 2
    weave, other = cached
    assert weave["Conf"] == {"cniVersion": version, "name": "weave1", "type": "weave-net",
                             "ipam": {"type": "host-local"}, "dns": {}}
    assert (weave["ConfList"], weave["Name"]) == ({}, "weave1")
    assert other["Conf"] == {"cniVersion": version, "name": "other1", "ipam": {}, "dns": {}}  # Go decodes Conf too
    assert other["ConfList"] == {"cniVersion": version, "name": "other1", "plugins": [
        {"type": "other-plugin", "capabilities": {"mac": True}, "ipam": {}, "dns": {}}]}
    assert (weave["IsFilterV4Gateway"], weave["IsFilterV6Gateway"]) == (False, False)
    # Bytes: the config the plugin ran with, as Go re-marshals a delegate (sorted keys, compact).
    for entry, delegate in zip(cached, delegates, strict=True):
        assert base64.b64decode(entry["Bytes"]) == json.dumps(delegate, sort_keys=True,
                                                              separators=(",", ":")).encode()

    # DEL reads the delegates from the cache, not from stdin: a config naming none of them still works.
    bare = node.multus(version, delegates=[conf(version, "unused", "unused-plugin")])
    assert node.call("DEL", bare).code == 0
    assert node.executor.sequence("DEL") == [("DEL", "other-plugin", "net1"), ("DEL", "weave-net", "eth0")]
    assert not node.scratch.exists()


# ---- retryDeleteOnError -----------------------------------------------------------------------------------


@pytest.mark.parametrize("retry, failure, kept", [
    (False, "cannot reach the IPAM daemon", False),
    (True, "cannot reach the IPAM daemon", True),
    (True, "open /run/netns/x: no such file or directory", False),
], ids=["no-retry", "retry", "retry-but-gone"])
def test_a_failed_del_keeps_the_scratch_cache_only_when_a_retry_can_help(
        node: Node, retry: bool, failure: str, kept: bool) -> None:
    config = two_delegates(node, "1.0.0", retryDeleteOnError=retry)
    assert node.call("ADD", config).code == 0
    node.plugin("other-plugin").script(DEL=plugin_error(11, failure))
    out = node.call("DEL", config)
    assert out.code == 1
    assert f'error deleting container from network "other1": {failure}' in out.error["msg"]
    # One failure does not stop the rest: the master is still released.
    assert node.executor.sequence("DEL") == [("DEL", "other-plugin", "net1"), ("DEL", "weave-net", "eth0")]
    assert node.scratch.exists() is kept
    if kept:  # the runtime's retry finds the delegates again and, once it succeeds, drops the cache
        node.plugin("other-plugin").script()
        assert node.call("DEL", config).code == 0
        assert node.executor.sequence("DEL")[2:] == [("DEL", "other-plugin", "net1"), ("DEL", "weave-net", "eth0")]
        assert not node.scratch.exists()


# ---- the readiness indicator file -------------------------------------------------------------------------


@pytest.fixture
def short_readiness_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "WAIT_INTERVAL", 0.02)
    monkeypatch.setattr(readiness, "WAIT_TIMEOUT", 0.3)


@pytest.mark.usefixtures("short_readiness_wait")
def test_add_waits_for_the_readiness_indicator_file(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "WAIT_TIMEOUT", 10.0)
    indicator = node.work / "ready"
    config = two_delegates(node, "1.0.0", readinessindicatorfile=str(indicator))
    created: list[float] = []

    def appear() -> None:
        time.sleep(0.2)
        indicator.write_text("")
        created.append(time.monotonic())

    writer = threading.Thread(target=appear)
    writer.start()
    try:
        out = node.call("ADD", config)
    finally:
        writer.join()
    assert out.code == 0
    assert created and node.executor.calls[0].at >= created[0]  # no plugin ran before the file was there
    assert node.executor.sequence() == [("ADD", "weave-net", "eth0"), ("ADD", "other-plugin", "net1")]


@pytest.mark.usefixtures("short_readiness_wait")
@pytest.mark.parametrize("command", ["ADD", "STATUS", "GC"])
def test_without_the_readiness_indicator_file_add_status_and_gc_give_up_with_try_again_later(
        node: Node, command: str) -> None:
    indicator = node.work / "never"
    out = node.call(command, two_delegates(node, "1.1.0", readinessindicatorfile=str(indicator)))
    assert out.error["code"] == 11
    assert out.error["msg"] == ("have you checked that your default network is ready? still waiting for "
                                f"readinessindicatorfile @ {indicator}")
    assert node.executor.calls == []


@pytest.mark.usefixtures("short_readiness_wait")
def test_del_does_not_wait_for_the_readiness_indicator_file(node: Node) -> None:
    indicator = node.work / "ready"
    indicator.write_text("")
    config = two_delegates(node, "1.0.0", readinessindicatorfile=str(indicator))
    assert node.call("ADD", config).code == 0
    indicator.unlink()
    assert node.call("DEL", config).code == 0  # waiting would have ended in "still waiting" (code 11)
    assert node.executor.sequence("DEL") == [("DEL", "other-plugin", "net1"), ("DEL", "weave-net", "eth0")]


# ---- the command line -------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["-version", "-v"])
def test_multus_version_prints_gos_version_line(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    from multus import __version__

    assert run([flag], {}) == 0
    assert capsys.readouterr().out == (f"multus: version:{__version__}(clean,released), "
                                       "commit:unknown commit, date:unknown date\n")
