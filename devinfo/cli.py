"""The ``devinfo`` command: show, validate, write, discover, schema.

Every failure -- a bad argument included -- prints ``devinfo: error: <one line>`` on stderr and
exits 1, never a traceback: the command is meant for node debugging and scripts, where a readable
reason matters more than a stack. ``validate`` alone may print several reasons, one per line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from devinfo import files, wire
from devinfo.errors import DeviceInfoNotFoundError, DevInfoError, InvalidDeviceInfoError
from devinfo.spec import SPEC_VERSION, SUBOBJECT_KEYS, DeviceType, WireDict


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit 1, like every other failure."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{message} (see '{self.prog} --help')")


def _print_wire(obj: WireDict) -> None:
    width = max(len(k) for k in (*obj, *(k for sub in SUBOBJECT_KEYS for k in obj.get(sub) or {}))) if obj else 0
    for key, value in obj.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for inner, text in value.items():
                print(f"  {inner:<{width}}  {text}")
        else:
            print(f"{key:<{width + 2}}  {value}")


def _read(path: str) -> wire.Decoded:
    """Decode a file as Go reads it; a missing file or bad JSON is a typed error naming the path."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise DeviceInfoNotFoundError(path) from None
    try:
        return wire.decode(data)
    except InvalidDeviceInfoError as exc:
        raise InvalidDeviceInfoError(exc.problems, path=path) from None


def _cmd_show(args: argparse.Namespace) -> int:
    decoded = _read(args.path)
    if args.json:
        print(json.dumps(decoded.wire, indent=2))
        return 0
    _print_wire(decoded.wire)
    if problems := decoded.strict_problems():
        print("\nnot valid to write (a strict reader refuses):")
        for problem in problems:
            print(f"  - {problem}")
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    try:
        decoded = _read(args.path)
    except InvalidDeviceInfoError as exc:
        problems = exc.problems
    else:
        problems = decoded.strict_problems() if args.strict else []
    if problems:
        print(f"{args.path}: invalid device-info:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    kind, version = decoded.wire.get("type", "?"), decoded.wire.get("version", "?")
    print(f"{args.path}: valid device-info ({'strict' if args.strict else 'as Go reads it'}; "
          f"type {kind}, version {version})")
    for warning in [] if args.strict else decoded.strict_problems():
        print(f"  warning: {warning}", file=sys.stderr)
    return 0


_WRITE_OPTIONS = {
    "pci": ("pci_address", "pf_pci_address", "rdma_device", "vhost_net", "representor_device"),
    "vdpa": ("parent_device", "driver", "dev_path", "pci_address", "pf_pci_address", "representor_device"),
    "vhost-user": ("mode", "socket_path"),
    "memif": ("role", "socket_path", "mode"),
}


def _build(args: argparse.Namespace) -> Any:
    from pydantic import ValidationError

    from devinfo.models import DeviceInfo

    every = {option for options in _WRITE_OPTIONS.values() for option in options}
    if stray := sorted(every - set(_WRITE_OPTIONS[args.type]) - {o for o in every if not getattr(args, o)}):
        flags = ", ".join("--" + option.replace("_", "-") for option in stray)
        raise _UsageError(f"{flags} {'does' if len(stray) == 1 else 'do'} not apply to --type {args.type}")
    try:
        if args.type == DeviceType.PCI:
            return DeviceInfo.for_pci(args.pci_address or "", pf_pci_address=args.pf_pci_address,
                                      rdma_device=args.rdma_device, vhost_net=args.vhost_net,
                                      representor_device=args.representor_device, version=args.version)
        if args.type == DeviceType.VDPA:
            return DeviceInfo.for_vdpa(args.parent_device, args.driver, args.dev_path, pci_address=args.pci_address,
                                       pf_pci_address=args.pf_pci_address,
                                       representor_device=args.representor_device, version=args.version)
        if args.type == DeviceType.VHOST_USER:
            return DeviceInfo.for_vhost_user(args.mode, args.socket_path, version=args.version)
        return DeviceInfo.for_memif(args.role, args.socket_path, args.mode, version=args.version)
    except ValidationError as exc:
        problems = [str(error["msg"]).removeprefix("Value error, ") for error in exc.errors()]
        raise InvalidDeviceInfoError(problems) from None


def _cmd_write(args: argparse.Namespace) -> int:
    info = _build(args)
    if args.dp:
        target = files.dp_path(args.dp[0], args.dp[1], base_dir=args.base_dir)
    elif args.cni:
        target = files.cni_path(args.cni, base_dir=args.base_dir)
    else:
        target = args.path
    print(files.save(target, info, overwrite=args.overwrite))
    return 0


def _cmd_discover(args: argparse.Namespace) -> int:
    from devinfo.sysfs import device_info_from_facts, discover

    facts = discover(args.pci_address, sysfs_root=args.sysfs_root, backend=args.backend)
    info = device_info_from_facts(facts)
    if args.json:
        print(json.dumps({**facts.to_dict(), "device-info": info}, indent=2))
        return 0
    data = facts.to_dict()
    data["vfs"] = ", ".join(f"{vf['index']}={vf['address']}" for vf in data["vfs"])
    for key in ("netdevs", "rdma_devices"):
        data[key] = ", ".join(data[key])
    data["vdpa"] = ", ".join(f"{k}={v}" for k, v in (data["vdpa"] or {}).items() if v)
    for key, value in data.items():
        print(f"{key:<15} {'-' if value in (None, '') else value}")
    print(f"{'device-info':<15} {wire.dumps(info)}")
    return 0


def _cmd_schema(args: argparse.Namespace) -> int:
    from devinfo.schema import schema

    print(json.dumps(schema(), indent=2))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation tools and tests)."""
    parser = _Parser(prog="devinfo", description="NPWG device-info files: inspect, check, write; sysfs discovery.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    show = commands.add_parser("show", help="print a device-info file readably")
    show.add_argument("path")
    show.add_argument("--json", action="store_true", help="print the object as indented JSON")
    show.set_defaults(func=_cmd_show)

    validate = commands.add_parser("validate", help="check a file; exit 1 with the reasons if invalid")
    validate.add_argument("path")
    validate.add_argument("--strict", action="store_true",
                          help="apply the spec's rules (required keys, values, no unknown keys), not only Go's")
    validate.set_defaults(func=_cmd_validate)

    write = commands.add_parser("write", help="write a device-info file (strictly valid, atomic, 0444)")
    write.add_argument("--type", required=True, choices=[t.value for t in DeviceType])
    write.add_argument("--version", default=SPEC_VERSION)
    for flag in ("--pci-address", "--pf-pci-address", "--rdma-device", "--vhost-net", "--representor-device",
                 "--parent-device", "--driver", "--dev-path", "--socket-path", "--mode", "--role"):
        write.add_argument(flag, default="")
    target = write.add_mutually_exclusive_group(required=True)
    target.add_argument("--dp", nargs=2, metavar=("RESOURCE", "DEVICE_ID"), help="the device plugin's file")
    target.add_argument("--cni", metavar="NAME", help="an attachment's CNI file")
    target.add_argument("--path", metavar="P", help="any path")
    write.add_argument("--base-dir", default=str(files.DEFAULT_BASE_DIR))
    write.add_argument("--overwrite", action="store_true", help="replace an existing file")
    write.set_defaults(func=_cmd_write)

    disc = commands.add_parser("discover", help="what sysfs says about a PCI device, and its device-info")
    disc.add_argument("pci_address", metavar="PCI_ADDRESS")
    disc.add_argument("--sysfs-root", default=None, help="the directory playing /sys (default /sys)")
    disc.add_argument("--backend", choices=("auto", "plain", "udev"), default="auto")
    disc.add_argument("--json", action="store_true")
    disc.set_defaults(func=_cmd_discover)

    commands.add_parser("schema", help="print the JSON Schema of device-info").set_defaults(func=_cmd_schema)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
        status: int = args.func(args)
        return status
    except (_UsageError, DevInfoError) as exc:
        message = str(exc)
    except BrokenPipeError:  # `devinfo ... | head`: the reader left; nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        message = f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the promise is one line, never a traceback
        message = f"unexpected {type(exc).__name__}: {exc}"
    print(f"devinfo: error: {' '.join(message.split())}", file=sys.stderr)
    return 1
