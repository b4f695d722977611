"""A test double of the Kubernetes API server (kube-apiserver), spoken to over real HTTP.

No kube-apiserver can run where multus-py is tested, so this package stands in for one. It is a
*double*, not a fake cluster: it stores objects and answers the API the way kube-apiserver does,
closely enough that the unmodified ``kubernetes`` Python client (``CoreV1Api``,
``CustomObjectsApi``, ``kubernetes.watch.Watch``) and code built on it work against it, but it runs
no controllers, scheduler or kubelet and enforces no RBAC or admission.

Served subset
-------------
* core ``v1`` ``pods`` (namespaced): get, list (all namespaces or one; ``labelSelector`` with the
  full selector grammar; ``fieldSelector`` on ``metadata.name``, ``metadata.namespace``,
  ``spec.nodeName`` and the other pod field labels; ``limit``/``continue``), watch, create,
  replace, patch, delete, deletecollection, and the ``status`` subresource (GET, PUT, PATCH; a
  status write may change labels and annotations but not spec, a main-resource write cannot
  change status).
* ``k8s.cni.cncf.io/v1`` ``network-attachment-definitions``: the same verbs; as a custom resource
  it rejects strategic merge patch (415) and requires ``metadata.resourceVersion`` on PUT.
* core ``v1`` ``events`` and ``events.k8s.io/v1`` ``events``: the same verbs over one shared
  storage (converted between the two forms, as in a real cluster).
* Discovery (``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>[/<version>]``), ``/version``,
  ``/healthz``, ``/livez``, ``/readyz``.

Semantics
---------
A global resourceVersion bumped by every write that changes something (a no-op write changes
nothing, as on the real server); uid and creationTimestamp on create; ``generateName``; optimistic
concurrency (a stale ``metadata.resourceVersion`` in a PUT or patch is 409 Conflict); 404
NotFound; 409 AlreadyExists; 422 Invalid from a little validation (pod containers need name and
image, NAD ``spec.config`` is a string); errors as ``Status`` objects; JSON Patch, JSON merge
patch and strategic merge patch (see :mod:`.patching` for the subset); watches with replay from a
resourceVersion, 410 Expired once it left the bounded history, bookmarks and ``timeoutSeconds``;
finalizers delay deletion; ``dryRun=All``. Deletion is otherwise immediate (no graceful pod
termination), any namespace exists, and server-side apply is not implemented (415).

Test support: a Python API to arrange and inspect objects, a log of every request, fault
injection (error status, delay, dropped connection), optional bearer-token auth and HTTPS, and a
kubeconfig writer. Only the standard library is used. ``python -m multus.testing.kube_api
--kubeconfig PATH`` runs it as a process (for demos).

Example::

    with KubeApiServer() as api:
        api.add_pod("default", "web", node_name="node-1")
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        ...  # run the code under test with kubeconfig
        assert api.get_pod("default", "web")["metadata"]["annotations"][...]
"""

from .errors import ApiError
from .faults import FaultRule, Faults
from .jsonpatch import PatchError, apply_json_patch
from .kubeconfig import kubeconfig_document, write_kubeconfig
from .patching import merge_patch, strategic_merge_patch
from .requestlog import RecordedRequest
from .server import KubeApiServer

__all__ = [
    "ApiError",
    "FaultRule",
    "Faults",
    "KubeApiServer",
    "PatchError",
    "RecordedRequest",
    "apply_json_patch",
    "kubeconfig_document",
    "merge_patch",
    "strategic_merge_patch",
    "write_kubeconfig",
]
