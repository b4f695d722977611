"""Shared fixtures: network namespaces, the real CNI plugins, and a runtime that runs them in a sandbox.

The rule behind the namespace fixtures: a test never touches the real host network. Plugins such as
bridge, ptp, macvlan and portmap create bridges, host-side veths and iptables rules *in the namespace
they run in*, so each test gets two namespaces it owns -- ``host_ns`` standing in for the node and
``netns`` for the pod -- and ``host_executor`` starts every plugin inside ``host_ns``. host-local
keeps its leases in ``ipam_data_dir`` (pass it as the ipam ``dataDir``) and the runtime its result
cache in ``cni_cache_dir``, both under ``tmp_path``. Teardown removes the namespaces, which destroys
every link, address, route and iptables rule in them, even when the test failed.

Fixtures:
    make_netns          factory: create ``cnitest-<random>`` namespaces, all removed at teardown
    netns               the pod namespace (path)
    host_ns             a second namespace playing the node (path)
    real_plugins_dir    /usr/lib/cni or $MULTUS_TEST_CNI_PATH; skips without the bridge plugin
    plugin_versions     the cniVersions an installed plugin supports
    require_cni_version skip unless the installed plugins speak a given cniVersion
    cni_cache_dir       the runtime's cache dir (tmp)
    ipam_data_dir       host-local's dataDir (tmp)
    ipam_leases         ipam_leases(): host-local's leases in ipam_data_dir
    host_executor       an executor running plugins in host_ns, recording every call (RecordingExecutor)
    host_runtime        CNIRuntime over real_plugins_dir, host_executor and cni_cache_dir

Also, for the whole session: the real ``tuning`` plugin keeps its state in /var/run/cni/tuning (a path it
hard-codes) and removes its files on DEL but not the directories; directories the session created are
removed at its end when empty, so a test run leaves nothing under /var/run.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from multus.cni.invoke import SubprocessExecutor
from multus.cni.runtime import CNIRuntime
from multus.testing.recording_executor import RecordingExecutor

NETNS_PREFIX = "cnitest-"
DEFAULT_PLUGINS_DIR = "/usr/lib/cni"
# State directories real plugins create outside anything a test owns (the innermost last).
PLUGIN_STATE_DIRS = (Path("/var/run/cni"), Path("/var/run/cni/tuning"))


@pytest.fixture(scope="session", autouse=True)
def plugin_state_dirs_removed() -> Iterator[None]:
    """Remove, at the end of the session, the plugin state directories it created, if they are empty."""
    created = [d for d in PLUGIN_STATE_DIRS if not d.exists()]
    yield
    for directory in reversed(created):
        try:
            directory.rmdir()
        except OSError:  # not there, or not empty: something else's, or a plugin's leftover to see
            pass


# ---- namespaces ------------------------------------------------------------------------------------

def _netns_unavailable_reason() -> str | None:
    """Why namespace tests cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root to create network namespaces"
    if not os.path.exists("/proc/self/ns/net"):
        return "this kernel has no network namespaces"
    return None


@pytest.fixture
def make_netns() -> Iterator[Callable[[], str]]:
    """A factory creating fresh ``cnitest-<random>`` namespaces; every one is removed at teardown."""
    reason = _netns_unavailable_reason()
    if reason:
        pytest.skip(reason)
    from multus import netns as nsmod  # imported here: collection must not need pyroute2

    created: list[str] = []

    def make() -> str:
        name = NETNS_PREFIX + secrets.token_hex(4)
        try:
            path = nsmod.create_netns(name)
        except PermissionError as exc:  # e.g. an unprivileged container that still reports uid 0
            pytest.skip(f"cannot create network namespaces here: {exc}")
        created.append(path)
        return path

    try:
        yield make
    finally:
        errors = []
        for path in reversed(created):
            try:
                nsmod.remove_netns(path)
            except OSError as exc:  # keep removing the others; report at the end
                errors.append(f"{path}: {exc}")
        if errors:
            raise RuntimeError("failed to remove test namespaces: " + "; ".join(errors))


@pytest.fixture
def netns(make_netns: Callable[[], str]) -> str:
    """The pod's namespace, as a path such as /var/run/netns/cnitest-1a2b3c4d."""
    return make_netns()


@pytest.fixture
def host_ns(make_netns: Callable[[], str]) -> str:
    """A namespace standing in for the node: plugins run here, so bridges and host veths land here."""
    return make_netns()


# ---- plugins ---------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def real_plugins_dir() -> str:
    """The directory of the real CNI plugins (Debian's containernetworking-plugins)."""
    directory = os.environ.get("MULTUS_TEST_CNI_PATH") or DEFAULT_PLUGINS_DIR
    if not os.access(os.path.join(directory, "bridge"), os.X_OK):
        pytest.skip(f"no CNI bridge plugin in {directory} (install containernetworking-plugins "
                    "or set MULTUS_TEST_CNI_PATH)")
    return directory


@pytest.fixture(scope="session")
def plugin_versions(real_plugins_dir: str) -> Callable[[str], tuple[str, ...]]:
    """``plugin_versions("bridge")``: the cniVersions an installed plugin answers VERSION with (cached)."""
    cache: dict[str, tuple[str, ...]] = {}

    def versions(plugin: str) -> tuple[str, ...]:
        if plugin not in cache:
            out = subprocess.run([os.path.join(real_plugins_dir, plugin)], input=b"{}", capture_output=True,
                                 check=True, timeout=30, env={"CNI_COMMAND": "VERSION"}).stdout
            cache[plugin] = tuple(json.loads(out).get("supportedVersions", ()))
        return cache[plugin]

    return versions


@pytest.fixture(scope="session")
def require_cni_version(plugin_versions: Callable[[str], tuple[str, ...]]) -> Callable[..., None]:
    """``require_cni_version("1.1.0", "bridge", "host-local")`` skips unless every named plugin speaks it."""
    def require(version: str, *plugins: str) -> None:
        for plugin in plugins or ("bridge",):
            supported = plugin_versions(plugin)
            if version not in supported:
                pytest.skip(f"the installed {plugin} plugin does not speak cniVersion {version} "
                            f"(it supports {', '.join(supported)})")

    return require


# ---- the runtime, sandboxed ------------------------------------------------------------------------

@pytest.fixture
def cni_cache_dir(tmp_path: Path) -> Path:
    """The runtime's result cache directory (libcni's /var/lib/cni), private to the test."""
    path = tmp_path / "cni-cache"
    path.mkdir()
    return path


@pytest.fixture
def ipam_data_dir(tmp_path: Path) -> Path:
    """host-local's ``dataDir``, so leases never go to the machine's /var/lib/cni/networks."""
    path = tmp_path / "ipam"
    path.mkdir()
    return path


@pytest.fixture
def ipam_leases(ipam_data_dir: Path) -> Callable[[], list[str]]:
    """``ipam_leases()``: the leases host-local holds in ``ipam_data_dir``, as ``<network>/<address>``,
    sorted (not its lock and last_reserved_ip files): what every DEL must leave empty."""
    def leases() -> list[str]:
        return sorted(str(p.relative_to(ipam_data_dir)) for p in ipam_data_dir.rglob("*")
                      if p.is_file() and not p.name.startswith(("last_reserved_ip", "lock")))

    return leases


@pytest.fixture
def host_executor(host_ns: str) -> RecordingExecutor:
    """Starts every plugin inside ``host_ns`` and records every call (``calls``, ``calls_of``).

    The real executor does the work (``SubprocessExecutor.in_netns``, i.e. ``nsenter --net``); only the
    top-level exec needs it, since plugins inherit the namespace, so the IPAM plugin a bridge calls runs
    there too."""
    return RecordingExecutor(SubprocessExecutor.in_netns(host_ns))


@pytest.fixture
def host_runtime(real_plugins_dir: str, host_executor: RecordingExecutor, cni_cache_dir: Path) -> CNIRuntime:
    """A CNIRuntime running the real plugins inside ``host_ns`` with a private cache."""
    return CNIRuntime([real_plugins_dir], cache_dir=str(cni_cache_dir), executor=host_executor, timeout=60)
