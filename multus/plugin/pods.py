"""Finding the pod a CNI call is for (§3.2): bounded polling, then the UID rules.

The runtime may call ADD before the API server has caught up with a just-created pod, so transient
failures (5xx, connection refused or reset, timeouts) are retried every 250 ms for up to 2.5 s. Each GET
is given what is left of the 2.5 s (at least 250 ms, Go's per-GET timeout), so a hanging API server
costs ~2.5 s, not the client's own 10 s timeout. "Not found" is an answer, not a failure: ADD then
reports an empty success and DEL goes on from its cache.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from multus.cni.errors import CniError
from multus.k8s.errors import KubeAPIError, NotFoundError, ServerError, UnavailableError
from multus.plugin.k8s_args import K8sArgs

POLL_INTERVAL = 0.25
POLL_TIMEOUT = 2.5
MIN_ATTEMPT_TIMEOUT = 0.25  # Go Multus thin: each GET of the poll has 250 ms
STATIC_POD_SOURCE_ANNOTATION = "kubernetes.io/config.source"


class PodReader(Protocol):
    def get_pod(self, namespace: str, name: str, *, timeout: float | None = None) -> dict[str, Any]: ...


class PodNotFound(CniError):
    """The pod is not (or no longer) in the API."""


class PodUIDMismatch(CniError):
    """The API has a pod of that name, but it is a different pod than the runtime's."""


def get_pod(reader: PodReader, namespace: str, name: str, *, timeout: float = POLL_TIMEOUT,
            interval: float = POLL_INTERVAL) -> dict[str, Any]:
    """The pod from the API, retrying transient failures; raises PodNotFound or a CniError.

    Each attempt may take what is left of ``timeout``, but at least MIN_ATTEMPT_TIMEOUT.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            attempt_timeout = max(deadline - time.monotonic(), MIN_ATTEMPT_TIMEOUT)
            return reader.get_pod(namespace, name, timeout=attempt_timeout)
        except NotFoundError as exc:
            raise PodNotFound(f"pod {namespace}/{name} not found", str(exc)) from exc
        except (ServerError, UnavailableError) as exc:
            if time.monotonic() + interval > deadline:
                raise CniError(f"error waiting for pod: {exc.msg}", exc.details, exc.code) from exc
            time.sleep(interval)
        except KubeAPIError as exc:
            raise CniError(f"error waiting for pod: {exc.msg}", exc.details, exc.code) from exc


def is_static_pod(pod: dict[str, Any]) -> bool:
    """Static pods' API objects are mirrors whose UID differs from the kubelet's."""
    source = (pod.get("metadata", {}).get("annotations") or {}).get(STATIC_POD_SOURCE_ANNOTATION)
    return source is not None and source != "api"


def check_uid(pod: dict[str, Any], k8s: K8sArgs) -> None:
    """Raise PodUIDMismatch when the runtime named a UID and the API's pod is another pod."""
    uid = str(pod.get("metadata", {}).get("uid", ""))
    if k8s.pod_uid and uid != k8s.pod_uid and not is_static_pod(pod):
        raise PodUIDMismatch(f'expected pod UID "{k8s.pod_uid}" but got "{uid}" from Kube API')
