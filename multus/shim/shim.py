"""multus-shim: the CNI binary of thick mode; it forwards each CNI call to the Multus daemon.

The runtime starts one shim process per CNI call, on every pod's start path, so start-up time is the
design constraint. ``python -I -S`` starts in ~7 ms; ``import json`` would add ~6 ms (``re``, ``enum``),
``socket`` ~9 ms, ``http.client`` ~17 ms, ``os`` ~1 ms. So only C modules are imported: ``_socket``,
``binascii`` and, for decoding, ``_json``'s scanner (the C code ``json.loads`` runs; ``json`` itself is
imported only to word an error). The request encoder and the HTTP/1.1 client are our own. Nothing from
multus is imported at module level, so this file also runs alone from the host's CNI bin dir
(``multus.shim.install.write_launcher``).

Shim config keys (stdin; the rest is the daemon's business):
    cniVersion        the version of what is printed (result or error); absent means 0.1.0
    daemonSocketDir   default ``/run/multus/``; the daemon listens on ``<dir>/multus.sock``
    ignoreDelErrors   ``true``: a failed DEL is noted on stderr and reported as success, as Go's shim
                      always does. Default ``false``: it is reported (error JSON, exit 1), so the runtime
                      retries instead of leaking the pod's network state.
    readinessTimeout  seconds to wait for the daemon to be ready (default 60, as Go's shim)

Wire protocol (Go's): ``POST /cni`` on the socket with ``{"env": {<whole environment>}, "config":
"<base64 stdin>", "interfaceAttributes": null}``. 200 answers ADD with ``{"Result": <1.0.0 result>}``, the
rest with an empty body; errors are 400 with a CNI error object (passed through) or text (code 999).
Our extensions: the request header ``X-Multus-Result-Version: <cniVersion>``; a daemon that echoes it has
rendered the result for that version and its body is printed verbatim. Only a Go daemon's answer is
decoded and converted here, the one path that imports ``json`` and ``multus.cni.types``.

Readiness: Go's shim polls ``POST /readyz`` every 100 ms before ADD, CHECK, GC and STATUS, and makes one
``POST /healthz`` before DEL: a round trip on every call. This shim sends ``/cni`` at once; ADD, CHECK, GC
and STATUS carry ``X-Multus-Readiness: unchecked``, and our daemon answers those with 503 and
``X-Multus-Readiness: not-ready`` while it is shutting down instead of starting the work. Then, or when
nothing listens on the socket yet, the shim polls ``/readyz`` as Go's does and sends the request again.
(A Go daemon ignores the header and serves the request during its shutdown grace period; see
docs/compatibility.md.)
"""

import _socket
import binascii
import posix
import sys
import time

SUPPORTED_VERSIONS = ("0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0")
VERSION_ANSWER = ('{"cniVersion":"1.1.0","supportedVersions":[' + ",".join(f'"{v}"' for v in SUPPORTED_VERSIONS)
                  + "]}\n").encode()
DEFAULT_SOCKET_DIR = "/run/multus/"
READY_INTERVAL, READY_TIMEOUT = 0.1, 60.0
RESULT_VERSION_HEADER = "X-Multus-Result-Version"
READINESS_HEADER = "X-Multus-Readiness"  # "unchecked" on a request; "not-ready" on our daemon's 503
# What skel requires per command (code 4 when missing), and the oldest config version of each verb.
REQUIRED_ENV = {"ADD": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
                "CHECK": ("CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"),
                "DEL": ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH"), "GC": ("CNI_PATH",), "STATUS": ("CNI_PATH",)}
VERB_MINIMUM_VERSION = {"CHECK": (0, 4, 0), "GC": (1, 1, 0), "STATUS": (1, 1, 0)}
# Set by write_launcher when this file runs outside the package: where ``multus`` can be imported from
# to convert a Go daemon's result. Empty when running from the installed package.
_PROJECT_PATH = ""


class ShimError(Exception):
    """A failure, printed as a CNI error object; ``raw`` is the daemon's own object, printed as is."""

    def __init__(self, code: int, msg: str, details: str = "", raw: bytes = b"", labelled: bool = False) -> None:
        super().__init__(msg)
        self.code, self.msg, self.details, self.raw, self.labelled = code, msg, details, raw, labelled


# RFC 8259: quote, backslash and U+0000..U+001F must be escaped; anything else may be written as is.
_ESCAPES = {i: f"\\u{i:04x}" for i in range(0x20)} | {0x22: '\\"', 0x5C: "\\\\"}


def quote(text: str) -> str:
    """A JSON string literal (non-ASCII left as is, to be written as UTF-8)."""
    return '"' + text.translate(_ESCAPES) + '"'


def dumps(value: object) -> str:
    """Compact JSON for what the shim writes: dicts with str keys, str, int, bool, None."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, dict):
        return "{" + ",".join(quote(k) + ":" + dumps(v) for k, v in value.items()) + "}"
    raise TypeError(f"cannot encode {type(value).__name__}")


class _ScanContext:
    """The settings ``json.loads`` gives its C scanner: no hooks, strict strings, NaN/Infinity as floats."""

    strict, object_hook, object_pairs_hook = True, None, None
    parse_float, parse_int, parse_constant = float, int, float


def loads(data: bytes) -> object:
    """``json.loads`` of UTF-8 bytes, raising ValueError (or RecursionError) as it does."""
    text = data.decode("utf-8")  # UnicodeDecodeError is a ValueError
    try:
        from _json import make_scanner

        start = len(text) - len(text.lstrip(" \t\n\r"))
        value, end = make_scanner(_ScanContext())(text, start)  # type: ignore[arg-type]
        if not text[end:].strip(" \t\n\r"):
            return value
    except Exception:  # on 3.11 the scanner's errors surface as StopIteration or SystemError
        pass
    import json  # invalid (or not CPython): json decides and words the error

    return json.loads(text)


class _IdleClosed(OSError):
    """The server closed the connection before any byte of the answer: the request may be sent again."""


class Connection:
    """An HTTP/1.1 client connection over a unix socket, reusable while the server keeps it alive."""

    def __init__(self, path: str, timeout: float | None) -> None:
        self.sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        try:
            self.sock.connect(path)
        except BaseException:
            self.sock.close()
            raise
        self.buf, self.reusable = b"", False

    def _fill(self) -> bool:
        chunk = self.sock.recv(65536)
        self.buf += chunk
        return bool(chunk)

    def _take(self, n: int, skip: int = 0) -> bytes:
        while len(self.buf) < n + skip:
            if not self._fill():
                raise ConnectionError("the daemon closed the connection in the middle of an answer")
        data, self.buf = self.buf[:n], self.buf[n + skip:]
        return data

    def _until(self, sep: bytes) -> bytes:
        while (i := self.buf.find(sep)) < 0:
            if not self._fill():
                raise ConnectionError("the daemon closed the connection in the middle of an answer")
        return self._take(i, len(sep))

    def request(self, target: str, body: bytes = b"", headers: str = "") -> tuple[int, dict[str, str], bytes]:
        """POST ``target``: status, headers (lower-case names), body. Malformed answers raise ValueError."""
        self.reusable = False
        head = f"POST {target} HTTP/1.1\r\nHost: dummy\r\nContent-Length: {len(body)}\r\n{headers}\r\n"
        try:
            self.sock.sendall(head.encode("latin-1") + body)
            if not self.buf and not self._fill():
                raise _IdleClosed("the daemon closed the connection without answering")
        except (BrokenPipeError, ConnectionResetError) as exc:
            raise _IdleClosed(str(exc)) from None
        status = 100
        while 100 <= status < 200:  # interim answers (100 Continue) are skipped
            status_line, *lines = self._until(b"\r\n\r\n").decode("latin-1").split("\r\n")
            version, _, rest = status_line.partition(" ")
            if not version.startswith("HTTP/") or not rest[:3].isdigit():
                raise ValueError(f"not an HTTP answer: {status_line[:100]!r}")
            status = int(rest[:3])
            fields = {name.strip().lower(): value.strip() for name, _, value in (ln.partition(":") for ln in lines)}
        keep = version == "HTTP/1.1" and "close" not in fields.get("connection", "").lower()
        if "chunked" in fields.get("transfer-encoding", "").lower():
            parts = []
            while size := int(self._until(b"\r\n").split(b";")[0] or b"0", 16):
                parts.append(self._take(size, 2))
            while self._until(b"\r\n"):  # trailers, up to the empty line
                pass
            data = b"".join(parts)
        elif "content-length" in fields:
            if (length := int(fields["content-length"])) < 0:
                raise ValueError(f"bad Content-Length {length}")
            data = self._take(length)
        elif status in (204, 304):
            data = b""
        else:  # delimited by the end of the connection
            while self._fill():
                pass
            data, self.buf, keep = self.buf, b"", False
        self.reusable = keep
        return status, fields, data


def connect(path: str, timeout: float | None) -> Connection:
    try:
        return Connection(path, timeout)
    except OSError as exc:
        raise ShimError(11, f"cannot connect to the multus daemon at {path}", str(exc)) from None


def wait_ready(path: str, timeout: float) -> Connection | None:
    """Poll ``/readyz`` every 100 ms until a 200 (as Go's shim); the connection if the daemon keeps it."""
    deadline = time.monotonic() + timeout
    while True:
        conn = None
        try:
            conn = Connection(path, max(deadline - time.monotonic(), 0.05))
            status = conn.request("/readyz")[0]
            if status == 200:
                return keep_open(conn)
            problem = f"/readyz answered status {status}"
        except (OSError, ValueError) as exc:
            problem = str(exc) or type(exc).__name__
        if conn is not None:
            conn.sock.close()
        if time.monotonic() + READY_INTERVAL > deadline:
            raise ShimError(11, f"the multus daemon at {path} is not ready after {timeout:g} s", problem)
        time.sleep(READY_INTERVAL)


def keep_open(conn: Connection) -> Connection | None:
    """The connection for the next request if the server keeps it alive (Go's daemon does not)."""
    if conn.reusable:
        conn.sock.settimeout(None)
        return conn
    conn.sock.close()
    return None


Answer = tuple[int, dict[str, str], bytes]  # status, headers (lower-case names), body


def send(path: str, conn: Connection | None, body: bytes, headers: str) -> Answer | None:
    """``POST /cni`` on ``conn`` (a new connection if None); None when the daemon closed the connection
    without a byte of an answer, e.g. a kept-alive one it had closed while idle, or when shutting down."""
    conn = conn or connect(path, None)
    try:
        return conn.request("/cni", body, headers)
    except _IdleClosed:
        return None
    except (OSError, ValueError) as exc:
        raise ShimError(999, f"CNI request to the multus daemon at {path} failed", str(exc)) from None
    finally:
        conn.sock.close()


def first_connection(path: str, timeout: float) -> Connection | None:
    """A connection to send the request on at once; None when nothing accepts one yet."""
    try:
        conn = Connection(path, timeout)
    except OSError:
        return None
    conn.sock.settimeout(None)  # a CNI call takes as long as its plugins do
    return conn


def not_ready(answer: Answer | None) -> bool:
    """No answer, or our daemon's 503 to an unchecked request while it shuts down: wait, then resend."""
    return answer is None or (answer[0] == 503 and answer[1].get(READINESS_HEADER.lower()) == "not-ready")


def exchange(command: str, path: str, body: bytes, headers: str, timeout: float) -> Answer:
    """The ``/cni`` exchange, with the readiness rules of the module docstring."""
    if command == "DEL":  # as Go's shim: no readiness wait, but no daemon to connect to is an error
        answer = send(path, connect(path, timeout), body, headers)
    else:
        headers += f"{READINESS_HEADER}: unchecked\r\n"
        conn = first_connection(path, timeout)
        answer = send(path, conn, body, headers) if conn else None
        if not_ready(answer):
            answer = send(path, wait_ready(path, timeout), body, headers)
    if answer is None:  # once more on a new connection: no answer means the daemon did not take it
        answer = send(path, None, body, headers)
    if answer is None:
        raise ShimError(999, f"CNI request to the multus daemon at {path} failed",
                        "the daemon closed the connection without answering")
    return answer


def daemon_error(status: int, body: bytes) -> ShimError:
    """A non-200 answer: the daemon's CNI error object as is, anything else wrapped as code 999."""
    try:
        obj = loads(body)
    except (ValueError, RecursionError):
        obj = None
    if isinstance(obj, dict) and isinstance(msg := obj.get("msg"), str) and msg:
        code, details = obj.get("code", 0), obj.get("details", "")
        if isinstance(code, int) and not isinstance(code, bool) and isinstance(details, str):
            return ShimError(code, msg, details, raw=body.strip(), labelled="cniVersion" in obj)
    return ShimError(999, f"CNI request failed with status {status}: '{body.decode('utf-8', 'replace').strip()}'")


def convert_go_result(body: bytes, version: str, wrapped: bool) -> bytes:
    """A Go daemon's ``{"Result": <1.0.0>}`` rendered for ``version``: the only path importing multus."""
    if _PROJECT_PATH and _PROJECT_PATH not in sys.path:
        sys.path.append(_PROJECT_PATH)
    try:
        from multus.cni.errors import CniError
        from multus.cni.types import convert_result, parse_result
    except ImportError as exc:
        raise ShimError(999, f"cannot convert the daemon's result to cniVersion {version}", str(exc)) from None
    try:
        obj = loads(body)
    except (ValueError, RecursionError) as exc:
        raise ShimError(6, "the daemon's answer could not be decoded", str(exc)) from None
    result = obj.get("Result") if wrapped and isinstance(obj, dict) else obj
    if not isinstance(result, dict):
        raise ShimError(6, "the daemon's answer has no result object", body[:200].decode("utf-8", "replace"))
    try:
        return (convert_result(parse_result(result, "1.0.0"), version).to_json() + "\n").encode()
    except CniError as exc:
        raise ShimError(exc.code, exc.msg, exc.details) from None


def parse_config(command: str, stdin: bytes) -> tuple[str | None, str, float, bool]:
    """cniVersion (None if absent), socket path, readiness timeout, ignoreDelErrors; checked as skel would."""
    try:
        config = loads(stdin)
    except (ValueError, RecursionError) as exc:
        raise ShimError(6, "stdin could not be decoded as a network config", str(exc)) from None
    if not isinstance(config, dict):
        raise ShimError(6, "stdin could not be decoded as a network config", "it is not a JSON object")
    label = config.get("cniVersion")
    if label is not None and not isinstance(label, str):
        raise ShimError(6, "decoding version from network config", "cniVersion must be a string")
    version = label or "0.1.0"
    if version not in SUPPORTED_VERSIONS:
        raise ShimError(1, f"incompatible CNI versions: config is {version!r}",
                        f"plugin supports only {', '.join(SUPPORTED_VERSIONS)}")
    if (minimum := VERB_MINIMUM_VERSION.get(command)) and tuple(map(int, version.split("."))) < minimum:
        raise ShimError(1, f"config version does not allow {command}", f"config has cniVersion {version}")
    socket_dir, timeout, ignore = config.get("daemonSocketDir"), config.get("readinessTimeout"), config.get(
        "ignoreDelErrors")
    timeout = READY_TIMEOUT if timeout is None else timeout  # null means the default, as an absent key
    if not isinstance(socket_dir, str | None):
        raise ShimError(7, "invalid shim config: daemonSocketDir must be a string")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise ShimError(7, "invalid shim config: readinessTimeout must be a number of seconds")
    if not isinstance(ignore, bool | None):
        raise ShimError(7, "invalid shim config: ignoreDelErrors must be a boolean")
    return label or None, (socket_dir or DEFAULT_SOCKET_DIR).rstrip("/") + "/multus.sock", float(timeout), bool(ignore)


def call_daemon(command: str, environ: dict[str, str], stdin: bytes, version: str, path: str,
                timeout: float) -> bytes:
    """One CNI call through the daemon; returns what goes on stdout."""
    env = {key.strip(): value for key, value in environ.items()}  # Go's shim trims the keys
    config = binascii.b2a_base64(stdin, newline=False).decode("ascii")
    body = f'{{"env":{dumps(env)},"config":"{config}","interfaceAttributes":null}}'.encode("utf-8", "replace")
    headers = f"Content-Type: application/json\r\n{RESULT_VERSION_HEADER}: {version}\r\n"
    status, fields, data = exchange(command, path, body, headers, timeout)
    if status != 200:
        raise daemon_error(status, data)
    if command != "ADD":
        return b""
    answered = fields.get(RESULT_VERSION_HEADER.lower())
    if answered == version:
        return data  # rendered by the daemon for our version: nothing to parse
    return convert_go_result(data, version, wrapped=answered is None)


def error_output(error: ShimError, label: str | None) -> bytes:
    """The error object for stdout: the daemon's own (given our cniVersion if it has none), or ours."""
    if error.raw:
        if label and not error.labelled:
            return b'{"cniVersion":' + quote(label).encode() + b"," + error.raw[1:] + b"\n"
        return error.raw + b"\n"
    fields: dict[str, object] = {"cniVersion": label} if label else {}
    fields |= {"code": error.code, "msg": error.msg} | ({"details": error.details} if error.details else {})
    return (dumps(fields) + "\n").encode("utf-8", "replace")


def run(environ: dict[str, str], stdin: bytes | None = None) -> tuple[int, bytes, str]:
    """One CNI invocation: exit code, stdout, stderr. ``stdin`` None reads it when the command needs it."""
    command, label = environ.get("CNI_COMMAND", ""), None
    try:
        if not command:  # run by hand: say what this is, like skel
            return 0, b"", ("multus-shim: forwards CNI calls to the multus daemon\n"
                            f"CNI protocol versions supported: {', '.join(SUPPORTED_VERSIONS)}\n")
        if command == "VERSION":
            return 0, VERSION_ANSWER, ""
        if command not in REQUIRED_ENV:
            raise ShimError(4, f"unknown CNI_COMMAND {command!r}", f"expected one of {', '.join(REQUIRED_ENV)}")
        if missing := [name for name in REQUIRED_ENV[command] if not environ.get(name)]:
            raise ShimError(4, f"required env variables [{','.join(missing)}] missing")
        if stdin is None:
            try:
                stdin = sys.stdin.buffer.read()
            except OSError as exc:
                raise ShimError(5, "error reading from stdin", str(exc)) from None
        label, path, timeout, ignore_del_errors = parse_config(command, stdin)
        try:
            return 0, call_daemon(command, environ, stdin, label or "0.1.0", path, timeout), ""
        except ShimError as error:
            if command != "DEL" or not ignore_del_errors:
                raise
            return 0, b"", f"multus-shim: DEL failed, ignored (ignoreDelErrors): [code {error.code}] {error}\n"
    except Exception as exc:  # never a traceback: every failure is an error object
        failure = exc if isinstance(exc, ShimError) else ShimError(999, str(exc) or type(exc).__name__)
        summary = f"multus-shim: CNI {command} failed: [code {failure.code}] {failure}"
        return 1, error_output(failure, label), summary + (f"; {failure.details}\n" if failure.details else "\n")


def main() -> int:
    """The entry point: the process environment (undecodable bytes replaced, as Go's JSON does), stdio."""
    code, out, err = run({k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in posix.environ.items()})
    try:
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
        sys.stderr.write(err)
        sys.stderr.flush()
    except OSError:
        return 1
    return code


if __name__ == "__main__":
    # main() has flushed everything it wrote; skipping the interpreter's teardown saves ~1.5 ms per call.
    posix._exit(main())
