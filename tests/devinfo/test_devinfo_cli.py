"""The ``devinfo`` command: each sub-command's output and exit status, and its error paths.

Checked here: ``show`` (readable, ``--json``, warnings for a lenient file), ``validate`` (valid,
malformed, ``--strict`` reasons, warnings without it), ``write`` (``--dp``, ``--cni``, ``--path``, each
type, refusing to overwrite or to write invalid values, ``--overwrite``), ``discover`` against a
kernel-shaped FakeSysfs double (text and ``--json``, missing device), ``schema``; every failure is
one ``devinfo: error:`` line with exit 1, including usage errors, and no traceback -- checked once
through a real ``python -m devinfo`` process as well.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devinfo import dp_path, schema
from devinfo.cli import main
from devinfo.testing import FakeSysfs

GOOD = '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:18:02.5","pf-pci-address":"0000:18:00.0"}}'


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_error_line(err: str, *fragments: str) -> None:
    assert err.startswith("devinfo: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err


@pytest.fixture
def good_file(tmp_path: Path) -> Path:
    path = tmp_path / "good.json"
    path.write_text(GOOD)
    return path


def test_show_prints_each_key_readably(capsys: pytest.CaptureFixture[str], good_file: Path) -> None:
    status, out, _ = run(capsys, "show", str(good_file))
    assert status == 0
    lines = [line.split() for line in out.splitlines()]
    assert ["type", "pci"] in lines and ["pci-address", "0000:18:02.5"] in lines and ["pci:"] in lines
    assert "not valid to write" not in out


def test_show_json_prints_the_object(capsys: pytest.CaptureFixture[str], good_file: Path) -> None:
    status, out, _ = run(capsys, "show", "--json", str(good_file))
    assert status == 0 and json.loads(out) == json.loads(GOOD)


def test_show_of_a_lenient_file_lists_what_a_strict_reader_refuses(capsys: pytest.CaptureFixture[str],
                                                                   tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text('{"type":"memif","version":"1.1.0","memif":{"role":"master","path":"/m","mode":"punt"}}')
    status, out, _ = run(capsys, "show", str(path))
    assert status == 0 and "spells it 'inject-punt'" in out


def test_validate_accepts_a_good_file(capsys: pytest.CaptureFixture[str], good_file: Path) -> None:
    status, out, _ = run(capsys, "validate", "--strict", str(good_file))
    assert status == 0 and "valid device-info (strict; type pci, version 1.1.0)" in out


def test_validate_strict_exits_1_with_every_reason(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text('{"type":"pci","version":"v1.1.0","pci":{"pci_address":"0000:18:02.5"}}')
    status, _, err = run(capsys, "validate", "--strict", str(path))
    assert status == 1
    assert "  - pci.pci_address: unknown key" in err and "  - pci.pci-address: required" in err
    assert "write '1.1.0', not 'v1.1.0'" in err


def test_validate_without_strict_accepts_what_go_reads_and_warns(capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text('{"type":"vdpa","version":"1.1.0","vdpa":{"parent-device":"vdpa1","driver":"virtio"}}')
    status, out, err = run(capsys, "validate", str(path))
    assert status == 0 and "as Go reads it" in out and "warning: vdpa.path: required" in err


def test_validate_rejects_malformed_json_even_without_strict(capsys: pytest.CaptureFixture[str],
                                                             tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text('{"type":"pci",')
    status, _, err = run(capsys, "validate", str(path))
    assert status == 1 and "not valid JSON" in err


def test_write_dp_creates_the_device_plugins_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = run(capsys, "write", "--type", "pci", "--pci-address", "0000:18:02.5", "--pf-pci-address",
                         "0000:18:00.0", "--dp", "intel.com/sriov", "0000:18:02.5", "--base-dir", str(tmp_path))
    expected = dp_path("intel.com/sriov", "0000:18:02.5", base_dir=tmp_path)
    assert status == 0 and out.strip() == str(expected)
    assert expected.read_text() == GOOD


def test_write_cni_and_path_targets_and_the_other_types(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "write", "--type", "vhost-user", "--mode", "client", "--socket-path", "/s.sock",
               "--cni", "default/net-cid_net1", "--base-dir", str(tmp_path))[0] == 0
    assert (tmp_path / "cni" / "default-net-cid_net1").read_text() == \
        '{"type":"vhost-user","version":"1.1.0","vhost-user":{"mode":"client","path":"/s.sock"}}'
    assert run(capsys, "write", "--type", "memif", "--role", "slave", "--socket-path", "/m.sock", "--mode", "ip",
               "--version", "1.0.0", "--path", str(tmp_path / "m"))[0] == 0
    assert (tmp_path / "m").read_text() == \
        '{"type":"memif","version":"1.0.0","memif":{"role":"slave","path":"/m.sock","mode":"ip"}}'
    assert run(capsys, "write", "--type", "vdpa", "--parent-device", "vdpa0", "--driver", "vhost", "--dev-path",
               "/dev/vhost-vdpa-0", "--path", str(tmp_path / "v"))[0] == 0
    assert json.loads((tmp_path / "v").read_text())["vdpa"]["path"] == "/dev/vhost-vdpa-0"


def test_write_refuses_to_overwrite_unless_asked(capsys: pytest.CaptureFixture[str], good_file: Path) -> None:
    args = ["write", "--type", "pci", "--pci-address", "0000:18:02.6", "--path", str(good_file)]
    status, _, err = run(capsys, *args)
    assert status == 1
    assert_one_error_line(err, f"Device Information file already exists: {good_file}")
    assert good_file.read_text() == GOOD
    assert run(capsys, *args, "--overwrite")[0] == 0
    assert "0000:18:02.6" in good_file.read_text()


def test_write_of_invalid_values_exits_1_with_the_reasons_on_one_line(capsys: pytest.CaptureFixture[str],
                                                                      tmp_path: Path) -> None:
    status, _, err = run(capsys, "write", "--type", "pci", "--pci-address", "0000:18:02:5", "--path",
                         str(tmp_path / "f"))
    assert status == 1
    assert_one_error_line(err, "pci.pci-address", "not a PCI address")
    assert not (tmp_path / "f").exists()


def test_write_refuses_options_that_do_not_belong_to_the_type(capsys: pytest.CaptureFixture[str],
                                                              tmp_path: Path) -> None:
    status, _, err = run(capsys, "write", "--type", "pci", "--pci-address", "0000:18:02.5", "--role", "master",
                         "--path", str(tmp_path / "f"))
    assert status == 1
    assert_one_error_line(err, "--role does not apply to --type pci")
    assert not (tmp_path / "f").exists()


def test_write_to_an_escaping_cni_name_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = run(capsys, "write", "--type", "pci", "--pci-address", "0000:18:02.5", "--cni", "..",
                         "--base-dir", str(tmp_path))
    assert status == 1
    assert_one_error_line(err, "would leave the directory")


def test_discover_prints_facts_and_device_info_for_a_fake_sysfs(capsys: pytest.CaptureFixture[str],
                                                                fake_sysfs: FakeSysfs) -> None:
    fake_sysfs.add_sriov_pf("0000:3b:00.0", vfs=["0000:3b:02.0"], vf_netdevs={"0000:3b:02.0": ["ens1f0v0"]})
    status, out, _ = run(capsys, "discover", "0000:3b:02.0", "--sysfs-root", str(fake_sysfs.root))
    assert status == 0
    lines = [line.split(maxsplit=1) for line in out.splitlines()]
    assert ["pf_address", "0000:3b:00.0"] in lines and ["netdevs", "ens1f0v0"] in lines
    assert ["device-info", '{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.0",'
            '"pf-pci-address":"0000:3b:00.0"}}'] in lines
    status, out, _ = run(capsys, "discover", "0000:3b:00.0", "--sysfs-root", str(fake_sysfs.root), "--json")
    data = json.loads(out)
    assert status == 0 and data["vfs"] == [{"index": 0, "address": "0000:3b:02.0"}] and data["is_pf"] is True


def test_discover_of_a_missing_device_exits_1_with_one_line(capsys: pytest.CaptureFixture[str],
                                                            fake_sysfs: FakeSysfs) -> None:
    status, _, err = run(capsys, "discover", "0000:99:00.0", "--sysfs-root", str(fake_sysfs.root))
    assert status == 1
    assert_one_error_line(err, "no PCI device 0000:99:00.0")


def test_schema_prints_the_libraries_schema(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "schema")
    assert status == 0 and json.loads(out) == schema()


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["write", "--type", "pci"], ["show"]])
def test_usage_errors_are_one_line_and_exit_1(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    status, _, err = run(capsys, *argv)
    assert status == 1
    assert_one_error_line(err, "--help")


def test_a_missing_file_is_one_line_exit_1(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, _, err = run(capsys, "show", str(tmp_path / "absent"))
    assert status == 1
    assert_one_error_line(err, "not found", str(tmp_path / "absent"))


def test_the_module_entry_point_fails_in_one_line_without_traceback(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "devinfo", "show", str(tmp_path)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 1
    assert_one_error_line(done.stderr, "Is a directory")
