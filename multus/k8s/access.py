"""How to reach and authenticate to the API server: from a kubeconfig, or in-cluster.

Go Multus takes a ``kubeconfig`` path from its configuration and otherwise falls back to the pod's
service account (:func:`resolve_access` keeps that rule). The kubeconfig subset read here is what a
node-local CNI plugin meets in practice: one cluster/user/context picked by ``current-context`` (or
by name), CA and client certificates inline or as files (relative paths resolved against the
kubeconfig's directory, as kubectl does), bearer tokens inline or in a file, basic auth,
``insecure-skip-tls-verify`` and ``tls-server-name``. Exec and auth-provider plugins, and proxies,
are refused with a clear error rather than silently ignored.

A kubeconfig is tried as JSON first (a JSON document is also valid YAML, and parsing it needs no
import); PyYAML, C loader preferred, is imported only when that fails, because importing it costs
~10 ms on every CNI call.
"""

from __future__ import annotations

import binascii
import contextlib
import importlib
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit

from .errors import KubeconfigError

_SECRETS = frozenset({"ca_data", "client_cert_data", "client_key_data", "token", "password"})

if TYPE_CHECKING:
    import ssl

SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ClusterAccess(NamedTuple):
    """Everything needed to open an authenticated connection to one API server.

    Each credential is either inline (``*_data``, ``token``) or a file path (``*_file``); files are
    read when they are used, so a rotated service-account token or client certificate is picked up
    by the next client. ``source`` names where this came from, for error messages. Secrets are
    kept out of ``repr``. (A NamedTuple, not a dataclass: a thin-plugin call with a kubeconfig defines
    it, and this dataclass cost ~1.6 ms to create.)
    """

    server: str
    ca_data: bytes | None = None
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    client_cert_data: bytes | None = None
    client_cert_file: str | None = None
    client_key_data: bytes | None = None
    client_key_file: str | None = None
    token: str | None = None
    token_file: str | None = None
    username: str | None = None
    password: str | None = None
    source: str = ""

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields if name not in _SECRETS)
        return f"ClusterAccess({shown})"

    @property
    def is_https(self) -> bool:
        """Whether the server URL is https (anything but an explicit ``http://``)."""
        return urlsplit(self.server).scheme != "http"

    def bearer_token(self) -> str | None:
        """The bearer token, re-reading ``token_file`` (a token file wins over an inline token)."""
        if self.token_file:
            return _read_file(self.token_file, "tokenFile", self.source).decode("utf-8", "replace").strip()
        return self.token or None

    def ssl_context(self) -> ssl.SSLContext:
        """The TLS client context: trusted CA (or none, when verification is skipped) and client cert.

        ``ssl`` can load a client certificate only from a path, so inline certificate/key data is
        written to private (0600) temporary files that are deleted right after loading. ``ssl`` (~12 ms
        to import) is loaded here, for an https server only.
        """
        import ssl

        where = f" ({self.source})" if self.source else ""
        if self.insecure_skip_tls_verify:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_data is not None or self.ca_file is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies and checks hostnames
            try:
                if self.ca_data is not None:
                    context.load_verify_locations(cadata=self.ca_data.decode("ascii", "replace"))
                else:
                    context.load_verify_locations(cafile=self.ca_file)
            except (ssl.SSLError, OSError, ValueError) as exc:
                what = "certificate-authority-data" if self.ca_data is not None else self.ca_file
                raise KubeconfigError(f"cannot load the cluster CA from {what}{where}", str(exc)) from exc
        else:
            context = ssl.create_default_context()  # the system's trust store
        if self.client_cert_data is not None or self.client_cert_file is not None:
            self._load_client_cert(context, where)
        return context

    def _load_client_cert(self, context: ssl.SSLContext, where: str) -> None:
        import ssl

        temporary: list[str] = []
        try:
            cert = self.client_cert_file or _private_temp_file(self.client_cert_data or b"", temporary)
            key = self.client_key_file
            if key is None and self.client_key_data is not None:
                key = _private_temp_file(self.client_key_data, temporary)
            context.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise KubeconfigError(f"cannot load the client certificate and key{where}", str(exc)) from exc
        finally:
            for path in temporary:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def _private_temp_file(data: bytes, created: list[str]) -> str:
    """Write ``data`` to a new mode-0600 temp file (mkstemp's default); the caller deletes it."""
    import tempfile  # deferred: only inline client certificates need it (it pulls in shutil, random)

    fd, path = tempfile.mkstemp(prefix="multus-k8s-", suffix=".pem")
    created.append(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def _read_file(path: str, key: str, source: str) -> bytes:
    where = f" (from {key} in {source})" if source else f" (from {key})"
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise KubeconfigError(f"cannot read {path}{where}: {exc.strerror or exc}") from exc


# ----- kubeconfig -------------------------------------------------------------------------------


def load_kubeconfig(path: str | os.PathLike[str], context: str | None = None) -> ClusterAccess:
    """The access described by ``path``'s current context (or the context named ``context``)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise KubeconfigError(f"kubeconfig {path} does not exist") from None
    except OSError as exc:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {exc.strerror or exc}") from exc
    doc = _parse(raw, path)
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {path} is not a mapping (got {type(doc).__name__})")
    name = context or doc.get("current-context")
    if not name:
        raise KubeconfigError(f"kubeconfig {path} has no current-context and no context was named")
    ctx = _named(doc, "contexts", "context", str(name), path)
    cluster_name = ctx.get("cluster")
    if not cluster_name:
        raise KubeconfigError(f'context "{name}" in kubeconfig {path} names no cluster')
    cluster = _named(doc, "clusters", "cluster", str(cluster_name), path)
    user_name = ctx.get("user")
    user = _named(doc, "users", "user", str(user_name), path) if user_name else {}
    return _access(cluster, str(cluster_name), user, str(user_name or ""), path)


def _parse(raw: bytes, path: str) -> Any:
    """JSON when it is JSON (no yaml import), otherwise YAML with the C loader when available."""
    try:
        return json.loads(raw)
    except ValueError:
        pass
    # Deferred (~10 ms per process) and typed as Any: PyYAML ships no type stubs.
    yaml: Any = importlib.import_module("yaml")
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(raw, Loader=loader)
    except yaml.YAMLError as exc:
        raise KubeconfigError(f"kubeconfig {path} is not valid YAML", str(exc)) from exc


def _named(doc: dict[str, Any], section: str, key: str, name: str, path: str) -> dict[str, Any]:
    """The ``key`` mapping of the entry called ``name`` in the list ``section``."""
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise KubeconfigError(f"{section} in kubeconfig {path} is not a list")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(key) or {}
            if not isinstance(body, dict):
                raise KubeconfigError(f'{key} "{name}" in kubeconfig {path} is not a mapping')
            return body
    raise KubeconfigError(f'{key} "{name}" not found in kubeconfig {path}')


def _access(cluster: dict[str, Any], cluster_name: str, user: dict[str, Any], user_name: str,
            path: str) -> ClusterAccess:
    base = os.path.dirname(os.path.abspath(path))
    where_cluster = f'cluster "{cluster_name}" in kubeconfig {path}'
    where_user = f'user "{user_name}" in kubeconfig {path}'
    server = str(cluster.get("server") or "").strip()
    if not server:
        raise KubeconfigError(f"{where_cluster} has no server")
    if "://" not in server:
        server = "https://" + server
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise KubeconfigError(f"{where_cluster}: server {server!r} is not an http(s) URL")
    if cluster.get("proxy-url"):
        raise KubeconfigError(f"{where_cluster}: proxy-url is not supported by multus-py")
    for plugin in ("exec", "auth-provider"):
        if user.get(plugin):
            raise KubeconfigError(f"{where_user}: {plugin} credential plugins are not supported by multus-py; "
                                  "use a token, tokenFile or client certificate")
    insecure = bool(cluster.get("insecure-skip-tls-verify"))
    ca_data = _b64(cluster, "certificate-authority-data", where_cluster)
    ca_file = _file(cluster, "certificate-authority", base, where_cluster)
    if insecure and (ca_data is not None or ca_file is not None):
        raise KubeconfigError(f"{where_cluster}: certificate-authority with insecure-skip-tls-verify is not allowed")
    cert_data = _b64(user, "client-certificate-data", where_user)
    cert_file = _file(user, "client-certificate", base, where_user)
    key_data = _b64(user, "client-key-data", where_user)
    key_file = _file(user, "client-key", base, where_user)
    has_cert = cert_data is not None or cert_file is not None
    has_key = key_data is not None or key_file is not None
    if has_cert != has_key:
        missing = "client-key(-data)" if has_cert else "client-certificate(-data)"
        raise KubeconfigError(f"{where_user} has a client {'certificate' if has_cert else 'key'} but no {missing}")
    token = user.get("token")
    token_file = _file(user, "tokenFile", base, where_user)
    server_name = cluster.get("tls-server-name")
    return ClusterAccess(
        server=server.rstrip("/"), ca_data=ca_data, ca_file=ca_file, insecure_skip_tls_verify=insecure,
        tls_server_name=str(server_name) if server_name else None,
        client_cert_data=None if cert_file else cert_data, client_cert_file=cert_file,
        client_key_data=None if key_file else key_data, client_key_file=key_file,
        token=str(token) if token else None, token_file=token_file,
        username=str(user["username"]) if user.get("username") else None,
        password=str(user["password"]) if user.get("password") is not None else None,
        source=f"kubeconfig {path}",
    )


def _b64(section: dict[str, Any], key: str, where: str) -> bytes | None:
    value = section.get(key)
    if not value:
        return None
    try:
        return binascii.a2b_base64("".join(str(value).split()), strict_mode=True)  # = b64decode(validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KubeconfigError(f"{where}: {key} is not valid base64", str(exc)) from exc


def _file(section: dict[str, Any], key: str, base: str, where: str) -> str | None:
    """A file path from the kubeconfig, made absolute and checked readable now for a clear error."""
    value = section.get(key)
    if not value:
        return None
    resolved = os.path.join(base, str(value))  # as kubectl: relative to the kubeconfig; absolute kept
    try:
        with open(resolved, "rb"):
            pass
    except OSError as exc:
        raise KubeconfigError(f"{where}: cannot read {key} {resolved}: {exc.strerror or exc}") from exc
    return resolved


# ----- in-cluster -------------------------------------------------------------------------------


def in_cluster_access(
    environ: Mapping[str, str] = os.environ, sa_dir: str = SERVICE_ACCOUNT_DIR
) -> ClusterAccess | None:
    """The pod's service-account access; None unless both KUBERNETES_SERVICE_HOST and _PORT are set.

    The token stays a file reference, so it is re-read (and rotation picked up) per client.
    """
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        return None
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # an IPv6 service IP
    token_file = os.path.join(sa_dir, "token")
    ca_file = os.path.join(sa_dir, "ca.crt")
    source = f"service account {sa_dir}"
    for file, key in ((token_file, "token"), (ca_file, "ca.crt")):
        _read_file(file, key, source)
    return ClusterAccess(server=f"https://{host}:{port}", ca_file=ca_file, token_file=token_file, source=source)


def resolve_access(
    kubeconfig: str, environ: Mapping[str, str] = os.environ, sa_dir: str = SERVICE_ACCOUNT_DIR
) -> ClusterAccess | None:
    """Go Multus's rule: the kubeconfig if one is configured, else in-cluster, else None (no Kubernetes)."""
    if kubeconfig:
        return load_kubeconfig(kubeconfig)
    return in_cluster_access(environ, sa_dir)
