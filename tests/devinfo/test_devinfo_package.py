"""The devinfo package as a whole: its public API, its independence from multus, its import cost.

Checked here: ``__all__`` lists exactly the names the package resolves, each from the module that
defines it, and matches the names imported for type checkers; no devinfo module imports ``multus``
(devinfo is for device-plugin authors too); and the per-call subset -- paths, raw load, copy, clean,
sysfs discovery on a kernel-shaped fake tree -- imports neither pydantic nor pyudev, so the thin
meta-plugin can use it within its import budget.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import devinfo
from devinfo.testing import FakeSysfs

PACKAGE_DIR = Path(devinfo.__file__).parent


def _in_fresh_interpreter(code: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_all_lists_exactly_the_public_names_and_each_resolves_from_its_module() -> None:
    assert sorted(devinfo.__all__) == sorted(devinfo._MODULE_OF)
    assert len(set(devinfo.__all__)) == len(devinfo.__all__)
    for name in devinfo.__all__:
        value = getattr(devinfo, name)
        module = sys.modules[devinfo._MODULE_OF[name]]
        assert getattr(module, name) is value, name


def test_the_type_checking_imports_match_all() -> None:
    tree = ast.parse((PACKAGE_DIR / "__init__.py").read_text())
    guarded = next(node for node in tree.body if isinstance(node, ast.If))
    imported = {alias.name for node in guarded.body if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert imported == set(devinfo.__all__)


def test_an_unknown_attribute_is_an_attribute_error() -> None:
    try:
        devinfo.not_a_name  # noqa: B018
    except AttributeError as exc:
        assert "not_a_name" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_no_devinfo_module_imports_multus() -> None:
    modules = sorted(f"devinfo.{path.stem}" for path in PACKAGE_DIR.glob("*.py") if path.stem != "__init__")
    code = (f"import sys, json, devinfo; [__import__(m) for m in {modules!r}]; "
            "[getattr(devinfo, n) for n in devinfo.__all__]; "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'multus')))")
    assert _in_fresh_interpreter(code) == []


def test_paths_copy_clean_raw_load_and_fake_sysfs_discovery_import_neither_pydantic_nor_pyudev(
        tmp_path: Path) -> None:
    fake = FakeSysfs(tmp_path)
    fake.add_sriov_pf("0000:3b:00.0", vfs=["0000:3b:02.0"])
    dp = tmp_path / "base" / "dp" / "r-0000:3b:02.0-device.json"
    dp.parent.mkdir(parents=True)
    dp.write_text('{"type":"pci","version":"1.1.0","pci":{"pci-address":"0000:3b:02.0"}}')
    code = f"""
import sys, json, devinfo
base = {str(tmp_path / "base")!r}
cni = devinfo.cni_path("ns/net-cid_net1", base_dir=base)
devinfo.copy_dp_to_cni(cni, "r", "0000:3b:02.0", base_dir=base)
assert devinfo.load_raw(cni)["pci"]["pci-address"] == "0000:3b:02.0"
assert devinfo.clean(cni)
wire = devinfo.build_device_info_dict("0000:3b:02.0", sysfs_root={str(fake.root)!r})
assert wire["pci"]["pf-pci-address"] == "0000:3b:00.0", wire
print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & {{"pydantic", "pyudev"}})))
"""
    assert _in_fresh_interpreter(code) == []
