"""Writing the ``k8s.v1.cni.cncf.io/network-status`` annotation after an ADD.

A JSON merge patch of ``pods/<name>/status`` that carries only this annotation: no read-modify-write, so
it cannot clobber what others wrote meanwhile (RBAC: ``patch`` on ``pods/status``). The pod's UID rides
in the patch as a precondition, so a new pod that reused the name is never annotated with another pod's
interfaces. Conflicts and server errors are retried with backoff; a pod that is already gone is fine.
Pods in ``systemNamespaces`` get no annotation (Go meant to do this, but compares the pod's name).
"""

from __future__ import annotations

import time
from typing import Any

from multus.cni.errors import CniError
from multus.k8s.errors import ConflictError, KubeAPIError, NotFoundError, ServerError, UnavailableError
from multus.logs import get_logger
from multus.plugin.context import CallContext
from multus.plugin.status import format_network_status

NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"
ATTEMPTS = 5
FIRST_BACKOFF = 0.01

log = get_logger(__name__)


def write_network_status(ctx: CallContext, pod: dict[str, Any], statuses: list[dict[str, Any]]) -> None:
    meta = pod.get("metadata", {})
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    if ctx.kube is None or not statuses or namespace in ctx.conf.system_namespaces:
        return
    patch = {"metadata": {"annotations": {NETWORK_STATUS_ANNOTATION: format_network_status(statuses)}}}
    uid = meta.get("uid") or None
    backoff = FIRST_BACKOFF
    for attempt in range(1, ATTEMPTS + 1):
        try:
            ctx.kube.patch_pod_status(namespace, name, patch, uid=uid)
            return
        except NotFoundError:
            log.warning("pod %s/%s is gone; network-status not written", namespace, name)
            return
        except (ConflictError, ServerError, UnavailableError) as exc:
            if attempt == ATTEMPTS:
                raise CniError(f"error setting the networks status: {exc}") from exc
            time.sleep(backoff)
            backoff *= 2
        except KubeAPIError as exc:
            raise CniError(f"error setting the networks status: {exc}") from exc
