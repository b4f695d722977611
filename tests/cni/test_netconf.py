"""Network configs and lists: parsing, validation with precise errors, and libcni's conf-dir loading.

Checked: header fields and defaults; disableCheck/disableGC as bool or "true"/"false" only; cniVersions
picking the newest supported version; unknown and malformed versions; missing type / name / plugins;
bad network names; .conf vs .conflist detection; conf dir sorting and first-match-wins; a .conf wrapped
as a list; the subdirectory plugin chain and loadOnlyInlinedPlugins; unreadable files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from multus.cni.errors import ConfigError, ErrorCode
from multus.cni.netconf import (
    NetworkConfig,
    NetworkConfigList,
    NotFoundError,
    conf_files,
    conflist_from_file,
    load_any,
    load_conf,
    load_conflist,
)


def conflist(**overrides: object) -> dict[str, object]:
    body: dict[str, object] = {"cniVersion": "1.0.0", "name": "net1", "plugins": [{"type": "bridge"}]}
    body.update(overrides)
    return body


def test_a_list_exposes_its_header_and_plugins() -> None:
    net = NetworkConfigList.from_bytes(json.dumps(conflist(plugins=[
        {"type": "bridge", "bridge": "br0"}, {"type": "portmap", "capabilities": {"portMappings": True}}])))
    assert (net.name, net.cni_version, net.disable_check, net.disable_gc) == ("net1", "1.0.0", False, False)
    assert [p.type for p in net.plugins] == ["bridge", "portmap"]
    assert net.plugins[1].capabilities == {"portMappings": True}
    assert net.plugins[0].raw["bridge"] == "br0"


@pytest.mark.parametrize("value, expected", [(True, True), ("true", True), ("TRUE", True), ("false", False)])
def test_disable_check_accepts_booleans_and_their_strings(value: object, expected: bool) -> None:
    assert NetworkConfigList.from_object(conflist(disableCheck=value, disableGC=value)).disable_check is expected


@pytest.mark.parametrize("value", ["yes", 1, "1", None])
def test_disable_check_rejects_anything_else_naming_the_key(value: object) -> None:
    with pytest.raises(ConfigError) as info:
        NetworkConfigList.from_object(conflist(disableCheck=value))
    assert info.value.code == ErrorCode.INVALID_NETWORK_CONFIG
    assert "disableCheck" in str(info.value)


def test_cni_versions_picks_the_newest_version_we_support() -> None:
    net = NetworkConfigList.from_object(conflist(cniVersion="0.4.0", cniVersions=["0.3.1", "1.0.0", "9.0.0"]))
    assert net.cni_version == "1.0.0"


def test_a_missing_cni_version_is_the_implicit_0_1_0() -> None:
    body = conflist()
    del body["cniVersion"]
    assert NetworkConfigList.from_object(body).cni_version == "0.1.0"


@pytest.mark.parametrize("version, fragment", [("2.0.0", "not supported"), ("x.y", "number")])
def test_unknown_or_malformed_versions_are_config_errors(version: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        NetworkConfigList.from_object(conflist(cniVersion=version))
    assert fragment in str(info.value)


@pytest.mark.parametrize("plugins, fragment", [
    ([], "no plugins"),
    ([{"bridge": "br0"}], "plugin 0 of network 'net1'; type: missing"),
    ([{"type": ""}], "type"),
    ([{"type": "bridge", "capabilities": {"mac": "yes please"}}], "capabilities"),
])
def test_bad_plugin_lists_are_rejected_with_the_reason(plugins: list[object], fragment: str) -> None:
    with pytest.raises(ConfigError) as info:
        NetworkConfigList.from_object(conflist(plugins=plugins))
    assert fragment in str(info.value)


@pytest.mark.parametrize("name", ["", "-lead", "has space", "a/b"])
def test_invalid_network_names_are_rejected(name: str) -> None:
    with pytest.raises(ConfigError, match="network name"):
        NetworkConfigList.from_object(conflist(name=name))


@pytest.mark.parametrize("data", [b"not json", b"[1, 2]", b'"string"'])
def test_non_object_input_is_a_config_error_not_a_crash(data: bytes) -> None:
    with pytest.raises(ConfigError) as info:
        load_any(data)
    assert info.value.code == ErrorCode.INVALID_NETWORK_CONFIG


def test_a_conflist_given_as_a_conf_gets_a_hint() -> None:
    with pytest.raises(ConfigError, match="conflist"):
        NetworkConfig.from_bytes(json.dumps(conflist()))


def test_load_any_wraps_a_single_conf_as_a_one_plugin_list() -> None:
    net = load_any(b'{"cniVersion": "0.3.1", "name": "single", "type": "macvlan", "master": "eth0"}')
    assert (net.name, net.cni_version, len(net.plugins)) == ("single", "0.3.1", 1)
    assert net.plugins[0].raw["master"] == "eth0"


def write(path: Path, body: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))
    return path


def test_conf_files_are_sorted_and_filtered_by_extension(tmp_path: Path) -> None:
    for name in ["20-b.conf", "10-a.conflist", "30-c.json", "notes.txt", "05-z.conf.bak"]:
        (tmp_path / name).write_text("{}")
    assert [os.path.basename(p) for p in conf_files(tmp_path)] == ["10-a.conflist", "20-b.conf", "30-c.json"]
    assert conf_files(tmp_path / "missing") == []


def test_the_first_file_with_the_name_wins(tmp_path: Path) -> None:
    write(tmp_path / "10-first.conflist", conflist(plugins=[{"type": "first"}]))
    write(tmp_path / "20-second.conflist", conflist(plugins=[{"type": "second"}]))
    assert load_conflist(tmp_path, "net1").plugins[0].type == "first"


def test_a_conf_file_is_found_when_no_conflist_has_the_name(tmp_path: Path) -> None:
    write(tmp_path / "10-other.conflist", conflist(name="other"))
    write(tmp_path / "20-single.conf", {"cniVersion": "0.4.0", "name": "net1", "type": "ptp"})
    net = load_conflist(tmp_path, "net1")
    assert [p.type for p in net.plugins] == ["ptp"] and net.cni_version == "0.4.0"
    assert load_conf(tmp_path, "net1").type == "ptp"


def test_a_missing_network_is_not_found_naming_the_directory(tmp_path: Path) -> None:
    write(tmp_path / "10-other.conflist", conflist(name="other"))
    with pytest.raises(NotFoundError) as info:
        load_conflist(tmp_path, "net1")
    assert "net1" in info.value.msg and str(tmp_path) in info.value.msg


def test_a_broken_file_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "10-broken.conflist").write_text("{ not json")
    with pytest.raises(ConfigError) as info:
        load_conflist(tmp_path, "net1")
    assert "10-broken.conflist" in str(info.value)


def test_a_conflist_continues_in_its_subdirectory(tmp_path: Path) -> None:
    path = write(tmp_path / "10-net1.conflist", conflist())
    write(tmp_path / "net1" / "20-tuning.conf", {"type": "tuning"})
    write(tmp_path / "net1" / "10-sbr.conf", {"type": "sbr"})
    write(tmp_path / "net1" / "ignored.conflist", {"type": "ignored"})
    net = conflist_from_file(path)
    assert [p.type for p in net.plugins] == ["bridge", "sbr", "tuning"]
    assert [p["type"] for p in json.loads(net.to_bytes())["plugins"]] == ["bridge", "sbr", "tuning"]


def test_a_conflist_of_only_subdirectory_plugins_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path / "10-net1.conflist", conflist(plugins=[]))
    write(tmp_path / "net1" / "10-bridge.conf", {"type": "bridge"})
    assert [p.type for p in conflist_from_file(path).plugins] == ["bridge"]


def test_load_only_inlined_plugins_ignores_the_subdirectory(tmp_path: Path) -> None:
    path = write(tmp_path / "10-net1.conflist", conflist(loadOnlyInlinedPlugins=True))
    write(tmp_path / "net1" / "20-tuning.conf", {"type": "tuning"})
    assert [p.type for p in conflist_from_file(path).plugins] == ["bridge"]


def test_a_subdirectory_plugin_without_type_is_an_error_naming_its_file(tmp_path: Path) -> None:
    path = write(tmp_path / "10-net1.conflist", conflist())
    write(tmp_path / "net1" / "20-bad.conf", {"mtu": 1400})
    with pytest.raises(ConfigError) as info:
        conflist_from_file(path)
    assert "20-bad.conf" in str(info.value)


def test_every_bad_header_key_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        NetworkConfigList.from_object(conflist(name=7, disableGC="nope", plugins="bridge"))
    assert all(key in info.value.details for key in ("name:", "disableGC:", "plugins:"))
