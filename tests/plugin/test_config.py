"""Behaviour of the top-level Multus config loader (multus.plugin.config).

Checked here:
* every §2 key is read under Go's JSON name, and every default is Go's;
* keys match case-insensitively like Go's encoding/json (last spelling wins), ``null`` means unset;
* unknown keys ride along (extras and ``raw``), ``raw_bytes`` is the input;
* empty directories/namespace fall back to the defaults; ``globalNamespaces`` is a trimmed comma list;
* wrong JSON types are ConfigErrors naming the key path and the type received;
* non-JSON and non-object input, with Go's JSON error wording;
* neither delegates nor clusterNetwork, bad delegates (Go's texts), conflist detection;
* prevResult handling; runtimeConfig sub-keys and their omitempty shape; Go-style delegate bytes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from multus.cni.errors import CniError, ConfigError, ErrorCode
from multus.plugin.config import (
    MultusNetConf,
    go_marshal,
    go_quote,
    is_conflist,
    load_netconf,
)

WEAVE = {"type": "weave-net", "name": "weave1", "cniVersion": "0.3.1"}


def load(**keys: Any) -> MultusNetConf:
    """A config with one static delegate plus ``keys``."""
    return load_netconf(json.dumps({"name": "multus", "type": "multus", "delegates": [WEAVE], **keys}).encode())


def load_error(data: Any) -> ConfigError:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    with pytest.raises(ConfigError) as info:
        load_netconf(raw)
    return info.value


@pytest.mark.parametrize(
    ("attr", "expected"),
    [
        ("conf_dir", "/etc/cni/multus/net.d"),
        ("cni_dir", "/var/lib/cni/multus"),
        ("bin_dir", "/opt/cni/bin"),
        ("kubeconfig", ""),
        ("log_level", ""),
        ("log_file", ""),
        ("log_to_stderr", True),
        ("log_options", None),
        ("readiness_indicator_file", ""),
        ("namespace_isolation", False),
        ("global_namespaces", ""),
        ("non_isolated_namespaces", ["default"]),
        ("system_namespaces", ("kube-system",)),
        ("multus_namespace", "kube-system"),
        ("cluster_network", ""),
        ("default_networks", ()),
        ("retry_delete_on_error", False),
        ("auxiliary_cni_chain_name", ""),
        ("runtime_config", None),
        ("capabilities", {}),
        ("prev_result", None),
        ("daemon_socket_dir", "/run/multus/"),
        ("cni_version", ""),
    ],
)
def test_an_absent_key_takes_gos_default(attr: str, expected: Any) -> None:
    conf = load_netconf(json.dumps({"delegates": [WEAVE]}).encode())
    assert getattr(conf, attr) == expected


@pytest.mark.parametrize(
    ("key", "value", "attr", "expected"),
    [
        ("cniVersion", "1.1.0", "cni_version", "1.1.0"),
        ("name", "multus-cni-network", "name", "multus-cni-network"),
        ("type", "multus", "type", "multus"),
        ("capabilities", {"portMappings": True}, "capabilities", {"portMappings": True}),
        ("ipam", {"type": "host-local"}, "ipam", {"type": "host-local"}),
        ("dns", {"nameservers": ["1.1.1.1"]}, "dns", {"nameservers": ["1.1.1.1"]}),
        ("confDir", "/etc/cni/other", "conf_dir", "/etc/cni/other"),
        ("cniDir", "/var/lib/x", "cni_dir", "/var/lib/x"),
        ("binDir", "/usr/libexec/cni", "bin_dir", "/usr/libexec/cni"),
        ("clusterNetwork", "weave", "cluster_network", "weave"),
        ("defaultNetworks", ["a", "b"], "default_networks", ("a", "b")),
        ("kubeconfig", "/etc/kube.conf", "kubeconfig", "/etc/kube.conf"),
        ("logFile", "/var/log/multus.log", "log_file", "/var/log/multus.log"),
        ("logLevel", "debug", "log_level", "debug"),
        ("logToStderr", False, "log_to_stderr", False),
        ("readinessindicatorfile", "/run/ready", "readiness_indicator_file", "/run/ready"),
        ("namespaceIsolation", True, "namespace_isolation", True),
        ("globalNamespaces", "kube-system,donkey-kong", "global_namespaces", "kube-system,donkey-kong"),
        ("auxiliaryCNIChainName", "vendor-cni-chain", "auxiliary_cni_chain_name", "vendor-cni-chain"),
        ("systemNamespaces", ["kube-system", "infra"], "system_namespaces", ("kube-system", "infra")),
        ("multusNamespace", "multus", "multus_namespace", "multus"),
        ("retryDeleteOnError", True, "retry_delete_on_error", True),
        ("daemonSocketDir", "/run/x/", "daemon_socket_dir", "/run/x/"),
        ("prevResult", {"cniVersion": "1.0.0", "ips": []}, "prev_result", {"cniVersion": "1.0.0", "ips": []}),
    ],
)
def test_each_key_is_read_under_gos_json_name(key: str, value: Any, attr: str, expected: Any) -> None:
    assert getattr(load(**{key: value}), attr) == expected


def test_log_options_sub_keys_are_read_and_absent_ones_stay_unset() -> None:
    opts = load(logOptions={"maxAge": 7, "maxSize": 50, "compress": False}).log_options
    assert opts is not None
    assert (opts.max_age, opts.max_size, opts.max_backups, opts.compress) == (7, 50, None, False)


def test_runtime_config_sub_keys_are_read_under_gos_names() -> None:
    rc = load(
        runtimeConfig={
            "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}],
            "bandwidth": {"ingressRate": 1000, "ingressBurst": 10, "egressRate": 2000, "egressBurst": 20},
            "ips": ["10.0.0.1/24"],
            "mac": "c2:11:22:33:44:66",
            "infinibandGUID": "00:11:22:33:44:55:66:77",
            "deviceID": "0000:00:01.0",
            "CNIDeviceInfoFile": "/var/run/devinfo.json",
        }
    ).runtime_config
    assert rc is not None and rc.bandwidth is not None
    assert (rc.port_mappings[0].host_port, rc.port_mappings[0].container_port) == (8080, 80)
    assert (rc.bandwidth.ingress_rate, rc.bandwidth.egress_burst) == (1000, 20)
    assert (rc.ips, rc.mac, rc.infiniband_guid) == (("10.0.0.1/24",), "c2:11:22:33:44:66", "00:11:22:33:44:55:66:77")
    assert (rc.device_id, rc.cni_device_info_file) == ("0000:00:01.0", "/var/run/devinfo.json")


def test_runtime_config_to_dict_keeps_only_non_empty_values_under_gos_names() -> None:
    rc = load(
        runtimeConfig={
            "portMappings": [{"hostPort": 1, "containerPort": 2}],
            "ips": [],
            "mac": "",
            "deviceID": "0000:00:01.0",
        }
    ).runtime_config
    assert rc is not None
    assert rc.to_dict() == {"portMappings": [{"hostPort": 1, "containerPort": 2}], "deviceID": "0000:00:01.0"}


@pytest.mark.parametrize("spelling", ["ConfDir", "CONFDIR", "confdir"])
def test_keys_match_case_insensitively_like_go(spelling: str) -> None:
    assert load(**{spelling: "/x"}).conf_dir == "/x"


def test_readiness_file_in_camel_case_is_accepted_like_go() -> None:
    assert load(readinessIndicatorFile="/run/ready").readiness_indicator_file == "/run/ready"


def test_when_two_spellings_of_a_key_are_given_the_last_one_wins() -> None:
    conf = load_netconf(b'{"delegates":[{"type":"x"}],"confDir":"/a","ConfDir":"/b"}')
    assert conf.conf_dir == "/b"


@pytest.mark.parametrize(
    ("key", "attr", "default"),
    [
        ("confDir", "conf_dir", "/etc/cni/multus/net.d"),
        ("systemNamespaces", "system_namespaces", ("kube-system",)),
        ("logToStderr", "log_to_stderr", True),
        ("runtimeConfig", "runtime_config", None),
    ],
)
def test_a_null_value_leaves_the_default(key: str, attr: str, default: Any) -> None:
    assert getattr(load(**{key: None}), attr) == default


@pytest.mark.parametrize(
    ("key", "attr", "default"),
    [
        ("confDir", "conf_dir", "/etc/cni/multus/net.d"),
        ("cniDir", "cni_dir", "/var/lib/cni/multus"),
        ("binDir", "bin_dir", "/opt/cni/bin"),
        ("multusNamespace", "multus_namespace", "kube-system"),
    ],
)
def test_an_empty_directory_or_namespace_falls_back_to_the_default(key: str, attr: str, default: str) -> None:
    assert getattr(load(**{key: ""}), attr) == default


def test_an_explicit_empty_system_namespace_list_is_kept() -> None:
    assert load(systemNamespaces=[]).system_namespaces == ()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("kube-system,donkey-kong", ["kube-system", "donkey-kong"]),
        (" kube-system , donkey-kong ", ["kube-system", "donkey-kong"]),
        ("solo", ["solo"]),
    ],
)
def test_global_namespaces_is_a_trimmed_comma_list_replacing_default(value: str, expected: list[str]) -> None:
    assert load(globalNamespaces=value).non_isolated_namespaces == expected


def test_unknown_keys_are_kept_as_extras_and_in_raw() -> None:
    conf = load(defaultnetworkfile="/tmp/x", allowTryDeleteOnErr=True)
    assert conf.extras == {"defaultnetworkfile": "/tmp/x", "allowTryDeleteOnErr": True}
    assert conf.raw["allowTryDeleteOnErr"] is True


def test_raw_keeps_the_original_spelling_and_raw_bytes_the_input() -> None:
    data = b'{"ConfDir": "/x", "delegates": [{"type": "weave-net"}]}'
    conf = load_netconf(data)
    assert conf.raw == {"ConfDir": "/x", "delegates": [{"type": "weave-net"}]}
    assert conf.raw_bytes == data


def test_delegates_are_kept_as_raw_json_objects() -> None:
    delegate = {"type": "bridge", "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.1.0.0/16"}]]}}
    assert load_netconf(json.dumps({"delegates": [delegate]}).encode()).delegates == (delegate,)


@pytest.mark.parametrize(
    ("keys", "where", "got"),
    [
        ({"confDir": 1}, "confDir", "number"),
        ({"logToStderr": "true"}, "logToStderr", "string"),
        ({"namespaceIsolation": 1}, "namespaceIsolation", "number"),
        ({"systemNamespaces": "kube-system"}, "systemNamespaces", "string"),
        ({"globalNamespaces": ["a"]}, "globalNamespaces", "array"),
        ({"defaultNetworks": "net1"}, "defaultNetworks", "string"),
        ({"defaultNetworks": ["net1", 2]}, "defaultNetworks[1]", "number"),
        ({"delegates": {"type": "x"}}, "delegates", "object"),
        ({"delegates": [1]}, "delegates[0]", "number"),
        ({"capabilities": {"ips": "yes"}}, "capabilities.ips", "string"),
        ({"ipam": "host-local"}, "ipam", "string"),
        ({"prevResult": []}, "prevResult", "array"),
        ({"logOptions": {"maxAge": "5"}}, "logOptions.maxAge", "string"),
        ({"runtimeConfig": {"bandwidth": {"ingressRate": "1"}}}, "runtimeConfig.bandwidth.ingressRate", "string"),
        ({"runtimeConfig": {"portMappings": [{"hostPort": 1.5}]}}, "runtimeConfig.portMappings[0].hostPort", "number"),
        ({"runtimeConfig": {"ips": "10.0.0.1"}}, "runtimeConfig.ips", "string"),
    ],
)
def test_a_wrong_json_type_names_the_key_path_and_the_type_received(keys: dict[str, Any], where: str, got: str) -> None:
    err = load_error({"delegates": [WEAVE], **keys})
    assert err.msg.startswith("LoadNetConf: failed to load netconf: ")
    assert f"{where}: " in err.msg and f"(got {got})" in err.msg


def test_an_integer_beyond_go_int64_is_rejected() -> None:
    err = load_error({"delegates": [WEAVE], "logOptions": {"maxSize": 2**63}})
    assert "logOptions.maxSize" in err.msg


def test_a_whole_float_is_not_an_integer_as_in_go() -> None:
    assert "logOptions.maxAge" in load_error(b'{"delegates":[{"type":"x"}],"logOptions":{"maxAge":5.0}}').msg


@pytest.mark.parametrize(
    ("data", "go_text"),
    [
        (b"", "unexpected end of JSON input"),
        (b'{"delegates": [', "unexpected end of JSON input"),
        (b'{"name": "abc', "unexpected end of JSON input"),
        (b"{adsf}", "invalid character 'a' looking for beginning of object key string"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a": 1 "b": 2}', "invalid character '\"' after object key:value pair"),
        (b'{"a": [1 2]}', "invalid character '2' after array element"),
        (b'{"a": 1,}', "invalid character '}' looking for beginning of object key string"),
        (b'{"a": 1} x', "invalid character 'x' after top-level value"),
        (b'{"a": NaN}', "invalid character 'N' looking for beginning of value"),
        (b'{"a": "\\q"}', "invalid character 'q' in string escape code"),
        (b'{"a": "x\ny"}', "invalid character '\\n' in string literal"),
    ],
)
def test_invalid_json_is_a_config_error_in_gos_words(data: bytes, go_text: str) -> None:
    err = load_error(data)
    assert err.msg == f"LoadNetConf: failed to load netconf: {go_text}"
    assert err.code == ErrorCode.INVALID_NETWORK_CONFIG


def test_undecodable_bytes_are_a_config_error() -> None:
    assert load_error(b"\xff\xfe{").msg.startswith("LoadNetConf: failed to load netconf: ")


@pytest.mark.parametrize(("doc", "kind"), [("[]", "array"), ('"x"', "string"), ("1", "number"), ("null", "null")])
def test_a_config_that_is_not_an_object_is_rejected(doc: str, kind: str) -> None:
    assert load_error(doc.encode()).msg == (
        f"LoadNetConf: failed to load netconf: the config must be a JSON object, got {kind}"
    )


@pytest.mark.parametrize("keys", [{}, {"delegates": []}, {"clusterNetwork": ""}, {"delegates": None}])
def test_neither_delegates_nor_cluster_network_is_rejected_with_gos_text(keys: dict[str, Any]) -> None:
    err = load_error({"name": "multus", **keys})
    assert err.msg == "LoadNetConf: at least one delegate/clusterNetwork must be specified"


def test_cluster_network_alone_is_enough() -> None:
    conf = load_netconf(b'{"clusterNetwork": "weave"}')
    assert conf.uses_cluster_network and conf.delegates == ()


def test_static_delegates_alone_are_enough_and_do_not_use_a_cluster_network() -> None:
    assert not load().uses_cluster_network


@pytest.mark.parametrize(
    ("delegate", "reason"),
    [
        ({"name": "x"}, "delegate must have the 'type' or 'plugin' field"),
        ({"type": "", "name": "x"}, "delegate must have the 'type' or 'plugin' field"),
        ({"name": "x", "plugins": []}, "delegate must have the 'type' or 'plugin' field"),
        ({"name": "x", "plugins": "bridge"}, "delegate must have the 'type' or 'plugin' field"),
        ({"name": "x", "plugins": [{"name": "p"}]}, "a plugin delegate must have the 'type' field"),
        ({"name": "x", "plugins": [1]}, "a plugin delegate must have the 'type' field"),
    ],
)
def test_a_bad_delegate_is_rejected_with_its_index_and_gos_text(delegate: dict[str, Any], reason: str) -> None:
    err = load_error({"delegates": [WEAVE, delegate]})
    assert err.msg == (
        "LoadNetConf: failed to load delegate 1 config: LoadDelegateNetConf: failed with: "
        f"LoadDelegateNetConfList: {reason}"
    )


@pytest.mark.parametrize("key", ["type", "name", "cniVersion"])
def test_a_delegate_with_a_non_string_core_key_is_rejected(key: str) -> None:
    err = load_error({"delegates": [{"type": "x", key: 5}]})
    assert err.msg.startswith("LoadNetConf: failed to load delegate 0 config: ") and f"{key}:" in err.msg


def test_delegates_are_checked_even_when_cluster_network_is_set() -> None:
    assert "failed to load delegate 0" in load_error({"clusterNetwork": "x", "delegates": [{"name": "y"}]}).msg


@pytest.mark.parametrize(
    ("delegate", "expected"),
    [
        ({"type": "bridge"}, False),
        ({"name": "l", "plugins": [{"type": "bridge"}]}, True),
        ({"type": "", "plugins": [{"type": "bridge"}]}, True),
    ],
)
def test_a_delegate_is_a_conflist_exactly_when_its_type_is_empty(delegate: dict[str, Any], expected: bool) -> None:
    assert is_conflist(delegate) is expected


def test_a_conflist_delegate_with_typed_first_plugin_loads() -> None:
    conf = load_netconf(json.dumps({"delegates": [{"name": "l", "plugins": [{"type": "bridge"}]}]}).encode())
    assert is_conflist(conf.delegates[0])


def test_prev_result_with_an_unknown_cni_version_cannot_be_parsed() -> None:
    err = load_error({"delegates": [WEAVE], "cniVersion": "9.9.9", "prevResult": {"ips": []}})
    assert err.msg == 'LoadNetConf: could not parse prevResult: unsupported CNI result version "9.9.9"'


@pytest.mark.parametrize("version", ["", "0.2.0", "0.4.0", "1.1.0"])
def test_prev_result_with_a_known_version_is_kept(version: str) -> None:
    assert load(cniVersion=version, prevResult={"ips": []}).prev_result == {"ips": []}


def test_an_unknown_cni_version_without_prev_result_is_not_a_load_error() -> None:
    assert load(cniVersion="9.9.9").cni_version == "9.9.9"


def test_delegate_bytes_are_what_go_marshals_sorted_compact_and_html_escaped() -> None:
    conf = load_netconf(b'{"delegates": [{"type": "x", "mtu": 1500.0, "a": "<&>", "rate": 0.5}]}')
    assert conf.delegate_bytes(0) == b'{"a":"\\u003c\\u0026\\u003e","mtu":1500,"rate":0.5,"type":"x"}'


def test_go_marshal_keeps_non_ascii_text_and_large_integers() -> None:
    assert go_marshal({"n": "é", "big": 2**60}) == '{"big":1152921504606846976,"n":"é"}'.encode()


@pytest.mark.parametrize(
    ("text", "quoted"), [("a", '"a"'), ('a"b', '"a\\"b"'), ("a\tb", '"a\\tb"'), ("\x01", '"\\x01"'), ("é", '"é"')]
)
def test_go_quote_matches_gos_percent_q(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted


def test_config_errors_are_cni_errors_with_code_7() -> None:
    err = load_error({})
    assert isinstance(err, CniError) and err.code == 7
    assert json.loads(err.to_json())["code"] == 7


def test_runtime_config_and_log_options_structs_are_still_exported_by_the_config_module() -> None:
    from multus.plugin import config, config_options

    for name in ("Bandwidth", "LogOptions", "PortMapping", "RuntimeConfig"):
        assert getattr(config, name) is getattr(config_options, name)
    with pytest.raises(AttributeError):
        _ = config.NoSuchThing  # type: ignore[attr-defined]
