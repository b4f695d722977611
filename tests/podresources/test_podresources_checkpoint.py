"""The checkpoint fallback: ``pod_devices`` reads the device manager checkpoint when the socket file is missing.

Checked here (files written to tmp_path, no kubelet running):
* the current format (``DeviceIDs`` as a NUMA map with string keys): buckets concatenated, IDs sorted,
  several containers and resources merged, other pods' entries ignored;
* the pre-1.20 format (a flat list) is read too (Multus cannot read it, multus#665);
* no pod UID -> a CheckpointError that says the UID is required;
* a missing, unreadable, non-JSON or wrongly shaped file -> a CheckpointError naming the file;
* the fallback is used only when the socket is missing: with a kubelet serving, the checkpoint is ignored.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from podresources import CheckpointError, PodResourcesClient, read_checkpoint
from podresources.testing import FakeKubelet, write_checkpoint

SRIOV = "intel.com/sriov_net_A"
UID = "970a395d-8c3a-4b2e-9d7c-1f2e3a4b5c6d"
OTHER = "11111111-2222-3333-4444-555555555555"


def _client(root: Path) -> PodResourcesClient:
    return PodResourcesClient(kubelet_root_dir=str(root))


def _checkpoint(root: Path) -> str:
    return str(root / "device-plugins" / "kubelet_internal_checkpoint")


def test_numa_map_entries_are_concatenated_merged_and_sorted(tmp_path: Path) -> None:
    write_checkpoint(_checkpoint(tmp_path), [
        (UID, "app", SRIOV, {1: ["0000:03:02.3"], -1: ["0000:03:02.0"]}),
        (UID, "sidecar", SRIOV, {0: ["0000:03:02.1"]}),
        (UID, "app", "example.com/gpu", {-1: ["gpu-2", "gpu-1"]}),
        (OTHER, "app", SRIOV, {-1: ["0000:03:02.7"]}),
    ])
    with _client(tmp_path) as client:
        assert client.pod_devices("default", "pod-a", uid=UID) == {
            "example.com/gpu": ["gpu-1", "gpu-2"],
            SRIOV: ["0000:03:02.0", "0000:03:02.1", "0000:03:02.3"],
        }
        assert client.rpc_counts() == dict.fromkeys(client.rpc_counts(), 0), "no RPC without a socket"


def test_numa_keys_are_written_as_strings_like_go_does(tmp_path: Path) -> None:
    write_checkpoint(_checkpoint(tmp_path), [(UID, "app", SRIOV, {-1: ["a"]})])
    assert '"DeviceIDs": {"-1": ["a"]}' in Path(_checkpoint(tmp_path)).read_text()


def test_the_legacy_flat_list_format_is_accepted(tmp_path: Path) -> None:
    write_checkpoint(_checkpoint(tmp_path), [(UID, "app", SRIOV, ["0000:03:02.3", "0000:03:02.0"]),
                                             (OTHER, "app", SRIOV, ["0000:03:02.7"])])
    with _client(tmp_path) as client:
        assert client.pod_devices("default", "pod-a", uid=UID) == {SRIOV: ["0000:03:02.0", "0000:03:02.3"]}


def test_a_pod_without_entries_has_no_devices(tmp_path: Path) -> None:
    write_checkpoint(_checkpoint(tmp_path), [(OTHER, "app", SRIOV, {-1: ["x"]})])
    with _client(tmp_path) as client:
        assert client.pod_devices("default", "pod-a", uid=UID) == {}


@pytest.mark.parametrize("uid", [None, ""])
def test_the_checkpoint_needs_the_pod_uid(tmp_path: Path, uid: str | None) -> None:
    write_checkpoint(_checkpoint(tmp_path), [(UID, "app", SRIOV, {-1: ["x"]})])
    with _client(tmp_path) as client, pytest.raises(CheckpointError, match="no pod UID was given"):
        client.pod_devices("default", "pod-a", uid=uid)


def test_a_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with _client(tmp_path) as client, pytest.raises(CheckpointError, match="does not exist") as info:
        client.pod_devices("default", "pod-a", uid=UID)
    assert _checkpoint(tmp_path) in str(info.value)


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe", b"[]", b'{"Data": []}',
                                     b'{"Data": {"PodDeviceEntries": {}}}',
                                     b'{"Data": {"PodDeviceEntries": ["x"]}}',
                                     b'{"Data": {"PodDeviceEntries": [{"PodUID": "u", "DeviceIDs": "abc"}]}}',
                                     b'{"Data": {"PodDeviceEntries": [{"PodUID": "u", "DeviceIDs": {"x": ["a"]}}]}}',
                                     b'{"Data": {"PodDeviceEntries": [{"PodUID": "u", "DeviceIDs": {"0": [1]}}]}}'])
def test_a_corrupt_checkpoint_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = Path(_checkpoint(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with _client(tmp_path) as client, pytest.raises(CheckpointError) as info:
        client.pod_devices("default", "pod-a", uid=UID)
    assert str(path) in str(info.value)


def test_an_unreadable_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    path = Path(_checkpoint(tmp_path))
    path.mkdir(parents=True)  # a directory cannot be read as a file, even by root
    with _client(tmp_path) as client, pytest.raises(CheckpointError, match="error reading file") as info:
        client.pod_devices("default", "pod-a", uid=UID)
    assert str(path) in str(info.value)


def test_null_fields_from_go_are_tolerated(tmp_path: Path) -> None:
    path = Path(_checkpoint(tmp_path))
    path.parent.mkdir(parents=True)
    path.write_text('{"Data": {"PodDeviceEntries": [{"PodUID": "UID", "ContainerName": "c", "ResourceName": "r",'
                    ' "DeviceIDs": {"-1": null, "0": ["a"]}}, {"PodUID": "UID", "DeviceIDs": null}],'
                    ' "RegisteredDevices": null}, "Checksum": 1}'.replace("UID", UID))
    entries = read_checkpoint(str(path))
    assert [e.device_ids for e in entries] == [("a",), ()]


def test_the_checkpoint_is_ignored_while_the_socket_exists(
        kubelet: FakeKubelet, make_client: Callable[..., PodResourcesClient]) -> None:
    write_checkpoint(os.path.join(kubelet.root_dir, "device-plugins", "kubelet_internal_checkpoint"),
                     [(UID, "app", SRIOV, {-1: ["from-checkpoint"]})])
    kubelet.add_pod("default", "pod-a", {"app": {SRIOV: ["from-kubelet"]}})
    client = make_client(kubelet)
    assert client.pod_devices("default", "pod-a", uid=UID) == {SRIOV: ["from-kubelet"]}
