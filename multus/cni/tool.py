"""A cnitool-compatible command line over the runtime: ``python -m multus.cni add|check|del|gc|status``.

Usage, as cnitool::

    python -m multus.cni add|check|del <network-name> <netns-path>
    python -m multus.cni gc|status <network-name> [<netns-path>]

Environment, as cnitool: NETCONFPATH (config dir, default /etc/cni/net.d), CNI_PATH (plugin dirs,
':'-separated), CNI_IFNAME (default eth0), CNI_ARGS ("K=V;K=V"), CAP_ARGS (a JSON object of capability
arguments). Beyond cnitool: CNI_CONTAINERID overrides the container ID derived from the netns path, and
CNI_CACHE_DIR the result cache directory (default /var/lib/cni).

ADD prints the result JSON. Every failure prints a CNI error object on stdout and exits 1; no tracebacks.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from multus.cni.args import parse_cni_args
from multus.cni.cache import DEFAULT_CACHE_DIR
from multus.cni.errors import CniError, ErrorCode
from multus.cni.netconf import load_conflist
from multus.cni.runtime import CNIRuntime, RuntimeConf

DEFAULT_NETCONF_PATH = "/etc/cni/net.d"
DEFAULT_IFNAME = "eth0"
USAGE = ("usage: python -m multus.cni add|check|del <network-name> <netns-path>\n"
         "       python -m multus.cni gc|status <network-name> [<netns-path>]")
_NEEDS_NETNS = ("add", "check", "del")


def container_id_for(netns: str) -> str:
    """cnitool's container ID: a stable name derived from the namespace path."""
    return "cnitool-" + hashlib.sha512(netns.encode()).hexdigest()[:20]


def _capability_args(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise CniError("CAP_ARGS is not valid JSON", str(exc), ErrorCode.INVALID_ENVIRONMENT_VARIABLES) from exc
    if not isinstance(value, dict):
        raise CniError("CAP_ARGS must be a JSON object", code=ErrorCode.INVALID_ENVIRONMENT_VARIABLES)
    return value


def run(argv: Sequence[str], environ: Mapping[str, str], stdout: TextIO) -> int:
    if len(argv) < 2 or argv[0] not in (*_NEEDS_NETNS, "gc", "status") or \
            (argv[0] in _NEEDS_NETNS and len(argv) < 3):
        raise CniError("invalid arguments", USAGE, ErrorCode.INVALID_ENVIRONMENT_VARIABLES)
    command, network = argv[0], argv[1]
    netns = os.path.abspath(argv[2]) if len(argv) > 2 else ""
    runtime = CNIRuntime(
        plugin_dirs=[p for p in environ.get("CNI_PATH", "").split(os.pathsep) if p],
        cache_dir=environ.get("CNI_CACHE_DIR") or DEFAULT_CACHE_DIR,
    )
    net = load_conflist(environ.get("NETCONFPATH") or DEFAULT_NETCONF_PATH, network)
    if command == "gc":
        runtime.gc_network_list(net, [])
        return 0
    if command == "status":
        runtime.get_status_network_list(net)
        return 0
    rt = RuntimeConf(
        container_id=environ.get("CNI_CONTAINERID") or container_id_for(netns),
        netns=netns,
        if_name=environ.get("CNI_IFNAME") or DEFAULT_IFNAME,
        args=tuple(parse_cni_args(environ.get("CNI_ARGS", ""))),
        capability_args=_capability_args(environ.get("CAP_ARGS", "")),
    )
    if command == "add":
        result = runtime.add_network_list(net, rt)
        stdout.write(json.dumps(result.to_dict(), indent=4) + "\n")
    elif command == "check":
        runtime.check_network_list(net, rt)
    else:
        runtime.del_network_list(net, rt)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return run(sys.argv[1:] if argv is None else argv, os.environ, sys.stdout)
    except CniError as exc:
        sys.stdout.write(exc.to_json() + "\n")
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except Exception as exc:
        error = CniError(f"internal error: {exc}", type(exc).__name__, ErrorCode.INTERNAL)
        sys.stdout.write(error.to_json() + "\n")
        sys.stderr.write(f"error: {error}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
