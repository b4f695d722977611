"""The exceptions of the PodResources client: one tree, so callers never see a raw ``grpc.RpcError``.

Why a tree of our own: a CNI ADD or the Multus daemon has to decide what to do with a failure (retry the
pod later, fall back to the checkpoint, give up with a clear event), and it should not need grpc -- or its
65 ms import -- to do so. Every error names the socket it was talking to, because on a node the first
question is always "which kubelet, which root dir?" (a custom ``--root-dir`` moves the socket).

    PodResourcesError                 base; .socket, .method, .code (gRPC status name or None), .details
    +-- KubeletUnavailableError       UNAVAILABLE: no kubelet behind the socket, or the socket is missing
    +-- KubeletTimeoutError           DEADLINE_EXCEEDED: the call took longer than the client's timeout
    +-- RateLimitedError              RESOURCE_EXHAUSTED "rejected by rate limit", still after every retry
    +-- ResponseTooLargeError         RESOURCE_EXHAUSTED raised by the client: answer above max_receive_bytes
    +-- MethodNotSupportedError       UNIMPLEMENTED, or a method behind a feature gate that is off
    +-- KubeletError                  UNKNOWN and every other status: the kubelet failed the call
    +-- CheckpointError               the device-manager checkpoint fallback could not answer

This module imports nothing beyond the standard library, so ``except PodResourcesError`` is free.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CheckpointError",
    "KubeletError",
    "KubeletTimeoutError",
    "KubeletUnavailableError",
    "MethodNotSupportedError",
    "PodResourcesError",
    "RateLimitedError",
    "ResponseTooLargeError",
    "error_from_rpc",
]


class PodResourcesError(Exception):
    """Any failure to learn a pod's resources from the kubelet (the API or the checkpoint)."""

    def __init__(self, message: str, *, socket: str | None = None, method: str | None = None,
                 code: str | None = None, details: str | None = None) -> None:
        super().__init__(message)
        self.socket = socket
        self.method = method
        self.code = code
        self.details = details


class KubeletUnavailableError(PodResourcesError):
    """Nothing answers on the socket (kubelet down or restarting, wrong root dir, no permission)."""


class KubeletTimeoutError(PodResourcesError):
    """The kubelet did not answer within the client's timeout."""


class RateLimitedError(PodResourcesError):
    """The kubelet's shared rate limit (100 requests/s, burst 10) rejected every attempt."""


class ResponseTooLargeError(PodResourcesError):
    """The answer exceeded ``max_receive_bytes`` (a dense node's List); retrying cannot help."""


class MethodNotSupportedError(PodResourcesError):
    """The kubelet does not serve this method: too old (UNIMPLEMENTED) or its feature gate is off."""


class KubeletError(PodResourcesError):
    """The kubelet answered with an error (gRPC UNKNOWN, INTERNAL, ...)."""


class CheckpointError(PodResourcesError):
    """The checkpoint fallback failed: no pod UID, or the file is missing, unreadable or malformed."""


_BY_CODE: dict[str, type[PodResourcesError]] = {
    "UNAVAILABLE": KubeletUnavailableError,
    "DEADLINE_EXCEEDED": KubeletTimeoutError,
    "RESOURCE_EXHAUSTED": RateLimitedError,
    "UNIMPLEMENTED": MethodNotSupportedError,
}


def status_name(exc: BaseException) -> str | None:
    """The gRPC status name of an RpcError (``"UNAVAILABLE"``), without importing grpc."""
    code = getattr(exc, "code", None)
    if not callable(code):
        return None
    value: Any = code()
    return str(getattr(value, "name", value)) if value is not None else None


def status_details(exc: BaseException) -> str:
    """The status message of an RpcError, or ``""``."""
    details = getattr(exc, "details", None)
    text = details() if callable(details) else None
    return str(text) if text else ""


def is_too_large(details: str) -> bool:
    """True for grpc's client-side RESOURCE_EXHAUSTED on an oversized message, which is no rate limit."""
    return "larger than max" in details


def error_from_rpc(exc: BaseException, *, socket: str, method: str, attempts: int = 1) -> PodResourcesError:
    """Translate a ``grpc.RpcError`` from ``method`` on ``socket`` into the matching exception class."""
    code = status_name(exc) or "UNKNOWN"
    details = status_details(exc)
    cls = _BY_CODE.get(code, KubeletError)
    if code == "RESOURCE_EXHAUSTED" and is_too_large(details):
        cls = ResponseTooLargeError
    if code == "UNKNOWN" and "disabled" in details:
        cls = MethodNotSupportedError
    tail = f" after {attempts} attempts" if attempts > 1 else ""
    message = f"kubelet PodResources {method} on {socket} failed with {code}{tail}: {details or 'no details'}"
    return cls(message, socket=socket, method=method, code=code, details=details)
