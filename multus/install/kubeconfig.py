"""The kubeconfig the thin plugin uses, built from the pod's service account, and kept fresh.

Same content as Go's thin_entrypoint writes: cluster ``local`` (server, CA data from ``ca.crt`` or
``insecure-skip-tls-verify``), user ``multus`` with the service-account token, context
``multus-context``. Written atomically with mode 0600 (it holds a credential).

Written as JSON, not Go's YAML text: JSON is YAML too, so kubectl and client-go read it as before, and
the thin plugin, a fresh process per CNI call on the host, parses it with the stdlib ``json``
(:func:`multus.k8s.access.load_kubeconfig` tries JSON first) instead of importing a YAML parser, which
in the host bundle is PyYAML's pure-Python one (no C loader there), on every pod's start.

Why refresh: bound service-account tokens expire (1 h under CIS profiles, about a year otherwise) and
the kubelet rotates the projected file, but Go's entrypoint rewrites the kubeconfig only in its
``--cleanup-config-on-exit`` loop, so thin Multus fails with ``Unauthorized`` an hour after boot
(multus#852, rke2#9313, kubespray#12002). :func:`generate_kubeconfig` renders from the current token
and CA every time and rewrites only when the content hash differs, so calling it every second is cheap.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from multus.cni.durable import write_atomically

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class KubeconfigError(Exception):
    """The kubeconfig cannot be built (missing token or CA, no API server address)."""


def server_url(protocol: str, host: str, port: str) -> str:
    """``https://10.96.0.1:443``; an IPv6 host in brackets, as Go's ``net.JoinHostPort``."""
    if not host or not port:
        raise KubeconfigError("cannot locate the API server: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
                              "must be set")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{protocol or 'https'}://{host}:{port}"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KubeconfigError(f"service account {what} is not found: {path}") from None
    except OSError as exc:
        raise KubeconfigError(f"cannot read service account {what} file {path}: {exc.strerror or exc}") from None


def render_kubeconfig(service_account_dir: str | os.PathLike[str], host: str, port: str, protocol: str = "https",
                      skip_tls_verify: bool = False) -> bytes:
    """The kubeconfig text for the current token and CA."""
    sa_dir = Path(service_account_dir)
    token = _read(sa_dir / "token", "token").decode("utf-8", "replace").strip()
    cluster: dict[str, object] = {"server": server_url(protocol, host, port)}
    if skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    else:
        cluster["certificate-authority-data"] = base64.b64encode(_read(sa_dir / "ca.crt", "ca")).decode("ascii")
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "local", "cluster": cluster}],
        "users": [{"name": "multus", "user": {"token": token}}],
        "contexts": [{"name": "multus-context", "context": {"cluster": "local", "user": "multus"}}],
        "current-context": "multus-context",
    }
    return (json.dumps(document, indent=2) + "\n").encode()


def _digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def generate_kubeconfig(service_account_dir: str | os.PathLike[str], host: str, port: str, protocol: str,
                        dest: str | os.PathLike[str], skip_tls_verify: bool = False) -> bool:
    """Write the kubeconfig to ``dest`` (0600, atomically) if its content changed; True when written."""
    data = render_kubeconfig(service_account_dir, host, port, protocol, skip_tls_verify)
    target = Path(dest)
    if _digest(target) == hashlib.sha256(data).hexdigest():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, data, mode=0o600)
    return True
