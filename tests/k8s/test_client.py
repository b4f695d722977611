"""The stdlib Kubernetes client against a kube-apiserver test double (multus.testing.kube_api).

The API server here is a double served over real HTTP(S) on 127.0.0.1, started and stopped by the
fixtures even when a test fails. Clients are configured the production way, from a kubeconfig the
double writes. Checked:

* GET of a pod and a NetworkAttachmentDefinition; 404 as NotFoundError with kubectl's wording;
  path segments URL-quoted; Accept, User-Agent, bearer and basic Authorization headers;
* the status merge patch changes only the annotation it names (read back from the double's
  store) and carries ``metadata.uid`` as a precondition; a 409 becomes ConflictError (the double
  does not itself enforce a uid in a patch body, so the 409 is injected);
* Events are created; the generic request works for other paths;
* retries (counted in the double's request log): 500/503/429 then success, Retry-After honoured
  but capped, the budget exhausted, never on 401/403/404/409; a dropped connection is retried, a
  stale keep-alive connection is reopened without spending a retry; a server that never answers
  fails with UnavailableError within the timeout; a refused connection too; a call's own
  ``timeout=`` bounds it (reads and retries) when shorter than the client's, never extends it;
* keep-alive reuse and concurrent use from threads; token files re-read per client;
* HTTPS with a self-signed CA made by the openssl CLI (skipped without it), tls-server-name,
  insecure-skip-tls-verify, and a failed verification reported without retries;
* error_from_response maps statuses and Status bodies to classes;
* ``import multus.k8s.client`` in a fresh interpreter loads neither kubernetes, pydantic nor yaml.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from multus.k8s.access import ClusterAccess, load_kubeconfig
from multus.k8s.client import KubeClient
from multus.k8s.errors import (
    AlreadyExistsError,
    ConflictError,
    ForbiddenError,
    GoneError,
    KubeAPIError,
    NotFoundError,
    ServerError,
    TooManyRequestsError,
    UnauthorizedError,
    UnavailableError,
    error_from_response,
)
from multus.testing.kube_api import KubeApiServer

REPO = Path(__file__).resolve().parents[2]
POD_PATH = r"^/api/v1/namespaces/default/pods/web$"
STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status"


@pytest.fixture
def api() -> Iterator[KubeApiServer]:
    """A running double, stopped at teardown whatever happened."""
    with KubeApiServer() as server:
        yield server


@pytest.fixture
def make_client(api: KubeApiServer, tmp_path: Path) -> Iterator[Callable[..., KubeClient]]:
    """Build clients for ``api`` from its kubeconfig (fast backoff); all closed at teardown."""
    clients: list[KubeClient] = []
    path = api.write_kubeconfig(tmp_path / "kubeconfig")

    def make(**options: Any) -> KubeClient:
        options = {"timeout": 3.0, "backoff": 0.01, **options}
        client = KubeClient(load_kubeconfig(path), **options)
        clients.append(client)
        return client

    try:
        yield make
    finally:
        for client in clients:
            client.close()


@pytest.fixture
def client(make_client: Callable[..., KubeClient]) -> KubeClient:
    return make_client()


def pod_gets(api: KubeApiServer) -> int:
    return len(api.requests_matching("GET", POD_PATH))


# ----- the four calls -----------------------------------------------------------------------------


def test_get_pod_returns_the_stored_pod(api: KubeApiServer, client: KubeClient) -> None:
    stored = api.add_pod("default", "web", node_name="node-1", annotations={"a": "1"})
    pod = client.get_pod("default", "web")
    assert pod["metadata"]["uid"] == stored["metadata"]["uid"]
    assert pod["spec"]["nodeName"] == "node-1" and pod["metadata"]["annotations"] == {"a": "1"}


def test_get_network_attachment_definition_returns_its_config(api: KubeApiServer, client: KubeClient) -> None:
    api.add_nad("kube-system", "macvlan-conf", {"cniVersion": "1.0.0", "type": "macvlan"})
    nad = client.get_network_attachment_definition("kube-system", "macvlan-conf")
    assert nad["kind"] == "NetworkAttachmentDefinition"
    assert json.loads(nad["spec"]["config"]) == {"cniVersion": "1.0.0", "type": "macvlan"}
    assert api.requests[-1].path == ("/apis/k8s.cni.cncf.io/v1/namespaces/kube-system/"
                                     "network-attachment-definitions/macvlan-conf")


def test_a_missing_pod_is_a_not_found_error_worded_like_kubectl(client: KubeClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get_pod("default", "web")
    error = info.value
    assert (error.status, error.reason, error.message) == (404, "NotFound", 'pods "web" not found')
    assert str(error).startswith('pods "web" not found')


def test_a_missing_nad_names_the_qualified_resource(client: KubeClient) -> None:
    with pytest.raises(NotFoundError, match=r'network-attachment-definitions.k8s.cni.cncf.io "nope" not found'):
        client.get_network_attachment_definition("default", "nope")


def test_path_segments_are_url_quoted(api: KubeApiServer, client: KubeClient) -> None:
    with pytest.raises(NotFoundError):
        client.get_pod("default", "a/b c")
    assert api.requests[-1].path == "/api/v1/namespaces/default/pods/a%2Fb%20c"


def test_an_empty_name_is_refused_before_any_request(api: KubeApiServer, client: KubeClient) -> None:
    with pytest.raises(KubeAPIError, match="empty name"):
        client.get_pod("default", "")
    assert api.requests == []


def test_the_status_merge_patch_changes_only_the_named_annotation(api: KubeApiServer, client: KubeClient) -> None:
    before = api.add_pod("default", "web", labels={"app": "web"}, annotations={"keep": "me", STATUS_ANNOTATION: "old"},
                         status={"phase": "Running", "podIP": "10.0.0.5"})
    patched = client.patch_pod_status("default", "web", {"metadata": {"annotations": {STATUS_ANNOTATION: "[]"}}})
    stored = api.get_pod("default", "web")
    assert stored["metadata"]["annotations"] == {"keep": "me", STATUS_ANNOTATION: "[]"}
    assert stored["metadata"]["labels"] == {"app": "web"}
    assert stored["spec"] == before["spec"] and stored["status"] == before["status"]
    assert patched["metadata"]["resourceVersion"] == stored["metadata"]["resourceVersion"]
    request = api.requests[-1]
    assert (request.method, request.path) == ("PATCH", "/api/v1/namespaces/default/pods/web/status")
    assert request.headers["Content-Type"] == "application/merge-patch+json"


def test_the_uid_precondition_travels_in_the_patch_body(api: KubeApiServer, client: KubeClient) -> None:
    uid = api.add_pod("default", "web")["metadata"]["uid"]
    client.patch_pod_status("default", "web", {"metadata": {"annotations": {"x": "y"}}}, uid=uid)
    assert api.requests[-1].body == {"metadata": {"annotations": {"x": "y"}, "uid": uid}}
    assert api.get_pod("default", "web")["metadata"]["annotations"] == {"x": "y"}


def test_a_conflict_on_the_status_patch_is_a_conflict_error_and_not_retried(api: KubeApiServer,
                                                                            client: KubeClient) -> None:
    api.add_pod("default", "web")
    # The double ignores metadata.uid in a patch body, so the real server's 409 is injected.
    message = 'Operation cannot be fulfilled on pods "web": the UID in the precondition does not match'
    api.faults.add("PATCH", r"/pods/web/status$", status=409, message=message, times=None)
    with pytest.raises(ConflictError, match="Operation cannot be fulfilled") as info:
        client.patch_pod_status("default", "web", {"metadata": {"annotations": {"x": "y"}}}, uid="old-uid")
    assert info.value.status == 409
    assert len(api.requests_matching("PATCH")) == 1


def test_create_event_stores_the_event(api: KubeApiServer, client: KubeClient) -> None:
    event = {"metadata": {"generateName": "web."}, "involvedObject": {"kind": "Pod", "name": "web",
             "namespace": "default"}, "reason": "AddedInterface", "message": "Add eth0 [10.0.0.5/24]",
             "type": "Normal"}
    created = client.create_event("default", event)
    assert created["metadata"]["name"].startswith("web.")
    [stored] = api.events("default")
    assert (stored["reason"], stored["message"]) == ("AddedInterface", "Add eth0 [10.0.0.5/24]")


def test_the_generic_request_reaches_any_path(api: KubeApiServer, client: KubeClient) -> None:
    api.add_pod("ns1", "a")
    listing = client.request("GET", "/api/v1/namespaces/ns1/pods")
    assert [p["metadata"]["name"] for p in listing["items"]] == ["a"]


def test_an_unencodable_body_is_a_kube_api_error(client: KubeClient) -> None:
    with pytest.raises(KubeAPIError, match="cannot be encoded as JSON"):
        client.request("POST", "/api/v1/namespaces/default/events", {"bad": {1, 2}})


def test_requests_carry_accept_user_agent_and_bearer_token(tmp_path: Path) -> None:
    with KubeApiServer(token="s3cret") as api:
        api.add_pod("default", "web")
        with KubeClient(load_kubeconfig(api.write_kubeconfig(tmp_path / "kc")), user_agent="multus-test/1") as kc:
            kc.get_pod("default", "web")
        headers = api.requests[-1].headers
    assert headers["Accept"] == "application/json" and headers["User-Agent"] == "multus-test/1"
    assert headers["Authorization"] == "Bearer s3cret"


def test_basic_auth_is_sent_when_there_is_no_token(api: KubeApiServer) -> None:
    with KubeClient(ClusterAccess(server=api.url, username="admin", password="pw")) as kc:
        kc.request("GET", "/version")
    assert api.requests[-1].headers["Authorization"] == "Basic YWRtaW46cHc="


def test_a_rotated_token_file_is_picked_up_by_the_next_client(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("old\n")
    with KubeApiServer(token="new") as api:
        api.add_pod("default", "web")
        kubeconfig = api.write_kubeconfig(tmp_path / "kc")
        doc = json.loads(kubeconfig.read_text())
        doc["users"][0]["user"] = {"tokenFile": str(token)}
        kubeconfig.write_text(json.dumps(doc))
        access = load_kubeconfig(kubeconfig)
        with KubeClient(access, backoff=0.01) as stale, pytest.raises(UnauthorizedError):
            stale.get_pod("default", "web")
        assert len(api.requests) == 1  # 401 is not retried
        token.write_text("new\n")
        with KubeClient(access) as fresh:
            assert fresh.get_pod("default", "web")["metadata"]["name"] == "web"


# ----- retries --------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_statuses_are_retried_until_success(api: KubeApiServer, client: KubeClient, status: int) -> None:
    api.add_pod("default", "web")
    api.faults.add("GET", POD_PATH, status=status, times=2)
    assert client.get_pod("default", "web")["metadata"]["name"] == "web"
    assert pod_gets(api) == 3


def test_retry_after_is_honoured_but_capped(api: KubeApiServer, make_client: Callable[..., KubeClient]) -> None:
    api.add_pod("default", "web")
    api.faults.add("GET", POD_PATH, status=429, retry_after=30, times=1)
    client = make_client(max_retry_after=0.3)
    started = time.monotonic()
    client.get_pod("default", "web")
    assert 0.3 <= time.monotonic() - started < 2.0
    assert pod_gets(api) == 2


def test_an_exhausted_retry_budget_raises_the_last_error(api: KubeApiServer,
                                                         make_client: Callable[..., KubeClient]) -> None:
    api.faults.add("GET", POD_PATH, status=503, times=None)
    with pytest.raises(ServerError) as info:
        make_client(retries=2).get_pod("default", "web")
    assert info.value.status == 503 and "after 3 attempts" in info.value.details
    assert pod_gets(api) == 3


@pytest.mark.parametrize(("status", "error"), [(401, UnauthorizedError), (403, ForbiddenError),
                                               (404, NotFoundError), (409, ConflictError), (410, GoneError)])
def test_client_errors_are_never_retried(api: KubeApiServer, client: KubeClient, status: int,
                                         error: type[KubeAPIError]) -> None:
    api.faults.add("GET", POD_PATH, status=status, times=None)
    with pytest.raises(error):
        client.get_pod("default", "web")
    assert pod_gets(api) == 1


def test_a_dropped_connection_is_retried(api: KubeApiServer, make_client: Callable[..., KubeClient]) -> None:
    api.add_pod("default", "web")
    api.faults.add("GET", POD_PATH, drop=True, times=1)
    assert make_client(retries=1).get_pod("default", "web")["metadata"]["name"] == "web"
    assert pod_gets(api) == 2


def test_a_dropped_fresh_connection_spends_a_retry(api: KubeApiServer, make_client: Callable[..., KubeClient]) -> None:
    api.add_pod("default", "web")
    api.faults.add("GET", POD_PATH, drop=True, times=1)
    with pytest.raises(UnavailableError, match="closed the connection without answering") as info:
        make_client(retries=0).get_pod("default", "web")
    assert info.value.status == 0 and info.value.retryable


def test_a_stale_keep_alive_connection_is_reopened_without_spending_a_retry(
        api: KubeApiServer, make_client: Callable[..., KubeClient]) -> None:
    api.add_pod("default", "web")
    client = make_client(retries=0)
    client.get_pod("default", "web")
    api.stop()  # closes every connection, including the client's idle keep-alive one
    api.start()
    assert client.get_pod("default", "web")["metadata"]["name"] == "web"
    api.faults.add("GET", POD_PATH, drop=True, times=1)  # the server hangs up on a reused connection
    assert client.get_pod("default", "web")["metadata"]["name"] == "web"
    assert pod_gets(api) == 4


def test_a_server_that_never_answers_fails_within_the_timeout(api: KubeApiServer,
                                                              make_client: Callable[..., KubeClient]) -> None:
    api.faults.add("GET", POD_PATH, delay=10, times=None)
    client = make_client(timeout=0.5, retries=3)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="timed out"):
        client.get_pod("default", "web")
    assert 0.45 <= time.monotonic() - started < 1.5


def test_a_call_timeout_shorter_than_the_client_s_bounds_the_call(
        api: KubeApiServer, make_client: Callable[..., KubeClient]) -> None:
    api.faults.add("GET", POD_PATH, delay=2, times=None)
    client = make_client(timeout=10.0, retries=3)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="timed out"):
        client.get_pod("default", "web", timeout=0.5)
    assert 0.45 <= time.monotonic() - started < 1.0
    assert pod_gets(api) == 1  # the deadline passed during the first read: no retry after it


def test_a_call_timeout_longer_than_the_client_s_does_not_extend_it(
        api: KubeApiServer, make_client: Callable[..., KubeClient]) -> None:
    api.faults.add("GET", POD_PATH, delay=10, times=None)
    client = make_client(timeout=0.5, retries=3)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="timed out"):
        client.get_pod("default", "web", timeout=5.0)
    assert 0.45 <= time.monotonic() - started < 1.5


def test_retries_stop_at_the_call_s_deadline(api: KubeApiServer, make_client: Callable[..., KubeClient]) -> None:
    api.faults.add("GET", POD_PATH, status=503, times=None)
    client = make_client(timeout=10.0, retries=10, backoff=0.2)
    started = time.monotonic()
    with pytest.raises(ServerError):
        client.get_pod("default", "web", timeout=0.5)
    assert time.monotonic() - started < 0.8
    assert 2 <= pod_gets(api) <= 3  # backoff 0.1-0.3 s, then 0.2-0.6 s, then >= 0.4 s: past the deadline


def test_no_time_left_sends_nothing(api: KubeApiServer, client: KubeClient) -> None:
    api.add_pod("default", "web")
    with pytest.raises(UnavailableError, match="timed out"):
        client.get_pod("default", "web", timeout=0)
    assert pod_gets(api) == 0
    assert client.get_pod("default", "web", timeout=0.5)["metadata"]["name"] == "web"  # healthy: unchanged


def test_a_refused_connection_is_unavailable(make_client: Callable[..., KubeClient], api: KubeApiServer) -> None:
    client = make_client(retries=2)
    api.stop()
    with pytest.raises(UnavailableError, match="connection refused") as info:
        client.get_pod("default", "web")
    assert "after 3 attempts" in info.value.details


def test_an_unresolvable_host_is_unavailable() -> None:
    with KubeClient(ClusterAccess(server="http://no-such-host.invalid:80"), retries=0, timeout=5) as kc, \
            pytest.raises(UnavailableError, match="cannot resolve no-such-host.invalid"):
        kc.get_pod("default", "web")


# ----- connections and threads -------------------------------------------------------------------


def test_one_client_reuses_one_keep_alive_connection(api: KubeApiServer, client: KubeClient,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    api.add_pod("default", "web")
    opened: list[object] = []
    original = socket.create_connection

    def counting(*args: Any, **kwargs: Any) -> socket.socket:
        opened.append(args[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", counting)
    for _ in range(3):
        client.get_pod("default", "web")
    client.patch_pod_status("default", "web", {"metadata": {"annotations": {"n": "1"}}})
    assert len(opened) == 1


def test_threads_can_share_a_client(api: KubeApiServer, client: KubeClient) -> None:
    for i in range(8):
        api.add_pod("default", f"pod-{i}")
    failures: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for _ in range(5):
                assert client.get_pod("default", f"pod-{i}")["metadata"]["name"] == f"pod-{i}"
        except BaseException as exc:  # collected and re-raised in the main thread
            failures.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert failures == []
    assert len(api.requests_matching("GET", r"/pods/pod-")) == 40


# ----- HTTPS ----------------------------------------------------------------------------------------


def make_cert(directory: Path, san: str) -> tuple[Path, Path]:
    """A self-signed EC certificate for ``san`` and its key, made with the openssl CLI."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is not installed")
    cert, key = directory / f"{san.replace(':', '_')}.crt", directory / f"{san.replace(':', '_')}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=kube-api-double",
                    "-addext", f"subjectAltName={san}"], check=True, capture_output=True, timeout=30)
    return cert, key


@pytest.fixture
def tls_api(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[KubeApiServer]:
    """An HTTPS double whose certificate is for the SAN given by indirect parametrization."""
    cert, key = make_cert(tmp_path, getattr(request, "param", "IP:127.0.0.1"))
    server = KubeApiServer(certfile=cert, keyfile=key)
    server.start()
    try:
        server.add_pod("default", "web")
        yield server
    finally:
        server.stop()


def test_https_with_a_self_signed_ca_works(tls_api: KubeApiServer, tmp_path: Path) -> None:
    assert tls_api.url.startswith("https://")
    with KubeClient(load_kubeconfig(tls_api.write_kubeconfig(tmp_path / "kc"))) as kc:
        assert kc.get_pod("default", "web")["metadata"]["name"] == "web"
        kc.patch_pod_status("default", "web", {"metadata": {"annotations": {"tls": "yes"}}})
    assert tls_api.get_pod("default", "web")["metadata"]["annotations"] == {"tls": "yes"}


@pytest.mark.parametrize("tls_api", ["DNS:kube.test"], indirect=True)
def test_tls_server_name_verifies_a_certificate_for_another_name(tls_api: KubeApiServer, tmp_path: Path) -> None:
    access = load_kubeconfig(tls_api.write_kubeconfig(tmp_path / "kc"))
    with KubeClient(access, retries=3) as kc, pytest.raises(UnavailableError, match="certificate verification") as info:
        kc.get_pod("default", "web")
    assert not info.value.retryable and tls_api.requests == []
    named = ClusterAccess(server=access.server, ca_file=access.ca_file, tls_server_name="kube.test")
    with KubeClient(named) as kc:
        assert kc.get_pod("default", "web")["metadata"]["name"] == "web"


def test_insecure_skip_tls_verify_accepts_an_unknown_certificate(tls_api: KubeApiServer) -> None:
    with KubeClient(ClusterAccess(server=tls_api.url), retries=0) as kc, pytest.raises(UnavailableError):
        kc.get_pod("default", "web")  # the system trust store does not know the double's certificate
    with KubeClient(ClusterAccess(server=tls_api.url, insecure_skip_tls_verify=True)) as kc:
        assert kc.get_pod("default", "web")["metadata"]["name"] == "web"


# ----- error mapping --------------------------------------------------------------------------------


def status_body(code: int, reason: str, message: str, **details: Any) -> bytes:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message}
    if details:
        body["details"] = details
    return json.dumps(body).encode()


@pytest.mark.parametrize(("status", "reason", "cls"), [
    (401, "Unauthorized", UnauthorizedError), (403, "Forbidden", ForbiddenError), (404, "NotFound", NotFoundError),
    (409, "Conflict", ConflictError), (409, "AlreadyExists", AlreadyExistsError), (410, "Expired", GoneError),
    (429, "TooManyRequests", TooManyRequestsError), (500, "InternalError", ServerError),
    (504, "Timeout", ServerError), (422, "Invalid", KubeAPIError),
])
def test_each_status_maps_to_its_class(status: int, reason: str, cls: type[KubeAPIError]) -> None:
    error = error_from_response(status, status_body(status, reason, "msg"), {})
    assert type(error) is cls and (error.status, error.reason, error.message) == (status, reason, "msg")


def test_a_non_status_body_gets_a_generic_message_with_an_excerpt() -> None:
    error = error_from_response(502, b"<html>Bad Gateway</html>", {}, method="GET", path="/api/v1/x")
    assert isinstance(error, ServerError) and error.retryable
    assert error.message == "the server answered HTTP 502 (<html>Bad Gateway</html>)"
    assert error.details == "GET /api/v1/x: HTTP 502"


def test_retry_after_comes_from_the_header_or_the_status_details() -> None:
    header = error_from_response(429, b"", {"retry-after": "7"})
    assert isinstance(header, TooManyRequestsError) and header.retry_after == 7.0
    dated = error_from_response(503, b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert dated.retry_after == 0.0  # a date in the past means "now"
    detail = error_from_response(429, status_body(429, "TooManyRequests", "slow down", retryAfterSeconds=2), {})
    assert detail.retry_after == 2.0 and detail.message == "slow down"


# ----- import budget ----------------------------------------------------------------------------------


def test_importing_the_client_loads_no_heavy_library() -> None:
    code = ("import sys, json, multus.k8s.client; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & {'kubernetes', 'pydantic', 'yaml'})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                          cwd=REPO)
    assert json.loads(done.stdout) == []
