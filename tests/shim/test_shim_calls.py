"""The shim's CNI calls against daemon doubles: request, readiness, answers, errors (in process, via run()).

Checked here:
  * the request: POST /cni, Host dummy, Content-Type, the extension header, the whole env, the stdin
    bytes base64-encoded, interfaceAttributes null;
  * ADD against our daemon prints its body verbatim; against a Go daemon {"Result": 1.0.0} is converted
    to the config's cniVersion (0.3.1 gets ips[].version, 0.2.0 gets ip4);
  * DEL/CHECK/GC/STATUS print nothing; every command sends /cni at once (no probe round trip); when
    our daemon answers an unchecked request "not ready" (503) or nothing listens yet, ADD/CHECK/GC/STATUS
    poll /readyz every 100 ms until a 200 and send it again, while DEL never waits;
  * a kept-alive readiness connection carries the resent request;
  * errors: the daemon's CNI error passed through (cniVersion added), text or other statuses wrapped as
    999, no socket or a refused one is code 11 naming the path, not ready in time is code 11;
  * DEL failures are reported unless ignoreDelErrors;
  * VERSION and no CNI_COMMAND need no daemon; bad env and bad stdin fail as skel would (codes 4, 6, 7, 1).
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time

import pytest
from shim_daemon_double import RESULT_100, FakeDaemon, cni_env, shim_config

from multus.shim.shim import run


def error_of(out: bytes) -> dict[str, object]:
    error = json.loads(out)
    assert isinstance(error, dict)
    return error


# ---- the request -------------------------------------------------------------------------------------------

def test_the_request_is_gos_wire_format_plus_the_version_header(daemon: FakeDaemon, sock_dir: str) -> None:
    stdin = shim_config(sock_dir, "0.4.0", delegates=[{"name": "näme \"q\"\n"}])
    env = cni_env("ADD", WEIRD='a"b\\c\x01é')
    code, _, _ = run(env, stdin)
    assert code == 0
    cni = [r for r in daemon.requests if r.path == "/cni"]
    assert len(cni) == 1
    request = cni[0]
    assert request.method == "POST"
    assert request.headers["host"] == "dummy"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-multus-result-version"] == "0.4.0"
    body = request.json()
    assert list(body) == ["env", "config", "interfaceAttributes"]
    assert body["env"] == env
    assert base64.b64decode(body["config"]) == stdin
    assert body["interfaceAttributes"] is None


def test_env_keys_are_trimmed_like_gos_shim(daemon: FakeDaemon, sock_dir: str) -> None:
    run(cni_env("ADD") | {" SPACED ": "v"}, shim_config(sock_dir))
    assert daemon.requests[-1].json()["env"]["SPACED"] == "v"


# ---- ADD ---------------------------------------------------------------------------------------------------

def test_add_against_our_daemon_prints_its_body_verbatim(daemon: FakeDaemon, sock_dir: str) -> None:
    code, out, err = run(cni_env("ADD"), shim_config(sock_dir, "0.3.1"))
    assert (code, err) == (0, "")
    # the double renders with multus.cni.types; the shim must not have re-encoded it
    rendered = json.loads(out)
    assert rendered["cniVersion"] == "0.3.1"
    assert rendered["ips"][0]["version"] == "4"
    assert out == out.strip()  # exactly the body: no newline added, nothing reformatted


def test_add_against_our_daemon_with_an_odd_body_is_still_verbatim(daemon: FakeDaemon, sock_dir: str) -> None:
    daemon.extension = True
    original = daemon.answer

    def answer(request):  # type: ignore[no-untyped-def]
        status, headers, body = original(request)
        return status, headers, body.replace(b",", b" ,  ") + b"\n"

    daemon.answer = answer  # type: ignore[method-assign]
    _, out, _ = run(cni_env("ADD"), shim_config(sock_dir, "1.0.0"))
    assert b" ,  " in out and out.endswith(b"\n")


@pytest.mark.parametrize("version", ["0.3.1", "0.4.0"])
def test_add_against_a_go_daemon_converts_the_result_to_the_config_version(
        go_daemon: FakeDaemon, sock_dir: str, version: str) -> None:
    code, out, err = run(cni_env("ADD"), shim_config(sock_dir, version))
    assert (code, err) == (0, "")
    result = json.loads(out)
    assert result["cniVersion"] == version
    assert result["ips"] == [{"version": "4", "interface": 0, "address": "10.128.0.5/24", "gateway": "10.128.0.1"}]
    assert result["interfaces"] == RESULT_100["interfaces"]


def test_add_against_a_go_daemon_for_0_2_0_and_1_1_0(go_daemon: FakeDaemon, sock_dir: str) -> None:
    old = json.loads(run(cni_env("ADD"), shim_config(sock_dir, "0.2.0"))[1])
    assert old == {"cniVersion": "0.2.0", "ip4": {"ip": "10.128.0.5/24", "gateway": "10.128.0.1",
                                                  "routes": [{"dst": "0.0.0.0/0"}]}, "dns": {}}
    new = json.loads(run(cni_env("ADD"), shim_config(sock_dir, "1.1.0"))[1])
    assert new == RESULT_100 | {"cniVersion": "1.1.0"}


def test_a_go_daemon_answer_without_result_is_a_decoding_error(go_daemon: FakeDaemon, sock_dir: str) -> None:
    go_daemon.cni_error = (200, b'{"Result": null}')
    code, out, _ = run(cni_env("ADD"), shim_config(sock_dir))
    assert code == 1
    assert error_of(out)["code"] == 6


# ---- the other commands and readiness ----------------------------------------------------------------------

@pytest.mark.parametrize(("command", "version"), [("DEL", "0.3.1"), ("CHECK", "0.4.0"), ("GC", "1.1.0"),
                                                   ("STATUS", "1.1.0")])
def test_commands_without_result_print_nothing(daemon: FakeDaemon, sock_dir: str, command: str,
                                               version: str) -> None:
    code, out, err = run(cni_env(command), shim_config(sock_dir, version))
    assert (code, out, err) == (0, b"", "")
    assert daemon.paths() == ["/cni"]
    assert daemon.requests[-1].json()["env"]["CNI_COMMAND"] == command
    readiness = daemon.requests[-1].headers.get("x-multus-readiness")
    assert readiness == (None if command == "DEL" else "unchecked")


def test_not_ready_is_polled_every_100ms_then_the_request_is_sent_again(daemon: FakeDaemon, sock_dir: str) -> None:
    daemon.readyz = [500, 500, 500]
    started = time.monotonic()
    code, out, _ = run(cni_env("ADD"), shim_config(sock_dir))
    elapsed = time.monotonic() - started
    assert code == 0
    assert json.loads(out)["cniVersion"] == "0.3.1"
    assert daemon.paths() == ["/cni"] + ["/readyz"] * 4 + ["/cni"]
    assert 0.3 <= elapsed < 2


def test_a_daemon_that_is_not_listening_yet_is_waited_for(sock_dir: str) -> None:
    started: list[FakeDaemon] = []
    late = threading.Timer(0.25, lambda: started.append(FakeDaemon(f"{sock_dir}/multus.sock").__enter__()))
    late.start()
    try:
        code, _, _ = run(cni_env("ADD"), shim_config(sock_dir))
    finally:
        late.join()
        for daemon in started:
            daemon.__exit__()
    assert code == 0
    assert started[0].paths() == ["/readyz", "/cni"]


def test_del_never_waits_for_readiness(daemon: FakeDaemon, sock_dir: str) -> None:
    daemon.readyz = [500] * 100
    code, _, _ = run(cni_env("DEL"), shim_config(sock_dir))
    assert code == 0
    assert daemon.paths() == ["/cni"]


def test_a_go_daemon_gets_the_request_at_once_even_while_it_shuts_down(go_daemon: FakeDaemon,
                                                                        sock_dir: str) -> None:
    go_daemon.readyz = [500] * 100  # Go's daemon serves /cni during its grace period (compatibility.md)
    code, _, _ = run(cni_env("ADD"), shim_config(sock_dir))
    assert code == 0
    assert go_daemon.paths() == ["/cni"]


def test_not_ready_in_time_is_try_again_later(daemon: FakeDaemon, sock_dir: str) -> None:
    daemon.readyz = [500] * 100
    code, out, err = run(cni_env("ADD"), shim_config(sock_dir, readinessTimeout=0.35))
    assert code == 1
    error = error_of(out)
    assert error["code"] == 11
    assert f"{sock_dir}/multus.sock" in str(error["msg"])
    assert error["details"] == "/readyz answered status 500"
    assert 2 <= daemon.paths().count("/readyz") <= 5  # at 0, 0.1, 0.2 (0.3) s; fewer on a loaded machine
    assert "[code 11]" in err


def test_a_kept_alive_readiness_connection_carries_the_request(sock_dir: str) -> None:
    with FakeDaemon(f"{sock_dir}/multus.sock", keep_alive=True) as daemon:
        daemon.readyz = [500]
        assert run(cni_env("ADD"), shim_config(sock_dir))[0] == 0
    assert daemon.paths() == ["/cni", "/readyz", "/readyz", "/cni"]
    assert [r.connection for r in daemon.requests] == [1, 2, 3, 3]


def test_gos_daemon_closes_so_each_request_gets_its_own_connection(go_daemon: FakeDaemon, sock_dir: str) -> None:
    run(cni_env("ADD"), shim_config(sock_dir))
    run(cni_env("DEL"), shim_config(sock_dir))
    assert go_daemon.paths() == ["/cni", "/cni"]
    assert [r.connection for r in go_daemon.requests] == [1, 2]


# ---- errors ------------------------------------------------------------------------------------------------

def test_the_daemons_cni_error_is_passed_through_with_our_cni_version(daemon: FakeDaemon, sock_dir: str) -> None:
    daemon.cni_error = (400, b'{"code":7,"msg":"error configuring pod [default/p] networking: nope","details":"d"}')
    code, out, _ = run(cni_env("ADD"), shim_config(sock_dir, "0.4.0"))
    assert code == 1
    assert error_of(out) == {"cniVersion": "0.4.0", "code": 7, "msg": "error configuring pod [default/p] networking: "
                             "nope", "details": "d"}


def test_a_labelled_cni_error_is_passed_through_verbatim(daemon: FakeDaemon, sock_dir: str) -> None:
    body = b'{"cniVersion": "1.0.0", "code": 11, "msg": "busy"}'
    daemon.cni_error = (400, body)
    code, out, _ = run(cni_env("ADD"), shim_config(sock_dir, "0.4.0"))
    assert (code, out) == (1, body + b"\n")


@pytest.mark.parametrize(("status", "body"), [
    (400, b'ContainerID:"c0ffee" Netns:"/var/run/netns/pod" ERRORED: boom\n'),
    (500, b"internal"),
    (400, b'{"code": "7", "msg": "code is not a number"}'),
    (400, b'{"code": 7, "msg": ""}'),
])
def test_anything_else_is_wrapped_as_999(daemon: FakeDaemon, sock_dir: str, status: int, body: bytes) -> None:
    daemon.cni_error = (status, body)
    code, out, err = run(cni_env("ADD"), shim_config(sock_dir, "1.0.0"))
    assert code == 1
    text = body.decode().strip()
    assert error_of(out) == {"cniVersion": "1.0.0", "code": 999,
                             "msg": f"CNI request failed with status {status}: '{text}'"}
    assert "Traceback" not in err


def test_a_path_the_daemon_does_not_serve_is_wrapped(daemon: FakeDaemon, sock_dir: str) -> None:
    daemon.cni_error = (404, b"404 page not found\n")
    _, out, _ = run(cni_env("CHECK"), shim_config(sock_dir, "0.4.0"))
    assert error_of(out)["msg"] == "CNI request failed with status 404: '404 page not found'"


def test_no_socket_is_try_again_later_naming_the_path(sock_dir: str) -> None:
    for command in ("ADD", "DEL"):
        code, out, err = run(cni_env(command), shim_config(sock_dir, readinessTimeout=0))
        error = error_of(out)
        assert code == 1
        assert error["code"] == 11
        assert f"{sock_dir}/multus.sock" in str(error["msg"])
        assert "No such file or directory" in str(error["details"])
        assert "Traceback" not in err


def test_a_refused_socket_is_try_again_later(sock_dir: str) -> None:
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(f"{sock_dir}/multus.sock")  # bound, never listening: connect() is refused
    try:
        code, out, _ = run(cni_env("DEL"), shim_config(sock_dir))
    finally:
        stale.close()
    error = error_of(out)
    assert (code, error["code"]) == (1, 11)
    assert f"{sock_dir}/multus.sock" in str(error["msg"])
    assert "refused" in str(error["details"]).lower()


def test_the_default_socket_dir_is_run_multus() -> None:
    _, out, _ = run(cni_env("DEL"), shim_config(None, daemonSocketDir=None))
    assert "/run/multus/multus.sock" in str(error_of(out)["msg"])


def test_del_failures_are_reported_by_default(daemon: FakeDaemon, sock_dir: str) -> None:
    daemon.cni_error = (400, b"cannot delete\n")
    code, out, _ = run(cni_env("DEL"), shim_config(sock_dir))
    assert code == 1
    assert error_of(out)["code"] == 999


def test_ignore_del_errors_swallows_them_like_gos_shim(daemon: FakeDaemon, sock_dir: str) -> None:
    daemon.cni_error = (400, b"cannot delete\n")
    code, out, err = run(cni_env("DEL"), shim_config(sock_dir, ignoreDelErrors=True))
    assert (code, out) == (0, b"")
    assert "ignored" in err and "cannot delete" in err
    # no daemon at all is swallowed too, but not for ADD
    assert run(cni_env("DEL"), shim_config("/nonexistent", ignoreDelErrors=True))[0] == 0
    assert run(cni_env("ADD"), shim_config(sock_dir + "/x", ignoreDelErrors=True, readinessTimeout=0))[0] == 1


# ---- answered locally ----------------------------------------------------------------------------------------

def test_version_needs_no_daemon_and_no_stdin() -> None:
    code, out, err = run({"CNI_COMMAND": "VERSION"})
    assert (code, err) == (0, "")
    assert json.loads(out) == {"cniVersion": "1.1.0",
                               "supportedVersions": ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]}


def test_no_command_prints_about_text_on_stderr() -> None:
    code, out, err = run({})
    assert (code, out) == (0, b"")
    assert "multus-shim" in err and "1.1.0" in err


@pytest.mark.parametrize(("env", "stdin", "code", "msg"), [
    (cni_env("FROB"), b"{}", 4, "unknown CNI_COMMAND 'FROB'"),
    (cni_env("ADD", CNI_NETNS=""), b"{}", 4, "required env variables [CNI_NETNS] missing"),
    ({"CNI_COMMAND": "DEL"}, b"{}", 4, "required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing"),
    (cni_env("ADD"), b"{not json", 6, "stdin could not be decoded as a network config"),
    (cni_env("ADD"), b"", 6, "stdin could not be decoded as a network config"),
    (cni_env("ADD"), b"[1]", 6, "stdin could not be decoded as a network config"),
    (cni_env("ADD"), b"\xff{}", 6, "stdin could not be decoded as a network config"),
    (cni_env("ADD"), b'{"cniVersion": 1}', 6, "decoding version from network config"),
    (cni_env("ADD"), b'{"cniVersion": "9.9.9"}', 1, "incompatible CNI versions: config is '9.9.9'"),
    (cni_env("CHECK"), b'{"cniVersion": "0.3.1"}', 1, "config version does not allow CHECK"),
    (cni_env("STATUS"), b'{"cniVersion": "1.0.0"}', 1, "config version does not allow STATUS"),
    (cni_env("ADD"), b'{"cniVersion": "1.0.0", "daemonSocketDir": 5}', 7,
     "invalid shim config: daemonSocketDir must be a string"),
    (cni_env("ADD"), b'{"cniVersion": "1.0.0", "ignoreDelErrors": "yes"}', 7,
     "invalid shim config: ignoreDelErrors must be a boolean"),
    (cni_env("ADD"), b'{"cniVersion": "1.0.0", "readinessTimeout": -1}', 7,
     "invalid shim config: readinessTimeout must be a number of seconds"),
])
def test_bad_env_or_stdin_fails_as_skel_would(env: dict[str, str], stdin: bytes, code: int, msg: str) -> None:
    exit_code, out, err = run(env, stdin)
    assert exit_code == 1
    error = error_of(out)
    assert (error["code"], error["msg"]) == (code, msg)
    assert "Traceback" not in err


def test_errors_carry_the_config_version_once_known(sock_dir: str) -> None:
    _, out, _ = run(cni_env("ADD"), shim_config(sock_dir, "0.4.0", readinessTimeout=0))
    assert error_of(out)["cniVersion"] == "0.4.0"
    _, out, _ = run(cni_env("ADD", CNI_PATH=""), shim_config(sock_dir, "0.4.0"))
    assert "cniVersion" not in error_of(out)  # env is checked before stdin is read, as skel does
    _, out, _ = run(cni_env("ADD"), b'{"name": "n", "daemonSocketDir": "/nonexistent", "readinessTimeout": 0}')
    assert "cniVersion" not in error_of(out)  # the implicit 0.1.0 is not written into errors
