"""The kubelet's rate limit (100 requests/s, burst 10, shared by all clients), against FakeKubelet on a real
unix socket.

Checked here:
* 50 concurrent ``pod_devices`` calls from threads on one client all succeed: the excess is rejected
  with RESOURCE_EXHAUSTED by the server and retried with backoff by the client;
* the same with one client per thread (the limit is per kubelet, not per connection);
* a kubelet that rejects every call gives RateLimitedError after exactly ``retries`` retries;
* an answer above ``max_receive_bytes`` (also RESOURCE_EXHAUSTED in gRPC) is not retried and raises
  ResponseTooLargeError;
* the FakeKubelet's token bucket itself: a burst of 10, then refusals.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from podresources import PodResourcesClient, RateLimitedError, ResponseTooLargeError
from podresources.testing import FakeKubelet, TokenBucket

SRIOV = "intel.com/sriov_net_A"


def _populate(kubelet: FakeKubelet, count: int) -> None:
    for i in range(count):
        kubelet.add_pod("default", f"pod-{i}", {"app": {SRIOV: [f"0000:03:{i:02x}.0"]}})


def test_fifty_concurrent_calls_on_one_client_all_succeed_through_retries(
        kubelet: FakeKubelet, make_client: Callable[..., PodResourcesClient]) -> None:
    _populate(kubelet, 50)
    client = make_client(kubelet)
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda i: client.pod_devices("default", f"pod-{i}"), range(50)))
    assert results == [{SRIOV: [f"0000:03:{i:02x}.0"]} for i in range(50)]
    assert kubelet.rejected > 0, "the test must actually hit the rate limit"
    assert client.retry_count == kubelet.rejected
    assert client.rpc_counts()["v1.Get"] == 50 + kubelet.rejected == kubelet.calls()["v1.Get"]


def test_fifty_clients_sharing_the_kubelet_limit_all_succeed(
        kubelet: FakeKubelet, make_client: Callable[..., PodResourcesClient]) -> None:
    _populate(kubelet, 50)
    clients = [make_client(kubelet) for _ in range(50)]
    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda i: clients[i].pod_devices("default", f"pod-{i}"), range(50)))
    assert all(result == {SRIOV: [f"0000:03:{i:02x}.0"]} for i, result in enumerate(results))
    assert kubelet.rejected > 0


def test_rate_limiting_beyond_the_retries_raises_the_typed_error(
        make_kubelet: Callable[..., FakeKubelet], make_client: Callable[..., PodResourcesClient]) -> None:
    kubelet = make_kubelet(rate=0.0, burst=0)
    client = make_client(kubelet, retries=3, backoff=0.001)
    with pytest.raises(RateLimitedError) as info:
        client.pod_devices("default", "pod-a")
    assert info.value.code == "RESOURCE_EXHAUSTED"
    assert "rejected by rate limit" in str(info.value) and "after 4 attempts" in str(info.value)
    assert kubelet.socket_path in str(info.value)
    assert kubelet.calls() == {"v1.Get": 4} and client.retry_count == 3


def test_an_oversized_answer_is_not_retried(
        kubelet: FakeKubelet, make_client: Callable[..., PodResourcesClient]) -> None:
    _populate(kubelet, 200)
    client = make_client(kubelet, max_receive_bytes=4096)
    with pytest.raises(ResponseTooLargeError, match="larger than max"):
        client.list()
    assert client.retry_count == 0 and kubelet.calls() == {"v1.List": 1}


def test_the_token_bucket_allows_a_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=0.001, burst=10)
    assert [bucket.allow() for _ in range(12)] == [True] * 10 + [False] * 2


def test_the_fake_kubelet_rejects_the_eleventh_call_of_a_burst(
        make_kubelet: Callable[..., FakeKubelet], make_client: Callable[..., PodResourcesClient]) -> None:
    kubelet = make_kubelet(rate=0.001, burst=10)
    client = make_client(kubelet, retries=0)
    for _ in range(10):
        client.pod_devices("default", "pod-a")
    with pytest.raises(RateLimitedError):
        client.pod_devices("default", "pod-a")
    assert kubelet.rejected == 1
