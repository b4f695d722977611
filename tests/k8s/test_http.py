"""The API client's own HTTP/1.1 exchange (multus.k8s.http), against scripted raw answers on 127.0.0.1.

Checked: the request line, Host (with a non-default port), the given header fields and Content-Length
go out in one write; a Content-Length body is read and the connection kept for the next request; a
chunked body (extensions, trailers) is joined; a body ended by closing, an HTTP/1.0 answer and
``Connection: close`` mark the connection closed; 100 Continue is skipped; a connection closed before
any byte of an answer is ServerClosed (what a stale kept-alive connection looks like); garbage and a
truncated body are BadResponse; a header value with a line break is refused before anything is sent;
a silent server is a timeout; importing the client loads neither http.client nor ssl nor email.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from multus.k8s.http import BadResponse, Connection, ServerClosed
from multus.testing.scripted_http import ScriptedHttpServer


@pytest.fixture
def serve() -> Iterator[list[ScriptedHttpServer]]:
    servers: list[ScriptedHttpServer] = []
    yield servers
    for server in servers:
        server.close()


def start(serve: list[ScriptedHttpServer], *answers: bytes | None, close_after: bool = False) -> ScriptedHttpServer:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = ScriptedHttpServer(listener, list(answers), close_after)
    serve.append(server)
    return server


def port(server: ScriptedHttpServer) -> int:
    assert isinstance(server.address, tuple)
    return server.address[1]


def ok(body: bytes, *fields: str, version: str = "HTTP/1.1") -> bytes:
    head = "".join(f"{f}\r\n" for f in fields)
    return f"{version} 200 OK\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


def test_a_request_goes_out_whole_and_a_kept_connection_carries_the_next(serve: list[ScriptedHttpServer]) -> None:
    server = start(serve, ok(b'{"a":1}', "Content-Type: application/json"), ok(b"{}"))
    conn = Connection("127.0.0.1", port(server), timeout=5)
    first = conn.request("PATCH", "/api/v1/x", {"Content-Type": "application/merge-patch+json"}, b'{"p":1}')
    assert (first.status, first.body, first.will_close) == (200, b'{"a":1}', False)
    assert first.headers["content-type"] == "application/json"
    second = conn.request("GET", "/api/v1/y", {"Accept": "application/json"})
    assert second.body == b"{}"
    conn.close()
    assert [number for number, _ in server.requests] == [1, 1]
    assert server.requests[0][1] == (f"PATCH /api/v1/x HTTP/1.1\r\nHost: 127.0.0.1:{port(server)}\r\n"
                                     "Content-Type: application/merge-patch+json\r\nContent-Length: 7").encode()
    assert server.bodies[0] == b'{"p":1}'
    assert b"Content-Length" not in server.requests[1][1]  # a GET without a body says nothing of one


def test_a_chunked_body_is_joined(serve: list[ScriptedHttpServer]) -> None:
    server = start(serve, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                          b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n")
    response = Connection("127.0.0.1", port(server), timeout=5).request("GET", "/", {})
    assert (response.body, response.will_close) == (b"abcde", False)


@pytest.mark.parametrize("answer", [
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end",
    ok(b"until the end", version="HTTP/1.0"),
    ok(b"until the end", "Connection: close"),
])
def test_the_end_of_the_connection_ends_it_for_the_client_too(serve: list[ScriptedHttpServer], answer: bytes) -> None:
    server = start(serve, answer, close_after=True)
    conn = Connection("127.0.0.1", port(server), timeout=5)
    response = conn.request("GET", "/", {})
    assert (response.body, response.will_close, conn.sock) == (b"until the end", True, None)


def test_an_interim_answer_is_skipped(serve: list[ScriptedHttpServer]) -> None:
    server = start(serve, b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"done"))
    assert Connection("127.0.0.1", port(server), timeout=5).request("POST", "/", {}, b"x").body == b"done"


def test_no_answer_at_all_is_server_closed(serve: list[ScriptedHttpServer]) -> None:
    server = start(serve, ok(b"1"), None)
    conn = Connection("127.0.0.1", port(server), timeout=5)
    conn.request("GET", "/", {})
    with pytest.raises(ServerClosed):
        conn.request("GET", "/", {})  # the kept connection was closed instead of answered


@pytest.mark.parametrize("answer", [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
                                    b"HTTP/1.1 200 OK\r\nbroken header\r\n\r\n",
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_what_is_not_an_http_answer_is_bad_response(serve: list[ScriptedHttpServer], answer: bytes) -> None:
    server = start(serve, answer, close_after=True)
    with pytest.raises(BadResponse):
        Connection("127.0.0.1", port(server), timeout=5).request("GET", "/", {})


def test_a_header_with_a_line_break_is_refused_before_sending(serve: list[ScriptedHttpServer]) -> None:
    server = start(serve, ok(b""))
    with pytest.raises(ValueError):
        Connection("127.0.0.1", port(server), timeout=5).request("GET", "/", {"X": "a\r\nInjected: 1"})
    assert server.requests == []


def test_a_silent_server_is_a_timeout() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    try:
        with pytest.raises(TimeoutError):
            Connection("127.0.0.1", listener.getsockname()[1], timeout=0.2).request("GET", "/", {})
    finally:
        listener.close()


def test_importing_the_client_loads_no_http_client_ssl_or_email() -> None:
    code = ("import sys, multus.k8s.client; "
            "print(sorted(m for m in ('http.client', 'ssl', 'email.parser') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"
