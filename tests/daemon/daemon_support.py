"""Helpers for the daemon tests: a unix-socket HTTP client speaking as Go's shim does, and a daemon runner.

``shim_body`` builds the request body Go's ``multus-shim`` sends (``api.Request``: env, base64 config);
``UnixClient`` posts it over the daemon's socket with http.client, one connection per client (so a test
can also check keep-alive). ``running_daemon`` starts a :class:`multus.daemon.service.Daemon` in this
process with a private metrics registry and always stops it.
"""

from __future__ import annotations

import base64
import http.client
import json
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from multus.daemon.config import parse_daemon_config
from multus.daemon.service import Daemon

POD_UID = "5c0ffee0-0000-4000-8000-000000000d00"


def pod_cni_args(pod: str = "web", namespace: str = "default", uid: str = POD_UID, container_id: str = "ctr1") -> str:
    return (f"IgnoreUnknown=1;K8S_POD_NAMESPACE={namespace};K8S_POD_NAME={pod};"
            f"K8S_POD_INFRA_CONTAINER_ID={container_id};K8S_POD_UID={uid}")


def cni_env(command: str, *, netns: str = "", container_id: str = "ctr1", ifname: str | None = "eth0",
            pod: str = "web", uid: str = POD_UID, path: str = "/opt/cni/bin") -> dict[str, str]:
    """The CNI_* part of the environment a runtime gives the shim (which forwards its whole env)."""
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": container_id, "CNI_NETNS": netns,
           "CNI_ARGS": pod_cni_args(pod, uid=uid, container_id=container_id), "CNI_PATH": path}
    if ifname is not None:
        env["CNI_IFNAME"] = ifname
    return env


def shim_body(env: Mapping[str, str], config: Mapping[str, Any] | bytes,
              interface_attributes: Mapping[str, Any] | None = None) -> bytes:
    """Go's api.Request as the shim marshals it: ``config`` is []byte, so base64."""
    raw = config if isinstance(config, bytes) else json.dumps(config).encode()
    body: dict[str, Any] = {"env": dict(env), "config": base64.b64encode(raw).decode()}
    if interface_attributes is not None:
        body["interfaceAttributes"] = dict(interface_attributes)
    return json.dumps(body).encode()


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class UnixClient:
    """HTTP/1.1 over the daemon's socket; the connection is kept between requests until close()."""

    def __init__(self, socket_path: str | Path, timeout: float = 60.0) -> None:
        self.conn = _UnixConnection(str(socket_path), timeout)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Reply:
        self.conn.request(method, path, body=body, headers=dict(headers or {}))
        response = self.conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)

    def cni(self, env: Mapping[str, str], config: Mapping[str, Any] | bytes, *, endpoint: str = "/cni",
            headers: Mapping[str, str] | None = None, attributes: Mapping[str, Any] | None = None) -> Reply:
        return self.request("POST", endpoint, shim_body(env, config, attributes), headers)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> UnixClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def post_once(socket_path: str | Path, path: str, body: bytes = b"", headers: Mapping[str, str] | None = None,
              method: str = "POST") -> Reply:
    """One request on a fresh connection, as Go's shim makes it."""
    with UnixClient(socket_path) as client:
        return client.request(method, path, body, headers)


def daemon_config(tmp_path: Path, **keys: Any) -> dict[str, Any]:
    """A daemon config whose socket dir is private to the test."""
    return {"socketDir": str(tmp_path / "run" / "multus"), **keys}


@contextmanager
def running_daemon(config: Mapping[str, Any], **kwargs: Any) -> Iterator[Daemon]:
    """A started daemon (private metrics registry), stopped at the end whatever happens."""
    parsed = parse_daemon_config(json.dumps(config).encode(), "test-daemon-config.json")
    daemon = Daemon(parsed, registry=CollectorRegistry(), **kwargs)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


def metric_value(daemon: Daemon, name: str, labels: Mapping[str, str]) -> float | None:
    value = daemon.metrics.registry.get_sample_value(name, dict(labels))
    return value
