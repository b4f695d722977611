"""The shim's own wire pieces: the JSON encoder, the json-free decoder and the HTTP/1.1 client.

Checked here:
  * ``dumps``/``quote`` produce what ``json.loads`` reads back for tricky strings (quotes, backslashes,
    every control character, DEL, non-ASCII, astral characters, U+2028) and for dicts, None, bools, ints;
  * ``loads`` equals ``json.loads`` on valid documents and raises ValueError where it does (garbage,
    trailing data, an empty input, a BOM, control characters inside strings, bad UTF-8), RecursionError
    for absurd nesting;
  * the HTTP client reads Content-Length bodies, chunked bodies (with extensions and trailers), bodies
    ended by closing the connection, skips 100 Continue, keeps a connection only when HTTP/1.1 without
    ``Connection: close``, and sends /cni again on a new connection when one was closed unanswered.
"""

from __future__ import annotations

import json

import pytest
from shim_daemon_double import RawDaemon, cni_env, shim_config

from multus.shim.shim import Connection, dumps, loads, quote, run

TRICKY = [
    "",
    "plain",
    'say "hi"',
    "back\\slash \\\\ and \\u0041 literally",
    "".join(chr(i) for i in range(0x20)),
    "\x7f del",
    "é ü ß 中文 🚀",
    "\u2028\u2029",
    "ends with backslash \\",
    '\\"',
    "</script>",
]


@pytest.mark.parametrize("text", TRICKY)
def test_quote_round_trips_through_json(text: str) -> None:
    assert json.loads(quote(text)) == text


def test_quote_escapes_only_what_rfc_8259_requires() -> None:
    assert quote('a"b\\c\n\x00é') == '"a\\"b\\\\c\\u000a\\u0000é"'


def test_dumps_round_trips_nested_values() -> None:
    value: dict[str, object] = {"env": {t: t for t in TRICKY}, "n": None, "t": True, "f": False, "i": -7,
                                "nested": {"x": {}}}
    assert json.loads(dumps(value)) == value


def test_dumps_refuses_what_it_does_not_write() -> None:
    with pytest.raises(TypeError):
        dumps(1.5)


@pytest.mark.parametrize("doc", [
    '{"a": 1}', ' \n\t{"a": [1, 2.5, -3e2, true, false, null, "x\\u00e9\\n"]}\r\n ', '"s"', "[]", "0",
    '{"cniVersion": "1.0.0", "plugins": [{"type": "bridge", "ipam": {"ranges": [[{"subnet": "10.0.0.0/8"}]]}}]}',
    '{"dup": 1, "dup": 2}', "NaN", '{"é": "🚀"}',
])
def test_loads_equals_json_loads(doc: str) -> None:
    expected = json.loads(doc)
    got = loads(doc.encode())
    assert got == expected or (got != got and expected != expected)  # NaN


@pytest.mark.parametrize("data", [
    b"", b"   ", b"{", b'{"a": 1} x', b'{"a": 1}{}', b'{"a": "x', b"{'a': 1}", b"[1,]", b'"tab\there"',
    b"\xef\xbb\xbf{}", b"\xff", b"nul",
])
def test_loads_rejects_what_json_loads_rejects(data: bytes) -> None:
    with pytest.raises(ValueError):
        loads(data)


def test_loads_of_absurd_nesting_is_a_recursion_error() -> None:
    with pytest.raises(RecursionError):
        loads(b"[" * 200_000)


# ---- HTTP ------------------------------------------------------------------------------------------------

def ok(body: bytes, *headers: str, version: str = "HTTP/1.1") -> bytes:
    head = "".join(f"{h}\r\n" for h in headers)
    return f"{version} 200 OK\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_content_length_body_and_keep_alive(sock_dir: str) -> None:
    path = f"{sock_dir}/s"
    with RawDaemon(path, [ok(b"one", "X-A:  spaced  "), ok(b"two", "Connection: close")]) as raw:
        conn = Connection(path, 5)
        status, fields, body = conn.request("/a")
        assert (status, fields["x-a"], body, conn.reusable) == (200, "spaced", b"one", True)
        status, fields, body = conn.request("/b", b"payload", "X-Test: 1\r\n")
        assert (body, conn.reusable) == (b"two", False)
        conn.sock.close()
    assert [number for number, _ in raw.requests] == [1, 1]
    assert raw.requests[1][1].startswith(b"POST /b HTTP/1.1\r\nHost: dummy\r\nContent-Length: 7\r\nX-Test: 1")


def test_an_http_1_0_answer_is_not_kept(sock_dir: str) -> None:
    with RawDaemon(f"{sock_dir}/s", [ok(b"x", version="HTTP/1.0")]):
        conn = Connection(f"{sock_dir}/s", 5)
        assert conn.request("/a")[2] == b"x"
        assert not conn.reusable


def test_chunked_body_with_extensions_and_trailers(sock_dir: str) -> None:
    answer = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"4\r\nWiki\r\n6;ext=1\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\nTrailer: x\r\n\r\n")
    with RawDaemon(f"{sock_dir}/s", [answer, ok(b"after")]):
        conn = Connection(f"{sock_dir}/s", 5)
        assert conn.request("/a")[2] == b"Wikipedia in \r\n\r\nchunks."
        assert conn.reusable
        assert conn.request("/b")[2] == b"after"  # the framing ended exactly where it should


def test_a_body_ended_by_closing_and_an_interim_answer(sock_dir: str) -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\nuntil close"
    with RawDaemon(f"{sock_dir}/s", [answer], close_after=True):
        conn = Connection(f"{sock_dir}/s", 5)
        status, _, body = conn.request("/a")
        assert (status, body, conn.reusable) == (400, b"until close", False)


def test_a_truncated_answer_is_an_error(sock_dir: str) -> None:
    with RawDaemon(f"{sock_dir}/s", [b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"], close_after=True):
        conn = Connection(f"{sock_dir}/s", 5)
        with pytest.raises(ConnectionError):
            conn.request("/a")


def test_garbage_is_not_an_http_answer(sock_dir: str) -> None:
    with RawDaemon(f"{sock_dir}/s", [b"SSH-2.0-OpenSSH\r\n\r\n"], close_after=True):
        with pytest.raises(ValueError):
            Connection(f"{sock_dir}/s", 5).request("/a")


NOT_READY = b"HTTP/1.1 503 Service Unavailable\r\nX-Multus-Readiness: not-ready\r\nContent-Length: 0\r\n\r\n"


def test_a_kept_connection_closed_idle_is_retried_on_a_new_one(sock_dir: str) -> None:
    # not ready; then readyz answered on a kept connection, which the server closes instead of answering /cni
    with RawDaemon(f"{sock_dir}/multus.sock", [NOT_READY, ok(b""), None, ok(b"")]) as raw:
        code, out, err = run(cni_env("CHECK"), shim_config(sock_dir, "0.4.0"))
    assert (code, out, err) == (0, b"", "")
    assert [(number, head.split(b" ")[1]) for number, head in raw.requests] == [
        (1, b"/cni"), (2, b"/readyz"), (2, b"/cni"), (3, b"/cni")]


def test_no_answer_on_a_fresh_connection_twice_is_an_error(sock_dir: str) -> None:
    with RawDaemon(f"{sock_dir}/multus.sock", [None, None]) as raw:
        code, out, _ = run(cni_env("DEL"), shim_config(sock_dir))
    error = json.loads(out)
    assert (code, error["code"]) == (1, 999)
    assert "closed the connection without answering" in error["details"]
    assert [number for number, _ in raw.requests] == [1, 2]
