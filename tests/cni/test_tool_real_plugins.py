"""``python -m multus.cni`` (the cnitool-compatible CLI) as a subprocess, with Debian's real plugins (root).

The CLI runs inside a test-owned "host" namespace (``nsenter --net``), reads a bridge conflist from a
tmp NETCONFPATH and caches into a tmp CNI_CACHE_DIR. Checked here: ``add`` prints the result JSON and
the addresses appear in the pod namespace; ``check`` passes; ``del`` removes them and the cache entry;
bad configurations and plugin failures print a CNI error object on stdout, exit 1, and never a
traceback on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from multus import netns as nsmod

pytestmark = pytest.mark.netns

NET = "clinet"
REPO = Path(__file__).resolve().parents[2]


def bridge_conflist(data_dir: Path, **bridge_extra: Any) -> dict[str, Any]:
    return {
        "cniVersion": "1.0.0",
        "name": NET,
        "plugins": [{"type": "bridge", "bridge": "cni0", "isGateway": True, **bridge_extra,
                     "ipam": {"type": "host-local", "subnet": "10.5.0.0/24", "dataDir": str(data_dir)}}],
    }


@pytest.fixture
def conf_dir(tmp_path: Path) -> Path:
    path = tmp_path / "net.d"
    path.mkdir()
    return path


@pytest.fixture
def run_tool(host_ns: str, conf_dir: Path, cni_cache_dir: Path,
             real_plugins_dir: str) -> Any:
    """Run ``python -m multus.cni <argv>`` inside ``host_ns`` with the test's conf, plugin and cache dirs."""
    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NETCONFPATH": str(conf_dir),
               "CNI_PATH": real_plugins_dir, "CNI_CACHE_DIR": str(cni_cache_dir)}
        return subprocess.run(["nsenter", f"--net={host_ns}", "--", sys.executable, "-m", "multus.cni", *argv],
                              env=env, cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    return run


def write_conflist(conf_dir: Path, body: dict[str, Any] | str) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    (conf_dir / "10-clinet.conflist").write_text(text)


def test_add_prints_the_result_check_passes_and_del_removes_the_addresses(
        run_tool: Any, conf_dir: Path, netns: str, ipam_data_dir: Path, cni_cache_dir: Path) -> None:
    write_conflist(conf_dir, bridge_conflist(ipam_data_dir))

    added = run_tool("add", NET, netns)
    assert added.returncode == 0, added.stdout + added.stderr
    result = json.loads(added.stdout)
    assert result["cniVersion"] == "1.0.0"
    assert [ip["address"] for ip in result["ips"]] == nsmod.addresses(netns, "eth0") == ["10.5.0.2/24"]
    assert len(list((cni_cache_dir / "results").iterdir())) == 1

    checked = run_tool("check", NET, netns)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    deleted = run_tool("del", NET, netns)
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    assert not nsmod.link_exists(netns, "eth0")
    assert list((cni_cache_dir / "results").iterdir()) == []


@pytest.mark.parametrize(("conflist", "code", "msg_part"), [
    ("{not json", 7, "error parsing"),
    ({"cniVersion": "1.0.0", "name": NET, "plugins": []}, 7, "no plugins"),
    ({"cniVersion": "1.0.0", "name": NET, "plugins": [{"type": "no-such-plugin"}]}, 50, "no-such-plugin"),
    ("bad-mtu", 999, "failed to load netconf"),
], ids=["malformed-json", "empty-list", "missing-plugin", "plugin-rejects-config"])
def test_a_bad_config_prints_a_cni_error_and_exits_1_without_a_traceback(
        run_tool: Any, conf_dir: Path, netns: str, ipam_data_dir: Path,
        conflist: dict[str, Any] | str, code: int, msg_part: str) -> None:
    write_conflist(conf_dir, bridge_conflist(ipam_data_dir, mtu="abc") if conflist == "bad-mtu" else conflist)

    done = run_tool("add", NET, netns)
    assert done.returncode == 1
    error = json.loads(done.stdout)
    assert error["code"] == code
    assert msg_part in error["msg"]
    assert "Traceback" not in done.stderr
    assert not nsmod.link_exists(netns, "eth0")
