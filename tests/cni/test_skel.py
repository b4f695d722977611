"""The plugin-side entry helper (multus.cni.skel), driven the way a container runtime drives a plugin.

Checked here:
- no CNI_COMMAND: the about text and supported versions go to stderr, nothing to stdout, exit 0;
- VERSION: the PluginInfo JSON, echoing the stdin cniVersion only when the plugin supports it, with or
  without stdin;
- an unknown command and every missing-environment combination are code 4 errors listing what is wrong;
  DEL works without CNI_NETNS, GC and STATUS need only CNI_PATH;
- bad container IDs and interface names are code 4 errors naming the value;
- stdin that is not JSON, not an object or empty is code 6; a missing or bad network name is code 7;
- an unsupported cniVersion is code 1 listing the supported ones; CHECK below 0.4.0 and GC/STATUS below
  1.1.0 are code 1;
- CmdArgs carries the environment, raw CNI_ARGS, the netns override flag, stdin and the decoded config;
- unimplemented CHECK/GC/STATUS succeed silently, unimplemented ADD/DEL are code 999;
- a CniError from the plugin is printed with its code and the config's cniVersion, any other exception
  is code 999; both exit 1 with a one-line stderr summary and no traceback, even when stdout is broken;
- ADD's result is printed converted to the config's version; other verbs print nothing;
- importing skel does not load pydantic, and a real plugin script behaves the same in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from multus.cni.errors import CniError, ErrorCode
from multus.cni.skel import CmdArgs, PluginFuncs, plugin_main, plugin_main_and_exit
from multus.cni.version import ALL_VERSIONS, PluginInfo

REPO_ROOT = Path(__file__).resolve().parents[2]
ABOUT = "test plugin v0.0.1"
INFO = PluginInfo("1.1.0", ALL_VERSIONS)
FULL_ENV = {
    "CNI_CONTAINERID": "c0ffee-123",
    "CNI_NETNS": "/var/run/netns/test",
    "CNI_IFNAME": "eth0",
    "CNI_PATH": "/opt/cni/bin",
}

RESULT_100: dict[str, Any] = {
    "cniVersion": "1.0.0",
    "interfaces": [{"name": "eth0", "mac": "0a:58:0a:01:02:03", "sandbox": "/var/run/netns/test"}],
    "ips": [{"address": "10.1.2.3/24", "gateway": "10.1.2.1", "interface": 0}],
    "routes": [{"dst": "0.0.0.0/0"}],
    "dns": {},
}


class Outcome:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code = code
        self.stdout = stdout
        self.stderr = stderr

    @property
    def json(self) -> Any:
        return json.loads(self.stdout)


def config(version: str | None = "1.0.0", **extra: Any) -> bytes:
    body: dict[str, Any] = {"name": "testnet", "type": "test"}
    if version is not None:
        body["cniVersion"] = version
    body.update(extra)
    return json.dumps(body).encode()


def run(command: str | None, stdin: bytes = b"", funcs: PluginFuncs | None = None, *,
        info: PluginInfo = INFO, unset: Iterable[str] = (), **env: str) -> Outcome:
    """Call plugin_main in-process with FULL_ENV plus ``env``, minus the ``unset`` variables."""
    environ = dict(FULL_ENV, **env)
    if command is not None:
        environ["CNI_COMMAND"] = command
    environ = {k: v for k, v in environ.items() if k not in unset}
    out, err = io.StringIO(), io.StringIO()
    code = plugin_main(funcs or PluginFuncs(), info, ABOUT, environ=environ, stdin=io.BytesIO(stdin),
                       stdout=out, stderr=err)
    return Outcome(code, out.getvalue(), err.getvalue())


def recorder(calls: list[CmdArgs], result: Any = None) -> Any:
    def func(args: CmdArgs) -> Any:
        calls.append(args)
        return result
    return func


def raising(exc: BaseException) -> Any:
    def func(args: CmdArgs) -> Any:
        raise exc
    return func


def make_result(data: dict[str, Any]) -> Any:
    types = pytest.importorskip("multus.cni.types", reason="multus.cni.types is not written yet")
    if not hasattr(types, "parse_result"):
        pytest.skip("multus.cni.types.parse_result is not written yet")
    return types.parse_result(data)


# --- no command, VERSION, unknown command -------------------------------------------------------------

def test_no_command_prints_the_about_text_and_versions_to_stderr_and_nothing_to_stdout() -> None:
    calls: list[CmdArgs] = []
    outcome = run(None, config(), PluginFuncs(add=recorder(calls)))
    assert (outcome.code, outcome.stdout, calls) == (0, "", [])
    assert ABOUT in outcome.stderr
    assert ", ".join(ALL_VERSIONS) in outcome.stderr


def test_version_without_stdin_answers_with_the_plugins_own_version_and_supported_list() -> None:
    outcome = run("VERSION", b"", info=PluginInfo("1.0.0", ("0.4.0", "1.0.0")))
    assert outcome.code == 0
    assert outcome.json == {"cniVersion": "1.0.0", "supportedVersions": ["0.4.0", "1.0.0"]}


def test_version_echoes_the_stdin_cni_version_when_the_plugin_supports_it() -> None:
    outcome = run("VERSION", b'{"cniVersion": "0.4.0"}', info=PluginInfo("1.0.0", ("0.4.0", "1.0.0")))
    assert outcome.json["cniVersion"] == "0.4.0"


@pytest.mark.parametrize("stdin", [b'{"cniVersion": "0.3.1"}', b"not json", b"[1]"])
def test_version_falls_back_to_its_own_version_when_stdin_has_none_it_supports(stdin: bytes) -> None:
    outcome = run("VERSION", stdin, info=PluginInfo("1.0.0", ("0.4.0", "1.0.0")))
    assert (outcome.code, outcome.json["cniVersion"]) == (0, "1.0.0")


def test_version_needs_no_other_environment_variables() -> None:
    outcome = run("VERSION", b"", unset=FULL_ENV)
    assert outcome.code == 0
    assert outcome.json["supportedVersions"] == list(ALL_VERSIONS)


def test_an_unknown_command_is_an_invalid_environment_error_naming_it() -> None:
    outcome = run("FROB", config())
    assert outcome.code == 1
    assert outcome.json["code"] == ErrorCode.INVALID_ENVIRONMENT_VARIABLES
    assert "FROB" in outcome.json["msg"]


# --- environment -----------------------------------------------------------------------------------

@pytest.mark.parametrize("command, unset, listed", [
    ("ADD", ["CNI_CONTAINERID"], "CNI_CONTAINERID"),
    ("ADD", ["CNI_NETNS"], "CNI_NETNS"),
    ("ADD", ["CNI_IFNAME"], "CNI_IFNAME"),
    ("ADD", ["CNI_PATH"], "CNI_PATH"),
    ("ADD", ["CNI_NETNS", "CNI_IFNAME"], "CNI_NETNS,CNI_IFNAME"),
    ("ADD", list(FULL_ENV), "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"),
    ("CHECK", ["CNI_CONTAINERID"], "CNI_CONTAINERID"),
    ("CHECK", ["CNI_NETNS", "CNI_PATH"], "CNI_NETNS,CNI_PATH"),
    ("DEL", ["CNI_CONTAINERID"], "CNI_CONTAINERID"),
    ("DEL", ["CNI_IFNAME", "CNI_NETNS"], "CNI_IFNAME"),
    ("DEL", ["CNI_PATH"], "CNI_PATH"),
    ("GC", ["CNI_PATH"], "CNI_PATH"),
    ("STATUS", list(FULL_ENV), "CNI_PATH"),
])
def test_missing_required_variables_are_all_listed_in_one_code_4_error(
        command: str, unset: list[str], listed: str) -> None:
    calls: list[CmdArgs] = []
    funcs = PluginFuncs(*[recorder(calls)] * 5)
    outcome = run(command, config("1.1.0"), funcs, unset=unset)
    assert (outcome.code, calls) == (1, [])
    assert outcome.json["code"] == ErrorCode.INVALID_ENVIRONMENT_VARIABLES
    assert outcome.json["msg"] == f"required env variables [{listed}] missing"


def test_an_empty_variable_counts_as_missing() -> None:
    outcome = run("ADD", config(), CNI_IFNAME="")
    assert outcome.json["msg"] == "required env variables [CNI_IFNAME] missing"


@pytest.mark.parametrize("command, unset", [
    ("DEL", ["CNI_NETNS"]),
    ("GC", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]),
    ("STATUS", ["CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"]),
])
def test_commands_run_without_the_variables_they_do_not_need(command: str, unset: list[str]) -> None:
    calls: list[CmdArgs] = []
    funcs = PluginFuncs(*[recorder(calls)] * 5)
    outcome = run(command, config("1.1.0"), funcs, unset=unset)
    assert (outcome.code, outcome.stdout) == (0, "")
    assert [c.command for c in calls] == [command]


@pytest.mark.parametrize("container_id", ["-leading-dash", "has/slash", "has space", "_under"])
def test_an_invalid_container_id_is_a_code_4_error_naming_it(container_id: str) -> None:
    outcome = run("ADD", config(), CNI_CONTAINERID=container_id)
    assert outcome.json["code"] == ErrorCode.INVALID_ENVIRONMENT_VARIABLES
    assert container_id in outcome.json["msg"]


@pytest.mark.parametrize("if_name", ["a" * 16, ".", "..", "eth/0", "eth:0", "eth 0", "eth\t0"])
def test_an_invalid_interface_name_is_a_code_4_error_naming_it(if_name: str) -> None:
    outcome = run("DEL", config(), CNI_IFNAME=if_name)
    assert outcome.json["code"] == ErrorCode.INVALID_ENVIRONMENT_VARIABLES
    assert repr(if_name) in outcome.json["msg"]


def test_a_fifteen_character_interface_name_is_accepted() -> None:
    calls: list[CmdArgs] = []
    outcome = run("DEL", config(), PluginFuncs(delete=recorder(calls)), CNI_IFNAME="a" * 15)
    assert outcome.code == 0
    assert calls[0].if_name == "a" * 15


# --- stdin ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stdin", [b"{not json", b"", b'["a", "list"]', b'"a string"', b"\xff\xfe\x00"])
def test_stdin_that_is_not_a_json_object_is_a_decoding_failure(stdin: bytes) -> None:
    outcome = run("ADD", stdin)
    assert outcome.code == 1
    assert outcome.json["code"] == ErrorCode.DECODING_FAILURE
    assert "stdin could not be decoded" in outcome.json["msg"]


def test_an_unreadable_stdin_is_an_io_failure() -> None:
    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError("read error")

    out, err = io.StringIO(), io.StringIO()
    code = plugin_main(PluginFuncs(), INFO, ABOUT, environ=dict(FULL_ENV, CNI_COMMAND="ADD"),
                       stdin=Broken(), stdout=out, stderr=err)
    assert code == 1
    assert json.loads(out.getvalue())["code"] == ErrorCode.IO_FAILURE


@pytest.mark.parametrize("stdin", [
    b'{"cniVersion": "1.0.0", "type": "test"}',
    config(name=""),
    config(name="bad name"),
    config(name="-dash"),
    config(name=42),
])
def test_a_missing_or_invalid_network_name_is_an_invalid_network_config(stdin: bytes) -> None:
    outcome = run("ADD", stdin)
    assert outcome.code == 1
    assert outcome.json["code"] == ErrorCode.INVALID_NETWORK_CONFIG


def test_a_cni_version_the_plugin_does_not_support_is_code_1_listing_what_it_supports() -> None:
    outcome = run("ADD", config("0.3.1"), info=PluginInfo("1.0.0", ("0.4.0", "1.0.0")))
    assert outcome.code == 1
    assert outcome.json["code"] == ErrorCode.INCOMPATIBLE_CNI_VERSION
    assert "0.4.0, 1.0.0" in outcome.json["details"]
    assert outcome.json["cniVersion"] == "0.3.1"


def test_a_non_string_cni_version_is_a_decoding_failure() -> None:
    outcome = run("ADD", config(version=None, cniVersion=1))
    assert outcome.json["code"] == ErrorCode.DECODING_FAILURE


@pytest.mark.parametrize("command, version", [
    ("CHECK", "0.3.1"), ("CHECK", None), ("GC", "1.0.0"), ("STATUS", "1.0.0"), ("GC", "0.4.0"),
])
def test_a_verb_newer_than_the_config_version_is_refused_with_code_1(
        command: str, version: str | None) -> None:
    calls: list[CmdArgs] = []
    funcs = PluginFuncs(*[recorder(calls)] * 5)
    outcome = run(command, config(version), funcs)
    assert (outcome.code, calls) == (1, [])
    assert outcome.json["code"] == ErrorCode.INCOMPATIBLE_CNI_VERSION
    assert outcome.json["msg"] == f"config version does not allow {command}"


@pytest.mark.parametrize("command, version", [("CHECK", "0.4.0"), ("GC", "1.1.0"), ("STATUS", "1.1.0")])
def test_a_verb_runs_from_the_version_that_introduced_it(command: str, version: str) -> None:
    calls: list[CmdArgs] = []
    outcome = run(command, config(version), PluginFuncs(*[recorder(calls)] * 5))
    assert (outcome.code, outcome.stdout, len(calls)) == (0, "", 1)


# --- CmdArgs -------------------------------------------------------------------------------------

def test_cmd_args_carries_the_environment_raw_cni_args_stdin_and_decoded_config() -> None:
    calls: list[CmdArgs] = []
    stdin = config("1.0.0", extra={"k": "v"})
    run("DEL", stdin, PluginFuncs(delete=recorder(calls)), CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAME=p")
    (args,) = calls
    assert args == CmdArgs(
        command="DEL", container_id="c0ffee-123", netns="/var/run/netns/test", if_name="eth0",
        args="IgnoreUnknown=1;K8S_POD_NAME=p", path="/opt/cni/bin", netns_override=False,
        stdin_data=stdin, config=json.loads(stdin), cni_version="1.0.0",
    )


def test_cmd_args_cni_args_is_passed_through_unparsed_even_when_malformed() -> None:
    calls: list[CmdArgs] = []
    outcome = run("DEL", config(), PluginFuncs(delete=recorder(calls)), CNI_ARGS="not;pairs")
    assert (outcome.code, calls[0].args) == (0, "not;pairs")


def test_cmd_args_version_defaults_to_0_1_0_when_the_config_has_none() -> None:
    calls: list[CmdArgs] = []
    run("DEL", config(None), PluginFuncs(delete=recorder(calls)))
    assert calls[0].cni_version == "0.1.0"


@pytest.mark.parametrize("value, expected", [("1", True), ("true", True), ("TRUE", True), ("0", False),
                                             ("false", False), ("", False)])
def test_cmd_args_netns_override_is_true_only_for_1_or_true(value: str, expected: bool) -> None:
    calls: list[CmdArgs] = []
    run("DEL", config(), PluginFuncs(delete=recorder(calls)), CNI_NETNS_OVERRIDE=value)
    assert calls[0].netns_override is expected


# --- unimplemented verbs, errors --------------------------------------------------------------------

@pytest.mark.parametrize("command", ["CHECK", "GC", "STATUS"])
def test_an_unimplemented_optional_verb_succeeds_with_no_output(command: str) -> None:
    outcome = run(command, config("1.1.0"))
    assert (outcome.code, outcome.stdout) == (0, "")


@pytest.mark.parametrize("command", ["ADD", "DEL"])
def test_an_unimplemented_add_or_del_is_an_internal_error(command: str) -> None:
    outcome = run(command, config())
    assert outcome.code == 1
    assert outcome.json["code"] == ErrorCode.INTERNAL


def test_a_cni_error_from_the_plugin_is_printed_with_its_code_and_the_config_version() -> None:
    error = CniError("no such container", "it is gone", ErrorCode.UNKNOWN_CONTAINER)
    funcs = PluginFuncs(delete=raising(error))
    outcome = run("DEL", config("0.4.0"), funcs)
    assert outcome.code == 1
    assert outcome.json == {"cniVersion": "0.4.0", "code": 3, "msg": "no such container",
                            "details": "it is gone"}
    assert outcome.stderr.count("\n") == 1
    assert "no such container" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_any_other_exception_is_an_internal_error_with_its_text_as_msg() -> None:
    outcome = run("ADD", config(), PluginFuncs(add=raising(RuntimeError("boom\nsecond line"))))
    assert outcome.code == 1
    assert outcome.json["code"] == ErrorCode.INTERNAL
    assert outcome.json["msg"] == "boom\nsecond line"
    assert outcome.stderr.count("\n") == 1
    assert "Traceback" not in outcome.stderr


def test_an_error_before_stdin_is_read_carries_no_cni_version() -> None:
    outcome = run("FROB", config("1.0.0"))
    assert "cniVersion" not in outcome.json


def test_a_broken_stdout_still_gives_exit_code_1_without_raising() -> None:
    class Closed(io.StringIO):
        def write(self, s: str) -> int:
            raise BrokenPipeError("closed")

    calls: list[CmdArgs] = []
    err = io.StringIO()
    code = plugin_main(PluginFuncs(check=recorder(calls)), INFO, ABOUT, environ={"CNI_COMMAND": "VERSION"},
                       stdin=io.BytesIO(b""), stdout=Closed(), stderr=err)
    assert code == 1
    assert "closed" in err.getvalue()


def test_plugin_main_and_exit_exits_with_the_exit_code() -> None:
    with pytest.raises(SystemExit) as info:
        plugin_main_and_exit(PluginFuncs(), INFO, ABOUT, environ={"CNI_COMMAND": "FROB"},
                             stdin=io.BytesIO(b""), stdout=io.StringIO(), stderr=io.StringIO())
    assert info.value.code == 1


# --- results ---------------------------------------------------------------------------------------

def test_add_prints_its_result_converted_to_the_config_version() -> None:
    result = make_result(RESULT_100)
    outcome = run("ADD", config("0.3.1"), PluginFuncs(add=lambda args: result))
    assert outcome.code == 0
    assert outcome.json["cniVersion"] == "0.3.1"
    assert outcome.json["ips"][0]["version"] == "4"
    assert outcome.json["ips"][0]["address"] == "10.1.2.3/24"


def test_add_prints_a_result_already_in_the_config_version_unchanged() -> None:
    result = make_result(RESULT_100)
    outcome = run("ADD", config("1.0.0"), PluginFuncs(add=lambda args: result))
    assert outcome.code == 0
    assert outcome.json == result.to_dict()


def test_add_returning_no_result_is_an_internal_error() -> None:
    outcome = run("ADD", config(), PluginFuncs(add=lambda args: None))
    assert (outcome.code, outcome.json["code"]) == (1, ErrorCode.INTERNAL)


@pytest.mark.parametrize("command", ["DEL", "CHECK", "GC", "STATUS"])
def test_verbs_other_than_add_print_nothing_on_success_even_when_they_return_a_result(command: str) -> None:
    result = make_result(RESULT_100)
    outcome = run(command, config("1.1.0"), PluginFuncs(*[lambda args: result] * 5))
    assert (outcome.code, outcome.stdout) == (0, "")


# --- the real process --------------------------------------------------------------------------------

def test_importing_skel_does_not_load_pydantic_or_the_result_types() -> None:
    code = ("import sys, multus.cni.skel; "
            "bad = [m for m in ('pydantic', 'multus.cni.types') if m in sys.modules]; "
            "sys.exit(', '.join(bad) or None)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)), timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr


PLUGIN_SCRIPT = '''#!{python}
from multus.cni.errors import CniError
from multus.cni.skel import PluginFuncs, plugin_main_and_exit
from multus.cni.version import PluginInfo


def add(args):
    raise RuntimeError("cannot add " + args.if_name)


def delete(args):
    raise CniError("try later", code=11)


plugin_main_and_exit(PluginFuncs(add=add, delete=delete), PluginInfo(), "subprocess test plugin")
'''


@pytest.fixture
def plugin_script(tmp_path: Path) -> Path:
    script = tmp_path / "test-plugin"
    script.write_text(PLUGIN_SCRIPT.format(python=sys.executable))
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("command, exit_code, expected", [
    ("VERSION", 0, {"cniVersion": "1.0.0", "supportedVersions": list(ALL_VERSIONS)}),
    ("ADD", 1, {"cniVersion": "1.0.0", "code": 999, "msg": "cannot add eth0"}),
    ("DEL", 1, {"cniVersion": "1.0.0", "code": 11, "msg": "try later"}),
])
def test_a_plugin_script_run_as_a_process_prints_json_and_exits_with_the_right_code(
        plugin_script: Path, command: str, exit_code: int, expected: dict[str, Any]) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), CNI_COMMAND=command, **FULL_ENV)
    proc = subprocess.run([str(plugin_script)], input=config("1.0.0"), capture_output=True, env=env,
                          timeout=60, check=False)
    assert proc.returncode == exit_code
    assert json.loads(proc.stdout) == expected
    assert b"Traceback" not in proc.stderr


def test_a_plugin_script_run_by_hand_prints_its_about_text(plugin_script: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CNI_COMMAND"}
    env["PYTHONPATH"] = str(REPO_ROOT)
    proc = subprocess.run([str(plugin_script)], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=env, timeout=60, check=False)
    assert (proc.returncode, proc.stdout) == (0, "")
    assert "subprocess test plugin" in proc.stderr
