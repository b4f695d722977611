"""API errors rendered as ``Status`` objects, the way kube-apiserver reports every failure.

Clients branch on ``code`` and ``reason`` (``kubernetes.client.ApiException.status``, or the
``reason`` in the JSON body), so each helper below reproduces the real server's pairing of HTTP
code, reason and message wording for the cases the double can produce.
"""

from __future__ import annotations

from typing import Any

REASONS: dict[int, str] = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """A failed API call; :meth:`status` is the body the server answers with."""

    def __init__(
        self,
        code: int,
        message: str,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason or REASONS.get(code, "Unknown")
        self.details = details
        self.headers = dict(headers or {})

    def status(self) -> dict[str, Any]:
        """The ``meta/v1 Status`` object for this error."""
        return status_object(self.code, self.message, self.reason, self.details)


def status_object(
    code: int, message: str, reason: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A ``Status`` object; ``Failure`` for any code outside 2xx."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success" if 200 <= code < 300 else "Failure",
        "message": message,
        "reason": reason if reason is not None else REASONS.get(code, ""),
        "code": code,
    }
    if details is not None:
        body["details"] = details
    if 200 <= code < 300 and not message:
        del body["message"], body["reason"]
    return body


def _details(qualified: str, name: str) -> dict[str, Any]:
    """Status details name the plural resource and, for API groups, the group separately."""
    plural, _, group = qualified.partition(".")
    details: dict[str, Any] = {"name": name, "kind": plural}
    if group:
        details["group"] = group
    return details


def not_found(qualified: str, name: str) -> ApiError:
    """404 for a missing object; ``qualified`` is ``plural`` or ``plural.group``."""
    return ApiError(404, f'{qualified} "{name}" not found', details=_details(qualified, name))


def already_exists(qualified: str, name: str) -> ApiError:
    """409 AlreadyExists for a create whose name is taken."""
    return ApiError(
        409, f'{qualified} "{name}" already exists', "AlreadyExists", _details(qualified, name)
    )


def conflict(qualified: str, name: str, why: str | None = None) -> ApiError:
    """409 Conflict: the optimistic-concurrency check (resourceVersion or uid) failed."""
    why = why or (
        "the object has been modified; please apply your changes to the latest version and try again"
    )
    return ApiError(
        409, f'Operation cannot be fulfilled on {qualified} "{name}": {why}', "Conflict",
        _details(qualified, name),
    )


def gone(requested: int, oldest: int) -> ApiError:
    """410 Expired: the requested resourceVersion is older than the retained history."""
    return ApiError(410, f"too old resource version: {requested} ({oldest})", "Expired")


def bad_request(message: str) -> ApiError:
    """400 for a malformed request (bad JSON, bad selector, mismatched name or namespace)."""
    return ApiError(400, message, "BadRequest")


def invalid(kind: str, name: str, causes: list[tuple[str, str]]) -> ApiError:
    """422 Invalid with one cause per ``(field, message)``, worded like the real validation."""
    summary = ", ".join(f"{field}: {msg}" for field, msg in causes)
    details = {
        "name": name,
        "kind": kind,
        "causes": [
            {"reason": "FieldValueInvalid", "message": msg, "field": field} for field, msg in causes
        ],
    }
    return ApiError(422, f'{kind} "{name}" is invalid: {summary}', "Invalid", details)


def unsupported_media_type(content_type: str, accepted: list[str]) -> ApiError:
    """415 for a body format the endpoint does not take (e.g. strategic merge on a custom resource)."""
    return ApiError(
        415,
        f"the body of the request was in an unknown format ({content_type}) - "
        f"accepted media types include: {', '.join(accepted)}",
        "UnsupportedMediaType",
    )


def method_not_allowed(method: str) -> ApiError:
    """405 for a verb the addressed endpoint does not serve."""
    return ApiError(405, f"the server does not allow this method on the requested resource ({method})")


def no_route() -> ApiError:
    """404 for a path that names no resource at all (not a missing object)."""
    return ApiError(404, "the server could not find the requested resource", "NotFound", {})
