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
from pathlib import Path

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


def imported_modules(code: str) -> set[str]:
    """The modules loaded after running ``code`` in a clean interpreter."""
    probe = f"{code}\nimport sys, json; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(done.stdout))


# Not heavy libraries, but code a thin call loads only when it needs it: every module and class a plugin
# process imports is paid for again on each CNI call.
NOT_AT_ENTRY = (
    "multus.cni.types.v020",  # the 0.x result families: only to convert to or from those versions
    "multus.cni.types.v040",
    "multus.devices.deviceinfo",  # device-info files: only around a delegate's ADD/DEL
    "multus.k8s.client",  # the Kubernetes client: only with a kubeconfig or in-cluster settings
    "multus.plugin.selection",  # the networks-annotation parser: only for a pod's annotations (or IP=)
    "multus.plugin.config_options",  # runtimeConfig / logOptions structs: only when the config has them
    "multus.plugin.add",  # the verbs: each loads on its own command
    "multus.plugin.delete",
)


def test_the_thin_entry_point_loads_no_verb_or_optional_code() -> None:
    assert imported_modules("import multus.plugin.entry") & set(NOT_AT_ENTRY) == set()


def test_a_1x_result_round_trip_loads_no_0x_result_family() -> None:
    loaded = imported_modules(
        "from multus.cni.types import convert_result, parse_result\n"
        "r = parse_result(b'{\"cniVersion\": \"1.0.0\", \"ips\": [{\"address\": \"10.1.0.5/24\"}]}')\n"
        "convert_result(r, '1.1.0').to_json()")
    assert {"multus.cni.types.v020", "multus.cni.types.v040"} & loaded == set()
    assert "multus.cni.types.v040" in imported_modules(
        "from multus.cni.types import convert_result, parse_result\n"
        "convert_result(parse_result(b'{\"cniVersion\": \"1.0.0\"}'), '0.4.0')")


# Standard modules a thin call has no use for, each paid by every plugin process (Debian's python3, ms):
# dataclasses with inspect, ast, dis and tokenize ~5.7; logging ~3.8 (loaded only when a line is due);
# pathlib with urllib.parse and fnmatch ~2; the idna codec ~2 (a str host name given to socket); base64 with
# struct ~0.4 (binascii, built in, does the same).
NOT_ON_THE_CALL_PATH = ("dataclasses", "inspect", "logging", "pathlib", "encodings.idna", "base64")
THIN_CALL_MODULES = ("multus.plugin.entry", "multus.plugin.add", "multus.plugin.delete", "multus.plugin.selection",
                     "multus.plugin.config_options", "multus.k8s.client", "multus.cni.types.v040",
                     "multus.cni.types.v020")


def imported_as_the_bundle_runs(code: str) -> set[str]:
    """The modules loaded after ``code``, with ``-I -S`` and the tree on sys.path, as the thin bundle runs
    (the venv's ``site`` would load pathlib itself, for its editable install)."""
    tree = str(Path(__file__).resolve().parents[1])
    probe = f"import sys\nsys.path.insert(0, {tree!r})\n{code}\nimport json\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, timeout=60,
                          check=True)
    return set(json.loads(done.stdout))


def test_the_thin_call_path_loads_none_of_the_standard_modules_it_has_no_use_for() -> None:
    loaded = imported_as_the_bundle_runs("import " + ", ".join(THIN_CALL_MODULES))
    assert loaded & set(NOT_ON_THE_CALL_PATH) == set()


def test_a_kubeconfig_call_reaches_the_api_server_without_the_idna_codec() -> None:
    """A GET of a pod against a plain socket that answers 404 (the API double is not needed to see which
    modules a connection loads)."""
    loaded = imported_as_the_bundle_runs(
        "import socket, threading\n"
        "server = socket.create_server(('127.0.0.1', 0))\n"
        "def answer():\n"
        "    conn, _ = server.accept()\n"
        "    conn.recv(65536)\n"
        "    conn.sendall(b'HTTP/1.1 404 Not Found\\r\\nContent-Length: 2\\r\\n\\r\\n{}')\n"
        "    conn.close()\n"
        "threading.Thread(target=answer, daemon=True).start()\n"
        "from multus.k8s.http import Connection\n"
        "response = Connection('127.0.0.1', server.getsockname()[1], timeout=10).request(\n"
        "    'GET', '/api/v1/namespaces/default/pods/p', {'Host': '127.0.0.1'})\n"
        "assert response.status == 404, response\n")
    assert "encodings.idna" not in loaded
