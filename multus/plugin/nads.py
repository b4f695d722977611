"""NetworkAttachmentDefinitions and conf-dir files: where a named network's CNI config comes from.

Go Multus gets a network's config in one of two ways, and this module does both:

* from a NAD (``getKubernetesDelegate``): ``spec.config``, with the NAD's name filled in when the
  config has none; a NAD with an empty spec stands for the conf-dir file of the same name;
* from the conf dir by network name (the NAD client's ``GetCNIConfigFromFile``): the first of the
  sorted ``.conf``/``.json``/``.conflist`` files whose ``name`` matches.

It also holds the three narrow interfaces the resolution needs from the outside world (NAD reads,
pod events, device IDs), so callers can plug in the API client, the daemon's informer or a test fake.
Error texts are Go's where the behaviour notes give them: operators grep logs for them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from multus.cni.errors import CniError
from multus.cni.netconf import conf_files, conflist_from_file
from multus.plugin.delegate import Delegate, build_delegate
from multus.plugin.gojson import decode_json, go_json_type, go_marshal

if TYPE_CHECKING:
    from multus.plugin.selection import NetworkSelection

RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName"


class NadReader(Protocol):
    """Reads NetworkAttachmentDefinitions (the API in thin mode, the informer in thick mode)."""

    def get_network_attachment_definition(self, namespace: str, name: str) -> dict[str, Any]:
        """The NAD as the API returns it; raises on failure, a NotFound reading like kubectl's message."""
        ...


class EventSink(Protocol):
    """Records Kubernetes events on the pod; never raises (an event is best effort)."""

    def emit(self, pod: dict[str, Any], event_type: str, reason: str, message: str) -> None: ...


class DeviceAllocator(Protocol):
    """Hands out the pod's devices of a resource (the SR-IOV / DRA path plugs in here)."""

    def allocate(self, resource_name: str) -> str:
        """The next device ID of ``resource_name`` in sorted order, or "" when none is left."""
        ...


class ResolveError(CniError):
    """A network could not be resolved to a delegate. Go returns plain errors, so the code is 999."""


def wrap(prefix: str, exc: BaseException) -> ResolveError:
    """``prefix`` + the cause's message, Go-style; a CniError's ``details`` (e.g. the HTTP request
    that failed) stay in ``details`` so the message itself reads exactly like Go's."""
    if isinstance(exc, CniError):
        return ResolveError(f"{prefix}{exc.msg}", exc.details)
    return ResolveError(f"{prefix}{exc}")


class NetworkRef(NamedTuple):
    """A network named by Multus's own config (clusterNetwork, defaultNetworks): no pod requests.

    A NamedTuple, not a frozen dataclass, for the per-process cost of creating the class (~0.4 ms).
    """

    name: str
    namespace: str


# ---------------------------------------------------------------- pods


def pod_metadata(pod: dict[str, Any] | None) -> dict[str, Any]:
    meta = pod.get("metadata") if pod else None
    return meta if isinstance(meta, dict) else {}


def pod_namespace(pod: dict[str, Any] | None) -> str:
    return str(pod_metadata(pod).get("namespace") or "")


def pod_annotations(pod: dict[str, Any] | None) -> dict[str, str]:
    annotations = pod_metadata(pod).get("annotations")
    return {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {}


def pod_is_known(pod: dict[str, Any] | None) -> bool:
    """Go only looks up devices for a pod with both a name and a namespace."""
    meta = pod_metadata(pod)
    return bool(meta.get("name")) and bool(meta.get("namespace"))


# ---------------------------------------------------------------- conf-dir lookup


def _load_error(path: str, problem: str) -> ResolveError:
    return ResolveError(f"Error loading CNI config file {path}: {problem}")


def _decode_file(path: str, what: str) -> tuple[bytes, dict[str, Any]]:
    """The file's bytes and JSON object; any failure aborts the whole search, as in Go."""
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise _load_error(path, f"error reading the file: {exc.strerror or exc}") from exc
    try:
        raw = decode_json(data)
    except ValueError as exc:
        raise _load_error(path, f"error parsing {what}: {exc}") from None
    if not isinstance(raw, dict):
        raise _load_error(path, f"error parsing {what}: json: cannot unmarshal {go_json_type(raw)} into an object")
    return data, raw


def _matches(raw: dict[str, Any], name: str) -> bool:
    return name == "" or raw.get("name") == name


def _conf_named(path: str, name: str) -> bytes | None:
    """A single config's bytes, verbatim, when it is the one asked for. A config without ``type``
    cannot run anywhere, so it is an error wherever it sits (like an unparsable file)."""
    data, raw = _decode_file(path, "configuration")
    if not raw.get("type"):
        raise _load_error(path, "no 'type'; perhaps this is a .conflist?")
    return data if _matches(raw, name) else None


def _conflist_named(path: str, name: str) -> bytes | None:
    """A list's bytes with its subdirectory chain (``<dir>/<name>/*.conf``) appended when it is the
    one asked for; verbatim when the chain adds nothing. Other lists' chains are not read."""
    data, raw = _decode_file(path, "configuration list")
    if not _matches(raw, name):
        return None
    try:
        conflist = conflist_from_file(path)
    except CniError as exc:
        problem = exc.msg.removeprefix(f"{path}: ")  # the path is already in our prefix
        raise ResolveError(f"Error loading CNI config file {path}: {problem}", exc.details) from exc
    inline = raw.get("plugins") or []
    return data if len(conflist.plugins) == len(inline) else conflist.to_bytes()


def config_from_conf_dir(name: str, conf_dir: str) -> bytes:
    """The config of network ``name`` (``""``: the first one) from ``conf_dir`` (GetCNIConfigFromFile).

    Files are ``.conf``/``.json``/``.conflist`` in name order; the first whose ``name`` matches wins.
    A file that cannot be loaded stops the search even if a later file would have matched.
    """
    files = conf_files(conf_dir)
    if not files:
        raise ResolveError(f"No networks found in {conf_dir}")
    for path in files:
        found = _conflist_named(path, name) if path.endswith(".conflist") else _conf_named(path, name)
        if found is not None:
            return found
    raise ResolveError(f"no network available in the name {name} in cni dir {conf_dir}")


# ---------------------------------------------------------------- NADs


def _nad_name(nad: dict[str, Any]) -> str:
    meta = nad.get("metadata")
    return str(meta.get("name") or "") if isinstance(meta, dict) else ""


def _spec_config(nad: dict[str, Any]) -> str:
    spec = nad.get("spec")
    config = spec.get("config") if isinstance(spec, dict) else None
    return config if isinstance(config, str) else ""


def nad_config(nad: dict[str, Any], conf_dir: str) -> bytes:
    """The CNI config a NAD stands for (the NAD client's GetCNIConfig).

    An empty ``spec.config`` means "the conf-dir file named like the NAD". Otherwise the config is used
    as written, except that a missing or empty ``name`` becomes the NAD's name (libcni needs a name to
    cache results under), in which case it is re-marshalled the way Go does.
    """
    name, config = _nad_name(nad), _spec_config(nad)
    if not config:
        try:
            return config_from_conf_dir(name, conf_dir)
        except CniError as exc:
            raise wrap("GetCNIConfig: err in GetCNIConfigFromFile: ", exc) from exc
    try:
        raw = decode_json(config)
    except ValueError as exc:
        raise ResolveError(f"GetCNIConfig: err in getCNIConfigFromSpec: failed to unmarshal Spec.Config: {exc}"
                           ) from None
    if not isinstance(raw, dict):
        raise ResolveError("GetCNIConfig: err in getCNIConfigFromSpec: failed to unmarshal Spec.Config: "
                           f"json: cannot unmarshal {go_json_type(raw)} into an object")
    if raw.get("name"):
        return config.encode()
    return go_marshal({**raw, "name": name})


def _device(nad: dict[str, Any], pod: dict[str, Any] | None, allocator: DeviceAllocator | None) -> tuple[str, str]:
    """(device ID, resource name) for a NAD that names a device resource; a device is only looked
    up for a known pod, and an exhausted or unknown resource silently gives no device."""
    meta = nad.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    resource = annotations.get(RESOURCE_NAME_ANNOTATION) if isinstance(annotations, dict) else None
    if not resource or not isinstance(resource, str) or not pod_is_known(pod):
        return "", ""
    return (allocator.allocate(resource) if allocator is not None else ""), resource


def nad_delegate(reader: NadReader, selection: NetworkSelection | NetworkRef, conf_dir: str,
                 pod: dict[str, Any] | None, events: EventSink | None,
                 allocator: DeviceAllocator | None) -> Delegate:
    """The delegate for the NAD ``selection`` names (getKubernetesDelegate).

    A NAD that cannot be read is reported on the pod as a ``NoNetworkFound`` warning, so ``kubectl
    describe pod`` shows why it is stuck. The delegate is named ``<namespace>/<name>`` (used by events,
    the network-status annotation and device-info files); the config keeps its own ``name`` for libcni.
    """
    namespace, name = selection.namespace, selection.name
    try:
        nad = reader.get_network_attachment_definition(namespace, name)
    except Exception as exc:  # any client failure (NotFound, Forbidden, timeouts) means "no network"
        error = wrap(f"cannot find a network-attachment-definition ({name}) in namespace ({namespace}): ", exc)
        if pod is not None and events is not None:
            events.emit(pod, "Warning", "NoNetworkFound", error.msg)
        raise wrap("getKubernetesDelegate: ", error) from exc
    device_id, resource_name = _device(nad, pod, allocator)
    config = nad_config(nad, conf_dir)
    try:
        return build_delegate(config, name=f"{namespace}/{name}",
                              selection=None if isinstance(selection, NetworkRef) else selection,
                              device_id=device_id, resource_name=resource_name)
    except CniError as exc:
        raise wrap(f"getKubernetesDelegate: network-attachment-definition {namespace}/{name}: ", exc) from exc
