"""The daemon config (multus.daemon.config) and the per-request config override, as data.

Checked: Go's defaults for an empty file (socket dir, logToStderr false, auto mode, no connection limit
but our default bound); Go-style decoding (case-insensitive keys, strict types naming the key); the
precise errors (connectionLimit <= 0 in Go's words, metricsPort out of range, perNodeCertificate
half-configured or enabled); a missing file; the override: every daemon key wins, request-only keys
stay, and in auto mode ``readinessindicatorfile`` is dropped from the request and not copied. No doubles.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from multus.daemon.config import (
    DEFAULT_CONNECTION_LIMIT,
    DaemonConfig,
    DaemonConfigError,
    load_daemon_config,
    override_request_config,
    parse_daemon_config,
)


def parse(config: dict[str, object]) -> DaemonConfig:
    return parse_daemon_config(json.dumps(config).encode(), "daemon-config.json")


def test_an_empty_config_takes_gos_defaults_and_a_bounded_connection_count() -> None:
    config = parse_daemon_config(b"{}")
    assert config.socket_dir == "/run/multus/"
    assert config.socket_path == "/run/multus/multus.sock"
    assert config.log_to_stderr is False
    assert config.auto_mode is True
    assert config.cni_config_dir == "/etc/cni/net.d"
    assert config.connection_limit is None
    assert config.effective_connection_limit == DEFAULT_CONNECTION_LIMIT > 0
    assert config.metrics_port is None


def test_keys_match_case_insensitively_and_the_raw_object_is_kept_for_the_override() -> None:
    config = parse_daemon_config(b'{"SocketDir": "/tmp/x/", "connectionlimit": 3, "confDir": "/etc/cni/m"}')
    assert config.socket_path == "/tmp/x/multus.sock"
    assert config.effective_connection_limit == 3
    assert config.raw == {"SocketDir": "/tmp/x/", "connectionlimit": 3, "confDir": "/etc/cni/m"}


@pytest.mark.parametrize("limit", [0, -4])
def test_a_connection_limit_below_one_is_refused_in_gos_words(limit: int) -> None:
    with pytest.raises(DaemonConfigError, match=f"^connection limit must be greater than 0, got {limit}$"):
        parse({"connectionLimit": limit})


def test_a_metrics_port_given_as_a_string_is_refused_naming_the_key() -> None:
    with pytest.raises(DaemonConfigError, match=r"daemon-config.json: metricsPort: must be an integer \(got string\)"):
        parse({"metricsPort": "9091"})


def test_a_metrics_port_outside_tcp_range_is_refused() -> None:
    with pytest.raises(DaemonConfigError, match="metricsPort must be a TCP port"):
        parse({"metricsPort": 70000})


def test_a_config_that_is_not_a_json_object_is_refused() -> None:
    with pytest.raises(DaemonConfigError, match="it must be a JSON object"):
        parse_daemon_config(b"[]", "x.json")
    with pytest.raises(DaemonConfigError, match="unexpected end of JSON input"):
        parse_daemon_config(b'{"socketDir": ', "x.json")


def test_per_node_certificates_half_configured_or_enabled_are_refused() -> None:
    with pytest.raises(DaemonConfigError, match="^failed to configure PerNodeCertificate"):
        parse({"perNodeCertificate": {"enabled": True, "certDir": "/x"}})
    with pytest.raises(DaemonConfigError, match="not supported"):
        parse({"perNodeCertificate": {"enabled": True, "certDir": "/x", "bootstrapKubeconfig": "/k"}})
    assert parse_daemon_config(b'{"perNodeCertificate": {"enabled": false}}').per_node_certificate is not None


def test_a_missing_config_file_is_reported_with_its_path(tmp_path: Path) -> None:
    with pytest.raises(DaemonConfigError, match=f"failed to read the daemon config {tmp_path}/none.json"):
        load_daemon_config(str(tmp_path / "none.json"))


def test_the_server_wins_on_every_key_it_has_and_request_only_keys_stay() -> None:
    request = {"cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus-shim", "binDir": "/client/bin",
               "readinessindicatorfile": "/client/ready", "clusterNetwork": "/etc/cni/net.d/10-x.conf"}
    server = {"cniVersion": "1.0.0", "binDir": "/server/bin", "globalNamespaces": "a,b",
              "readinessindicatorfile": "/server/ready", "socketDir": "/run/multus/"}
    merged = json.loads(override_request_config(json.dumps(request).encode(), server, ignore_readiness_indicator=False))
    assert merged == {"cniVersion": "1.0.0", "name": "multus-cni-network", "type": "multus-shim",
                      "binDir": "/server/bin", "globalNamespaces": "a,b", "readinessindicatorfile": "/server/ready",
                      "socketDir": "/run/multus/", "clusterNetwork": "/etc/cni/net.d/10-x.conf"}


def test_in_auto_mode_the_readiness_indicator_is_dropped_from_the_request_and_not_copied() -> None:
    request = {"name": "m", "readinessindicatorfile": "/client/ready"}
    server = {"readinessindicatorfile": "/server/ready", "binDir": "/server/bin"}
    merged = json.loads(override_request_config(json.dumps(request).encode(), server, ignore_readiness_indicator=True))
    assert merged == {"name": "m", "binDir": "/server/bin"}


def test_an_empty_server_config_leaves_the_request_bytes_untouched() -> None:
    assert override_request_config(b'{"b": 1,  "a": 2}', {}, ignore_readiness_indicator=True) == b'{"b": 1,  "a": 2}'


def test_a_request_config_that_is_not_an_object_cannot_be_overridden() -> None:
    with pytest.raises(ValueError):
        override_request_config(b"[1]", {"a": 1}, ignore_readiness_indicator=False)
