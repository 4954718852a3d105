"""The ModelScope source against a fake ModelScope server (tests/fakemodelscope.py).

The real client (httpx) talks HTTP to the fake; sleeping is recorded, not done.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow.compute as pc
import pytest

from collector.families import Family
from collector.snapshot import lineage
from collector.snapshot.crawl import prepare
from collector.snapshot.modelscope import ModelScopeDiscovery, modelscope_family
from collector.snapshot.stage import Stage
from collector.sources.items import Problems
from collector.sources.modelscope import (
    ModelScopeClient,
    ModelScopeError,
    ModelScopeUnreachable,
    parse_model,
)
from tests.fakemodelscope import FakeModelScope

QWEN = Family(name="qwen", authors=("Qwen",))


@pytest.fixture
def ms() -> Iterator[FakeModelScope]:
    with FakeModelScope() as fake:
        yield fake


def client(fake: FakeModelScope, waits: list[float] | None = None) -> ModelScopeClient:
    return ModelScopeClient(
        endpoint=fake.url, retry_wait=0.5, sleep=(waits if waits is not None else []).append
    )


def org(fake: FakeModelScope, n: int) -> int:
    """n Qwen models with downloads 1,000 x (i + 1); returns their total."""
    for i in range(n):
        fake.add(f"Qwen/model-{i:03d}", downloads=1000 * (i + 1), likes=i)
    fake.add("other/model", downloads=5)
    return 1000 * n * (n + 1) // 2


def crawl(fake: FakeModelScope, c: ModelScopeClient, stage: Stage | None = None) -> Stage:
    stage = stage or Stage()
    prepare(stage)
    ModelScopeDiscovery().collect([QWEN], c, stage, Problems(), lambda *a, **k: None)
    stage.finish()
    return stage


def totals(stage: Stage) -> tuple[int, int]:
    members, _ = lineage.members(stage, modelscope_family(QWEN))
    return members.num_rows, int(pc.sum(members.column("downloads_all_time")).as_py())


def test_pages_past_50_and_totals(ms: FakeModelScope) -> None:
    total = org(ms, 120)  # 7,260,000
    c = client(ms)
    stage = crawl(ms, c)
    assert totals(stage) == (120, total) == (120, 7_260_000)
    pages = [p for p, _, _ in ms.requests]
    assert pages == ["/openapi/v1/models"] * 3  # 50 + 50 + 20
    assert [q["page_number"] for _, q, _ in ms.requests] == ["1", "2", "3"]
    assert {q["page_size"] for _, q, _ in ms.requests} == {"50"}
    assert c.stats.requests == 3 and c.stats.retries == 0


def test_429_with_retry_after_is_waited_and_retried(ms: FakeModelScope) -> None:
    org(ms, 60)
    ms.inject("429", after=1, retry_after=7)  # the second page
    waits: list[float] = []
    c = client(ms, waits)
    stage = crawl(ms, c)
    assert totals(stage)[0] == 60
    assert waits == [7.0]
    assert (c.stats.requests, c.stats.retries, c.stats.rate_limited) == (3, 1, 1)
    assert [s for _, _, s in ms.requests] == [200, 429, 200]


def test_5xx_retried_with_doubling_waits(ms: FakeModelScope) -> None:
    org(ms, 10)
    ms.inject("503", times=2)
    ms.inject("invalid_json", after=2)
    waits: list[float] = []
    c = client(ms, waits)
    assert totals(crawl(ms, c)) == (10, 55_000)
    assert waits == [0.5, 1.0, 2.0]
    assert c.stats.retries == 3


def test_failing_after_every_retry_is_one_error(ms: FakeModelScope) -> None:
    org(ms, 3)
    ms.inject("500", times=100)
    c = ModelScopeClient(endpoint=ms.url, retry_wait=0, max_retries=2, sleep=lambda s: None)
    with pytest.raises(ModelScopeError) as err:
        list(c.pages("Qwen"))
    assert str(err.value) == (f"HTTP 500 from {ms.url} for /openapi/v1/models after 3 attempts")


def test_garbage_items_are_counted_never_stored(ms: FakeModelScope) -> None:
    org(ms, 3)
    ms.add_garbage("Qwen", "not an object")
    ms.add_garbage("Qwen", {"id": 42, "downloads": 9})
    ms.add("Qwen/bad-counter", downloads=-5, likes="many", created_at="yesterday")
    problems = Problems()
    stage = Stage()
    prepare(stage)
    ModelScopeDiscovery().collect([QWEN], client(ms), stage, problems, lambda *a, **k: None)
    stage.finish()
    assert dict(problems.counts) == {
        "item not an object": 1,
        "bad repo id": 1,
        "out-of-range downloads": 1,
        "non-integer likes": 1,
        "bad created_at": 1,
    }
    # the model with bad counters is kept (its counters unknown), the garbage is not
    assert totals(stage) == (4, 6_000)


def test_rerun_of_the_same_pages_stores_each_model_once(ms: FakeModelScope) -> None:
    org(ms, 55)
    c = client(ms)
    stage = Stage()
    prepare(stage)
    records = []
    for page in c.pages("Qwen"):
        records += [parse_model(i, Problems()) for i in page.items]
    stage.add([r for r in records if r is not None])
    stage.add([r for r in records if r is not None])  # the same pages again
    stage.finish()
    assert totals(stage) == (55, 1000 * 55 * 56 // 2)


def test_more_than_one_query_can_list_is_refused(ms: FakeModelScope) -> None:
    for i in range(3001):
        ms.models[f"Qwen/m{i}"] = {"id": f"Qwen/m{i}", "downloads": 1, "likes": 0}
    with pytest.raises(
        ModelScopeError, match="has 3,001 models on ModelScope, more than the 3,000"
    ):
        list(client(ms).pages("Qwen"))


def test_refused_and_unreachable(ms: FakeModelScope) -> None:
    c = ModelScopeClient(endpoint=ms.url, page_size=50, sleep=lambda s: None)
    assert c.model("Qwen/none") is None
    ms.add("Qwen/one", downloads=3)
    assert c.model("Qwen/one")["downloads"] == 3  # type: ignore[index]
    with pytest.raises(ValueError):
        ModelScopeClient(endpoint=ms.url, page_size=51)
    dead = ModelScopeClient(endpoint="http://127.0.0.1:9", sleep=lambda s: None)
    with pytest.raises(
        ModelScopeUnreachable, match="cannot reach ModelScope at http://127.0.0.1:9"
    ):
        list(dead.pages("Qwen"))
