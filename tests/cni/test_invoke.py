"""Executing plugins: lookup, environment, and every way a plugin can fail.

Checked with scripted fake plugins: lookup order over several directories, refusal of names with a
path separator, non-executables skipped; the CNI_* environment passed and overriding inherited values;
a plugin's error object becoming a PluginError with its code; empty, non-JSON and non-object output
becoming decoding errors that quote stderr; a failure without output; the timeout killing a slow plugin;
ETXTBSY retried.
"""

from __future__ import annotations

import errno
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from multus.cni import invoke
from multus.cni.errors import ErrorCode, PluginError, PluginNotFoundError, PluginTimeoutError
from multus.cni.invoke import InvokeArgs, SubprocessExecutor, exec_with_result, find_in_path
from multus.testing.fake_plugin import FakePlugin

ADD = InvokeArgs("ADD", "ctr1", "/var/run/netns/x", "eth0", "K8S_POD_NAME=p", "/opt/cni/bin")


def test_lookup_takes_the_first_directory_that_has_an_executable(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "bridge").write_text("not executable")
    (second / "bridge").write_text("#!/bin/sh\n")
    (second / "bridge").chmod(0o755)
    assert find_in_path("bridge", [str(first), str(second)]) == str(second / "bridge")


@pytest.mark.parametrize("name", ["../bin/sh", "/bin/sh", "", ".."])
def test_lookup_refuses_names_that_could_escape_the_plugin_directories(name: str, tmp_path: Path) -> None:
    with pytest.raises(PluginNotFoundError):
        find_in_path(name, [str(tmp_path)])


def test_a_missing_plugin_names_the_plugin_and_the_path(tmp_path: Path) -> None:
    with pytest.raises(PluginNotFoundError) as info:
        find_in_path("nosuch", [str(tmp_path)])
    assert info.value.code == ErrorCode.PLUGIN_NOT_AVAILABLE
    assert "nosuch" in info.value.msg and str(tmp_path) in info.value.msg


def test_the_cni_environment_is_passed_and_wins_over_inherited_values(
        fake_plugin: Callable[[str], FakePlugin]) -> None:
    plugin = fake_plugin("noop")
    executor = SubprocessExecutor(base_environ={"CNI_IFNAME": "stale", "PATH": "/usr/bin"})
    body = exec_with_result(executor, str(plugin.path), b'{"cniVersion":"1.0.0","name":"n","type":"noop"}',
                            ADD, 10, "1.0.0")
    assert body["cniVersion"] == "1.0.0"
    env = plugin.calls()[0]["env"]
    assert env == {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "ctr1", "CNI_NETNS": "/var/run/netns/x",
                   "CNI_ARGS": "K8S_POD_NAME=p", "CNI_IFNAME": "eth0", "CNI_PATH": "/opt/cni/bin"}


def test_a_plugin_error_object_becomes_a_plugin_error_with_its_code(
        fake_plugin: Callable[[str], FakePlugin]) -> None:
    plugin = fake_plugin("failing")
    plugin.script(ADD={"stdout": '{"cniVersion":"1.0.0","code":11,"msg":"try later","details":"busy"}',
                       "stderr": "some log", "exit": 1})
    with pytest.raises(PluginError) as info:
        SubprocessExecutor().exec_plugin(str(plugin.path), b"{}", ADD, 10)
    assert (info.value.code, info.value.msg, info.value.details) == (11, "try later", "busy")
    assert info.value.plugin == "failing" and info.value.stderr == "some log"


@pytest.mark.parametrize("stdout, stderr, fragment", [
    ("", "boom from stderr", "boom from stderr"),
    ("", "", "no error message"),
    ("oops, not json", "", "could not be parsed"),
    ('{"code": "eleven"}', "", "could not be parsed"),
])
def test_a_failure_without_a_valid_error_object_says_what_it_printed(
        fake_plugin: Callable[[str], FakePlugin], stdout: str, stderr: str, fragment: str) -> None:
    plugin = fake_plugin("failing")
    plugin.script(ADD={"stdout": stdout, "stderr": stderr, "exit": 2})
    with pytest.raises(PluginError) as info:
        SubprocessExecutor().exec_plugin(str(plugin.path), b"{}", ADD, 10)
    assert info.value.code == ErrorCode.INTERNAL
    assert fragment in str(info.value)


@pytest.mark.parametrize("stdout, fragment", [
    ("", "printed no result"), ("garbage", "not JSON"), ("[1]", "not a JSON object")])
def test_a_successful_exit_without_a_usable_result_is_a_decoding_error_quoting_stderr(
        fake_plugin: Callable[[str], FakePlugin], stdout: str, fragment: str) -> None:
    plugin = fake_plugin("quiet")
    plugin.script(ADD={"stdout": stdout, "stderr": "warning: something"})
    with pytest.raises(PluginError) as info:
        exec_with_result(SubprocessExecutor(), str(plugin.path), b"{}", ADD, 10, "1.0.0")
    assert info.value.code == ErrorCode.DECODING_FAILURE
    assert fragment in info.value.msg and "warning: something" in info.value.details


def test_a_result_without_cni_version_takes_the_config_version(fake_plugin: Callable[[str], FakePlugin]) -> None:
    plugin = fake_plugin("old")
    plugin.script(ADD={"stdout": '{"ips": []}'})
    assert exec_with_result(SubprocessExecutor(), str(plugin.path), b"{}", ADD, 10, "0.4.0")["cniVersion"] == "0.4.0"


def test_a_plugin_whose_child_holds_its_output_open_is_still_killed_at_the_timeout(tmp_path: Path) -> None:
    script = tmp_path / "forker"
    script.write_text("#!/bin/sh\nsleep 30 &\nsleep 30\n")
    script.chmod(0o755)
    started = time.monotonic()
    with pytest.raises(PluginTimeoutError):
        SubprocessExecutor().exec_plugin(str(script), b"", ADD, 0.3)
    assert time.monotonic() - started < 5


def test_a_slow_plugin_is_killed_at_the_timeout(fake_plugin: Callable[[str], FakePlugin]) -> None:
    plugin = fake_plugin("slow")
    plugin.script(ADD={"sleep": 30})
    started = time.monotonic()
    with pytest.raises(PluginTimeoutError) as info:
        SubprocessExecutor().exec_plugin(str(plugin.path), b"{}", ADD, 0.5)
    assert time.monotonic() - started < 10
    assert info.value.code == ErrorCode.TRY_AGAIN_LATER and "slow" in info.value.msg


def test_text_file_busy_is_retried_until_the_exec_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts = []
    real_popen = subprocess.Popen

    def flaky_popen(argv: list[str], **kwargs: object) -> object:
        attempts.append(1)
        if len(attempts) < 3:
            raise OSError(errno.ETXTBSY, "Text file busy")
        return real_popen(argv, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "Popen", flaky_popen)  # the module invoke calls Popen through
    monkeypatch.setattr(invoke, "TEXT_FILE_BUSY_FIRST_PAUSE", 0.001)
    SubprocessExecutor().exec_plugin("/bin/true", b"", ADD, 5)
    assert len(attempts) == 3


def test_an_exec_failure_other_than_busy_is_not_retried(tmp_path: Path) -> None:
    script = tmp_path / "badinterp"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    with pytest.raises(PluginError, match="failed to execute plugin badinterp"):
        SubprocessExecutor().exec_plugin(str(script), b"", ADD, 5)
