"""The deadline thread behind plugin timeouts (multus.cni.watchdog).

Checked: an action fires once its delay has passed and not before; a cancelled one never fires; a
deadline earlier than every pending one wakes the thread (it does not wait for the later one); ties fire
in scheduling order; a hundred deadlines cost one thread; cancelling drops the action at once; the
plugin executor's timeout still kills a hanging plugin and its children.
"""

from __future__ import annotations

import gc
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path

import pytest

from multus.cni.errors import PluginTimeoutError
from multus.cni.invoke import InvokeArgs, SubprocessExecutor
from multus.cni.watchdog import Watchdog


def test_an_action_fires_after_its_delay_and_not_before() -> None:
    fired = threading.Event()
    started = time.monotonic()
    Watchdog().schedule(0.15, fired.set)
    assert not fired.wait(0.05)
    assert fired.wait(5)
    assert time.monotonic() - started >= 0.15


def test_a_cancelled_deadline_never_fires_and_is_dropped_at_its_time() -> None:
    dog = Watchdog()
    fired: list[str] = []
    dog.schedule(0.05, lambda: fired.append("cancelled")).cancel()
    done = threading.Event()
    dog.schedule(0.1, done.set)
    assert done.wait(5)
    assert fired == []
    assert dog.pending() == 0


def test_an_earlier_deadline_wakes_the_thread_waiting_for_a_later_one() -> None:
    dog = Watchdog()
    order: list[str] = []
    early = threading.Event()
    dog.schedule(30, lambda: order.append("late"))
    time.sleep(0.05)  # the thread now sleeps until the 30 s deadline
    def fire_early() -> None:
        order.append("early")
        early.set()

    dog.schedule(0.05, fire_early)
    assert early.wait(5)
    assert order == ["early"]


def test_ties_fire_in_scheduling_order_on_one_thread() -> None:
    dog = Watchdog()
    fired: list[int] = []
    threads: set[str] = set()
    done = threading.Event()
    before = threading.active_count()
    def firing(i: int) -> Callable[[], None]:
        def fire() -> None:
            fired.append(i)
            threads.add(threading.current_thread().name)
        return fire

    for i in range(100):
        dog.schedule(0.05, firing(i))
    dog.schedule(0.06, done.set)
    assert threading.active_count() == before + 1
    assert done.wait(5)
    assert fired == list(range(100))
    assert threads == {"multus-watchdog"}


def test_the_executor_timeout_kills_a_hanging_plugin_and_its_children(tmp_path: Path) -> None:
    plugin = tmp_path / "hangs"
    marker = tmp_path / "child-survived"
    plugin.write_text(f"#!/bin/sh\n(sleep 1; touch {marker}) &\nsleep 30\n")
    plugin.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(PluginTimeoutError) as caught:
        SubprocessExecutor().exec_plugin(str(plugin), b"{}", InvokeArgs("ADD"), timeout=0.3)
    assert time.monotonic() - started < 5
    assert "within 0.3 s and was killed" in caught.value.msg
    time.sleep(1.2)
    assert not marker.exists()


def test_cancelling_lets_go_of_the_action_at_once() -> None:
    class Action:
        def __call__(self) -> None:
            raise AssertionError("a cancelled action ran")

    action = Action()
    watch = weakref.ref(action)
    deadline = Watchdog().schedule(60, action)
    del action
    assert watch() is not None  # held while pending: it may still fire
    deadline.cancel()
    gc.collect()
    assert watch() is None  # not held for the remaining minute the entry waits in the heap
