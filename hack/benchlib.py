"""What the benchmarks in hack/ share, so that a fix to one of these pieces reaches every bench.

Three kinds of pieces:

* statistics: nearest-rank percentiles, medians, paired differences (the benches interleave their arms
  and compare them iteration by iteration, so drift of the machine cancels);
* plugin processes: the clean environment a container runtime gives a plugin, bytecode compiled first
  (this environment may set PYTHONDONTWRITEBYTECODE=1, production installs ship bytecode), bridge
  configs, one CNI call by exec;
* process structure: the parent creates network namespaces named ``<prefix>-<role>-<tag>``, re-runs the
  script inside one of them (``nsenter --net``) with ``--inner``, and always removes them; the inner
  run refuses to start anywhere but in a namespace the parent created, because it creates bridges, veths
  and iptables rules in the namespace it runs in and must never touch the machine's own.

The benches run as ``python hack/bench_x.py``, and re-run themselves as ``sys.executable <absolute path
of the script>``: either way (no ``-I``, ``-P`` or PYTHONSAFEPATH) the script's directory, ``hack/``, is
``sys.path[0]``, so ``import benchlib`` works without a path tweak.

Nothing here imports ``multus`` when the module is imported: bench_thick's span daemon must put another
tree first on sys.path before anything imports ``multus``, and the script imports this module before that.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn, TypeVar

T = TypeVar("T")

# ---- statistics -----------------------------------------------------------------------------------------

Pair = tuple[float, float]  # (ADD ms, DEL ms) of one iteration

# The parts of an ADD+DEL pair the reports show, by column name.
PARTS: dict[str, Callable[[Pair], float]] = {
    "ADD": lambda s: s[0], "DEL": lambda s: s[1], "ADD+DEL": lambda s: s[0] + s[1]}


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: a value that was actually measured, no interpolation."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n*q/100)
    return ordered[int(rank) - 1]


def med(values: Sequence[float]) -> float:
    """The median, or NaN for no values: a phase that measured nothing shows as nan instead of failing
    the whole report."""
    return statistics.median(values) if values else float("nan")


def paired_median(a: Sequence[float], b: Sequence[float]) -> float:
    """Median of the per-iteration differences a_i - b_i: the arms ran interleaved, so drift of the
    machine between iterations cancels, which it does not in the difference of the two medians."""
    return statistics.median(x - y for x, y in zip(a, b, strict=True))


def rotated(names: Sequence[T], iteration: int) -> list[T]:
    """The arms in their order for ``iteration``: each takes its turn first, so none always runs on a
    'warmer' machine than the others."""
    shift = iteration % len(names)
    return [*names[shift:], *names[:shift]]


# ---- plugin processes -------------------------------------------------------------------------------------

def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of every process a bench times (plugins, shims, a daemon): PATH and ``extra`` (the
    CNI variables), as a container runtime gives a plugin. No PYTHON* settings, so the processes use the
    bytecode ``compile_bytecode`` wrote (PYTHONDONTWRITEBYTECODE unset)."""
    env = {"PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
    env.update(extra or {})
    return env


def compile_bytecode(packages: Sequence[Path]) -> None:
    """Compile packages with PYTHONDONTWRITEBYTECODE unset, as an installed package has them: otherwise
    every plugin process would compile the package again and the bench would time that."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", *map(str, packages)], env=env, check=True,
                   stdout=subprocess.DEVNULL)


HOST_PYTHON = "/usr/bin/python3"  # what the thick DaemonSet's installer writes into the shim's #! line


def host_shim_python() -> str:
    """The interpreter the shim launcher should name: the host's /usr/bin/python3, as in production
    (deployments/multus-daemonset-thick.yml installs it with ``--python /usr/bin/python3``), when it runs
    the same bytecode as ours (else the launcher would compile its source at every call); else ours."""
    if not os.access(HOST_PYTHON, os.X_OK):
        return sys.executable
    probe = "import importlib.util, sys; sys.stdout.write(importlib.util.MAGIC_NUMBER.hex())"
    done = subprocess.run([HOST_PYTHON, "-IS", "-c", probe], capture_output=True, text=True, check=False)
    import importlib.util

    return HOST_PYTHON if done.stdout == importlib.util.MAGIC_NUMBER.hex() else sys.executable


def bridge_conf(name: str, bridge: str, subnet: str, ipam_dir: Path) -> dict[str, Any]:
    """A bridge network with host-local IPAM (leases in ``ipam_dir``, a tmp dir of the bench)."""
    return {"cniVersion": "1.0.0", "name": name, "type": "bridge", "bridge": bridge, "isGateway": True,
            "ipam": {"type": "host-local", "subnet": subnet, "dataDir": str(ipam_dir),
                     "routes": [{"dst": "0.0.0.0/0"}]}}


def bridge_conflist(name: str, bridge: str, subnet: str, ipam_dir: Path) -> dict[str, Any]:
    """``bridge_conf`` as a conflist of one plugin (the plugin without its own cniVersion and name)."""
    plugin = {k: v for k, v in bridge_conf(name, bridge, subnet, ipam_dir).items() if k not in ("cniVersion", "name")}
    return {"cniVersion": "1.0.0", "name": name, "plugins": [plugin]}


def k8s_cni_args(namespace: str, pod: str, container_id: str, uid: str) -> str:
    """CNI_ARGS as the kubelet's runtime sets them for a pod sandbox."""
    return (f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={pod};"
            f"K8S_POD_INFRA_CONTAINER_ID={container_id};K8S_POD_UID={uid}")


def exec_cni(argv: list[str], conf: dict[str, Any], verb: str, container_id: str, netns: str, cni_path: str,
             cni_args: str, who: str) -> bytes:
    """One CNI call as a container runtime makes it: a fresh process, the clean environment with the CNI
    variables, the config on stdin; its stdout. A failed call raises, naming ``who`` (an arm or a path),
    since a bench that went on would time error paths."""
    env = clean_env({"CNI_COMMAND": verb, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns, "CNI_IFNAME": "eth0",
                      "CNI_PATH": cni_path, "CNI_ARGS": cni_args})
    done = subprocess.run(argv, input=json.dumps(conf).encode(), env=env, capture_output=True, check=False,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"{who} {verb} {container_id} exited {done.returncode}: "
                           f"stdout={done.stdout[:2000]!r} stderr={done.stderr[-2000:]!r}")
    return done.stdout


def pod_links(netns: str) -> list[str]:
    """The links in a pod namespace but ``lo``: what a DEL should have left is nothing else.

    Read with ``ip``, not pyroute2: pyroute2 forks to enter a namespace, and a fork of a process whose
    other threads (an API double's) hold locks can hang the child."""
    listing = subprocess.run(["ip", "-o", "-n", os.path.basename(netns), "link", "show"],
                             capture_output=True, text=True, check=True).stdout
    return [name for name in (line.split(":")[1].strip().split("@")[0] for line in listing.splitlines())
            if name != "lo"]


def prepare_macvlan_node() -> None:
    """In the bench's own host/node namespace: loopback up (an API double listens on 127.0.0.1) and the
    veth whose end ``mvmaster`` is the master of the benches' macvlan NAD."""
    for argv in (["ip", "link", "set", "lo", "up"],
                 ["ip", "link", "add", "mvmaster", "type", "veth", "peer", "name", "mvpeer"],
                 ["ip", "link", "set", "mvmaster", "up"], ["ip", "link", "set", "mvpeer", "up"]):
        subprocess.run(argv, check=True)


# ---- namespaces: names and the inner run's guard ----------------------------------------------------------

@dataclass(frozen=True)
class BenchNetns:
    """How one bench names its namespaces, ``<prefix>-<role>-<tag>``, and the inner run's guard.

    ``inner_role`` is the namespace the inner run goes in ("host" or "node"); its option is
    ``--<inner_role>-netns``, the pods' ``--pod-netns``."""

    prefix: str
    inner_role: str

    @property
    def inner_option(self) -> str:
        return f"--{self.inner_role}-netns"

    def name(self, role: str, tag: str) -> str:
        return f"{self.prefix}-{role}-{tag}"

    def is_ours(self, path: str | None, role: str) -> bool:
        """Whether ``path`` is a namespace bound in the netns run dir under this bench's name for ``role``:
        one the parent created, never the machine's own."""
        from multus.netns import NETNS_RUN_DIR

        path = path or ""
        return (os.path.basename(path).startswith(f"{self.prefix}-{role}-")
                and os.path.dirname(os.path.realpath(path)) == os.path.realpath(NETNS_RUN_DIR)
                and os.path.exists(path))

    def runs_inside(self, path: str | None) -> bool:
        """Whether this process runs in ``path`` and ``path`` is the parent's namespace for the inner run."""
        if not self.is_ours(path, self.inner_role):
            return False
        ours, theirs = os.stat("/proc/self/ns/net"), os.stat(path or "")
        return (ours.st_dev, ours.st_ino) == (theirs.st_dev, theirs.st_ino)

    def inner_allowed(self, inner_path: str | None, pod_paths: Sequence[str | None]) -> bool:
        """Whether the inner run may start: it runs in its own namespace and each of ``pod_paths`` (the
        ones the bench checks) is one of its pod namespaces."""
        return self.runs_inside(inner_path) and all(self.is_ours(p, "pod") for p in pod_paths)

    def refuse(self) -> int:
        """Say why the inner run does not start; its exit code."""
        print(f"refusing to run outside the bench's own {self.inner_role} namespace (start the script "
              "without --inner)", file=sys.stderr)
        return 2


# ---- process structure: parent (namespaces) and inner (measurements) -------------------------------------------

def require_root(complaint: str) -> bool:
    """Whether this process is root (namespaces need it); says ``complaint`` if not."""
    if os.geteuid() != 0:
        print(complaint, file=sys.stderr)
        return False
    return True


def raise_interrupt(signum: int, frame: object) -> NoReturn:
    """A SIGTERM handler: unwind like Ctrl-C, through every ``finally`` that removes namespaces and files."""
    raise KeyboardInterrupt(f"signal {signum}")


def ignore_interrupts() -> None:
    """From here on, neither a second Ctrl-C nor a SIGTERM may cut a clean-up short and leave namespaces,
    processes or files behind."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def run_interruptible(main: Callable[[], int]) -> int:
    """Run ``main`` with SIGINT and SIGTERM unwinding it through its ``finally`` blocks; 130 if they did.

    SIGINT is set explicitly because a process started in the background by a non-interactive shell
    inherits it ignored."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, raise_interrupt)
    try:
        return main()
    except KeyboardInterrupt:
        return 130


def stop_child(child: subprocess.Popen[bytes], waits: tuple[float, float, float] = (5.0, 5.0, 5.0)) -> None:
    """Let the inner run unwind: a terminal's Ctrl-C already reached it, a SIGTERM to us did not. Waits
    ``waits[0]`` s for that, then SIGTERMs it and waits ``waits[1]`` s (its clean-up ignores further
    signals, so this is safe), then SIGKILLs it and waits ``waits[2]`` s."""
    steps: tuple[Callable[[], object], ...] = (lambda: None, child.terminate, child.kill)
    for step, timeout in zip(steps, waits, strict=True):
        step()
        try:
            child.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def run_inner(script: str, netns: BenchNetns, names: Sequence[str], options: Sequence[str],
              stop_waits: tuple[float, float, float] = (5.0, 5.0, 5.0)) -> int:
    """The parent: create the namespaces ``names`` (the inner run's first, then the pods'), run ``script``
    with ``--inner`` inside the first (``nsenter --net``), and always remove them; the inner run's exit
    code, or 130 when interrupted."""
    from multus import netns as nsmod

    created: list[str] = []
    child: subprocess.Popen[bytes] | None = None
    try:
        for name in names:
            created.append(nsmod.create_netns(name))
        own, pods = created[0], created[1:]
        pod_options = [option for pod in pods for option in ("--pod-netns", pod)]
        child = subprocess.Popen(["nsenter", f"--net={own}", "--", sys.executable, os.path.abspath(script),
                                  "--inner", netns.inner_option, own, *pod_options, *options])
        return child.wait()
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
        if child is not None:
            stop_child(child, stop_waits)
        return 130
    finally:
        ignore_interrupts()
        for path in created:
            nsmod.remove_netns(path)


def forwarded_options(args: argparse.Namespace, always: Sequence[str] = (), if_set: Sequence[str] = (),
                      flags: Sequence[str] = ()) -> list[str]:
    """The user's options, passed on to the inner run: ``always`` with their value, ``if_set`` only when
    given a non-empty value (otherwise the inner run takes the same default), ``flags`` when true. Names
    are argparse's ``dest``s (``tmp_base`` for ``--tmp-base``)."""
    def option(dest: str) -> str:
        return "--" + dest.replace("_", "-")

    options: list[str] = []
    for dest in always:
        options += [option(dest), str(getattr(args, dest))]
    for dest in if_set:
        value = getattr(args, dest)
        options += [option(dest), str(value)] if value else []
    for dest in flags:
        options += [option(dest)] if getattr(args, dest) else []
    return options
