""":class:`KubeApiServer`: lifecycle of the double plus a Python API for arranging and asserting.

Tests arrange state with the helpers (``add_pod``, ``add_nad``, ``put_object``), point the code
under test at :attr:`KubeApiServer.url` or :meth:`KubeApiServer.write_kubeconfig`, and assert on
what was stored (``get_pod``), emitted (``events``) or asked (``requests``). Helper writes go
through the same store as HTTP writes, so they bump resourceVersions and reach open watches.
The helpers skip request validation on purpose, so tests can set up objects (and statuses) that
only other components (kubelet, controllers) could produce.
"""

from __future__ import annotations

import copy
import json
import os
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from . import objects, resources
from .faults import Faults
from .handler import ApiRequestHandler, ServerContext
from .kubeconfig import write_kubeconfig
from .patching import merge_patch
from .requestlog import RecordedRequest
from .resources import EVENTS, NETWORK_ATTACHMENT_DEFINITIONS, PODS, ResourceType
from .store import Store
from .transport import TrackingHTTPServer

Obj = dict[str, Any]


class KubeApiServer:
    """A kube-apiserver double on 127.0.0.1; use as a context manager or call start()/stop().

    ``certfile``/``keyfile`` switch to HTTPS (``cafile`` is what the kubeconfig trusts; by default
    the certificate itself, right for a self-signed one). ``token`` makes every request need
    ``Authorization: Bearer <token>``. ``history_limit`` bounds the watch history (older
    resourceVersions get 410); ``bookmark_interval`` paces BOOKMARK events.
    A stopped server keeps its objects and its port, so stop()/start() simulates an outage.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        certfile: str | os.PathLike[str] | None = None,
        keyfile: str | os.PathLike[str] | None = None,
        cafile: str | os.PathLike[str] | None = None,
        token: str | None = None,
        history_limit: int = 1000,
        bookmark_interval: float = 30.0,
    ) -> None:
        if (certfile is None) != (keyfile is None):
            raise ValueError("HTTPS needs both certfile and keyfile")
        self.host, self._port = host, port
        self._certfile, self._keyfile = certfile, keyfile
        self._cafile = cafile if cafile is not None else certfile
        self.store = Store(history_limit)
        self._ctx = ServerContext(self.store, token=token, bookmark_interval=bookmark_interval)
        self._httpd: TrackingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ----- lifecycle -------------------------------------------------------------------------

    def start(self) -> KubeApiServer:
        """Start serving on a background thread; returns self for chaining."""
        if self._httpd is not None:
            raise RuntimeError("the API server double is already running")
        context = None
        if self._certfile is not None and self._keyfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self._certfile, self._keyfile)
        self._ctx.stopping.clear()
        httpd = TrackingHTTPServer((self.host, self._port), ApiRequestHandler, context)
        httpd.context = self._ctx
        self._port = httpd.server_address[1]
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="kube-api-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: end watch streams, close every connection and join every thread."""
        httpd, thread = self._httpd, self._thread
        if httpd is None or thread is None:
            return
        self._ctx.stopping.set()
        self.store.close_watches()
        httpd.shutdown()
        thread.join()
        httpd.close_all()
        httpd.server_close()
        self._httpd = self._thread = None

    def __enter__(self) -> KubeApiServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is accepting requests."""
        return self._httpd is not None

    @property
    def port(self) -> int:
        """The TCP port (chosen on first start when constructed with port 0)."""
        return self._port

    @property
    def open_connections(self) -> int:
        """How many client connections are open right now (keep-alive and watches included)."""
        return self._httpd.open_connections if self._httpd is not None else 0

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:41234``."""
        scheme = "https" if self._certfile is not None else "http"
        return f"{scheme}://{self.host}:{self._port}"

    def write_kubeconfig(self, path: str | os.PathLike[str], namespace: str = "default") -> Path:
        """Write a kubeconfig whose current context points at this server; returns its path."""
        return write_kubeconfig(path, self.url, token=self._ctx.token, ca_file=self._cafile,
                                namespace=namespace)

    # ----- observation -----------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The fault-injection rules (``faults.add(...)``, ``faults.clear()``)."""
        return self._ctx.faults

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, oldest first (a snapshot)."""
        return self._ctx.requests.entries()

    def requests_matching(self, method: str = "*", path: str = "") -> list[RecordedRequest]:
        """Received requests with this method (``*``: any) whose path matches the regex ``path``."""
        return self._ctx.requests.matching(method, path)

    def clear_requests(self) -> None:
        """Forget the requests received so far."""
        self._ctx.requests.clear()

    @property
    def resource_version(self) -> str:
        """The resourceVersion of the latest write."""
        return str(self.store.resource_version)

    def compact(self) -> None:
        """Drop the watch history: resuming from any older resourceVersion now gets 410 Gone."""
        self.store.compact()

    # ----- arranging state -------------------------------------------------------------------

    def put_object(self, obj: Obj) -> Obj:
        """Create or overwrite any served object given with ``apiVersion``/``kind``; returns it stored."""
        rt = resources.find_kind(str(obj.get("apiVersion")), str(obj.get("kind")))
        if rt is None:
            raise ValueError(f"the double does not serve {obj.get('apiVersion')}/{obj.get('kind')}")
        stored = objects.to_storage(rt, obj)
        meta = stored["metadata"]
        if rt.namespaced:
            meta.setdefault("namespace", "default")
        meta.pop("resourceVersion", None)
        if not meta.get("name"):
            raise ValueError("put_object needs metadata.name")
        with self.store.transaction():
            if self.store.get(rt, meta.get("namespace", ""), meta["name"]) is None:
                meta.setdefault("generation", 1)
                return objects.external(rt, self.store.create(rt, stored))
            return objects.external(rt, self.store.update(rt, stored))

    def add_pod(
        self,
        namespace: str = "default",
        name: str = "pod",
        *,
        labels: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        node_name: str | None = None,
        uid: str | None = None,
        spec: Obj | None = None,
        status: Obj | None = None,
    ) -> Obj:
        """Add a pod (one ``pause`` container unless ``spec`` says otherwise); returns it stored."""
        meta: Obj = {"name": name, "namespace": namespace}
        for key, value in (("labels", labels), ("annotations", annotations), ("uid", uid)):
            if value is not None:
                meta[key] = copy.deepcopy(value)
        default_spec: Obj = {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]}
        pod_spec = copy.deepcopy(spec if spec is not None else default_spec)
        if node_name is not None:
            pod_spec["nodeName"] = node_name
        pod: Obj = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": pod_spec,
                    "status": copy.deepcopy(status) if status is not None else {"phase": "Pending"}}
        return self.put_object(pod)

    def get_pod(self, namespace: str, name: str) -> Obj:
        """The stored pod; KeyError when there is none."""
        return self._get(PODS, namespace, name)

    def pods(self, namespace: str | None = None) -> list[Obj]:
        """All stored pods (in one namespace, or all), in key order."""
        return self._list(PODS, namespace)

    def patch_pod(self, namespace: str, name: str, patch: Obj) -> Obj:
        """Merge-patch a stored pod as another component would (status included); returns it."""
        with self.store.transaction():
            current = self.get_pod(namespace, name)
            return objects.external(PODS, self.store.update(PODS, merge_patch(current, patch)))

    def delete_pod(self, namespace: str, name: str) -> Obj:
        """Delete a pod immediately (watchers see DELETED); KeyError when there is none."""
        return self._delete(PODS, namespace, name)

    def add_nad(
        self, namespace: str, name: str, config: str | Obj, annotations: dict[str, str] | None = None
    ) -> Obj:
        """Add a NetworkAttachmentDefinition; a dict ``config`` is serialized to the JSON string."""
        meta: Obj = {"name": name, "namespace": namespace}
        if annotations is not None:
            meta["annotations"] = dict(annotations)
        text = config if isinstance(config, str) else json.dumps(config)
        return self.put_object({"apiVersion": NETWORK_ATTACHMENT_DEFINITIONS.api_version,
                                "kind": NETWORK_ATTACHMENT_DEFINITIONS.kind, "metadata": meta,
                                "spec": {"config": text}})

    def get_nad(self, namespace: str, name: str) -> Obj:
        """The stored NetworkAttachmentDefinition; KeyError when there is none."""
        return self._get(NETWORK_ATTACHMENT_DEFINITIONS, namespace, name)

    def delete_nad(self, namespace: str, name: str) -> Obj:
        """Delete a NetworkAttachmentDefinition; KeyError when there is none."""
        return self._delete(NETWORK_ATTACHMENT_DEFINITIONS, namespace, name)

    def events(self, namespace: str | None = None) -> list[Obj]:
        """Every stored event (core ``v1`` form, whichever API created it), oldest write first."""
        found = self._list(EVENTS, namespace)
        return sorted(found, key=lambda e: int(e["metadata"]["resourceVersion"]))

    def _get(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        obj = self.store.get(rt, namespace, name)
        if obj is None:
            raise KeyError(f"{rt.qualified} {namespace}/{name}")
        return objects.external(rt, obj)

    def _list(self, rt: ResourceType, namespace: str | None) -> list[Obj]:
        return [objects.external(rt, o) for o in self.store.list_objects(rt, namespace)[0]]

    def _delete(self, rt: ResourceType, namespace: str, name: str) -> Obj:
        with self.store.transaction():
            self._get(rt, namespace, name)
            return objects.external(rt, self.store.delete(rt, namespace, name))
