"""Thick auto-config, one round at a time (``ConfigManager.reconcile``): what 00-multus.conf becomes.

Each test builds a CNI config dir in tmp_path and runs rounds synchronously (no thread). Checked:

* Go's exact bytes for a 0.4.0 primary, and the data for a .conf and a .conflist primary;
* cniVersion >= 1.0.0 writes 00-multus.conflist (shim config in ``plugins``), and removes a stale .conf;
* the sorted-first primary; multusMasterCNI; multusAutoconfigDir apart from cniConfigDir;
* never wrapping Multus: 00-multus.* skipped by name, type multus / multus-shim (top level or in
  plugins) skipped by content, multusMasterCNI naming a Multus config refused;
* an unreadable, empty or invalid primary keeps the previous file (never an empty one);
* the version check (Go's text), a missing daemon cniVersion, forceCNIVersion rewriting the primary;
* overrideNetworkName; capabilities from plugins vs the top level, only true ones, recomputed;
* copied daemon keys in Go's order, stripped daemon-only keys, mode 0600, wrong key types refused.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from multus.daemon.autoconfig import AutoconfigError, ConfigManager, State


def write_json(path: Path, body: Any) -> Path:
    path.write_text(json.dumps(body))
    return path


def calico(version: str = "0.4.0", **extra: Any) -> dict[str, Any]:
    return {"cniVersion": version, "name": "k8s-pod-network",
            "plugins": [{"type": "calico", "ipam": {"type": "calico-ipam"}},
                        {"type": "portmap", "capabilities": {"portMappings": True}}], **extra}


def manager(conf_dir: Path, **daemon_conf: Any) -> ConfigManager:
    return ConfigManager({"cniVersion": "0.4.0", "cniConfigDir": str(conf_dir), **daemon_conf})


def output(conf_dir: Path, name: str = "00-multus.conf") -> dict[str, Any]:
    body: dict[str, Any] = json.loads((conf_dir / name).read_bytes())
    return body


def test_a_0_4_0_bridge_primary_gives_go_s_exact_bytes(tmp_path: Path) -> None:
    write_json(tmp_path / "10-bridge.conf", {"cniVersion": "0.4.0", "name": "br", "type": "bridge"})
    assert manager(tmp_path).reconcile().state is State.WRITTEN
    assert (tmp_path / "00-multus.conf").read_bytes() == (
        b'{"cniVersion":"0.4.0","name":"multus-cni-network","clusterNetwork":"' + str(tmp_path).encode()
        + b'/10-bridge.conf","type":"multus-shim"}')


def test_a_conflist_primary_is_wrapped_by_path_with_its_enabled_capabilities(tmp_path: Path) -> None:
    write_json(tmp_path / "10-calico.conflist", calico())
    manager(tmp_path).reconcile()
    assert output(tmp_path) == {"capabilities": {"portMappings": True}, "cniVersion": "0.4.0",
                                "name": "multus-cni-network", "clusterNetwork": f"{tmp_path}/10-calico.conflist",
                                "type": "multus-shim"}


def test_the_file_is_private_and_rewritten_only_when_its_content_changes(tmp_path: Path) -> None:
    write_json(tmp_path / "10-calico.conflist", calico())
    mgr = manager(tmp_path)
    assert mgr.reconcile().state is State.WRITTEN
    inode = (tmp_path / "00-multus.conf").stat().st_ino
    assert stat.S_IMODE((tmp_path / "00-multus.conf").stat().st_mode) == 0o600
    assert mgr.reconcile().state is State.UNCHANGED
    assert (tmp_path / "00-multus.conf").stat().st_ino == inode


def test_cni_version_1_0_0_or_later_writes_a_conflist_with_the_shim_as_its_plugin(tmp_path: Path) -> None:
    write_json(tmp_path / "10-calico.conflist", calico("1.0.0"))
    (tmp_path / "00-multus.conf").write_text('{"stale": true}')
    manager(tmp_path, cniVersion="1.1.0").reconcile()
    assert not (tmp_path / "00-multus.conf").exists(), "a stale .conf would sort first and shadow the list"
    assert output(tmp_path, "00-multus.conflist") == {
        "cniVersion": "1.1.0", "name": "multus-cni-network",
        "plugins": [{"capabilities": {"portMappings": True}, "clusterNetwork": f"{tmp_path}/10-calico.conflist",
                     "type": "multus-shim"}]}


def test_the_sorted_first_config_is_the_primary(tmp_path: Path) -> None:
    write_json(tmp_path / "20-flannel.conflist", calico(name="flannel"))
    write_json(tmp_path / "10-calico.conflist", calico())
    (tmp_path / "05-notes.txt").write_text("not a config")
    (tmp_path / "07-dir.conf").mkdir()
    assert manager(tmp_path).reconcile().primary == tmp_path / "10-calico.conflist"


def test_multus_master_cni_names_the_primary_whatever_the_order(tmp_path: Path) -> None:
    write_json(tmp_path / "10-calico.conflist", calico())
    write_json(tmp_path / "20-flannel.conflist", calico(name="flannel"))
    manager(tmp_path, multusMasterCNI="20-flannel.conflist").reconcile()
    assert output(tmp_path)["clusterNetwork"] == f"{tmp_path}/20-flannel.conflist"


def test_the_primary_is_read_from_the_autoconfig_dir_and_the_output_goes_to_cni_config_dir(tmp_path: Path) -> None:
    auto, out = tmp_path / "auto", tmp_path / "out"
    auto.mkdir()
    out.mkdir()
    write_json(auto / "10-calico.conflist", calico())
    manager(out, multusAutoconfigDir=str(auto)).reconcile()
    assert output(out)["clusterNetwork"] == f"{auto}/10-calico.conflist"
    assert not (auto / "00-multus.conf").exists()


@pytest.mark.parametrize("ours", [
    {"name": "00-multus.conflist", "body": calico()},
    {"name": "01-multus.conf", "body": {"cniVersion": "0.4.0", "name": "m", "type": "multus"}},
    {"name": "01-shim.conf", "body": {"cniVersion": "0.4.0", "name": "m", "type": "multus-shim"}},
    {"name": "01-multus.conflist", "body": {"cniVersion": "0.4.0", "name": "m", "plugins": [{"type": "multus"}]}},
])
def test_multus_never_wraps_itself(tmp_path: Path, ours: dict[str, Any]) -> None:
    write_json(tmp_path / ours["name"], ours["body"])
    write_json(tmp_path / "10-calico.conflist", calico())
    assert manager(tmp_path).reconcile().primary == tmp_path / "10-calico.conflist"


def test_a_master_cni_naming_a_multus_config_is_refused_as_recursive(tmp_path: Path) -> None:
    write_json(tmp_path / "70-multus.conf", {"cniVersion": "0.4.0", "name": "m", "type": "multus"})
    outcome = manager(tmp_path, multusMasterCNI="70-multus.conf").reconcile()
    assert outcome.state is State.FAILED
    assert outcome.error == f"cannot specify {tmp_path}/70-multus.conf to prevent recursive config load"
    assert not (tmp_path / "00-multus.conf").exists()


@pytest.mark.parametrize("broken", [b"", b"{\"cniVersion\": \"0.4.0\", \"name\":", b"[1, 2]", None])
def test_an_unusable_primary_keeps_the_previous_file_and_never_writes_an_empty_one(
        tmp_path: Path, broken: bytes | None, monkeypatch: pytest.MonkeyPatch) -> None:
    primary = write_json(tmp_path / "10-calico.conflist", calico())
    mgr = manager(tmp_path)
    mgr.reconcile()
    before = (tmp_path / "00-multus.conf").read_bytes()
    if broken is None:  # unreadable; a chmod would not stop root, so reading it fails with EACCES
        real_read = Path.read_bytes

        def read_bytes(self: Path) -> bytes:
            if self == primary:
                raise PermissionError(13, "Permission denied")
            return real_read(self)

        monkeypatch.setattr(Path, "read_bytes", read_bytes)
    else:
        primary.write_bytes(broken)
    outcome = mgr.reconcile()
    assert outcome.state is State.FAILED and str(primary) in outcome.error
    assert (tmp_path / "00-multus.conf").read_bytes() == before


def test_an_invalid_primary_at_the_first_round_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "10-calico.conflist").write_text("{not json")
    assert manager(tmp_path).reconcile().state is State.FAILED
    assert os.listdir(tmp_path) == ["10-calico.conflist"]


def test_a_primary_older_than_0_4_0_under_a_newer_multus_is_an_error_in_go_s_words(tmp_path: Path) -> None:
    write_json(tmp_path / "10-calico.conflist", calico("0.3.1"))
    outcome = manager(tmp_path, cniVersion="1.1.0").reconcile()
    assert outcome.state is State.FAILED
    assert outcome.error == ("failed to load the primary CNI configuration as a multus delegate with error "
                             "'delegate cni version is 0.3.1 while top level cni version is 1.1.0'")
    assert not (tmp_path / "00-multus.conflist").exists()


def test_an_old_multus_version_accepts_an_old_primary(tmp_path: Path) -> None:
    write_json(tmp_path / "10-calico.conflist", calico("0.3.1"))
    assert manager(tmp_path, cniVersion="0.3.1").reconcile().state is State.WRITTEN
    assert output(tmp_path)["cniVersion"] == "0.3.1"


@pytest.mark.parametrize(("daemon_version", "reason"), [
    ("", "couldn't get top level cni version"),
    ("one", "couldn't get top level cni version"),
])
def test_a_missing_or_bad_daemon_cni_version_is_reported_not_raised(tmp_path: Path, daemon_version: str,
                                                                    reason: str) -> None:
    write_json(tmp_path / "10-calico.conflist", calico())
    outcome = manager(tmp_path, cniVersion=daemon_version).reconcile()
    assert outcome.state is State.FAILED and reason in outcome.error


def test_a_primary_without_cni_version_is_reported(tmp_path: Path) -> None:
    write_json(tmp_path / "10-bridge.conf", {"name": "br", "type": "bridge"})
    outcome = manager(tmp_path).reconcile()
    assert outcome.state is State.FAILED and "couldn't get cni version of delegate" in outcome.error


def test_force_cni_version_rewrites_the_primary_and_then_wraps_it(tmp_path: Path) -> None:
    primary = write_json(tmp_path / "10-calico.conflist", calico("0.3.1"))
    primary.chmod(0o644)
    assert manager(tmp_path, cniVersion="1.0.0", forceCNIVersion=True).reconcile().state is State.WRITTEN
    rewritten = json.loads(primary.read_bytes())
    assert rewritten["cniVersion"] == "1.0.0" and rewritten["plugins"] == calico()["plugins"]
    assert stat.S_IMODE(primary.stat().st_mode) == 0o644
    assert output(tmp_path, "00-multus.conflist")["cniVersion"] == "1.0.0"


def test_override_network_name_takes_the_primary_s_name(tmp_path: Path) -> None:
    write_json(tmp_path / "10-calico.conflist", calico())
    manager(tmp_path, overrideNetworkName=True).reconcile()
    body = output(tmp_path)
    assert body["name"] == "k8s-pod-network" and body["overrideNetworkName"] is True


def test_override_network_name_without_a_primary_name_is_reported(tmp_path: Path) -> None:
    write_json(tmp_path / "10-bridge.conf", {"cniVersion": "0.4.0", "type": "bridge"})
    outcome = manager(tmp_path, overrideNetworkName=True).reconcile()
    assert outcome.state is State.FAILED and "does not feature the network name" in outcome.error


def test_capabilities_of_a_single_conf_come_from_its_top_level_and_only_true_ones(tmp_path: Path) -> None:
    write_json(tmp_path / "10-bridge.conf", {"cniVersion": "0.4.0", "name": "br", "type": "bridge",
                                             "capabilities": {"ips": True, "mac": False, "bandwidth": "yes"}})
    manager(tmp_path).reconcile()
    assert output(tmp_path)["capabilities"] == {"ips": True}


def test_capabilities_of_a_list_come_from_its_plugins_not_its_top_level(tmp_path: Path) -> None:
    body = calico(capabilities={"top": True})
    body["plugins"].append({"type": "bandwidth", "capabilities": {"bandwidth": True}})
    write_json(tmp_path / "10-calico.conflist", body)
    manager(tmp_path).reconcile()
    assert output(tmp_path)["capabilities"] == {"bandwidth": True, "portMappings": True}


def test_capabilities_are_recomputed_so_a_dropped_one_disappears(tmp_path: Path) -> None:
    primary = write_json(tmp_path / "10-calico.conflist", calico())
    mgr = manager(tmp_path)
    mgr.reconcile()
    body = calico()
    body["plugins"][1]["capabilities"] = {"bandwidth": True}
    write_json(primary, body)
    mgr.reconcile()
    assert output(tmp_path)["capabilities"] == {"bandwidth": True}
    write_json(primary, {"cniVersion": "0.4.0", "name": "k", "plugins": [{"type": "calico"}]})
    mgr.reconcile()
    assert "capabilities" not in output(tmp_path)


def test_daemon_keys_are_copied_in_go_s_order_and_daemon_only_keys_are_not(tmp_path: Path) -> None:
    write_json(tmp_path / "10-bridge.conf", {"cniVersion": "0.4.0", "name": "br", "type": "bridge"})
    daemon_conf = {
        "daemonSocketDir": "/run/multus", "auxiliaryCNIChainName": "aux", "cniDir": "/var/lib/cni/multus",
        "globalNamespaces": "default,kube-system", "namespaceIsolation": True, "logOptions": {"maxAge": 5},
        "logToStderr": True, "logLevel": "verbose", "logFile": "/var/log/m.log", "capabilities": {"mac": True},
        "binDir": "/opt/cni/bin", "readinessindicatorfile": "", "socketDir": "/run/multus/", "chrootDir": "/hostroot",
        "multusConfigFile": "auto", "multusAutoconfigDir": str(tmp_path), "forceCNIVersion": False,
        "clusterNetwork": "ignored",
    }
    manager(tmp_path, **daemon_conf).reconcile()
    assert list(output(tmp_path)) == [
        "binDir", "capabilities", "cniVersion", "logFile", "logLevel", "logToStderr", "logOptions", "name",
        "clusterNetwork", "namespaceIsolation", "globalNamespaces", "type", "cniDir", "auxiliaryCNIChainName",
        "daemonSocketDir"]
    assert output(tmp_path)["clusterNetwork"] == f"{tmp_path}/10-bridge.conf"


def test_a_daemon_key_of_the_wrong_type_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(AutoconfigError, match="namespaceIsolation"):
        manager(tmp_path, namespaceIsolation="yes")


def test_no_primary_in_an_empty_or_missing_dir_means_waiting_and_no_file(tmp_path: Path) -> None:
    assert manager(tmp_path).reconcile().state is State.WAITING_FOR_PRIMARY
    assert manager(tmp_path / "absent", multusAutoconfigDir=str(tmp_path / "nope")).reconcile().state \
        is State.WAITING_FOR_PRIMARY
    assert os.listdir(tmp_path) == []
