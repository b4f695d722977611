"""Readers shared by the tests of ``deployments/``: manifests, their objects, and container-to-host paths.

No test lives here. Manifests are read with a YAML loader that refuses duplicate mapping keys, which
``yaml.safe_load`` would otherwise resolve silently to the last one (a classic manifest bug: a second
``volumeMounts:`` or ``env:`` replacing the first).
"""

from __future__ import annotations

import posixpath
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = ROOT / "deployments"
THICK = DEPLOYMENTS / "multus-daemonset-thick.yml"
THIN = DEPLOYMENTS / "multus-daemonset-thin.yml"
CRD = DEPLOYMENTS / "crd.yml"
EXAMPLES = DEPLOYMENTS / "examples"
CONTAINERFILE = DEPLOYMENTS / "Containerfile"

# kubernetes-validate ships schemas up to its own version; this is the newest release line at most 1.33.
KUBERNETES_VERSION = "1.33.0"
NAMESPACE = "kube-system"
DAEMONSET = "kube-multus-ds"
DAEMON_CONTAINER = "kube-multus"
CONFIG_KEY = "daemon-config.json"

Obj = dict[str, Any]


def _refuse_duplicate_keys(node: Any) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key_node.value!r}", key_node.start_mark)
                seen.add(key_node.value)
            _refuse_duplicate_keys(value_node)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item)


def manifest_files() -> list[Path]:
    return sorted(p for p in DEPLOYMENTS.rglob("*") if p.suffix in (".yml", ".yaml"))


@cache
def _load(path: Path) -> tuple[Obj, ...]:
    text = path.read_text(encoding="utf-8")
    for node in yaml.compose_all(text, Loader=yaml.SafeLoader):
        _refuse_duplicate_keys(node)
    return tuple(doc for doc in yaml.safe_load_all(text) if doc is not None)


def load(path: Path) -> list[Obj]:
    """The non-empty documents of a manifest (a fresh list; the objects are shared, do not mutate)."""
    return list(_load(path))


def find(path: Path, kind: str, name: str | None = None) -> Obj:
    found: list[Obj] = [o for o in load(path)
                        if o.get("kind") == kind and (name is None or o["metadata"]["name"] == name)]
    assert len(found) == 1, f"{path.name}: expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def all_of(path: Path, kind: str) -> list[Obj]:
    found: list[Obj] = [o for o in load(path) if o.get("kind") == kind]
    return found


def pod_spec(ds: Obj) -> Obj:
    spec: Obj = ds["spec"]["template"]["spec"]
    return spec


def container(spec: Obj, name: str, *, init: bool = False) -> Obj:
    found: list[Obj] = [c for c in spec.get("initContainers" if init else "containers", []) if c["name"] == name]
    assert len(found) == 1, f"no single container {name!r}"
    return found[0]


def only_init_container(spec: Obj) -> Obj:
    inits: list[Obj] = spec.get("initContainers", [])
    assert len(inits) == 1, f"expected one init container, found {len(inits)}"
    return inits[0]


def daemon_config_text() -> str:
    text: str = find(THICK, "ConfigMap", "multus-daemon-config")["data"][CONFIG_KEY]
    return text


def normalise(path: str) -> str:
    """``/var/run`` is ``/run`` on the host and in the Debian image (a symlink); no trailing slash."""
    path = posixpath.normpath(path)
    if path == "/var/run" or path.startswith("/var/run/"):
        path = path[len("/var"):]
    return path


def _under(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def covering_mount(spec: Obj, ctr: Obj, path: str) -> tuple[Obj, Obj] | None:
    """The (volumeMount, volume) whose mountPath is the longest prefix of ``path``, or None."""
    path = normalise(path)
    best: tuple[Obj, Obj] | None = None
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    for mount in ctr.get("volumeMounts", []):
        mount_path = normalise(mount["mountPath"])
        if _under(path, mount_path) and (best is None or len(mount_path) > len(normalise(best[0]["mountPath"]))):
            best = (mount, volumes[mount["name"]])
    return best


def host_path_of(spec: Obj, ctr: Obj, path: str) -> str | None:
    """Where ``path`` in the container is on the host, through a hostPath mount; None otherwise."""
    found = covering_mount(spec, ctr, path)
    if found is None or "hostPath" not in found[1]:
        return None
    mount, volume = found
    rest = posixpath.relpath(normalise(path), normalise(mount["mountPath"]))
    host = normalise(volume["hostPath"]["path"])
    return host if rest == "." else normalise(posixpath.join(host, rest))


def flag_value(args: list[str], flag: str) -> str | None:
    """``--flag=value`` or ``--flag value`` in ``args``; None when absent."""
    for index, arg in enumerate(args):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag and index + 1 < len(args):
            return args[index + 1]
    return None


@cache
def pyproject() -> dict[str, Any]:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def mebibytes(quantity: str | int) -> float:
    """A Kubernetes memory quantity in MiB (binary and decimal suffixes)."""
    text = str(quantity)
    factors = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    for suffix in sorted(factors, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factors[suffix] / 2**20
    return float(text) / 2**20
