"""The daemon's HTTP API over a real unix socket, with scripted fake delegate plugins.

Doubles: ``multus.testing.fake_plugin`` plugins (``fake``, ``other``) stand in for delegates, so a test
can choose a plugin's answer and read back exactly what it was called with; there is no Kubernetes here
(static ``delegates``, pod arguments only in CNI_ARGS). The daemon runs in this process on a socket in
tmp_path; ADD needs a real pod namespace for its interface-name check (``netns`` fixture). Checked:

* a request built by hand as Go's shim sends it gets ``{"Result": <1.0.0>}``, byte-compatible;
* our ``X-Multus-Result-Version`` header gets exactly the result in that version, echoed back; an
  unsupported version is refused before any plugin runs;
* CHECK, STATUS, GC (even without CNI_ARGS) and DEL answer 200 with an empty body and reach the plugin;
* error shapes: a delegate's CNI error as JSON keeping its code (ADD's text in Go's words), other
  failures as Go's plain text prefixed with the call, missing environment in Go's words, unknown
  commands, unparsable bodies, 405 and 404;
* the daemon config overrides the request's (its ``delegates`` run, not the request's), and the
  readiness indicator is honoured outside auto mode but dropped in auto mode;
* /healthz and /readyz; keep-alive on one connection, ``Connection: close`` honoured;
* /metrics on metricsPort: Go's request counter with its labels, verb and delegate histograms,
  process metrics.
"""

from __future__ import annotations

import base64
import json
import socket
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from daemon_support import (
    POD_UID,
    UnixClient,
    cni_env,
    daemon_config,
    metric_value,
    post_once,
    running_daemon,
    shim_body,
)

from multus.cni.invoke import InvokeArgs, PluginOutput
from multus.daemon.clients import SharedKube
from multus.daemon.service import Daemon
from multus.plugin import readiness
from multus.testing.fake_plugin import FakePlugin, make_fake_plugin

RESULT_100 = {"cniVersion": "1.0.0", "ips": [{"address": "10.99.0.2/24", "gateway": "10.99.0.1"}], "dns": {}}


@dataclass
class Setup:
    tmp: Path
    netns: str
    fake: FakePlugin
    other: FakePlugin

    def daemon_config(self, **keys: Any) -> dict[str, Any]:
        return daemon_config(self.tmp, cniDir=str(self.tmp / "multus"), binDir=str(self.fake.directory), **keys)

    def shim_config(self, version: str = "1.0.0", **keys: Any) -> dict[str, Any]:
        conf = {"cniVersion": version, "name": "multus-cni-network", "type": "multus-shim",
                "delegates": [{"cniVersion": version, "name": "fakenet", "type": "fake"}]}
        conf.update(keys)
        return conf

    def env(self, command: str, **kwargs: Any) -> dict[str, str]:
        return cni_env(command, netns=self.netns, **kwargs)


@pytest.fixture
def setup(tmp_path: Path, netns: str) -> Setup:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    return Setup(tmp_path, netns, make_fake_plugin(bin_dir, "fake"), make_fake_plugin(bin_dir, "other"))


@pytest.fixture
def daemon(setup: Setup) -> Iterator[Daemon]:
    with running_daemon(setup.daemon_config(), kube_factory=SharedKube(environ={})) as started:
        yield started


def sock(daemon: Daemon) -> str:
    return daemon.config.socket_path


def go_shim_request(setup: Setup, command: str, version: str) -> bytes:
    """The bytes Go's shim writes: whole env (keys trimmed), base64 stdin, one request per connection."""
    env = {"PATH": "/usr/sbin:/usr/bin", "HOME": "/root", **setup.env(command)}
    config = base64.b64encode(json.dumps(setup.shim_config(version)).encode()).decode()
    body = json.dumps({"env": env, "config": config})
    return (f"POST /cni HTTP/1.1\r\nHost: dummy\r\nUser-Agent: Go-http-client/1.1\r\nContent-Length: {len(body)}\r\n"
            f"Content-Type: application/json\r\nAccept-Encoding: gzip\r\n\r\n{body}").encode()


def raw_exchange(path: str, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(path)
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := client.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# ---- results ---------------------------------------------------------------------------------------------


def test_a_go_shim_add_gets_the_result_as_cni_1_0_0_under_a_capital_result_key(setup: Setup, daemon: Daemon) -> None:
    answer = raw_exchange(sock(daemon), go_shim_request(setup, "ADD", "0.3.1"))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"Content-Type: application/json" in head
    assert json.loads(body) == {"Result": RESULT_100}
    assert body == json.dumps({"Result": RESULT_100}, separators=(",", ":")).encode()
    [call] = setup.fake.calls()
    assert call["command"] == "ADD" and call["stdin"]["name"] == "fakenet"
    assert call["env"]["CNI_IFNAME"] == "eth0" and call["env"]["CNI_NETNS"] == setup.netns


def test_our_result_version_header_gets_exactly_the_result_in_that_version(setup: Setup, daemon: Daemon) -> None:
    reply = post_once(sock(daemon), "/cni", _body(setup.env("ADD"), setup.shim_config("0.3.1")),
                      {"X-Multus-Result-Version": "0.3.1"})
    assert reply.status == 200
    assert reply.headers["x-multus-result-version"] == "0.3.1"
    assert reply.json() == {"cniVersion": "0.3.1", "dns": {},
                            "ips": [{"version": "4", "address": "10.99.0.2/24", "gateway": "10.99.0.1"}]}


def test_an_unsupported_result_version_is_refused_before_any_plugin_runs(setup: Setup, daemon: Daemon) -> None:
    reply = post_once(sock(daemon), "/cni", _body(setup.env("ADD"), setup.shim_config()),
                      {"X-Multus-Result-Version": "9.9.9"})
    assert reply.status == 400
    assert reply.json()["code"] == 1 and "9.9.9" in reply.json()["msg"]
    assert setup.fake.calls() == []


def test_check_status_gc_and_del_answer_200_with_an_empty_body(setup: Setup, daemon: Daemon) -> None:
    conf = setup.shim_config("1.1.0")
    with UnixClient(sock(daemon)) as client:
        assert client.cni(setup.env("ADD"), conf).status == 200
        for env in (setup.env("CHECK"), {"CNI_COMMAND": "STATUS"}, {"CNI_COMMAND": "GC", "CNI_ARGS": ""},
                    setup.env("DEL")):
            reply = client.cni(env, conf)
            assert (env["CNI_COMMAND"], reply.status, reply.body) == (env["CNI_COMMAND"], 200, b"")
    assert setup.fake.commands() == ["ADD", "CHECK", "STATUS", "GC", "DEL"]
    assert not (setup.tmp / "multus" / "ctr1").exists()  # DEL dropped the scratch cache ADD wrote


# ---- errors ----------------------------------------------------------------------------------------------


def test_a_delegate_cni_error_is_json_keeping_its_code_with_gos_add_text(setup: Setup, daemon: Daemon) -> None:
    setup.fake.script(ADD={"stdout": json.dumps({"code": 11, "msg": "no leases left", "details": "pool a"}),
                           "exit": 1})
    reply = post_once(sock(daemon), "/cni", _body(setup.env("ADD"), setup.shim_config()))
    assert reply.status == 400
    assert reply.body.endswith(b"}\n")
    error = reply.json()
    assert error == {"code": 11, "details": "pool a", "msg": (
        f'error configuring pod [default/web] networking: [default/web/{POD_UID}:fakenet]: '
        'error adding container to network "fakenet": no leases left')}


class ExplodingExecutor:
    """A plugin executor with a bug: its failure is not a CNI error."""

    def find_in_path(self, plugin: str, paths: Sequence[str]) -> str:
        raise RuntimeError("executor exploded")

    def exec_plugin(self, plugin_path: str, stdin: bytes, args: InvokeArgs, timeout: float | None) -> PluginOutput:
        raise RuntimeError("executor exploded")


def test_a_failure_that_is_not_a_cni_error_is_gos_plain_text_prefixed_with_the_call(setup: Setup) -> None:
    with running_daemon(setup.daemon_config(), kube_factory=SharedKube(environ={}),
                        executor=ExplodingExecutor()) as daemon:
        env = setup.env("ADD", path="/opt/cni/bin")
        reply = post_once(sock(daemon), "/cni", _body(env, setup.shim_config()))
    assert reply.status == 400
    assert reply.headers["content-type"].startswith("text/plain")
    assert reply.text == (f'ContainerID:"ctr1" Netns:"{setup.netns}" IfName:"eth0" Args:"{env["CNI_ARGS"]}" '
                          'Path:"/opt/cni/bin" ERRORED: error configuring pod [default/web] networking: '
                          'executor exploded\n')


@pytest.mark.parametrize(("drop", "message"), [
    ("CNI_COMMAND", "could not extract the CNI command args: unexpected or missing CNI_COMMAND"),
    ("CNI_CONTAINERID", "could not extract the CNI command args: missing CNI_CONTAINERID"),
    ("CNI_NETNS", "could not extract the CNI command args: missing CNI_NETNS"),
    ("CNI_ARGS", "could not extract the CNI command args: missing CNI_ARGS"),
])
def test_missing_environment_is_refused_in_gos_words(setup: Setup, daemon: Daemon, drop: str, message: str) -> None:
    env = setup.env("ADD")
    del env[drop]
    reply = post_once(sock(daemon), "/cni", _body(env, setup.shim_config()))
    assert (reply.status, reply.text) == (400, message + "\n")
    assert setup.fake.calls() == []


def test_a_missing_ifname_defaults_to_eth0(setup: Setup, daemon: Daemon) -> None:
    reply = post_once(sock(daemon), "/cni", _body(setup.env("ADD", ifname=None), setup.shim_config()))
    assert reply.status == 200
    assert setup.fake.calls()[0]["env"]["CNI_IFNAME"] == "eth0"


def test_cni_args_without_the_pod_name_are_a_cni_error_of_code_4(setup: Setup, daemon: Daemon) -> None:
    env = dict(setup.env("ADD"), CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default")
    reply = post_once(sock(daemon), "/cni", _body(env, setup.shim_config()))
    assert reply.status == 400
    assert reply.json() == {"code": 4, "msg": "could not extract the kubernetes runtime args: missing K8S_POD_NAME"}


def test_an_unknown_command_is_plain_text(setup: Setup, daemon: Daemon) -> None:
    reply = post_once(sock(daemon), "/cni", _body(setup.env("FROB"), setup.shim_config()))
    assert (reply.status, reply.text) == (400, "unknown cmd type: FROB\n")


def test_a_body_that_is_not_a_request_is_plain_400(daemon: Daemon) -> None:
    reply = post_once(sock(daemon), "/cni", b"{not json")
    assert reply.status == 400 and reply.text.startswith("failed to decode the request: invalid character")
    reply = post_once(sock(daemon), "/cni", b'{"env": {}, "config": "%%%"}')
    assert reply.status == 400 and "config is not base64" in reply.text


def test_other_methods_on_cni_are_405_and_unknown_paths_404(daemon: Daemon) -> None:
    assert (post_once(sock(daemon), "/cni", method="GET").status, post_once(sock(daemon), "/cni", method="GET").text) \
        == (405, "Method not allowed\n")
    reply = post_once(sock(daemon), "/nowhere", method="GET")
    assert (reply.status, reply.text) == (404, "404 page not found\n")


def test_healthz_and_readyz_answer_200_with_an_empty_body(daemon: Daemon) -> None:
    for path in ("/healthz", "/readyz"):
        for method in ("GET", "POST"):
            reply = post_once(sock(daemon), path, method=method)
            assert (path, method, reply.status, reply.body) == (path, method, 200, b"")


# ---- config override -------------------------------------------------------------------------------------


def test_the_daemon_configs_delegates_replace_the_requests(setup: Setup) -> None:
    server_delegates = [{"cniVersion": "1.0.0", "name": "servernet", "type": "other"}]
    with running_daemon(setup.daemon_config(delegates=server_delegates), kube_factory=SharedKube(environ={})) as d:
        assert post_once(sock(d), "/cni", _body(setup.env("ADD"), setup.shim_config())).status == 200
    assert setup.fake.calls() == []
    assert [c["stdin"]["name"] for c in setup.other.calls()] == ["servernet"]


def test_the_readiness_indicator_is_honoured_outside_auto_mode_and_dropped_in_auto_mode(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "WAIT_TIMEOUT", 0.2)
    monkeypatch.setattr(readiness, "WAIT_INTERVAL", 0.05)
    missing = str(setup.tmp / "never-ready")
    request = setup.shim_config(readinessindicatorfile=missing)
    copied = setup.daemon_config(multusConfigFile="/etc/cni/net.d/00-multus.conf", readinessindicatorfile=missing)
    with running_daemon(copied, kube_factory=SharedKube(environ={})) as daemon:
        reply = post_once(sock(daemon), "/cni", _body(setup.env("ADD"), setup.shim_config()))
        assert reply.status == 400 and reply.json()["code"] == 11 and missing in reply.json()["msg"]
    with running_daemon(setup.daemon_config(multusConfigFile="auto", readinessindicatorfile=missing),
                        kube_factory=SharedKube(environ={})) as daemon:
        assert post_once(sock(daemon), "/cni", _body(setup.env("ADD"), request)).status == 200


# ---- connections -----------------------------------------------------------------------------------------


def test_one_connection_serves_readyz_then_cni_and_connection_close_is_honoured(setup: Setup, daemon: Daemon) -> None:
    with UnixClient(sock(daemon)) as client:
        assert client.request("POST", "/readyz").status == 200
        first_socket = client.conn.sock
        reply = client.cni(setup.env("ADD"), setup.shim_config())
        assert reply.status == 200 and "connection" not in reply.headers
        assert client.conn.sock is first_socket  # not reconnected: the daemon kept the connection
        reply = client.request("POST", "/healthz", headers={"Connection": "close"})
        assert reply.headers.get("connection") == "close"
    assert daemon.server.open_connections <= 1


# ---- metrics ---------------------------------------------------------------------------------------------


def test_metrics_count_requests_as_go_does_and_time_verbs_and_delegates(setup: Setup) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = setup.daemon_config(metricsPort=port)
    with running_daemon(config, kube_factory=SharedKube(environ={}), metrics_addr="127.0.0.1") as daemon:
        assert post_once(sock(daemon), "/cni", _body(setup.env("ADD"), setup.shim_config())).status == 200
        post_once(sock(daemon), "/cni", method="GET")
        post_once(sock(daemon), "/missing", method="GET")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
        assert metric_value(daemon, "multus_server_request_total",
                            {"handler": "/cni", "code": "200", "method": "post"}) == 1.0
    assert 'multus_server_request_total{code="200",handler="/cni",method="post"} 1.0' in text
    assert 'multus_server_request_total{code="405",handler="/cni",method="get"} 1.0' in text
    assert 'multus_server_request_total{code="404",handler="NotFound",method="get"} 1.0' in text
    assert 'multus_cni_request_duration_seconds_count{command="ADD"} 1.0' in text
    assert 'multus_delegate_duration_seconds_count{command="ADD",network="fakenet"} 1.0' in text
    assert "process_resident_memory_bytes" in text


def _body(env: dict[str, str], config: dict[str, Any]) -> bytes:
    return shim_body(env, config)
