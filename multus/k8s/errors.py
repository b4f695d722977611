"""Errors from talking to the Kubernetes API, one class per way a call can fail.

Callers branch on the class (``except NotFoundError``), never on message text; the message is the
API server's own ``Status.message`` (``pods "web" not found``), so what ends up in a CNI error or a
log reads like kubectl's output. Every class is a :class:`~multus.cni.errors.CniError`, so a
failure can travel up to the runtime unchanged.

    CniError
     ├── KubeconfigError           a kubeconfig or service-account setup that cannot be used (code 7)
     └── KubeAPIError              an API call failed (``status``/``reason``/``message``)
          ├── UnauthorizedError    401
          ├── ForbiddenError       403
          ├── NotFoundError        404
          ├── ConflictError        409 (optimistic concurrency, uid precondition)
          │    └── AlreadyExistsError  409 with reason AlreadyExists (a create whose name is taken)
          ├── GoneError            410 (e.g. a watch resourceVersion that is too old)
          ├── TooManyRequestsError 429 (``retry_after`` from the Retry-After header)
          ├── ServerError          5xx
          └── UnavailableError     no HTTP answer at all: refused, reset, timeout, DNS, TLS (status 0)

:func:`error_from_response` is the one place an HTTP response becomes one of these.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from multus.cni.errors import CniError, ErrorCode

# What to say when the server's body is not a Status object (a proxy's HTML page, an empty body).
_GENERIC_MESSAGES: dict[int, str] = {
    400: "the server rejected our request for an unknown reason",
    401: "the server has asked for the client to provide credentials",
    403: "the server does not allow access to the requested resource",
    404: "the server could not find the requested resource",
    405: "the server does not allow this method on the requested resource",
    409: "the server reported a conflict",
    410: "the server no longer has the requested resource version",
    415: "the server does not accept the request's content type",
    422: "the server rejected the request as invalid",
    429: "the server has received too many requests and has asked us to try again later",
    500: "an error on the server has prevented the request from succeeding",
    503: "the server is currently unable to handle the request",
    504: "the server did not answer in time, but may still be processing the request",
}
_BODY_EXCERPT = 200


class KubeconfigError(CniError):
    """A kubeconfig (or in-cluster service account) that cannot be used; the message names the file and key."""

    default_code = ErrorCode.INVALID_NETWORK_CONFIG


class KubeAPIError(CniError):
    """A failed Kubernetes API call.

    ``status`` is the HTTP status (0 when no response arrived), ``reason`` the Status object's
    machine-readable reason (``NotFound``, ``Conflict``...), ``message`` its human-readable message.
    ``retry_after`` is the server's requested delay in seconds, when it named one.
    """

    #: Whether repeating the same request may succeed (the client's retry loop reads this).
    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        reason: str = "",
        details: str = "",
        retry_after: float | None = None,
        code: int | None = None,
    ) -> None:
        super().__init__(message, details, code)
        self.status = status
        self.reason = reason
        self.message = message
        self.retry_after = retry_after


class UnauthorizedError(KubeAPIError):
    """401: the credentials are missing, wrong or expired."""


class ForbiddenError(KubeAPIError):
    """403: authenticated, but RBAC does not allow this verb on this resource."""


class NotFoundError(KubeAPIError):
    """404: the object (or the resource type) does not exist."""


class ConflictError(KubeAPIError):
    """409: a precondition failed (stale resourceVersion, different uid) or the name is taken."""


class AlreadyExistsError(ConflictError):
    """409 with reason ``AlreadyExists``: a create named an object that exists already."""


class GoneError(KubeAPIError):
    """410: the requested resourceVersion has been compacted away."""


class TooManyRequestsError(KubeAPIError):
    """429: the server (priority and fairness, or a proxy) asks us to slow down."""

    retryable = True
    default_code = ErrorCode.TRY_AGAIN_LATER


class ServerError(KubeAPIError):
    """5xx: the server failed; the same request may well succeed a moment later."""

    retryable = True
    default_code = ErrorCode.TRY_AGAIN_LATER


class UnavailableError(KubeAPIError):
    """No HTTP answer: connection refused or reset, timeout, DNS or TLS failure (``status`` 0).

    ``retryable`` is False for failures that repeating cannot fix, such as a server certificate
    that does not verify.
    """

    retryable = True
    default_code = ErrorCode.TRY_AGAIN_LATER

    def __init__(self, message: str, *, details: str = "", retryable: bool = True) -> None:
        super().__init__(message, status=0, reason="", details=details)
        self.retryable = retryable


_BY_STATUS: dict[int, type[KubeAPIError]] = {
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    429: TooManyRequestsError,
}


def error_class(status: int, reason: str = "") -> type[KubeAPIError]:
    """The class for an HTTP error status (and Status reason, which splits 409)."""
    if status == 409 and reason == "AlreadyExists":
        return AlreadyExistsError
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, KubeAPIError)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds, or an HTTP date); None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils  # only for the rare HTTP-date form
    import time

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - time.time())


def error_from_response(
    status: int, body: bytes, headers: Mapping[str, str], *, method: str = "", path: str = ""
) -> KubeAPIError:
    """The right :class:`KubeAPIError` for a non-2xx response, from its ``Status`` body when present.

    ``method``/``path`` only go into ``details``, so the message stays the server's own.
    """
    status_obj = _status_object(body)
    reason = str(status_obj.get("reason") or "") if status_obj else ""
    message = str(status_obj.get("message") or "") if status_obj else ""
    if not message:
        message = _GENERIC_MESSAGES.get(status, f"the server answered HTTP {status}")
        excerpt = body[:_BODY_EXCERPT].decode("utf-8", "replace").strip()
        if excerpt and status_obj is None:
            message = f"{message} ({excerpt})"
    retry_after = parse_retry_after(_header(headers, "Retry-After"))
    if retry_after is None and status_obj:
        seconds = (status_obj.get("details") or {}).get("retryAfterSeconds")
        if isinstance(seconds, int | float) and not isinstance(seconds, bool):
            retry_after = float(seconds)
    where = f"{method} {path}: " if method or path else ""
    details = f"{where}HTTP {status}" + (f" {reason}" if reason else "")
    cls = error_class(status, reason)
    return cls(message, status=status, reason=reason, details=details, retry_after=retry_after)


def _status_object(body: bytes) -> dict[str, Any] | None:
    """The decoded ``Status`` object, or None when the body is something else."""
    if not body or not body.lstrip().startswith(b"{"):
        return None
    try:
        decoded = json.loads(body)
    except ValueError:
        return None
    if isinstance(decoded, dict) and decoded.get("kind") == "Status":
        return decoded
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by case-insensitive name (plain dicts are case-sensitive; http.client's are not)."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)
