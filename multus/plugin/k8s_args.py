"""The pod identity kubelet's runtime passes in ``CNI_ARGS`` (``K8S_POD_NAME=..;K8S_POD_NAMESPACE=..``).

Two readers, as in Go Multus:

* :func:`parse_k8s_args` is the thin plugin's (libcni ``LoadArgs``): ``;``-separated ``key=value``
  pairs, a pair needs exactly one ``=``, and keys Multus does not know are an error unless
  ``IgnoreUnknown`` is ``1``/``true`` (anywhere in the list). ``IP`` must be an address.
* :func:`parse_daemon_k8s_args` is the thick daemon's, stricter: every item needs exactly one ``=``
  (so an empty string fails), keys and values are trimmed, and the pod namespace and name must be
  present. A missing UID stays empty for the caller to recover from the API.

Malformed arguments raise :class:`K8sArgsError` (code 4, invalid environment variables).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, NewType

from multus.cni.errors import CniError, ErrorCode
from multus.plugin.config import go_quote

if TYPE_CHECKING:
    from ipaddress import IPv4Address, IPv6Address

PodName = NewType("PodName", str)
Namespace = NewType("Namespace", str)
PodUID = NewType("PodUID", str)
ContainerID = NewType("ContainerID", str)


class K8sArgsError(CniError):
    """CNI_ARGS that cannot be read: the runtime's environment is wrong, not the config."""

    default_code = ErrorCode.INVALID_ENVIRONMENT_VARIABLES


class K8sArgs(NamedTuple):
    """Who the CNI call is for. Empty strings mean "not given", as in Go.

    A NamedTuple (immutable, compared by value) rather than a frozen dataclass: it is built in every
    plugin process, and a dataclass costs ~0.5 ms to create at import, a NamedTuple a tenth of that.
    """

    pod_name: PodName = PodName("")
    pod_namespace: Namespace = Namespace("")
    pod_uid: PodUID = PodUID("")
    pod_infra_container_id: ContainerID = ContainerID("")
    ip: IPv4Address | IPv6Address | None = None
    ignore_unknown: bool = False

    @property
    def has_pod(self) -> bool:
        """Both name and namespace are known, so the pod can be looked up."""
        return bool(self.pod_name and self.pod_namespace)

    def require_pod_identity(self) -> None:
        """The daemon's ADD/DEL/CHECK precondition: a pod name and namespace, non-empty."""
        if not self.has_pod:
            raise K8sArgsError(
                "required CNI variable missing. "
                f"pod name: {self.pod_name}; pod namespace: {self.pod_namespace}"
            )

    def to_cni_args(self) -> str:
        """The CNI_ARGS every delegate starts from; empty values are kept, as Go sends them."""
        return (
            f"IgnoreUnknown=true;K8S_POD_NAMESPACE={self.pod_namespace};K8S_POD_NAME={self.pod_name};"
            f"K8S_POD_INFRA_CONTAINER_ID={self.pod_infra_container_id};K8S_POD_UID={self.pod_uid}"
        )


def _parse_bool(value: str) -> bool:
    """libcni's argument booleans: ``1``/``true`` or ``0``/``false``, any letter case."""
    lowered = value.lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    raise ValueError(f"boolean unmarshal error: invalid input {value}")


def _parse_optional_ip(value: str) -> IPv4Address | IPv6Address | None:
    """An empty ``IP=`` means no address (Go's ``net.IP`` reads it as nil)."""
    if not value:
        return None
    from multus.plugin.selection import parse_ip  # the annotation parser: rarely needed for CNI_ARGS

    return parse_ip(value)


# CNI_ARGS key -> (K8sArgs field, value reader). Matching is exact, like Go's field lookup.
_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "IgnoreUnknown": ("ignore_unknown", _parse_bool),
    "IP": ("ip", _parse_optional_ip),
    "K8S_POD_NAME": ("pod_name", PodName),
    "K8S_POD_NAMESPACE": ("pod_namespace", Namespace),
    "K8S_POD_INFRA_CONTAINER_ID": ("pod_infra_container_id", ContainerID),
    "K8S_POD_UID": ("pod_uid", PodUID),
}


def parse_k8s_args(cni_args: str) -> K8sArgs:
    """Read the K8S_* identity from ``CNI_ARGS`` the way the thin plugin does (libcni LoadArgs)."""
    if cni_args == "":
        return K8sArgs()
    values: dict[str, Any] = {}
    unknown: list[str] = []
    for pair in cni_args.split(";"):
        parts = pair.split("=")
        if len(parts) != 2:
            raise K8sArgsError(f"ARGS: invalid pair {go_quote(pair)}")
        key, value = parts
        if key not in _FIELDS:
            unknown.append(pair)
            continue
        field, reader = _FIELDS[key]
        try:
            values[field] = reader(value)
        except ValueError as exc:
            raise K8sArgsError(f"ARGS: error parsing value of pair {go_quote(pair)}: {exc}") from None
    args = K8sArgs(**values)
    if unknown and not args.ignore_unknown:
        raise K8sArgsError(f"ARGS: unknown args [{' '.join(go_quote(p) for p in unknown)}]")
    return args


def parse_daemon_cni_args(cni_args: str) -> dict[str, str]:
    """The thick daemon's reading of CNI_ARGS: every item ``key=value`` exactly, both trimmed."""
    out: dict[str, str] = {}
    for item in cni_args.split(";"):
        parts = item.split("=")
        if len(parts) != 2:
            raise K8sArgsError(f"invalid CNI_ARG '{item}'")
        out[parts[0].strip()] = parts[1].strip()
    return out


def parse_daemon_k8s_args(cni_args: str) -> K8sArgs:
    """The daemon's K8S_* identity: namespace and name must be present; unknown keys are ignored."""
    args = parse_daemon_cni_args(cni_args)
    for key in ("K8S_POD_NAMESPACE", "K8S_POD_NAME"):
        if key not in args:
            raise K8sArgsError(f"missing {key}")
    return K8sArgs(
        pod_name=PodName(args["K8S_POD_NAME"]),
        pod_namespace=Namespace(args["K8S_POD_NAMESPACE"]),
        pod_uid=PodUID(args.get("K8S_POD_UID", "")),
        pod_infra_container_id=ContainerID(args.get("K8S_POD_INFRA_CONTAINER_ID", "")),
    )
