"""Behaviour of NAD and conf-dir config lookup (multus.plugin.nads): where a named network's config comes from.

Checked here:
* ``nad_config``: ``spec.config`` kept byte for byte when it has a name; a missing or empty name becomes
  the NAD's name (§11.2 #5); an empty spec (absent, ``{}``, ``config: ""``) means the conf-dir file of the
  NAD's name, and its failures are wrapped as ``GetCNIConfig: err in GetCNIConfigFromFile``; a spec that
  is not a JSON object fails;
* ``config_from_conf_dir`` (GetCNIConfigFromFile, §3.5): ``.conf``/``.json``/``.conflist`` only, in name
  order, the first matching ``name`` wins, ``""`` matches the first file; ``No networks found in <dir>``
  for a missing or empty dir; ``no network available in the name <n> in cni dir <d>``; a ``.conf`` without
  ``type`` (``perhaps this is a .conflist?``); an unparsable file met before the match aborts the search in
  Go's words (§11.2 #6), one after the match does not;
* a ``.conflist`` found there includes its subdirectory chain (``<dir>/<name>/*.conf``), unless it sets
  ``loadOnlyInlinedPlugins``; without a chain its bytes are kept verbatim.

The NAD *delegate* (reader, events, devices) is covered in test_resolve.py with the fakes it needs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from multus.cni.errors import CniError, ErrorCode
from multus.plugin.nads import ResolveError, config_from_conf_dir, nad_config

MACVLAN = {"cniVersion": "0.3.1", "type": "macvlan", "master": "eth0"}


def write(directory: Path, filename: str, body: Any) -> Path:
    """A config file; ``body`` is JSON-encoded unless it is already text."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / filename
    path.write_text(body if isinstance(body, str) else json.dumps(body))
    return path


def nad(name: str = "net1", spec: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"metadata": {"name": name, "namespace": "test"}}
    if spec is not None:
        body["spec"] = spec
    return body


def lookup_error(name: str, conf_dir: Path) -> str:
    with pytest.raises(ResolveError) as info:
        config_from_conf_dir(name, str(conf_dir))
    return str(info.value)


# ---------------------------------------------------------------- nad_config: spec.config


def test_a_spec_config_with_a_name_is_passed_on_byte_for_byte(tmp_path: Path) -> None:
    text = '{ "name":"mynet",  "type": "macvlan", "z": 1, "a": 2 }\n'
    assert nad_config(nad(spec={"config": text}), str(tmp_path)) == text.encode()


@pytest.mark.parametrize("spec_name", [None, ""], ids=["missing", "empty"])
def test_a_spec_config_without_a_name_gets_the_nads_name(tmp_path: Path, spec_name: str | None) -> None:
    config = {"type": "mynet", "cniVersion": "0.3.1"} | ({} if spec_name is None else {"name": spec_name})
    out = json.loads(nad_config(nad("net1", {"config": json.dumps(config)}), str(tmp_path)))
    assert out == {"type": "mynet", "cniVersion": "0.3.1", "name": "net1"}


def test_an_injected_name_is_re_marshalled_like_go_with_sorted_compact_keys(tmp_path: Path) -> None:
    out = nad_config(nad("net1", {"config": '{"type": "b", "cniVersion": "0.3.1"}'}), str(tmp_path))
    assert out == b'{"cniVersion":"0.3.1","name":"net1","type":"b"}'


@pytest.mark.parametrize("config", ["{not json", "[1, 2]", '"text"'])
def test_a_spec_config_that_is_not_a_json_object_fails(tmp_path: Path, config: str) -> None:
    with pytest.raises(ResolveError) as info:
        nad_config(nad(spec={"config": config}), str(tmp_path))
    assert info.value.msg.startswith("GetCNIConfig: err in getCNIConfigFromSpec: failed to unmarshal Spec.Config:")


# ---------------------------------------------------------------- nad_config: empty spec


@pytest.mark.parametrize("spec", [None, {}, {"config": ""}], ids=["no-spec", "empty-spec", "empty-config"])
def test_a_nad_with_an_empty_spec_is_the_conf_dir_file_of_its_name(tmp_path: Path, spec: dict[str, Any] | None
                                                                    ) -> None:
    write(tmp_path, "00-other.conf", {**MACVLAN, "name": "other"})
    path = write(tmp_path, "10-net1.conf", {**MACVLAN, "name": "net1"})
    assert nad_config(nad("net1", spec), str(tmp_path)) == path.read_bytes()


def test_an_empty_spec_without_a_matching_file_fails_naming_the_lookup(tmp_path: Path) -> None:
    write(tmp_path, "00-other.conf", {**MACVLAN, "name": "other"})
    with pytest.raises(ResolveError) as info:
        nad_config(nad("net1", {}), str(tmp_path))
    assert str(info.value) == (f"GetCNIConfig: err in GetCNIConfigFromFile: no network available in the name net1 "
                               f"in cni dir {tmp_path}")


def test_an_empty_spec_with_a_broken_conf_dir_file_fails_in_gos_words(tmp_path: Path) -> None:
    bad = write(tmp_path, "00-bad.conf", "asdf")
    with pytest.raises(ResolveError) as info:
        nad_config(nad("net1", {}), str(tmp_path))
    assert str(info.value) == (f"GetCNIConfig: err in GetCNIConfigFromFile: Error loading CNI config file {bad}: "
                               "error parsing configuration: invalid character 'a' looking for beginning of value")


def test_resolution_errors_are_cni_errors_with_gos_generic_code(tmp_path: Path) -> None:
    with pytest.raises(CniError) as info:
        nad_config(nad("net1", {}), str(tmp_path / "missing"))
    assert isinstance(info.value, ResolveError)
    assert info.value.code == ErrorCode.INTERNAL


# ---------------------------------------------------------------- config_from_conf_dir


def test_the_first_file_in_name_order_whose_name_matches_wins(tmp_path: Path) -> None:
    write(tmp_path, "30-net1.conf", {**MACVLAN, "name": "net1", "master": "eth3"})
    write(tmp_path, "05-other.conf", {**MACVLAN, "name": "other"})
    write(tmp_path, "20-net1.json", {**MACVLAN, "name": "net1", "master": "eth2"})
    assert json.loads(config_from_conf_dir("net1", str(tmp_path)))["master"] == "eth2"


def test_an_empty_name_matches_the_first_file(tmp_path: Path) -> None:
    write(tmp_path, "20-b.conf", {**MACVLAN, "name": "b"})
    write(tmp_path, "10-a.conflist", {"cniVersion": "0.3.1", "name": "a", "plugins": [MACVLAN]})
    assert json.loads(config_from_conf_dir("", str(tmp_path)))["name"] == "a"


def test_files_with_other_extensions_are_not_configs(tmp_path: Path) -> None:
    write(tmp_path, "00-net1.txt", {**MACVLAN, "name": "net1", "master": "txt"})
    write(tmp_path, "00-net1.conf.bak", {**MACVLAN, "name": "net1", "master": "bak"})
    write(tmp_path, "50-net1.conf", {**MACVLAN, "name": "net1", "master": "conf"})
    assert json.loads(config_from_conf_dir("net1", str(tmp_path)))["master"] == "conf"


def test_a_single_config_is_returned_byte_for_byte(tmp_path: Path) -> None:
    path = write(tmp_path, "10-net1.conf", '{"name": "net1",   "type": "macvlan"}\n')
    assert config_from_conf_dir("net1", str(tmp_path)) == path.read_bytes()


@pytest.mark.parametrize("make_dir", [False, True], ids=["missing-dir", "empty-dir"])
def test_a_missing_or_empty_dir_has_no_networks(tmp_path: Path, make_dir: bool) -> None:
    conf_dir = tmp_path / "net.d"
    if make_dir:
        conf_dir.mkdir()
        write(conf_dir, "README", "not a config")
    assert lookup_error("net1", conf_dir) == f"No networks found in {conf_dir}"


def test_no_matching_name_is_an_error_naming_the_network_and_dir(tmp_path: Path) -> None:
    write(tmp_path, "10-a.conf", {**MACVLAN, "name": "a"})
    assert lookup_error("net1", tmp_path) == f"no network available in the name net1 in cni dir {tmp_path}"


def test_a_conf_without_type_suggests_it_is_a_conflist(tmp_path: Path) -> None:
    path = write(tmp_path, "10-net1.conf", {"cniVersion": "0.3.1", "name": "net1", "plugins": [MACVLAN]})
    assert lookup_error("net1", tmp_path) == (f"Error loading CNI config file {path}: "
                                              "no 'type'; perhaps this is a .conflist?")


def test_an_unparsable_file_before_the_match_aborts_the_search(tmp_path: Path) -> None:
    bad = write(tmp_path, "00-bad.conf", "asdf")
    write(tmp_path, "10-net1.conf", {**MACVLAN, "name": "net1"})
    assert lookup_error("net1", tmp_path) == (f"Error loading CNI config file {bad}: error parsing configuration: "
                                              "invalid character 'a' looking for beginning of value")


def test_an_unparsable_file_after_the_match_is_never_read(tmp_path: Path) -> None:
    write(tmp_path, "10-net1.conf", {**MACVLAN, "name": "net1"})
    write(tmp_path, "90-bad.conflist", "asdf")
    assert json.loads(config_from_conf_dir("net1", str(tmp_path)))["name"] == "net1"


@pytest.mark.parametrize("body", ["[1]", "{", '{"name": "net1", "plugins": 5}'])
def test_an_unloadable_conflist_aborts_the_search_naming_the_file(tmp_path: Path, body: str) -> None:
    bad = write(tmp_path, "00-bad.conflist", body)
    write(tmp_path, "10-net1.conf", {**MACVLAN, "name": "net1"})
    assert lookup_error("net1", tmp_path).startswith(f"Error loading CNI config file {bad}: ")


# ---------------------------------------------------------------- conflists and their subdirectory chain


def chained_list(conf_dir: Path, **extra: Any) -> Path:
    """``10-net1.conflist`` with one inline plugin and two ``net1/*.conf`` plugins (written out of order)."""
    path = write(conf_dir, "10-net1.conflist",
                 {"cniVersion": "0.4.0", "name": "net1", "plugins": [{"type": "bridge"}], **extra})
    write(conf_dir / "net1", "20-tuning.conf", {"type": "tuning", "name": "t"})
    write(conf_dir / "net1", "10-portmap.conf", {"type": "portmap", "name": "p"})
    write(conf_dir / "net1", "30-ignored.json", {"type": "ignored"})
    return path


def test_a_conflist_includes_its_subdirectory_chain_in_name_order(tmp_path: Path) -> None:
    chained_list(tmp_path)
    out = json.loads(config_from_conf_dir("net1", str(tmp_path)))
    assert [p["type"] for p in out["plugins"]] == ["bridge", "portmap", "tuning"]
    assert (out["name"], out["cniVersion"]) == ("net1", "0.4.0")


def test_a_conflist_with_load_only_inlined_plugins_skips_its_chain(tmp_path: Path) -> None:
    chained_list(tmp_path, loadOnlyInlinedPlugins=True)
    out = json.loads(config_from_conf_dir("net1", str(tmp_path)))
    assert [p["type"] for p in out["plugins"]] == ["bridge"]


def test_a_conflist_without_a_chain_is_returned_byte_for_byte(tmp_path: Path) -> None:
    path = write(tmp_path, "10-net1.conflist", '{"name": "net1",  "plugins": [{"type": "bridge"}]}')
    assert config_from_conf_dir("net1", str(tmp_path)) == path.read_bytes()


def test_only_the_matching_conflists_chain_is_read(tmp_path: Path) -> None:
    write(tmp_path, "00-other.conflist", {"name": "other", "plugins": [{"type": "bridge"}]})
    write(tmp_path / "other", "10-broken.conf", "asdf")
    write(tmp_path, "10-net1.conf", {**MACVLAN, "name": "net1"})
    assert json.loads(config_from_conf_dir("net1", str(tmp_path)))["type"] == "macvlan"


def test_a_broken_file_in_the_matching_chain_fails_naming_the_list(tmp_path: Path) -> None:
    path = chained_list(tmp_path)
    write(tmp_path / "net1", "40-notype.conf", {"name": "x"})
    assert lookup_error("net1", tmp_path).startswith(f"Error loading CNI config file {path}: ")
