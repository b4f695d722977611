"""The per-call import budget: modules on a CNI call's path must not pull in heavy libraries.

A CNI plugin is a fresh process per call, on every pod's start path. Measured here, per process:
pydantic (import plus first model) ~90 ms, kubernetes ~220 ms, pyroute2 ~150 ms, grpc ~65 ms. Those
belong to long-running processes (the daemon) or to code that runs only when a call needs it, never to
the import chain of an entry point. Each case imports one module in a clean interpreter and lists what
came along.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pydantic", "kubernetes", "pyroute2", "grpc", "yaml", "pyudev")

PER_CALL_MODULES = [
    "multus.cni.runtime",
    "multus.cni.tool",
    "multus.cni.skel",
    "multus.cni.types",
    "multus.cni.netconf",
    "multus.k8s.client",
    "multus.plugin.entry",
    "multus.plugin.add",
    "multus.plugin.delete",
    "multus.plugin.check",
    "multus.plugin.lifecycle",
    "multus.passthru",
]


def imported_heavy_modules(module: str) -> list[str]:
    code = (f"import sys, json, {module}; "
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({list(HEAVY)!r}))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return list(json.loads(done.stdout))


@pytest.mark.parametrize("module", PER_CALL_MODULES)
def test_a_per_call_module_imports_no_heavy_library(module: str) -> None:
    assert imported_heavy_modules(module) == []
