"""The scratch cache ``<cniDir>/<containerID>`` (multus.plugin.scratch; features §6.5).

Checked here: the path; a new directory is 0700 and the file 0600; the write is atomic (no temp file
left, an existing cache replaced whole); the file is Go's JSON array of DelegateNetConf; a missing file
reads as None; a truncated file, a non-array, non-object items or bad ``Bytes`` raise ScratchCacheError
(code 6) instead of reading as "nothing to do"; the master flag is restored on load (first delegate
only); a directory that cannot be created gives ScratchCacheError "error saving the delegates"; removal
is idempotent.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from multus.cni.errors import ErrorCode
from multus.plugin.delegate import Delegate
from multus.plugin.scratch import (
    ScratchCacheError,
    load_delegates,
    remove_delegates,
    save_delegates,
    scratch_path,
)

CID = "0123456789abcdef"
CONF = b'{"cniVersion":"1.0.0","name":"cluster","type":"bridge","bridge":"cni0"}'
LIST = b'{"cniVersion":"1.0.0","name":"chain","plugins":[{"type":"bridge"},{"type":"tuning"}]}'


def delegates() -> list[Delegate]:
    return [Delegate(config=CONF, name="cluster", master=True),
            Delegate(config=LIST, name="default/chain", ifname_request="c0", ip_request=("10.1.1.5/24",)),
            Delegate(config=CONF, name="default/other", gateway_request=("10.1.1.1",), filter_v6_gateway=True)]


def test_the_cache_lives_at_cni_dir_slash_container_id(tmp_path: Path) -> None:
    assert scratch_path(str(tmp_path), CID) == str(tmp_path / CID)
    assert save_delegates(str(tmp_path), CID, delegates()) == str(tmp_path / CID)


def test_a_new_directory_is_0700_and_the_file_0600(tmp_path: Path) -> None:
    cni_dir = tmp_path / "var" / "multus"
    path = save_delegates(str(cni_dir), CID, delegates())
    assert stat.S_IMODE(cni_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_the_write_is_atomic_and_replaces_an_existing_cache_whole(tmp_path: Path) -> None:
    (tmp_path / CID).write_text("x" * 100_000)  # a longer old file: nothing of it may survive
    save_delegates(str(tmp_path), CID, delegates()[:1])
    assert sorted(p.name for p in tmp_path.iterdir()) == [CID]  # no temp file left
    body = json.loads((tmp_path / CID).read_bytes())
    assert len(body) == 1 and body[0]["Name"] == "cluster"


def test_the_file_is_go_s_json_array_of_delegate_net_conf(tmp_path: Path) -> None:
    save_delegates(str(tmp_path), CID, delegates())
    body = json.loads((tmp_path / CID).read_bytes())
    assert body == [d.to_cache() for d in delegates()]
    assert [base64.b64decode(item["Bytes"]) for item in body] == [CONF, LIST, CONF]
    assert all("MasterPlugin" not in item and "master" not in item for item in body)


def test_a_missing_cache_reads_as_none(tmp_path: Path) -> None:
    assert load_delegates(str(tmp_path), CID) is None
    assert load_delegates(str(tmp_path / "no-such-dir"), CID) is None


def test_saved_delegates_load_back_with_the_master_flag_on_the_first_only(tmp_path: Path) -> None:
    saved = [d.with_master(False) for d in delegates()]  # the flag is not in the file either way
    save_delegates(str(tmp_path), CID, saved)
    loaded = load_delegates(str(tmp_path), CID)
    assert loaded is not None
    assert [d.master for d in loaded] == [True, False, False]
    assert [d.config for d in loaded] == [CONF, LIST, CONF]
    assert [d.name for d in loaded] == ["cluster", "default/chain", "default/other"]
    assert loaded[1].ifname_request == "c0" and loaded[1].ip_request == ("10.1.1.5/24",)
    assert loaded[2].gateway_request == ("10.1.1.1",) and loaded[2].filter_v6_gateway


def test_a_cache_written_by_go_multus_loads(tmp_path: Path) -> None:
    b64 = base64.b64encode(CONF).decode()
    (tmp_path / CID).write_text(
        f'[{{"Conf":{{"cniVersion":"1.0.0","name":"cluster","type":"bridge","ipam":{{}},"dns":{{}}}},'
        f'"ConfList":{{}},"Name":"cluster","IsFilterV4Gateway":false,"IsFilterV6Gateway":false,"Bytes":"{b64}"}}]')
    loaded = load_delegates(str(tmp_path), CID)
    assert loaded is not None and len(loaded) == 1
    assert loaded[0].master and loaded[0].config == CONF


@pytest.mark.parametrize("content", [
    None,  # truncated: the first bytes of a valid cache
    b"",
    b'{"Conf":{}}',
    b'"text"',
    b"[1, 2]",
    b'[{"Name":"x"}]',
    b'[{"Name":"x","Bytes":"!!not base64!!"}]',
    b'[{"Name":"x","Bytes":"' + base64.b64encode(b"{broken") + b'"}]',
])
def test_a_corrupt_cache_is_an_error_not_an_empty_list(tmp_path: Path, content: bytes | None) -> None:
    if content is None:
        save_delegates(str(tmp_path), CID, delegates())
        content = (tmp_path / CID).read_bytes()[:40]
    (tmp_path / CID).write_bytes(content)
    with pytest.raises(ScratchCacheError) as info:
        load_delegates(str(tmp_path), CID)
    assert info.value.code == ErrorCode.DECODING_FAILURE
    assert "are corrupt" in info.value.msg and str(tmp_path / CID) in info.value.msg


def test_an_unreadable_cache_is_an_io_error(tmp_path: Path) -> None:
    (tmp_path / CID).mkdir()  # reading a directory fails with EISDIR
    with pytest.raises(ScratchCacheError) as info:
        load_delegates(str(tmp_path), CID)
    assert info.value.code == ErrorCode.IO_FAILURE and "failed to read" in info.value.msg


@pytest.mark.parametrize("make_blocked", ["cni_dir_is_a_file", "parent_is_a_file"])
def test_a_directory_that_cannot_be_created_gives_error_saving_the_delegates(
        tmp_path: Path, make_blocked: str) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory")
    cni_dir = blocker if make_blocked == "cni_dir_is_a_file" else blocker / "multus"
    with pytest.raises(ScratchCacheError) as info:
        save_delegates(str(cni_dir), CID, delegates())
    assert info.value.msg == "error saving the delegates"
    assert info.value.details.startswith("saveScratchNetConf: failed to write ")
    assert info.value.code == ErrorCode.IO_FAILURE
    assert blocker.read_text() == "not a directory"


def test_removal_is_idempotent(tmp_path: Path) -> None:
    save_delegates(str(tmp_path), CID, delegates())
    remove_delegates(str(tmp_path), CID)
    assert not (tmp_path / CID).exists()
    remove_delegates(str(tmp_path), CID)  # a second removal is no error
    assert load_delegates(str(tmp_path), CID) is None


def test_removal_of_something_that_is_not_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / CID).mkdir()
    with pytest.raises(ScratchCacheError, match="failed to remove the cached delegates"):
        remove_delegates(str(tmp_path), CID)
