"""The result cache in libcni's on-disk format.

Checked: the file name and JSON layout (kind, base64 config, cniArgs pairs, omitted empty keys);
round trips; permissions; atomic replacement leaving no temp files; a missing entry is None; a corrupt
entry is an error (not silently None); legacy bare-result files; listing skips foreign files.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from multus.cni import cache as cache_module
from multus.cni.cache import CachedAttachment, ResultCache
from multus.cni.errors import CniError, ErrorCode

RESULT = {"cniVersion": "1.0.0", "ips": [{"address": "10.1.0.2/24"}], "dns": {}}


def entry(**overrides: object) -> CachedAttachment:
    fields: dict[str, object] = dict(container_id="abc123", if_name="eth0", network_name="mynet",
                                     config=b'{"name":"mynet"}', netns="/var/run/netns/x",
                                     cni_args=(("K8S_POD_NAME", "p"),), capability_args={"mac": "aa"},
                                     result=RESULT)
    fields.update(overrides)
    return CachedAttachment(**fields)  # type: ignore[arg-type]


def test_an_entry_is_written_where_and_how_libcni_writes_it(tmp_path: Path) -> None:
    saved = ResultCache(tmp_path).save(entry())
    assert saved == str(tmp_path / "results" / "mynet-abc123-eth0")
    path = Path(saved)
    body = json.loads(path.read_text())
    assert list(body) == ["kind", "containerId", "config", "ifName", "networkName", "netns", "cniArgs",
                          "capabilityArgs", "result"]
    assert body["kind"] == "cniCacheV1"
    assert base64.b64decode(body["config"]) == b'{"name":"mynet"}'
    assert body["cniArgs"] == [["K8S_POD_NAME", "p"]]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_empty_optional_keys_are_omitted(tmp_path: Path) -> None:
    path = Path(ResultCache(tmp_path).save(entry(netns="", cni_args=(), capability_args={}, result=None)))
    assert sorted(json.loads(path.read_text())) == ["config", "containerId", "ifName", "kind", "networkName"]


def test_an_entry_round_trips(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    cache.save(entry())
    assert cache.load("mynet", "abc123", "eth0") == entry()


def test_saving_again_replaces_atomically_without_leftovers(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    cache.save(entry())
    cache.save(entry(netns="/var/run/netns/other"))
    assert cache.load("mynet", "abc123", "eth0").netns == "/var/run/netns/other"  # type: ignore[union-attr]
    assert [p.name for p in (tmp_path / "results").iterdir()] == ["mynet-abc123-eth0"]


def test_a_missing_entry_is_none_and_removing_it_is_harmless(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    assert cache.load("mynet", "abc123", "eth0") is None
    cache.remove("mynet", "abc123", "eth0")


def test_a_truncated_entry_is_an_error_not_an_absent_one(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    path = Path(cache.save(entry()))
    path.write_text(path.read_text()[:40])
    with pytest.raises(CniError) as info:
        cache.load("mynet", "abc123", "eth0")
    assert info.value.code == ErrorCode.DECODING_FAILURE


def test_a_legacy_bare_result_file_is_read_as_the_result(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    Path(cache.results_dir).mkdir(parents=True)
    Path(cache.path("mynet", "abc123", "eth0")).write_text(json.dumps(RESULT))
    loaded = cache.load("mynet", "abc123", "eth0")
    assert loaded is not None and loaded.result == RESULT and loaded.network_name == "mynet"


def test_entries_lists_valid_entries_and_skips_foreign_files(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path)
    cache.save(entry())
    cache.save(entry(container_id="def456", if_name="net1"))
    (Path(cache.results_dir) / "garbage").write_text("{")
    (Path(cache.results_dir) / "legacy").write_text(json.dumps(RESULT))
    assert sorted((e.container_id, e.if_name) for e in cache.entries()) == [("abc123", "eth0"), ("def456", "net1")]


def test_entries_of_a_missing_directory_is_empty(tmp_path: Path) -> None:
    assert list(ResultCache(tmp_path / "nothing").entries()) == []


def test_entries_of_one_container_reads_only_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ResultCache(tmp_path)
    cache.save(entry())
    cache.save(entry(if_name="net1", network_name="other-net"))
    cache.save(entry(container_id="def456"))
    cache.save(entry(container_id="abc1234"))  # a container ID that starts with the other one
    read: list[str] = []
    original = cache_module._read

    def recording_read(path: str) -> bytes:
        read.append(os.path.basename(path))
        return original(path)

    monkeypatch.setattr(cache_module, "_read", recording_read)
    found = sorted((e.container_id, e.network_name, e.if_name) for e in cache.entries("abc123"))
    assert found == [("abc123", "mynet", "eth0"), ("abc123", "other-net", "net1")]
    assert sorted(read) == ["mynet-abc123-eth0", "other-net-abc123-net1"]
