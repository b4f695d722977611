"""Helpers shared by the kube-apiserver double's tests (not a test module itself)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kubernetes import client, config, watch

NAD = ("k8s.cni.cncf.io", "v1")
NAD_PLURAL = "network-attachment-definitions"


# Parts of the client without annotations, called through Any so the tests stay mypy --strict clean.
_load_kube_config: Any = config.load_kube_config
_Watch: Any = watch.Watch


def client_for(kubeconfig: Path) -> client.ApiClient:
    """An ApiClient configured only from ``kubeconfig`` (never from ~/.kube)."""
    configuration = client.Configuration()
    _load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return client.ApiClient(configuration)


def close_client(api_client: client.ApiClient) -> None:
    """Close the client's connection pool."""
    closer: Any = api_client.close
    closer()


def stream(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
    """``kubernetes.watch.Watch().stream(...)``, typed."""
    events: Iterator[dict[str, Any]] = _Watch().stream(func, *args, **kwargs)
    return events


def collect_events(
    func: Callable[..., Any], *args: Any, until: Callable[[list[dict[str, Any]]], bool],
    timeout_seconds: int = 5, **kwargs: Any,
) -> list[dict[str, Any]]:
    """Stream a watch through ``kubernetes.watch.Watch`` until ``until(events)`` holds or it ends."""
    events: list[dict[str, Any]] = []
    w = _Watch()
    deadline = time.monotonic() + timeout_seconds
    for event in w.stream(func, *args, timeout_seconds=timeout_seconds, **kwargs):
        events.append(event)
        if until(events) or time.monotonic() > deadline:
            w.stop()
    return events


def pod_body(name: str, namespace: str = "default", **meta: Any) -> Any:
    """A minimal valid Pod for create calls, as a dict (which the client sends as is).

    Typed ``Any`` because the client annotates bodies as models although it takes dicts too.
    """
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, **meta},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]},
    }
