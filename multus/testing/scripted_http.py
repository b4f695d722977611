"""A scripted HTTP peer for tests of HTTP clients: it answers each request with given raw bytes.

Where a well-behaved server double cannot produce the answer under test (chunked framing with
extensions, a body ended by closing, an interim 100, a connection closed instead of answered,
garbage), :class:`ScriptedHttpServer` reads one request at a time (head, and a Content-Length body)
from a listening socket the test bound (unix or TCP) and sends ``answers[n]`` for the n-th request;
``None`` closes that connection without answering. A connection stays open after an answer unless
``close_after``. Every request is recorded with its connection number.
"""

from __future__ import annotations

import socket
import threading


class ScriptedHttpServer:
    """Serves ``answers`` on ``listener`` (already bound) until they run out or :meth:`close`."""

    def __init__(self, listener: socket.socket, answers: list[bytes | None], close_after: bool = False) -> None:
        self.answers, self.close_after = list(answers), close_after
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request head without the blank line)
        self.bodies: list[bytes] = []  # the request bodies, in the same order
        self._sock = listener
        self._sock.listen(8)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int] | str:
        """Where it listens: (host, port) for TCP, the path for a unix socket."""
        address: tuple[str, int] | str = self._sock.getsockname()
        return address

    def close(self) -> None:
        self._sock.close()
        self._thread.join(5)

    def _serve(self) -> None:
        number = 0
        while self.answers:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            number += 1
            with conn:
                self._serve_connection(conn, number)

    def _serve_connection(self, conn: socket.socket, number: int) -> None:
        buf = b""
        while self.answers:
            while b"\r\n\r\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                buf += chunk
            head, _, buf = buf.partition(b"\r\n\r\n")
            length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), b"0"))
            while len(buf) < length:
                buf += conn.recv(65536)
            body, buf = buf[:length], buf[length:]
            self.requests.append((number, head))
            self.bodies.append(body)
            answer = self.answers.pop(0)
            if answer is None:
                return
            conn.sendall(answer)
            if self.close_after:
                return
