"""run_in_netns and peek_in_netns: a function runs inside another network namespace.

Checked for run_in_netns: the function sees the other namespace (its own netns link differs) and its
value comes back; its exception comes back; a socket it creates keeps living in that namespace after
the thread ended (a server bound there is reachable only from there); a path that is not a namespace
is an OSError; the calling thread's namespace never changes.
For peek_in_netns: the function runs on the calling thread inside the namespace (it sees the
namespace's links, not the caller's), and the thread is back in its own namespace afterwards, after an
exception too; a bad path is an OSError before the thread moves; other threads never see the switch;
no descriptor is left open.
"""

from __future__ import annotations

import errno
import os
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from multus.nsenter import peek_in_netns, run_in_netns


def thread_netns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def test_the_function_runs_in_the_namespace_and_its_value_comes_back(netns: str) -> None:
    mine = thread_netns()
    inside = run_in_netns(netns, thread_netns)
    assert inside != mine
    assert inside == f"net:[{os.stat(netns).st_ino}]"
    assert thread_netns() == mine


def test_the_functions_exception_comes_back(netns: str) -> None:
    def fail() -> None:
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        run_in_netns(netns, fail)


def test_a_socket_made_inside_stays_in_that_namespace(netns: str) -> None:
    from multus import netns as nsmod

    with nsmod.ns_ipr(netns) as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")

    def listen() -> socket.socket:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        return server

    server = run_in_netns(netns, listen)
    port = server.getsockname()[1]
    try:
        run_in_netns(netns, lambda: socket.create_connection(("127.0.0.1", port), timeout=5).close())
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
    finally:
        server.close()


@pytest.mark.parametrize("enter", [run_in_netns, peek_in_netns])
def test_a_path_that_is_not_a_namespace_is_an_os_error_and_the_thread_stays(
        tmp_path: Path, enter: Callable[[str, Callable[[], str]], str]) -> None:
    mine = thread_netns()
    plain = tmp_path / "plain"
    plain.write_text("")
    with pytest.raises(OSError) as info:
        enter(str(plain), thread_netns)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(FileNotFoundError):
        enter(str(tmp_path / "missing"), thread_netns)
    assert thread_netns() == mine


def test_peek_runs_on_this_thread_inside_and_comes_back(netns: str) -> None:
    mine = thread_netns()
    before = set(os.listdir("/proc/self/fd"))
    seen = peek_in_netns(netns, lambda: (threading.current_thread().name, thread_netns(), socket.if_nameindex()))
    assert seen[0] == threading.current_thread().name
    assert seen[1] == f"net:[{os.stat(netns).st_ino}]"
    assert [name for _, name in seen[2]] == ["lo"]  # the namespace's links, not the host's
    assert thread_netns() == mine
    assert set(os.listdir("/proc/self/fd")) == before


def test_peek_comes_back_after_an_exception_and_others_never_see_the_switch(netns: str) -> None:
    mine = thread_netns()
    other_saw: list[str] = []
    inside = threading.Event()
    done = threading.Event()

    def watch() -> None:
        inside.wait(5)
        other_saw.append(thread_netns())
        done.set()

    watcher = threading.Thread(target=watch)
    watcher.start()

    def fail() -> None:
        inside.set()
        done.wait(5)
        raise KeyError("inside")

    with pytest.raises(KeyError, match="inside"):
        peek_in_netns(netns, fail)
    watcher.join(5)
    assert thread_netns() == mine
    assert other_saw == [mine]
