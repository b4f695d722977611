"""Cluster access for the stdlib Kubernetes client: kubeconfig parsing, in-cluster config, the choice.

Checked here, against kubeconfigs and service-account directories the tests write to ``tmp_path``
(no API server is involved; the client tests use a kube-apiserver test double):

* inline (base64) CA, client certificate/key and token; files relative to the kubeconfig's
  directory (not the working directory); token files (which win over inline tokens and are
  re-read on use); basic auth, insecure-skip-tls-verify, tls-server-name; a named context;
  JSON and YAML kubeconfigs, and that a JSON one never imports yaml;
* every unusable kubeconfig fails with a KubeconfigError (CNI code 7) naming the file and key;
* ssl_context(): verification settings, inline client certificates loaded through private
  temp files that are gone afterwards, bad PEM reported as a KubeconfigError;
* in-cluster access from KUBERNETES_SERVICE_HOST/PORT (IPv6 bracketed) and a fake SA directory,
  and Go Multus's rule: a kubeconfig path, else in-cluster, else no Kubernetes at all.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from multus.cni.errors import ErrorCode
from multus.k8s.access import ClusterAccess, in_cluster_access, load_kubeconfig, resolve_access
from multus.k8s.errors import KubeconfigError

Obj = dict[str, Any]
REPO = Path(__file__).resolve().parents[2]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def kubeconfig(cluster: Obj | None = None, user: Obj | None = None, **top: Any) -> Obj:
    """A one-context kubeconfig ("ctx" -> cluster "c", user "u") with the given overrides."""
    doc: Obj = {
        "apiVersion": "v1", "kind": "Config", "current-context": "ctx",
        "clusters": [{"name": "c", "cluster": {"server": "https://10.0.0.1:6443", **(cluster or {})}}],
        "users": [{"name": "u", "user": dict(user or {})}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
    }
    doc.update(top)
    return doc


def write(path: Path, doc: Obj | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def make_cert(directory: Path) -> tuple[bytes, bytes]:
    """A self-signed EC certificate and its key (PEM), made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is not installed")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=multus-test"],
                   check=True, capture_output=True, timeout=30)
    return cert.read_bytes(), key.read_bytes()


# ----- kubeconfig: what gets read ---------------------------------------------------------------


def test_inline_base64_credentials_are_decoded(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", kubeconfig(
        {"certificate-authority-data": b64(b"CA PEM")},
        {"client-certificate-data": b64(b"CERT PEM"), "client-key-data": b64(b"KEY PEM"), "token": "t0k"}))
    access = load_kubeconfig(path)
    assert access.server == "https://10.0.0.1:6443"
    assert (access.ca_data, access.client_cert_data, access.client_key_data) == (b"CA PEM", b"CERT PEM", b"KEY PEM")
    assert access.bearer_token() == "t0k"
    assert access.ca_file is None and access.client_cert_file is None


def test_relative_file_paths_resolve_against_the_kubeconfig_directory(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    conf_dir = tmp_path / "etc" / "cni"
    for name in ("pki/ca.crt", "pki/client.crt", "pki/client.key", "token"):
        write(conf_dir / name, "x")
    path = write(conf_dir / "multus.kubeconfig", kubeconfig(
        {"certificate-authority": "pki/ca.crt"},
        {"client-certificate": "pki/client.crt", "client-key": "pki/client.key", "tokenFile": "token"}))
    monkeypatch.chdir(tmp_path)  # a different working directory must not matter
    access = load_kubeconfig(path)
    assert access.ca_file == str(conf_dir / "pki/ca.crt")
    assert access.client_cert_file == str(conf_dir / "pki/client.crt")
    assert access.client_key_file == str(conf_dir / "pki/client.key")
    assert access.token_file == str(conf_dir / "token")


def test_a_token_file_wins_over_an_inline_token_and_is_reread_on_every_use(tmp_path: Path) -> None:
    token = write(tmp_path / "token", "first\n")
    access = load_kubeconfig(write(tmp_path / "kc", kubeconfig(user={"token": "inline", "tokenFile": str(token)})))
    assert access.bearer_token() == "first"
    token.write_text("rotated\n")
    assert access.bearer_token() == "rotated"


def test_basic_auth_tls_server_name_and_insecure_flags_are_read(tmp_path: Path) -> None:
    path = write(tmp_path / "kc", kubeconfig(
        {"insecure-skip-tls-verify": True, "tls-server-name": "api.internal"},
        {"username": "admin", "password": "pw"}))
    access = load_kubeconfig(path)
    assert access.insecure_skip_tls_verify and access.tls_server_name == "api.internal"
    assert (access.username, access.password) == ("admin", "pw")
    assert access.bearer_token() is None


def test_secrets_are_kept_out_of_the_repr(tmp_path: Path) -> None:
    access = load_kubeconfig(write(tmp_path / "kc", kubeconfig(user={"token": "supersecret", "password": "pw9"})))
    assert "supersecret" not in repr(access) and "pw9" not in repr(access)


def test_a_server_without_scheme_means_https(tmp_path: Path) -> None:
    access = load_kubeconfig(write(tmp_path / "kc", kubeconfig({"server": "10.1.2.3:6443"})))
    assert access.server == "https://10.1.2.3:6443" and access.is_https


def test_a_named_context_overrides_the_current_context(tmp_path: Path) -> None:
    doc = kubeconfig()
    doc["clusters"].append({"name": "other", "cluster": {"server": "http://other:8080"}})
    doc["users"].append({"name": "bob", "user": {"token": "bob-token"}})
    doc["contexts"].append({"name": "second", "context": {"cluster": "other", "user": "bob"}})
    path = write(tmp_path / "kc", doc)
    assert load_kubeconfig(path).server == "https://10.0.0.1:6443"
    second = load_kubeconfig(path, context="second")
    assert second.server == "http://other:8080" and not second.is_https
    assert second.bearer_token() == "bob-token"


def test_a_context_without_a_user_means_anonymous_access(tmp_path: Path) -> None:
    doc = kubeconfig()
    doc["contexts"][0]["context"].pop("user")
    access = load_kubeconfig(write(tmp_path / "kc", doc))
    assert access.bearer_token() is None and access.username is None


def test_a_yaml_kubeconfig_is_read_like_the_json_one(tmp_path: Path) -> None:
    text = """\
apiVersion: v1
kind: Config
current-context: ctx
clusters:
- name: c
  cluster:
    server: https://kube.example:6443
    tls-server-name: kube.internal
users:
- name: u
  user:
    token: yaml-token
contexts:
- name: ctx
  context: {cluster: c, user: u}
"""
    access = load_kubeconfig(write(tmp_path / "kc.yaml", text))
    assert access.server == "https://kube.example:6443" and access.tls_server_name == "kube.internal"
    assert access.bearer_token() == "yaml-token"


def test_a_json_kubeconfig_is_read_without_importing_yaml_and_a_yaml_one_imports_it(tmp_path: Path) -> None:
    json_path = write(tmp_path / "kc.json", kubeconfig())
    yaml_path = write(tmp_path / "kc.yaml", "current-context: ctx\nclusters: [{name: c, cluster: {server: "
                      "'http://h:1'}}]\ncontexts: [{name: ctx, context: {cluster: c}}]\n")
    code = ("import sys; from multus.k8s.access import load_kubeconfig; "
            "load_kubeconfig(sys.argv[1]); print('yaml' in sys.modules)")
    for path, expected in ((json_path, "False"), (yaml_path, "True")):
        done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                              timeout=60, check=True, cwd=REPO)
        assert done.stdout.strip() == expected, (path, done.stdout, done.stderr)


# ----- kubeconfig: precise errors ---------------------------------------------------------------


def test_a_missing_kubeconfig_is_named_in_the_error(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match=r"kubeconfig .*/nope does not exist") as info:
        load_kubeconfig(tmp_path / "nope")
    assert info.value.code == ErrorCode.INVALID_NETWORK_CONFIG


def test_an_unreadable_kubeconfig_is_reported(tmp_path: Path) -> None:
    (tmp_path / "dir").mkdir()
    with pytest.raises(KubeconfigError, match=r"cannot read kubeconfig .*/dir"):
        load_kubeconfig(tmp_path / "dir")


def test_bad_yaml_is_reported_with_the_parser_details(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match=r"kc is not valid YAML") as info:
        load_kubeconfig(write(tmp_path / "kc", "clusters: [unclosed\n  - : :"))
    assert info.value.details  # the YAML parser's own position/problem


@pytest.mark.parametrize(("change", "pattern"), [
    (lambda d: d.pop("current-context"), r"has no current-context and no context was named"),
    (lambda d: d.update({"current-context": "ghost"}), r'context "ghost" not found in kubeconfig'),
    (lambda d: d["contexts"][0]["context"].update(cluster="ghost"), r'cluster "ghost" not found in kubeconfig'),
    (lambda d: d["contexts"][0]["context"].update(user="ghost"), r'user "ghost" not found in kubeconfig'),
    (lambda d: d["contexts"][0]["context"].pop("cluster"), r'context "ctx" in kubeconfig .* names no cluster'),
    (lambda d: d["clusters"][0]["cluster"].pop("server"), r'cluster "c" in kubeconfig .* has no server'),
    (lambda d: d["clusters"][0]["cluster"].update(server="ftp://x"), r"is not an http\(s\) URL"),
    (lambda d: d["clusters"][0]["cluster"].update({"certificate-authority-data": "!!!"}),
     r"certificate-authority-data is not valid base64"),
    (lambda d: d["clusters"][0]["cluster"].update({"certificate-authority": "missing-ca.crt"}),
     r"cannot read certificate-authority .*/missing-ca\.crt"),
    (lambda d: d["users"][0]["user"].update(tokenFile="/nonexistent/token"),
     r'user "u" .*cannot read tokenFile /nonexistent/token'),
    (lambda d: d["users"][0]["user"].update({"client-certificate-data": b64(b"c")}),
     r"has a client certificate but no client-key"),
    (lambda d: d["users"][0]["user"].update({"exec": {"command": "aws"}}),
     r"exec credential plugins are not supported"),
    (lambda d: d["users"][0]["user"].update({"auth-provider": {"name": "gcp"}}),
     r"auth-provider credential plugins are not supported"),
    (lambda d: d["clusters"][0]["cluster"].update({"insecure-skip-tls-verify": True,
                                                   "certificate-authority-data": b64(b"x")}),
     r"certificate-authority with insecure-skip-tls-verify is not allowed"),
    (lambda d: d["clusters"][0]["cluster"].update({"proxy-url": "http://proxy:3128"}), r"proxy-url is not supported"),
    (lambda d: d.update(contexts="oops"), r"contexts in kubeconfig .* is not a list"),
])
def test_an_unusable_kubeconfig_fails_naming_the_file_and_the_key(tmp_path: Path, change: Any, pattern: str) -> None:
    doc = kubeconfig()
    change(doc)
    path = write(tmp_path / "kc", doc)
    with pytest.raises(KubeconfigError, match=pattern) as info:
        load_kubeconfig(path)
    assert str(path) in str(info.value)


def test_a_kubeconfig_that_is_not_a_mapping_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(KubeconfigError, match="is not a mapping"):
        load_kubeconfig(write(tmp_path / "kc", "[1, 2]"))


def test_a_token_file_that_disappears_later_is_reported_on_use(tmp_path: Path) -> None:
    token = write(tmp_path / "token", "t")
    access = load_kubeconfig(write(tmp_path / "kc", kubeconfig(user={"tokenFile": str(token)})))
    token.unlink()
    with pytest.raises(KubeconfigError, match=r"cannot read .*/token \(from tokenFile in kubeconfig"):
        access.bearer_token()


# ----- ssl_context --------------------------------------------------------------------------------


def test_insecure_skip_tls_verify_turns_off_verification() -> None:
    context = ClusterAccess(server="https://h:1", insecure_skip_tls_verify=True).ssl_context()
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_a_given_ca_is_the_only_trust_anchor_and_hostnames_are_checked(tmp_path: Path) -> None:
    cert, _ = make_cert(tmp_path)
    context = ClusterAccess(server="https://h:1", ca_data=cert).ssl_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "multus-test"),),)]


def test_inline_client_certificates_load_through_private_temp_files_that_are_deleted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cert, key = make_cert(tmp_path)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    seen: list[tuple[str, int]] = []
    original = ssl.SSLContext.load_cert_chain

    def spy(self: ssl.SSLContext, certfile: str, keyfile: str | None = None, password: Any = None) -> None:
        for file in (certfile, keyfile):
            assert file is not None
            seen.append((file, stat.S_IMODE(os.stat(file).st_mode)))
        original(self, certfile, keyfile, password)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    ClusterAccess(server="https://h:1", insecure_skip_tls_verify=True,
                  client_cert_data=cert, client_key_data=key).ssl_context()
    assert len(seen) == 2 and all(mode == 0o600 for _, mode in seen)
    assert all(Path(file).parent == scratch for file, _ in seen)
    assert list(scratch.iterdir()) == []


def test_garbage_client_certificate_data_is_a_kubeconfig_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    access = ClusterAccess(server="https://h:1", insecure_skip_tls_verify=True, client_cert_data=b"junk",
                           client_key_data=b"junk", source="kubeconfig /x")
    with pytest.raises(KubeconfigError, match=r"cannot load the client certificate and key \(kubeconfig /x\)"):
        access.ssl_context()
    assert list(tmp_path.iterdir()) == []


def test_garbage_ca_data_is_a_kubeconfig_error() -> None:
    with pytest.raises(KubeconfigError, match="cannot load the cluster CA from certificate-authority-data"):
        ClusterAccess(server="https://h:1", ca_data=b"not a certificate").ssl_context()


# ----- in-cluster and the choice between them -----------------------------------------------------


@pytest.fixture
def sa_dir(tmp_path: Path) -> Path:
    """A fake service-account directory with a token and a CA."""
    directory = tmp_path / "serviceaccount"
    write(directory / "token", "sa-token\n")
    write(directory / "ca.crt", "CA")
    return directory


def test_in_cluster_access_uses_the_service_env_and_the_service_account(sa_dir: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    access = in_cluster_access(env, str(sa_dir))
    assert access is not None
    assert access.server == "https://10.96.0.1:443"
    assert access.ca_file == str(sa_dir / "ca.crt") and access.token_file == str(sa_dir / "token")
    assert access.bearer_token() == "sa-token"


def test_an_ipv6_service_host_is_bracketed(sa_dir: Path) -> None:
    access = in_cluster_access({"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}, str(sa_dir))
    assert access is not None and access.server == "https://[fd00::1]:6443"


@pytest.mark.parametrize("env", [{}, {"KUBERNETES_SERVICE_HOST": "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT": "443"}])
def test_in_cluster_access_needs_both_service_variables(sa_dir: Path, env: dict[str, str]) -> None:
    assert in_cluster_access(env, str(sa_dir)) is None


def test_a_missing_service_account_token_is_named(sa_dir: Path) -> None:
    (sa_dir / "token").unlink()
    with pytest.raises(KubeconfigError, match=r"cannot read .*/serviceaccount/token"):
        in_cluster_access({"KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "1"}, str(sa_dir))


def test_resolve_access_prefers_the_kubeconfig_then_in_cluster_then_nothing(tmp_path: Path, sa_dir: Path) -> None:
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    path = write(tmp_path / "kc", kubeconfig())
    from_kubeconfig = resolve_access(str(path), env, str(sa_dir))
    assert from_kubeconfig is not None and from_kubeconfig.server == "https://10.0.0.1:6443"
    in_cluster = resolve_access("", env, str(sa_dir))
    assert in_cluster is not None and in_cluster.server == "https://10.96.0.1:443"
    assert resolve_access("", {}, str(sa_dir)) is None
