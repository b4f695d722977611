"""The DaemonSets: what the thick daemon's config points to is mounted, and both run where and how they must.

Checked here, thick (``multus-daemonset-thick.yml``):
- daemon-config.json parses, uses only Go Multus's key names (exact spelling), has the chosen values, and
  is accepted by the project's loader (``multus.daemon.config``); the ``--config`` path is the ConfigMap
  key as mounted;
- every path the config and the daemon's defaults point to is mounted from the right host path:
  socketDir (as a plain directory inside a mount, since the daemon removes and recreates it, and at the
  host path the shim dials), cniConfigDir/multusAutoconfigDir (writable), the CNI bin dir the installer
  writes to (same host dir, at the host's path in the daemon), cniDir, confDir, /var/run/netns with
  HostToContainer propagation, the device-info dir, the kubelet's PodResources socket and checkpoint;
- the init container installs the thick shim; MULTUS_NODE_NAME comes from spec.nodeName; hostNetwork,
  privileged daemon, tolerate every taint, RollingUpdate, system-node-critical;
- sizing: requests set, no CPU limit, no memory limit or one above the connectionLimit burst bound, the
  choice explained in comments, and every number quoted next to connectionLimit is the configured one;
- probes: exec on the daemon's socket (path derived from socketDir), liveness on /healthz (still 200
  while draining), readiness on /readyz, liveness tolerant of a busy minute; run for real against a
  daemon: they pass while it serves, readiness fails while it drains, all fail once it is gone;
- the grace period outlasts the daemon's drain; the metrics port is declared as in the config.
Thin (``multus-daemonset-thin.yml``): flags are Go thin_entrypoint flags, config is cleaned up on exit,
the dirs the flags name and the host kubeconfig path are mounted consistently, no privileges; the
installed bundle's #! line names the host's interpreter (``--host-python``), not the image's.
Both: every command run is a console script of the package (checked against pyproject.toml).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from deployments_support import (
    CONFIG_KEY,
    DAEMON_CONTAINER,
    DAEMONSET,
    THICK,
    THIN,
    Obj,
    container,
    covering_mount,
    daemon_config_text,
    find,
    flag_value,
    host_path_of,
    mebibytes,
    normalise,
    only_init_container,
    pod_spec,
    pyproject,
)

# Go Multus's daemon-config.json keys (multus-features.md §9.1): the daemon's own, then the ones copied
# into the generated shim config or applied to every request.
GO_DAEMON_KEYS = {
    "chrootDir", "socketDir", "logFile", "logLevel", "logToStderr", "perNodeCertificate", "connectionLimit",
    "metricsPort", "enablePprof", "cniVersion", "multusConfigFile", "cniConfigDir", "multusAutoconfigDir",
    "multusMasterCNI", "forceCNIVersion", "overrideNetworkName", "readinessindicatorfile",
    "binDir", "capabilities", "logOptions", "clusterNetwork", "namespaceIsolation", "globalNamespaces",
    "cniDir", "auxiliaryCNIChainName", "daemonSocketDir", "kubeconfig", "confDir", "systemNamespaces",
    "multusNamespace", "defaultNetworks", "retryDeleteOnError",
}
# Go's thin_entrypoint flags (§9.7).
GO_THIN_FLAGS = {
    "--cni-bin-dir", "--cni-conf-dir", "--cni-version", "--multus-conf-file", "--multus-bin-file",
    "--multus-cni-conf-dir", "--skip-multus-binary-copy", "--multus-kubeconfig-file-host",
    "--multus-master-cni-file-name", "--namespace-isolation", "--global-namespaces", "--multus-autoconfig-dir",
    "--multus-log-to-stderr", "--multus-log-level", "--multus-log-file", "--override-network-name",
    "--cleanup-config-on-exit", "--skip-config-watch", "--rename-conf-file", "--readiness-indicator-file",
    "--additional-bin-dir", "--force-cni-version", "--skip-tls-verify",
}
HOST_CNI_CONF, HOST_CNI_BIN = "/etc/cni/net.d", "/opt/cni/bin"
THIN_MULTUS_CNI_CONF_DIR_DEFAULT = "/host/etc/cni/multus/net.d"


def thick_spec() -> Obj:
    return pod_spec(find(THICK, "DaemonSet", DAEMONSET))


def daemon() -> Obj:
    return container(thick_spec(), DAEMON_CONTAINER)


def config() -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(daemon_config_text())
    return parsed


def thin_spec() -> Obj:
    return pod_spec(find(THIN, "DaemonSet", DAEMONSET))


def thin_args() -> list[str]:
    args: list[str] = container(thin_spec(), DAEMON_CONTAINER)["args"]
    return args


def mount_at(ctr: Obj, path: str) -> Obj:
    mounts: list[Obj] = [m for m in ctr["volumeMounts"] if normalise(m["mountPath"]) == normalise(path)]
    assert len(mounts) == 1, f"one mount at {path} expected"
    return mounts[0]


def assert_host_path(spec: Obj, ctr: Obj, path: str, host: str, *, writable: bool = False) -> None:
    assert host_path_of(spec, ctr, path) == normalise(host), f"{path} should be the host's {host}"
    if writable:
        mount, _ = covering_mount(spec, ctr, path)  # type: ignore[misc]
        assert not mount.get("readOnly", False), f"{path} must be writable"


# ---- thick: the daemon's config ----------------------------------------------------------------------

def test_daemon_config_uses_go_multus_key_names_only() -> None:
    keys = set(config())
    assert keys <= GO_DAEMON_KEYS, f"not Go's key names: {sorted(keys - GO_DAEMON_KEYS)}"
    assert config()["chrootDir"] == "/hostroot", "delegates run in the host's filesystem, as Go's daemon runs them"


def test_daemon_config_has_the_chosen_values() -> None:
    assert config() == {
        "cniVersion": "1.0.0", "logToStderr": True, "logLevel": "verbose", "multusConfigFile": "auto",
        "multusAutoconfigDir": "/host/etc/cni/net.d", "cniConfigDir": "/host/etc/cni/net.d",
        "socketDir": "/host/run/multus/", "connectionLimit": 16, "metricsPort": 9091,
        "readinessindicatorfile": "", "chrootDir": "/hostroot",
    }


def test_daemon_config_is_accepted_by_the_projects_loader() -> None:
    loader = pytest.importorskip("multus.daemon.config", reason="multus.daemon.config is not in the tree")
    parsed = loader.parse_daemon_config(daemon_config_text().encode(), "daemon-config.json")
    cfg = config()
    assert parsed.socket_path == cfg["socketDir"].rstrip("/") + "/multus.sock"
    assert parsed.cni_config_dir == cfg["cniConfigDir"]
    assert parsed.multus_autoconfig_dir == cfg["multusAutoconfigDir"]
    assert parsed.connection_limit == cfg["connectionLimit"] and parsed.metrics_port == cfg["metricsPort"]
    assert parsed.auto_mode and parsed.log_to_stderr and parsed.chroot_dir == "/hostroot"


def test_the_host_root_is_mounted_where_chroot_dir_points() -> None:
    spec, ctr = thick_spec(), daemon()
    mount, volume = covering_mount(spec, ctr, config()["chrootDir"])  # type: ignore[misc]
    assert volume["hostPath"]["path"] == "/" and mount.get("mountPropagation") == "HostToContainer"


def test_the_daemon_reads_its_config_where_the_configmap_is_mounted() -> None:
    spec, ctr = thick_spec(), daemon()
    config_path = flag_value(ctr["command"], "--config")
    assert config_path is not None
    mount, volume = covering_mount(spec, ctr, config_path)  # type: ignore[misc]
    assert volume["configMap"]["name"] == "multus-daemon-config"
    items = {i["path"]: i["key"] for i in volume["configMap"].get("items", [])}
    relative = config_path[len(mount["mountPath"].rstrip("/")) + 1:]
    assert items.get(relative, relative) == CONFIG_KEY
    main = pytest.importorskip("multus.daemon.main", reason="multus.daemon.main is not in the tree")
    assert main.parse_args(ctr["command"][1:]).config == config_path
    assert config_path == main.DEFAULT_CONFIG_PATH


# ---- thick: mounts -----------------------------------------------------------------------------------

def test_socket_dir_is_a_plain_directory_inside_a_host_mount() -> None:
    # The daemon removes and recreates socketDir at start; a mount point cannot be removed.
    spec, ctr = thick_spec(), daemon()
    socket_dir = config()["socketDir"]
    mount, _ = covering_mount(spec, ctr, socket_dir)  # type: ignore[misc]
    assert normalise(mount["mountPath"]) != normalise(socket_dir)
    assert not mount.get("readOnly", False)


def test_the_socket_is_where_the_shim_on_the_host_dials() -> None:
    shim = pytest.importorskip("multus.shim.shim", reason="multus.shim is not in the tree")
    assert_host_path(thick_spec(), daemon(), config()["socketDir"], shim.DEFAULT_SOCKET_DIR, writable=True)


def test_cni_config_dirs_are_the_hosts_and_writable() -> None:
    for key in ("cniConfigDir", "multusAutoconfigDir"):
        assert_host_path(thick_spec(), daemon(), config()[key], HOST_CNI_CONF, writable=True)


def test_delegates_see_host_files_at_host_paths() -> None:
    # Delegates run chrooted into the host's root, but are found by the daemon in its own filesystem, and
    # the daemon itself reads configs and writes caches: those paths must be where they are on the host.
    from multus.plugin.config import DEFAULT_BIN_DIR, DEFAULT_CNI_DIR, DEFAULT_CONF_DIR

    spec, ctr = thick_spec(), daemon()
    for path in (DEFAULT_BIN_DIR, HOST_CNI_CONF, DEFAULT_CONF_DIR):
        assert_host_path(spec, ctr, path, path)
    assert_host_path(spec, ctr, DEFAULT_CNI_DIR, DEFAULT_CNI_DIR, writable=True)  # scratch and result caches
    assert_host_path(spec, ctr, "/var/lib/cni/networks", "/var/lib/cni/networks", writable=True)  # IPAM


def test_the_installer_writes_into_the_bin_dir_the_daemon_runs_delegates_from() -> None:
    spec = thick_spec()
    init = only_init_container(spec)
    assert init["command"][0] == "multus-install"
    assert flag_value(init["command"], "--type") == "thick"
    dest = flag_value(init["command"], "--dest-dir")
    assert dest is not None
    assert host_path_of(spec, init, dest) == HOST_CNI_BIN
    assert not covering_mount(spec, init, dest)[0].get("readOnly", False)  # type: ignore[index]
    assert host_path_of(spec, daemon(), HOST_CNI_BIN) == HOST_CNI_BIN


def test_network_namespaces_are_mounted_with_host_to_container_propagation() -> None:
    spec, ctr = thick_spec(), daemon()
    assert_host_path(spec, ctr, "/var/run/netns", "/var/run/netns")
    assert mount_at(ctr, "/var/run/netns").get("mountPropagation") == "HostToContainer"


def test_device_info_and_kubelet_dirs_are_mounted_at_their_host_paths() -> None:
    devinfo = pytest.importorskip("devinfo.files", reason="devinfo is not in the tree")
    podresources = pytest.importorskip("podresources.client", reason="podresources is not in the tree")
    spec, ctr = thick_spec(), daemon()
    base = str(devinfo.DEFAULT_BASE_DIR)
    assert_host_path(spec, ctr, base, base, writable=True)
    for path in (podresources.default_socket_path(), podresources.default_checkpoint_path()):
        assert_host_path(spec, ctr, path, path)


def test_every_volume_is_mounted_and_every_host_path_is_absolute() -> None:
    spec = thick_spec()
    mounted = {m["name"] for c in spec["containers"] + spec["initContainers"] for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert set(volumes) == mounted
    for volume in volumes.values():
        if "hostPath" in volume:
            assert volume["hostPath"]["path"].startswith("/")


# ---- thick: the pod ----------------------------------------------------------------------------------

def test_the_daemon_pod_runs_on_every_node_on_the_host_network() -> None:
    ds, spec = find(THICK, "DaemonSet", DAEMONSET), thick_spec()
    assert spec["hostNetwork"] is True
    assert {"operator": "Exists"} in spec["tolerations"]
    assert spec["priorityClassName"] == "system-node-critical"
    assert ds["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    assert "hostPID" not in spec or spec["hostPID"] is False, "explain why before adding hostPID"


def test_the_daemon_is_privileged_and_knows_its_node() -> None:
    ctr = daemon()
    assert ctr["command"][0] == "multus-daemon"
    assert ctr["securityContext"]["privileged"] is True
    env = {e["name"]: e for e in ctr["env"]}
    assert env["MULTUS_NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}


def test_the_grace_period_outlasts_the_daemons_drain() -> None:
    service = pytest.importorskip("multus.daemon.service", reason="multus.daemon is not in the tree")
    grace = thick_spec()["terminationGracePeriodSeconds"]
    assert grace >= 10 and grace > service.DRAIN_TIMEOUT + 5


def test_the_metrics_port_is_declared_as_configured() -> None:
    ports = {p["name"]: p for p in daemon()["ports"]}
    assert ports["metrics"]["containerPort"] == config()["metricsPort"]


def test_daemon_resources_leave_room_for_delegate_bursts() -> None:
    resources = daemon()["resources"]
    assert mebibytes(resources["requests"]["memory"]) >= 64 and resources["requests"]["cpu"]
    limits = resources.get("limits", {})
    assert "cpu" not in limits, "a CPU limit throttles exactly when pods start"
    if "memory" in limits:
        bound = 256 + config()["connectionLimit"] * 80
        assert mebibytes(limits["memory"]) >= bound, f"a memory limit below {bound}Mi OOM-kills bursts"


def test_resource_choices_are_explained_next_to_them() -> None:
    text = THICK.read_text()
    block = text[text.index("          resources:\n            # Requests"):text.index("          ports:")]
    comments = [line for line in block.splitlines() if line.strip().startswith("#")]
    assert len(comments) >= 5 and any("connectionLimit" in c for c in comments)
    assert any("OOM" in c for c in comments)


def test_every_connection_limit_quoted_in_the_thick_manifest_is_the_configured_one() -> None:
    quoted = {int(n) for n in re.findall(r'connectionLimit"?:? (\d+)', THICK.read_text())}
    assert quoted == {config()["connectionLimit"]}


# ---- thick: probes -----------------------------------------------------------------------------------

def probe_command(name: str) -> list[str]:
    command: list[str] = daemon()[name]["exec"]["command"]
    return command


def test_probes_ask_the_daemon_on_its_socket() -> None:
    socket_path = config()["socketDir"].rstrip("/") + "/multus.sock"
    paths = {name: probe_command(name)[-1] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert paths == {"startupProbe": "/healthz", "livenessProbe": "/healthz", "readinessProbe": "/readyz"}
    for name in paths:
        assert probe_command(name)[-2] == socket_path
        assert probe_command(name)[:3] == ["python3", "-I", "-c"]


def test_liveness_tolerates_a_minute_of_busy_connection_slots() -> None:
    probe = daemon()["livenessProbe"]
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 60
    assert probe["timeoutSeconds"] >= 5
    startup = daemon()["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


def _run_probe(name: str, socket_path: str) -> int:
    command = probe_command(name)
    command = [sys.executable, *command[1:-2], socket_path, command[-1]]
    return subprocess.run(command, check=False, capture_output=True, timeout=15).returncode


def test_probe_commands_work_against_a_real_daemon(tmp_path: Path) -> None:
    service = pytest.importorskip("multus.daemon.service", reason="multus.daemon is not in the tree")
    from prometheus_client import CollectorRegistry

    from multus.daemon.clients import SharedKube
    from multus.daemon.config import parse_daemon_config

    cfg = parse_daemon_config(json.dumps({"socketDir": str(tmp_path / "multus") + "/"}).encode())
    server = service.Daemon(cfg, registry=CollectorRegistry(), kube_factory=SharedKube(environ={}),
                            drain_timeout=0.5)
    server.start()
    try:
        assert [_run_probe(n, cfg.socket_path) for n in ("startupProbe", "livenessProbe", "readinessProbe")] \
            == [0, 0, 0]
        server.request_shutdown()  # draining: not ready, but alive, so the kubelet does not kill it
        assert (_run_probe("livenessProbe", cfg.socket_path), _run_probe("readinessProbe", cfg.socket_path)) \
            == (0, 1)
    finally:
        server.stop()
    assert _run_probe("livenessProbe", cfg.socket_path) == 1


# ---- thin ---------------------------------------------------------------------------------------------

def test_thin_entrypoint_flags_are_go_thin_entrypoint_flags() -> None:
    ctr = container(thin_spec(), DAEMON_CONTAINER)
    assert ctr["command"] == ["multus-thin-entrypoint"]
    names = {arg.split("=", 1)[0] for arg in thin_args() if arg.startswith("-")}
    assert names <= GO_THIN_FLAGS, f"unknown flags: {sorted(names - GO_THIN_FLAGS)}"
    assert all(arg.startswith("--") for arg in thin_args()), "one --flag[=value] per item"


def test_thin_config_is_generated_watched_and_cleaned_up_on_exit() -> None:
    args = thin_args()
    assert "--cleanup-config-on-exit" in args
    assert flag_value(args, "--multus-conf-file") == "auto"
    assert "--skip-config-watch" not in args, "the watch rewrites the kubeconfig when the token rotates"


def test_thin_dirs_named_by_flags_are_the_hosts() -> None:
    spec, ctr, args = thin_spec(), container(thin_spec(), DAEMON_CONTAINER), thin_args()
    for flag, host in (("--cni-conf-dir", HOST_CNI_CONF), ("--multus-autoconfig-dir", HOST_CNI_CONF),
                       ("--cni-bin-dir", HOST_CNI_BIN)):
        value = flag_value(args, flag)
        assert value is not None, flag
        assert_host_path(spec, ctr, value, host, writable=True)
    entrypoint = pytest.importorskip("multus.install.entrypoint", reason="multus.install is not in the tree")
    assert entrypoint.DEFAULT_MULTUS_CNI_CONF_DIR == THIN_MULTUS_CNI_CONF_DIR_DEFAULT
    multus_conf_dir = flag_value(args, "--multus-cni-conf-dir") or THIN_MULTUS_CNI_CONF_DIR_DEFAULT
    assert_host_path(spec, ctr, multus_conf_dir, "/etc/cni/multus/net.d")


def test_thin_kubeconfig_host_path_is_the_file_written_into_the_conf_dir() -> None:
    # thin_entrypoint writes <cni-conf-dir>/multus.d/multus.kubeconfig; the plugin on the host reads it
    # at --multus-kubeconfig-file-host, so both must be the same host file.
    spec, ctr, args = thin_spec(), container(thin_spec(), DAEMON_CONTAINER), thin_args()
    written = f"{flag_value(args, '--cni-conf-dir')}/multus.d/multus.kubeconfig"
    assert host_path_of(spec, ctr, written) == flag_value(args, "--multus-kubeconfig-file-host")


def test_thin_installs_the_plugin_atomically_in_an_init_container() -> None:
    spec, args = thin_spec(), thin_args()
    init = only_init_container(spec)
    assert init["command"][0] == "multus-install" and flag_value(init["command"], "--type") == "thin"
    dest = flag_value(init["command"], "--dest-dir")
    assert dest is not None and host_path_of(spec, init, dest) == HOST_CNI_BIN
    assert "--skip-multus-binary-copy" in args


def test_thin_pod_runs_everywhere_without_privileges() -> None:
    ds, spec = find(THIN, "DaemonSet", DAEMONSET), thin_spec()
    assert spec["hostNetwork"] is True and {"operator": "Exists"} in spec["tolerations"]
    assert ds["spec"]["updateStrategy"]["type"] == "RollingUpdate"
    for ctr in spec["containers"] + spec["initContainers"]:
        context = ctr["securityContext"]
        assert not context.get("privileged", False)
        assert context["allowPrivilegeEscalation"] is False and context["capabilities"]["drop"] == ["ALL"]
    resources = container(spec, DAEMON_CONTAINER)["resources"]
    assert mebibytes(resources["limits"]["memory"]) >= 3 * mebibytes(resources["requests"]["memory"])


# ---- both ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", [THICK, THIN], ids=lambda p: p.name)
def test_all_containers_run_one_image_tagged_with_the_package_version(path: Path) -> None:
    spec = pod_spec(find(path, "DaemonSet", DAEMONSET))
    images = {c["image"] for c in spec["containers"] + spec.get("initContainers", [])}
    assert images == {f"localhost/multus-py:{pyproject()['project']['version']}"}


def test_every_command_the_daemonsets_run_is_a_console_script_of_the_package() -> None:
    scripts = set(pyproject()["project"]["scripts"])
    commands = {c["command"][0] for path in (THICK, THIN)
                for c in pod_spec(find(path, "DaemonSet", DAEMONSET))["containers"]
                + pod_spec(find(path, "DaemonSet", DAEMONSET)).get("initContainers", [])}
    assert commands == {"multus-daemon", "multus-install", "multus-thin-entrypoint"}
    assert commands <= scripts, f"not in [project.scripts]: {sorted(commands - scripts)}"


@pytest.mark.parametrize("path,installed", [(THICK, {"multus-shim", "passthru"}), (THIN, {"multus", "passthru"})],
                         ids=["thick", "thin"])
def test_the_init_containers_command_installs_the_modes_binaries(
        path: Path, installed: set[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binaries = pytest.importorskip("multus.install.binaries", reason="multus.install is not in the tree")
    command = list(only_init_container(pod_spec(find(path, "DaemonSet", DAEMONSET)))["command"])
    dest = command.index("--dest-dir") + 1
    command[dest] = str(tmp_path)  # the host's bin dir, here
    assert binaries.main(command[1:]) == 0, capsys.readouterr().err
    assert {p.name for p in tmp_path.iterdir()} == installed
    python = flag_value(command, "--python")
    if "multus-shim" in installed:
        # The shim runs on the host: its #! line must name the host's interpreter, not the image's.
        assert python is not None and not python.startswith("/usr/local/")
        assert (tmp_path / "multus-shim").read_text().splitlines()[0] == f"#!{python} -IS"
    host_python = flag_value(command, "--host-python")
    if path == THIN:
        # Thin's plugin runs on the host too: the bundle's #! line names the host's interpreter.
        assert host_python is not None and not host_python.startswith("/usr/local/")
        for name in installed:
            assert (tmp_path / name).read_bytes().split(b"\n", 1)[0] == f"#!{host_python} -IS".encode()


def test_the_thin_entrypoint_accepts_the_manifests_arguments() -> None:
    cli = pytest.importorskip("multus.install.cli", reason="multus.install is not in the tree")
    options = cli.parse_options(thin_args())
    assert options.cleanup_config_on_exit and options.skip_multus_binary_copy and options.auto
    assert (options.cni_conf_dir, options.cni_bin_dir) == ("/host/etc/cni/net.d", "/host/opt/cni/bin")
