"""Pacing by the Hub's rate-limit headers: slow down before the quota runs out."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest

from collector.sources.hub import HubClient, pace_delay, quota_reserve
from tests.fakehub import FakeHub
from tests.faultmatrix import VirtualClock


def _client(hub: FakeHub, clock: VirtualClock, token: str | bool = False) -> HubClient:
    return HubClient(
        endpoint=hub.url, token=token, retry_wait=1.0, sleep=clock.sleep, clock=clock.now
    )


def _someone_else(hub: FakeHub, n: int) -> None:
    """Another client spends n requests of the same quota."""
    for _ in range(n):
        try:
            urllib.request.urlopen(f"{hub.url}/api/models?limit=1").close()
        except urllib.error.HTTPError:
            pass


def _pages(client: HubClient, n: int) -> int:
    """Page through a listing of n repos one at a time; returns the repos seen."""
    return sum(len(p.items) for p in client.pages(client.listing_params(author="acme")))


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.mark.parametrize("mode", ["headers", "retry_after", "bare"])
def test_a_listing_longer_than_the_quota_waits_for_resets_instead_of_429s(
    clock: VirtualClock, mode: str
) -> None:
    with FakeHub(
        max_page_size=1, quota=10, window=60, clock=clock.now, rate_limit_mode=mode
    ) as hub:
        for i in range(45):
            hub.add(f"acme/m{i}")
        client = _client(hub, clock)
        assert _pages(client, 45) == 45
    statuses = [r.status for r in hub.requests]
    assert statuses.count(429) == 0
    assert client.stats.rate_limited == 0
    # 45 requests, 9 per window (one kept in reserve): 5 windows, 4 waits of about 60 s
    assert len(statuses) == 45
    assert 4 * 59 <= client.stats.paced_seconds <= 4 * 61.5
    assert client.stats.quota == 10 and client.stats.window == 60


def test_a_token_gets_the_larger_quota_the_hub_announces(clock: VirtualClock) -> None:
    with FakeHub(max_page_size=1, quota=10, token_quota=1000, window=60, clock=clock.now) as hub:
        for i in range(45):
            hub.add(f"acme/m{i}")
        client = _client(hub, clock, token="hf_TestTokenForPacing")
        assert _pages(client, 45) == 45
    assert client.stats.paced_seconds == 0
    assert client.stats.quota == 1000
    assert set(hub.authorizations) == {"Bearer hf_TestTokenForPacing"}


def test_quota_spent_by_someone_else_is_waited_out_after_one_429(clock: VirtualClock) -> None:
    with FakeHub(max_page_size=1, quota=10, window=60, clock=clock.now) as hub:
        for i in range(5):
            hub.add(f"acme/m{i}")
        _someone_else(hub, 10)  # the whole window
        client = _client(hub, clock)
        assert _pages(client, 5) == 5
    assert client.stats.rate_limited == 1
    assert client.stats.retries == 1


def test_a_bare_429_waits_for_the_reset_announced_earlier(clock: VirtualClock) -> None:
    with FakeHub(
        max_page_size=1, quota=3, window=60, clock=clock.now, rate_limit_mode="bare"
    ) as hub:
        for i in range(2):
            hub.add(f"acme/m{i}")
        client = _client(hub, clock)
        client._get(f"{hub.url}/api/models", [("limit", "1")])  # r=2, t=60: reset known
        _someone_else(hub, 2)  # r=0
        before = clock.slept
        assert _pages(client, 2) == 2  # first try: a bare 429, then it waits for the reset
    assert client.stats.rate_limited == 1
    assert 59 <= clock.slept - before <= 62


def test_pace_delay_stops_at_the_reserve_and_waits_for_the_reset() -> None:
    assert quota_reserve(500) == 10 and quota_reserve(50) == 1 and quota_reserve(None) == 1
    assert pace_delay(remaining=11, reset_in=100, limit=500, margin=0.5) == 0
    assert pace_delay(remaining=10, reset_in=100, limit=500, margin=0.5) == 100.5
    assert pace_delay(remaining=0, reset_in=0, limit=500, margin=0.5) == 0
