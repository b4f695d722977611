"""``podresources``: ask the node's kubelet which devices, CPUs and memory its pods hold.

Why a command: when a pod's SR-IOV network fails to attach, the first question is "what did the kubelet
give this pod?", and on a node there is usually no grpc tooling to ask. Usage::

    podresources list                      every pod on the node
    podresources get NAMESPACE/POD         one pod (Get, else List filtered)
    podresources allocatable               the node's capacity
    options: --socket PATH | --kubelet-root-dir DIR, --timeout SECONDS, --json

The table has one row per container and resource (device-plugin resources, ``cpu``, memory types, and
``claim:<ns>/<name>`` for DRA claims). Failures print one line on stderr and exit 1, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from podresources.client import DEFAULT_KUBELET_ROOT_DIR, PodResourcesClient
from podresources.errors import PodResourcesError
from podresources.models import Allocatable, ContainerResources, PodResources

Row = tuple[str, ...]


def _container_rows(container: ContainerResources) -> list[tuple[str, str]]:
    """(resource, ids) pairs of one container, in a stable order."""
    rows = [(dev.resource_name, ",".join(sorted(dev.device_ids))) for dev in container.devices]
    if container.cpu_ids:
        rows.append(("cpu", ",".join(str(c) for c in sorted(container.cpu_ids))))
    rows += [(mem.memory_type, str(mem.size)) for mem in container.memory]
    for claim in container.dynamic_resources:
        ids = [f"{r.driver_name}/{r.pool_name}/{r.device_name}" if r.driver_name else ",".join(r.cdi_devices)
               for r in claim.claim_resources]
        rows.append((f"claim:{claim.claim_namespace}/{claim.claim_name}", ",".join(ids)))
    return rows


def pod_rows(pods: Sequence[PodResources]) -> list[Row]:
    """Table rows NAMESPACE, POD, CONTAINER, RESOURCE, IDS; a pod without resources still gets a row."""
    rows: list[Row] = []
    for pod in pods:
        before = len(rows)
        for container in pod.containers:
            pairs = _container_rows(container) or [("-", "-")]
            rows += [(pod.namespace, pod.name, container.name, res, ids) for res, ids in pairs]
        if len(rows) == before:
            rows.append((pod.namespace, pod.name, "-", "-", "-"))
    return rows


def allocatable_rows(alloc: Allocatable) -> list[Row]:
    """Table rows RESOURCE, IDS for the node's capacity."""
    rows: list[Row] = [(name, ",".join(ids)) for name, ids in alloc.device_ids().items()]
    if alloc.cpu_ids:
        rows.append(("cpu", ",".join(str(c) for c in sorted(alloc.cpu_ids))))
    rows += [(mem.memory_type, str(mem.size)) for mem in alloc.memory]
    return rows


def format_table(header: Row, rows: Sequence[Row]) -> str:
    """Left-aligned columns separated by two spaces, like kubectl."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *rows])


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--socket", default=argparse.SUPPRESS, metavar="PATH",
                        help="PodResources socket (default: <kubelet-root-dir>/pod-resources/kubelet.sock)")
    common.add_argument("--kubelet-root-dir", default=argparse.SUPPRESS, metavar="DIR",
                        help=f"the kubelet's --root-dir (default: {DEFAULT_KUBELET_ROOT_DIR})")
    common.add_argument("--timeout", type=float, default=argparse.SUPPRESS, metavar="SECONDS",
                        help="per-call timeout (default: 10)")
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print JSON")
    parser = argparse.ArgumentParser(prog="podresources", parents=[common],
                                     description="Query the kubelet PodResources API on this node.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", parents=[common], help="every pod on the node and its resources")
    get = sub.add_parser("get", parents=[common], help="one pod's resources")
    get.add_argument("pod", metavar="NAMESPACE/POD")
    sub.add_parser("allocatable", parents=[common], help="the node's allocatable devices, CPUs and memory")
    return parser


def _run(args: argparse.Namespace) -> str:
    as_json = getattr(args, "json", False)
    client = PodResourcesClient(getattr(args, "socket", None),
                                kubelet_root_dir=getattr(args, "kubelet_root_dir", DEFAULT_KUBELET_ROOT_DIR),
                                timeout=getattr(args, "timeout", 10.0))
    with client:
        if args.command == "allocatable":
            alloc = client.allocatable()
            if as_json:
                return json.dumps(dataclasses.asdict(alloc), indent=2)
            return format_table(("RESOURCE", "IDS"), allocatable_rows(alloc))
        if args.command == "get":
            namespace, slash, name = args.pod.partition("/")
            if not slash or not namespace or not name or "/" in name:
                raise PodResourcesError(f"expected NAMESPACE/POD, got {args.pod!r}")
            pod = client.get(namespace, name)
            if pod is None:
                raise PodResourcesError(f"pod {namespace}/{name} is not known to the kubelet at {client.socket}")
            pods = [pod]
        else:
            pods = client.list()
    if as_json:
        body = [dataclasses.asdict(p) for p in pods]
        return json.dumps(body[0] if args.command == "get" else body, indent=2)
    return format_table(("NAMESPACE", "POD", "CONTAINER", "RESOURCE", "IDS"), pod_rows(pods))


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``podresources`` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        output = _run(args)
    except PodResourcesError as exc:
        print(f"podresources: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the promise is one line, never a traceback
        print(f"podresources: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
