"""Kubernetes Events about a pod (``AddedInterface``, ``NoNetworkFound``): best effort, never fatal.

An event that cannot be written is logged and dropped; a CNI call never fails because of one.
"""

from __future__ import annotations

import os
import time
from typing import Any, Protocol

from multus.logs import get_logger

log = get_logger(__name__)

COMPONENT = "multus"


class EventWriter(Protocol):
    def create_event(self, namespace: str, event: dict[str, Any]) -> dict[str, Any]: ...


class KubeEventSink:
    """Writes core/v1 Events through the API client."""

    def __init__(self, writer: EventWriter) -> None:
        self._writer = writer

    def emit(self, pod: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        meta = pod.get("metadata", {})
        namespace, name = meta.get("namespace", ""), meta.get("name", "")
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            # Go's recorder names events <object>.<unique suffix>. os.urandom is what secrets.token_hex
            # reads, without importing secrets (hmac, hashlib: ~3 ms of every call).
            "metadata": {"name": f"{name}.{os.urandom(8).hex()}", "namespace": namespace},
            "involvedObject": {"apiVersion": "v1", "kind": "Pod", "namespace": namespace, "name": name,
                               "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")},
            "reason": reason,
            "message": message,
            "type": event_type,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self._writer.create_event(namespace, event)
        except Exception as exc:  # events are best effort by design
            log.warning("could not record event %s for pod %s/%s: %s", reason, namespace, name, exc)


class NullEventSink:
    """Used without Kubernetes: there is nobody to tell."""

    def emit(self, pod: dict[str, Any], event_type: str, reason: str, message: str) -> None:
        return None
