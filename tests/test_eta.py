"""The plan's time per page: measured before the plan, else remembered from the last
whole-Hub crawl (the Hub's latency, and the client's own work on each page when that was
longer), else the default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from collector.families import Family
from collector.snapshot.plan import History, make_plan, read_history, record_page_times
from collector.snapshot.run import take_snapshot
from collector.sources.hub import HubClient
from collector.store import warehouse
from tests.fakehub import FakeHub, VirtualClock

ACME = Family("acme", ("acme",), strategy="hub")
NOWHERE = "http://127.0.0.1:9"  # no request is made: the plans below need none


def _time_line(history: History) -> str:
    plan = make_plan([ACME], HubClient(endpoint=NOWHERE), history)
    return plan.describe()[-2]


def test_the_last_crawls_latency_is_the_time_per_page_when_the_work_overlapped() -> None:
    history = History({}, 500_000, page_latency=1.01, page_work=0.02)
    assert _time_line(history) == (
        "Expecting about 500 requests in all: within the anonymous quota of 500 requests per "
        "5 min; 8 min at 1 s per request (measured on the last crawl); ETA about 8 min "
        "(latency-bound)"
    )


def test_the_clients_work_paces_the_crawl_when_it_was_longer_than_the_latency() -> None:
    history = History({}, 500_000, page_latency=1.0, page_work=1.5)
    assert _time_line(history) == (
        "Expecting about 500 requests in all: within the anonymous quota of 500 requests per "
        "5 min; 13 min at 1.5 s per request (the client's own work per page at the last "
        "crawl, longer than the latency); ETA about 13 min (latency-bound)"
    )
    # a lineage crawl is not prefetched page by page: its pages are small, the latency counts
    lineage = Family("acme", ("acme",), strategy="lineage")
    plan = make_plan([lineage], HubClient(endpoint=NOWHERE), History({"acme": 9}, None, 1.0, 1.5))
    assert (plan.page_latency, plan.latency_source) == (1.0, "measured on the last crawl")


def test_without_a_measurement_the_default_is_expected() -> None:
    assert "at 1.2 s per request (expected)" in _time_line(History({}, 500_000))


def test_page_times_are_kept_in_the_warehouse(tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with warehouse.writer(db) as con:
        assert read_history(con).page_latency is None
        record_page_times(con, 1.23456, 0.5)
        record_page_times(con, 1.0, 0.25)  # the last crawl's replace the earlier
    con = duckdb.connect(str(db), read_only=True)
    history = read_history(con)
    con.close()
    assert (history.page_latency, history.page_work) == (1.0, 0.25)


def test_the_client_times_the_hubs_latency_and_its_own_work_apart() -> None:
    clock = VirtualClock()
    with FakeHub(latency=1.0, clock=clock.now, sleep=clock.sleep) as hub:
        for i in range(30):
            hub.add(f"acme/m{i:02}")
        client = HubClient(endpoint=hub.url, page_size=10, sleep=clock.sleep, clock=clock.now)
        for _page in client.pages(client.listing_params()):
            clock.sleep(3.0)  # the caller's own work on the page (virtual)
    assert client.stats.pages_timed == client.stats.pages_worked == 3
    assert client.stats.page_latency == pytest.approx(1.0, abs=0.2)
    assert client.stats.page_work == pytest.approx(3.0, abs=0.2)


def test_a_whole_hub_crawl_keeps_its_page_times_for_the_next_plan(tmp_path: Path) -> None:
    clock = VirtualClock()
    db = tmp_path / "w.duckdb"
    with FakeHub(latency=1.0, clock=clock.now, sleep=clock.sleep) as hub:
        for i in range(30):
            hub.add(f"acme/m{i:02}")

        def slow_work(event: str, **data: Any) -> None:
            if event == "page":  # the client's own work on a page: 3 s (virtual)
                clock.sleep(3.0)

        client = HubClient(endpoint=hub.url, page_size=10, sleep=clock.sleep, clock=clock.now)
        [result] = take_snapshot([ACME], db=db, client=client, progress=slow_work)
        assert result.members == 30
        with warehouse.writer(db) as con:
            history = read_history(con)
        day2 = make_plan([ACME], HubClient(endpoint=hub.url), history)
    # what the crawl measured (its threads share one virtual clock, so the prefetched
    # page's latency and the work may each include some of the other's time)
    assert history.page_latency == round(client.stats.page_latency or 0, 4) >= 1.0
    assert history.page_work == round(client.stats.page_work or 0, 4) >= 3.0
    assert day2.page_latency == max(history.page_latency, history.page_work)
    assert day2.latency_source != "expected"
