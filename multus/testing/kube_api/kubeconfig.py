"""Writing a kubeconfig that points a client at the double.

Code under test loads its cluster access the way it would in production (a kubeconfig file, as
Multus does with its ``kubeconfig`` option), so the double hands out a real one. It is written as
JSON, which every YAML loader (``kubernetes.config``, client-go) reads as YAML.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

DEFAULT_CONTEXT = "kube-api-double"


def kubeconfig_document(
    server_url: str,
    *,
    token: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
    namespace: str = "default",
    context: str = DEFAULT_CONTEXT,
) -> dict[str, Any]:
    """A kubeconfig with one cluster, user and context, selected as the current context.

    For an ``https`` server without ``ca_file`` the config skips TLS verification.
    """
    cluster: dict[str, Any] = {"server": server_url}
    if ca_file is not None:
        cluster["certificate-authority"] = str(Path(ca_file).resolve())
    elif server_url.startswith("https://"):
        cluster["insecure-skip-tls-verify"] = True
    user: dict[str, Any] = {"token": token} if token else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": context, "cluster": cluster}],
        "users": [{"name": context, "user": user}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": namespace}}],
        "current-context": context,
        "preferences": {},
    }


def write_kubeconfig(
    path: str | os.PathLike[str],
    server_url: str,
    *,
    token: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
    namespace: str = "default",
    context: str = DEFAULT_CONTEXT,
) -> Path:
    """Write the kubeconfig to ``path`` (mode 0600, as it may hold a token) and return the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    document = kubeconfig_document(server_url, token=token, ca_file=ca_file, namespace=namespace,
                                   context=context)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    return target
