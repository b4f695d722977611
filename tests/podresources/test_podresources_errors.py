"""The mapping of gRPC status codes to the client's exception classes (error_from_rpc), with stand-in errors
shaped like ``grpc.RpcError`` (``code()`` and ``details()``); the real-server paths are in the client tests.

Checked here: each status code's class, the special cases sharing a code (RESOURCE_EXHAUSTED from the
client's size limit, UNKNOWN "...disabled"), messages naming socket, method, code and attempts, and that
the module imports no grpc.
"""

from __future__ import annotations

import enum
import subprocess
import sys

import pytest

from podresources.errors import (
    KubeletError,
    KubeletTimeoutError,
    KubeletUnavailableError,
    MethodNotSupportedError,
    PodResourcesError,
    RateLimitedError,
    ResponseTooLargeError,
    error_from_rpc,
)


class Code(enum.Enum):
    UNAVAILABLE = 14
    DEADLINE_EXCEEDED = 4
    RESOURCE_EXHAUSTED = 8
    UNIMPLEMENTED = 12
    UNKNOWN = 2
    INTERNAL = 13
    PERMISSION_DENIED = 7


class FakeRpcError(Exception):
    def __init__(self, code: Code, details: str) -> None:
        self._code, self._details = code, details

    def code(self) -> Code:
        return self._code

    def details(self) -> str:
        return self._details


@pytest.mark.parametrize("code, details, cls", [
    (Code.UNAVAILABLE, "connect failed", KubeletUnavailableError),
    (Code.DEADLINE_EXCEEDED, "Deadline Exceeded", KubeletTimeoutError),
    (Code.RESOURCE_EXHAUSTED, "rejected by rate limit", RateLimitedError),
    (Code.RESOURCE_EXHAUSTED, "Received message larger than max (5000 vs. 4096)", ResponseTooLargeError),
    (Code.UNIMPLEMENTED, "unknown service v1.PodResourcesLister", MethodNotSupportedError),
    (Code.UNKNOWN, "PodResources API Get method disabled", MethodNotSupportedError),
    (Code.UNKNOWN, "pod p in namespace n not found", KubeletError),
    (Code.INTERNAL, "boom", KubeletError),
    (Code.PERMISSION_DENIED, "no", KubeletError),
])
def test_each_status_code_maps_to_its_class(code: Code, details: str, cls: type[PodResourcesError]) -> None:
    error = error_from_rpc(FakeRpcError(code, details), socket="/k.sock", method="v1.Get")
    assert type(error) is cls
    assert (error.code, error.details, error.socket, error.method) == (code.name, details, "/k.sock", "v1.Get")


def test_the_message_names_socket_method_code_and_attempts() -> None:
    error = error_from_rpc(FakeRpcError(Code.RESOURCE_EXHAUSTED, "rejected by rate limit"),
                           socket="/var/lib/kubelet/pod-resources/kubelet.sock", method="v1.List", attempts=6)
    assert str(error) == ("kubelet PodResources v1.List on /var/lib/kubelet/pod-resources/kubelet.sock failed with "
                          "RESOURCE_EXHAUSTED after 6 attempts: rejected by rate limit")


def test_an_error_without_a_code_is_a_kubelet_error() -> None:
    error = error_from_rpc(RuntimeError("odd"), socket="/k.sock", method="v1.List")
    assert type(error) is KubeletError and error.code == "UNKNOWN" and "no details" in str(error)


def test_the_errors_module_does_not_import_grpc() -> None:
    code = "import sys, podresources.errors; print('grpc' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
