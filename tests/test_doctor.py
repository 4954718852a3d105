"""`collector doctor`: passes against the fake Hub, and fails with a clear line for each
Hub assumption the fake is told to break."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.conftest import Cli
from tests.fakehub import BREAKS, FakeHub


def _populate(hub: FakeHub) -> None:
    hub.add("openai-community/gpt2")
    hub.add_redirect("gpt2", "openai-community/gpt2")
    hub.add("Qwen/Base")
    for i in range(1200):  # more than a page of 1,000
        hub.add(f"u/m{i}")
    for i, rel in enumerate(["finetune", "quantized", "adapter", "merge", "quantized"]):
        hub.add_derivative(f"d/c{i}", parent="Qwen/Base", relation=rel)


@pytest.fixture
def doctor_hub(
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[FakeHub]:
    with FakeHub(quota=500, breaks=getattr(request, "param", ())) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        _populate(hub)
        yield hub


def test_doctor_passes_on_a_hub_that_keeps_every_assumption(doctor_hub: FakeHub, cli: Cli) -> None:
    result = cli("doctor")
    assert result.stdout.splitlines()[3:] == [
        "  listing fields      ok       1,000 items, each with author, downloads, downloadsAllTime, "
        "likes, createdAt, lastModified, tags, pipeline_tag, library_name as expected",
        "  _id                 ok       a 24-hex _id on all 1,000 items",
        "  page size           ok       1,000 items for limit=1,000",
        "  paging              ok       Link rel=next with a cursor and every parameter",
        "  rate limit          ok       r=499 t=300, quota 500 per 300 s",
        "  sort                ok       newest first over 1,207 items on 2 pages",
        "  base_model filter   ok       filter=base_model:Qwen/Base lists its 1 adapter, 1 finetune, "
        "1 merge, 2 quantized children",
        "  rename redirect     ok       gpt2 answers 307 to openai-community/gpt2",
        "",
        "Ready",
    ]
    # four requests: two listing pages, one base_model listing, the redirect
    assert doctor_hub.request_count() == 4


EXPECTED = {
    "types": ("listing fields", "FAIL", "downloads is str ('0')"),
    "underscore_id": (
        "_id",
        "warn",
        "_id on 0 of 1,000 items: repos are keyed by id, renames found by lookups",
    ),
    "page_size": ("page size", "FAIL", "100 items for limit=1,000: every estimate is off"),
    "link_params": (
        "paging",
        "FAIL",
        "the next link drops expand=author, expand=createdAt, expand=downloads, "
        "expand=downloadsAllTime",
    ),
    "sort": (
        "sort",
        "FAIL",
        "sort=createdAt not newest first: 2024-01-01T01:00:00.000Z then "
        "2024-01-01T02:00:00.000Z (a crawl would skip repos created while it runs)",
    ),
    "ratelimit": (
        "rate limit",
        "warn",
        "no RateLimit headers: the quota is found by hitting it (slower)",
    ),
    "base_model_filter": (
        "base_model filter",
        "FAIL",
        "filter=base_model:Qwen/Base misses 1 adapter, 1 merge, 2 quantized of its 1 adapter, "
        "1 finetune, 1 merge, 2 quantized",
    ),
    "redirect": (
        "rename redirect",
        "FAIL",
        "GET /api/models/gpt2: HTTP 404 from {url} for /api/models/gpt2, expected a 307 to "
        "openai-community/gpt2",
    ),
}


def test_every_break_is_covered() -> None:
    assert set(EXPECTED) == BREAKS


@pytest.mark.parametrize("doctor_hub", [(b,) for b in sorted(EXPECTED)], indirect=True)
def test_doctor_fails_each_broken_assumption(doctor_hub: FakeHub, cli: Cli) -> None:
    [broken] = doctor_hub.breaks
    name, verdict, seen = EXPECTED[broken]
    result = cli("doctor", "--format", "json", ok=False)
    rows = {r["check"]: r for r in json.loads(result.stdout)["checks"]}
    assert rows[name] == {"check": name, "result": verdict, "seen": seen.format(url=doctor_hub.url)}
    # the broken assumption is the only failure, except where the order of page 2
    # depends on the lost parameters
    others = {n for n, r in rows.items() if r["result"] != "ok"} - {name}
    assert others == ({"sort"} if broken == "link_params" else set())
    assert result.exit_code == (1 if verdict == "FAIL" else 0)


def test_doctor_on_an_unreachable_hub_is_one_line(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    result = cli("doctor", ok=False)
    assert result.exit_code == 1
    assert result.output.startswith(
        "Error: cannot reach the Hub at http://127.0.0.1:9 (set by HF_ENDPOINT)"
    )
    assert len(result.output.splitlines()) == 1
