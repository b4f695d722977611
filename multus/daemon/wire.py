"""What travels on the daemon's socket: Go Multus's request and response shapes, byte for byte.

The shim (ours or Go's) POSTs ``{"env": {...}, "config": "<base64 stdin>", "interfaceAttributes": ...}``
(Go's ``api.Request``: ``config`` is a Go ``[]byte``, hence base64). Answers:

* success: 200, ``{"Result": <result as CNI 1.0.0>}`` for ADD (Go's ``api.Response``, capital R; Go's
  shim converts it back to the config's version), an empty body otherwise;
* with our shim's ``X-Multus-Result-Version: <v>`` request header, an ADD answers with the result
  itself, already in version ``v``, and echoes the header: Go's round trip through 1.0.0 loses nothing
  today, but a later spec version would, and the shim then has nothing left to convert;
* failure: 400, the CNI error object ``{"code","msg","details"}`` when the failure is a CNI error (the
  shim hands it to the runtime as it is), otherwise Go's plain text
  ``ContainerID:"…" Netns:"…" IfName:"…" Args:"…" Path:"…" ERRORED: <err>``.

Bodies end with a newline where Go's ``http.Error``/``json.Encoder`` write one.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from multus.cni import types as cnitypes
from multus.cni.errors import CniError, VersionError
from multus.cni.skel import CmdArgs
from multus.cni.version import ALL_VERSIONS
from multus.plugin.gojson import decode_json, go_quote

RESULT_VERSION_HEADER = "X-Multus-Result-Version"
# Our shim sends /cni without polling /readyz first and marks ADD/CHECK/GC/STATUS "unchecked"; while
# shutting down the daemon answers those "not-ready" (503) and the shim waits for readiness as Go's does.
READINESS_HEADER = "X-Multus-Readiness"
GO_RESULT_VERSION = "1.0.0"  # Go's daemon answers with cni100.Result whatever the config's version
JSON = "application/json"
TEXT = "text/plain; charset=utf-8"
STATUS_AND_GC = ("STATUS", "GC")


class RequestError(Exception):
    """A request the daemon cannot act on, answered as plain text (Go returns these as plain errors)."""


# ---- HTTP, as the server hands it over ---------------------------------------------------------------


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)  # names lower-cased
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    # Run by the connection once the answer is written: work the client need not wait for (queuing the
    # request's events, whose background POST would otherwise compete with the answer for the interpreter).
    after: Callable[[], None] | None = field(default=None, compare=False, repr=False)


def text_response(status: int, text: str) -> HttpResponse:
    """Go's ``http.Error``: the text plus a newline, as text/plain."""
    return HttpResponse(status, (text + "\n").encode(), TEXT)


NOT_FOUND = text_response(404, "404 page not found")
NOT_READY = HttpResponse(503, b"the multus daemon is shutting down\n", TEXT, ((READINESS_HEADER, "not-ready"),))
METHOD_NOT_ALLOWED = text_response(405, "Method not allowed")
EMPTY_OK = HttpResponse(200)


# ---- the request body ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class InterfaceAttributes:
    """``interfaceAttributes`` of a /delegate request: what the hot-plugged interface should get."""

    ips: tuple[str, ...] = ()
    mac: str = ""
    cni_args: dict[str, Any] | None = None

    def selection_fields(self) -> dict[str, Any]:
        """The attributes as NetworkSelectionElement keys (they become the delegate's selection)."""
        out: dict[str, Any] = {}
        if self.ips:
            out["ips"] = list(self.ips)
        if self.mac:
            out["mac"] = self.mac
        if self.cni_args is not None:
            out["cni-args"] = self.cni_args
        return out


@dataclass(frozen=True)
class CniRequest:
    env: dict[str, str]
    config: bytes
    interface_attributes: InterfaceAttributes | None = None


def decode_request(body: bytes) -> CniRequest:
    """Go's ``api.Request`` from a request body; RequestError names what is wrong."""
    try:
        raw = decode_json(body)
    except ValueError as exc:
        raise RequestError(f"failed to decode the request: {exc}") from None
    if not isinstance(raw, dict):
        raise RequestError("failed to decode the request: it must be a JSON object")
    env = raw.get("env") or {}
    if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
        raise RequestError("failed to decode the request: env must be an object of strings")
    config = raw.get("config") or ""
    if not isinstance(config, str):
        raise RequestError("failed to decode the request: config must be a base64 string")
    try:
        stdin = base64.b64decode(config.replace("\r", "").replace("\n", ""), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RequestError(f"failed to decode the request: config is not base64: {exc}") from None
    return CniRequest(env=dict(env), config=stdin, interface_attributes=_attributes(raw.get("interfaceAttributes")))


def _attributes(raw: Any) -> InterfaceAttributes | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise RequestError("failed to decode the request: interfaceAttributes must be an object")
    ips, mac, cni_args = raw.get("ips") or [], raw.get("mac") or "", raw.get("cni-args")
    if not isinstance(ips, list) or not all(isinstance(ip, str) for ip in ips):
        raise RequestError("failed to decode the request: interfaceAttributes.ips must be an array of strings")
    if not isinstance(mac, str):
        raise RequestError("failed to decode the request: interfaceAttributes.mac must be a string")
    if cni_args is not None and not isinstance(cni_args, dict):
        raise RequestError("failed to decode the request: interfaceAttributes.cni-args must be an object")
    return InterfaceAttributes(ips=tuple(ips), mac=mac, cni_args=cni_args)


# ---- the call: Go's skel.CmdArgs as extractCniData fills it -----------------------------------------------


@dataclass(frozen=True)
class CallArgs:
    command: str
    container_id: str = ""
    netns: str = ""
    if_name: str = ""
    args: str = ""
    path: str = ""
    stdin_data: bytes = b""

    def describe(self) -> str:
        """Go's ``printCmdArgs``, the prefix of every plain-text error."""
        return (f"ContainerID:{go_quote(self.container_id)} Netns:{go_quote(self.netns)} "
                f"IfName:{go_quote(self.if_name)} Args:{go_quote(self.args)} Path:{go_quote(self.path)}")

    def to_cmd_args(self) -> CmdArgs:
        """skel's CmdArgs for the plugin verbs (which read only the identifiers and stdin)."""
        try:
            config = json.loads(self.stdin_data)
        except ValueError:
            config = None
        config = config if isinstance(config, dict) else {}
        version = config.get("cniVersion")
        return CmdArgs(command=self.command, container_id=self.container_id, netns=self.netns,
                       if_name=self.if_name, args=self.args, path=self.path, netns_override=False,
                       stdin_data=self.stdin_data, config=config,
                       cni_version=version if isinstance(version, str) else "")


def extract_call(env: Mapping[str, str], stdin: bytes) -> CallArgs:
    """The call from the request's environment, with Go's presence rules (§9.3).

    CNI_COMMAND always; STATUS and GC need nothing else; every other command needs CNI_CONTAINERID,
    CNI_NETNS and CNI_ARGS to be present (empty is allowed, as in Go); CNI_IFNAME defaults to eth0.
    """
    prefix = "could not extract the CNI command args:"
    command = env.get("CNI_COMMAND")
    if command is None:
        raise RequestError(f"{prefix} unexpected or missing CNI_COMMAND")
    path = env.get("CNI_PATH", "")
    if command in STATUS_AND_GC:
        return CallArgs(command=command, args=env.get("CNI_ARGS", ""), path=path, stdin_data=stdin)
    for name in ("CNI_CONTAINERID", "CNI_NETNS", "CNI_ARGS"):
        if name not in env:
            raise RequestError(f"{prefix} missing {name}")
    return CallArgs(command=command, container_id=env["CNI_CONTAINERID"], netns=env["CNI_NETNS"],
                    if_name=env.get("CNI_IFNAME", "eth0"), args=env["CNI_ARGS"], path=path, stdin_data=stdin)


def requested_result_version(request: HttpRequest) -> str | None:
    """Our shim's wanted result version, checked before anything runs (None: answer Go's shape)."""
    version = request.header(RESULT_VERSION_HEADER)
    if version is None:
        return None
    version = version.strip()
    if version not in ALL_VERSIONS:
        raise VersionError(f"unsupported result version {version!r} in {RESULT_VERSION_HEADER}",
                           f"supported versions: {', '.join(ALL_VERSIONS)}")
    return version


# ---- answers ---------------------------------------------------------------------------------------------


def add_response(result: cnitypes.Result, version: str | None) -> HttpResponse:
    """An ADD's result: Go's ``{"Result": <1.0.0>}``, or exactly the result in ``version`` when asked."""
    if version is not None:
        body = cnitypes.convert_result(result, version).to_json()
        return HttpResponse(200, body.encode(), JSON, ((RESULT_VERSION_HEADER, version),))
    current = cnitypes.convert_result(result, GO_RESULT_VERSION)
    return HttpResponse(200, json.dumps({"Result": current.to_dict()}, separators=(",", ":")).encode(), JSON)


def cni_error_response(error: CniError) -> HttpResponse:
    """The CNI error object, as Go's ``json.NewEncoder(w).Encode(cniErr)`` writes it."""
    return HttpResponse(400, (json.dumps(error.to_dict(), separators=(",", ":")) + "\n").encode(), JSON)


def plain_error_response(call: CallArgs | None, error: BaseException) -> HttpResponse:
    """Go's plain-text failure, prefixed with the call's arguments when they are known."""
    text = str(error) or type(error).__name__
    return text_response(400, f"{call.describe()} ERRORED: {text}" if call is not None else text)


def add_error(error: CniError, namespace: str, name: str) -> CniError:
    """Go's ADD failure text, keeping the CNI code and details (Go keeps only the text)."""
    return CniError(f"error configuring pod [{namespace}/{name}] networking: {error.msg}", error.details,
                    error.code)
