"""The thin plugin's kubeconfig, built from a service-account directory in tmp_path.

Checked:

* Go's content as JSON (cluster ``local``, user ``multus``, context ``multus-context``, CA data), mode
  0600, valid YAML too, and that multus-py's own kubeconfig loader reads back the server, CA and token;
* IPv6 hosts in brackets, a custom protocol, ``insecure-skip-tls-verify`` needing no CA;
* refresh: an unchanged token and CA write nothing; a rotated token or CA rewrites the file;
* a token with a trailing newline or YAML-special characters stays one exact string;
* a missing token, CA or API address is an error naming it.
"""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]  # no stubs installed

from multus.install.kubeconfig import KubeconfigError, generate_kubeconfig, render_kubeconfig, server_url
from multus.k8s.access import load_kubeconfig

CA = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


@pytest.fixture
def sa_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "serviceaccount"
    directory.mkdir()
    (directory / "token").write_text("token-one")
    (directory / "ca.crt").write_bytes(CA)
    return directory


def test_the_kubeconfig_has_go_s_content_as_json_and_is_private(sa_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "multus.d" / "multus.kubeconfig"
    assert generate_kubeconfig(sa_dir, "10.96.0.1", "443", "https", dest) is True
    expected = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "local", "cluster": {"server": "https://10.96.0.1:443",
                                                   "certificate-authority-data": base64.b64encode(CA).decode()}}],
        "users": [{"name": "multus", "user": {"token": "token-one"}}],
        "contexts": [{"name": "multus-context", "context": {"cluster": "local", "user": "multus"}}],
        "current-context": "multus-context"}
    assert json.loads(dest.read_bytes()) == expected, "JSON: the plugin on the host parses it without yaml"
    assert yaml.safe_load(dest.read_bytes()) == expected, "and still YAML, for kubectl and client-go"
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    access = load_kubeconfig(dest)
    assert (access.server, access.ca_data, access.bearer_token()) == ("https://10.96.0.1:443", CA, "token-one")


def test_an_ipv6_host_is_bracketed_and_the_protocol_is_kept() -> None:
    assert server_url("https", "fd00::1", "6443") == "https://[fd00::1]:6443"
    assert server_url("http", "api.local", "8080") == "http://api.local:8080"
    assert server_url("", "10.0.0.1", "443") == "https://10.0.0.1:443"


def test_skip_tls_verify_needs_no_ca(sa_dir: Path, tmp_path: Path) -> None:
    (sa_dir / "ca.crt").unlink()
    dest = tmp_path / "kubeconfig"
    generate_kubeconfig(sa_dir, "10.96.0.1", "443", "https", dest, skip_tls_verify=True)
    assert json.loads(dest.read_bytes())["clusters"][0]["cluster"]["insecure-skip-tls-verify"] is True
    access = load_kubeconfig(dest)
    assert access.insecure_skip_tls_verify and access.ca_data is None


def test_an_unchanged_token_and_ca_write_nothing(sa_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "kubeconfig"
    generate_kubeconfig(sa_dir, "10.96.0.1", "443", "https", dest)
    inode = dest.stat().st_ino
    assert generate_kubeconfig(sa_dir, "10.96.0.1", "443", "https", dest) is False
    assert dest.stat().st_ino == inode


def test_a_rotated_token_or_ca_rewrites_the_kubeconfig(sa_dir: Path, tmp_path: Path) -> None:
    dest = tmp_path / "kubeconfig"
    generate_kubeconfig(sa_dir, "10.96.0.1", "443", "https", dest)
    (sa_dir / "token").write_text("token-two")
    assert generate_kubeconfig(sa_dir, "10.96.0.1", "443", "https", dest) is True
    assert load_kubeconfig(dest).bearer_token() == "token-two"
    (sa_dir / "ca.crt").write_bytes(CA.replace(b"fake", b"new"))
    assert generate_kubeconfig(sa_dir, "10.96.0.1", "443", "https", dest) is True
    assert load_kubeconfig(dest).ca_data == CA.replace(b"fake", b"new")


def test_a_token_with_a_newline_or_yaml_characters_stays_exact(sa_dir: Path) -> None:
    (sa_dir / "token").write_text('ab"c: #d\\e\n')
    text = render_kubeconfig(sa_dir, "h", "1")
    assert json.loads(text)["users"][0]["user"]["token"] == 'ab"c: #d\\e'
    assert yaml.safe_load(text)["users"][0]["user"]["token"] == 'ab"c: #d\\e'


def test_a_loaded_token_with_special_characters_round_trips(sa_dir: Path, tmp_path: Path) -> None:
    (sa_dir / "token").write_text('ab"c: #d\\e\n')
    dest = tmp_path / "kubeconfig"
    generate_kubeconfig(sa_dir, "h", "1", "https", dest)
    assert load_kubeconfig(dest).bearer_token() == 'ab"c: #d\\e'


@pytest.mark.parametrize(("missing", "message"), [("token", "service account token is not found"),
                                                  ("ca.crt", "service account ca is not found")])
def test_a_missing_service_account_file_is_named(sa_dir: Path, tmp_path: Path, missing: str, message: str) -> None:
    (sa_dir / missing).unlink()
    with pytest.raises(KubeconfigError, match=message):
        generate_kubeconfig(sa_dir, "10.96.0.1", "443", "https", tmp_path / "kubeconfig")
    assert not (tmp_path / "kubeconfig").exists()


def test_a_missing_api_server_address_is_an_error(sa_dir: Path) -> None:
    with pytest.raises(KubeconfigError, match="KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT"):
        render_kubeconfig(sa_dir, "", "443")
