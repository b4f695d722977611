"""The daemon's HTTP/1.1 server on a real unix socket, spoken to with raw bytes (multus.daemon.connection).

Checked: a Content-Length body and a chunked one (extensions, trailers) reach the app; requests
pipelined in one write are answered in order on the kept connection; ``Connection: close`` and HTTP/1.0
close after the answer, HTTP/1.0 with keep-alive does not; ``Expect: 100-continue`` gets the interim
answer; HEAD gets the header fields without the body; the answer carries Server, an IMF-fixdate Date and
Content-Length; a bad request line or header field is a 400 and closes, oversized header fields a 431,
an oversized body a 413; an idle kept connection is closed after the idle timeout; the real
``http.client`` reads every answer; work after the answer runs once it is written, and its failure
loses nothing.
"""

from __future__ import annotations

import email.utils
import http.client
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from multus.daemon.connection import MAX_BODY, http_date
from multus.daemon.server import DaemonServer
from multus.daemon.wire import HttpRequest, HttpResponse


def echo(request: HttpRequest) -> HttpResponse:
    body = f"{request.method} {request.path} {request.header('x-test')} ".encode() + request.body
    return HttpResponse(200, body, "text/plain", (("X-Echo", "1"),))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DaemonServer]:
    served = DaemonServer(str(tmp_path / "d.sock"), echo, connection_limit=4, idle_timeout=0.3)
    served.start()
    try:
        yield served
    finally:
        served.close()


def connect(server: DaemonServer) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(server.socket_path)
    return sock


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def answers(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split a byte stream of answers (each with Content-Length) into (status, fields, body)."""
    parsed = []
    while data:
        head, _, data = data.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        fields = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
        length = int(fields.get("content-length", "0"))
        body, data = data[:length], data[length:]
        parsed.append((int(status_line.split(" ")[1]), fields, body))
    return parsed


def test_content_length_and_chunked_bodies_reach_the_app(server: DaemonServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /a HTTP/1.1\r\nHost: x\r\nX-Test: one\r\nContent-Length: 5\r\n\r\nhello"
                     b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                     b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: t\r\n\r\n")
        got = answers(read_all(sock))
    assert [(status, body) for status, _, body in got] == [(200, b"POST /a one hello"), (200, b"POST /b None abcde")]
    assert "connection" not in got[0][1]
    assert got[1][1]["connection"] == "close"


def test_the_answer_carries_server_date_type_length_and_the_apps_fields(server: DaemonServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /x HTTP/1.1\r\nConnection: close\r\n\r\n")
        status, fields, body = answers(read_all(sock))[0]
    assert (status, fields["server"], fields["content-type"], fields["x-echo"]) == (200, "multus-daemon",
                                                                                    "text/plain", "1")
    assert int(fields["content-length"]) == len(body)
    assert email.utils.parsedate_to_datetime(fields["date"]).tzname() == "UTC"
    assert fields["date"].endswith(" GMT") and len(fields["date"]) == 29


def test_http_date_is_imf_fixdate() -> None:
    assert email.utils.format_datetime(email.utils.parsedate_to_datetime(http_date()), usegmt=True) == http_date()


def test_http_1_0_closes_unless_keep_alive(server: DaemonServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        assert answers(read_all(sock))[0][1]["connection"] == "close"
    with connect(server) as sock:
        sock.sendall(b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                     b"GET /again HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert [body for _, _, body in answers(read_all(sock))] == [b"GET /old None ", b"GET /again None "]


def test_expect_100_continue_gets_the_interim_answer(server: DaemonServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"POST /c HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n")
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"ok")
        assert answers(read_all(sock))[-1][2] == b"POST /c None ok"


def test_head_gets_the_fields_without_the_body(server: DaemonServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"HEAD /h HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = read_all(sock)
    head, _, rest = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Content-Length: 13" in head  # len(b"HEAD /h None ")
    assert rest == b""


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"NONSENSE\r\n\r\n", 400),
    (b"GET /x SPDY/3\r\n\r\n", 400),
    (b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n", 400),
    (b"GET /x HTTP/1.1\r\nBad Name : v\r\n\r\n", 400),
    (b"GET /x HTTP/1.1\r\nX: " + b"a" * 70_000 + b"\r\n\r\n", 431),
    (b"POST /x HTTP/1.1\r\nContent-Length: " + str(MAX_BODY + 1).encode() + b"\r\n\r\n", 413),
    (b"POST /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 413),
    (b"POST /x HTTP/1.1\r\nContent-Length: ten\r\n\r\n", 400),
    (b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
])
def test_bad_requests_are_answered_and_closed(server: DaemonServer, request_bytes: bytes, status: int) -> None:
    with connect(server) as sock:
        sock.sendall(request_bytes)
        got = answers(read_all(sock))
    assert [s for s, _, _ in got] == [status]
    assert got[0][1]["connection"] == "close"


def test_an_idle_kept_connection_is_closed_after_the_idle_timeout(server: DaemonServer) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /1 HTTP/1.1\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
        assert sock.recv(1) == b""  # closed by the server after 0.3 s, well within the client's 5 s


def test_the_standard_client_reads_every_answer(server: DaemonServer) -> None:
    class UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(server.socket_path)

    client = UnixConnection("localhost")
    try:
        for i in range(3):
            client.request("POST", f"/n{i}", body=b"x" * i, headers={"X-Test": str(i)})
            reply = client.getresponse()
            assert (reply.status, reply.read()) == (200, f"POST /n{i} {i} ".encode() + b"x" * i)
    finally:
        client.close()


def test_work_after_the_answer_runs_once_it_is_written_and_a_failure_there_loses_nothing(tmp_path: Path) -> None:
    done: list[str] = []

    def app(request: HttpRequest) -> HttpResponse:
        def after() -> None:
            done.append(request.path)
            if request.path == "/boom":
                raise RuntimeError("after-work failed")
        return HttpResponse(200, request.path.encode(), after=after)

    served = DaemonServer(str(tmp_path / "d.sock"), app, connection_limit=2)
    served.start()
    try:
        with connect(served) as sock:
            sock.sendall(b"GET /boom HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\nConnection: close\r\n\r\n")
            got = answers(read_all(sock))
    finally:
        served.close()
    assert [body for _, _, body in got] == [b"/boom", b"/next"]  # the kept connection served on
    assert done == ["/boom", "/next"]
