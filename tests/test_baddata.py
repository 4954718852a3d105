"""Bad data from the Hub: stored where sound, rejected and counted where not, never a crash."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from collector.errors import UsageError
from collector.reports.claims import parse_claim
from collector.snapshot.stage import Stage
from collector.sources.items import COUNTERS, REPO_ID_RE, Problems, parse_item
from tests.conftest import Cli
from tests.fakehub import FakeHub

# -- through the CLI ------------------------------------------------------------------


@pytest.fixture
def garbage(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    families = tmp_path / "families.toml"
    families.write_text('[families.acme]\nauthors = ["acme"]\nstrategy = "lineage"\n')
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    with FakeHub(max_page_size=3) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        hub.add("acme/ok", downloads_all_time=100, downloads=10, likes=2)
        hub.add("acme/negative-likes", downloads_all_time=50, likes=-5)
        hub.add("acme/float", downloads_all_time=12.5, downloads=3.0, likes=True)
        hub.add("acme/text", downloads_all_time="lots", downloads=None, likes=1)
        hub.add("acme/huge", downloads_all_time=2**70, likes=1)
        hub.add("acme/bad-id", id="not a repo id!!")
        hub.add("acme/unicode", id="acme/ünï")
        hub.add(
            "acme/odd-fields",
            downloads_all_time=7,
            _id="xyz",
            created_at="yesterday",
            weird={"nested": [1, 2]},
        )
        hub.set("acme/odd-fields", tags="base_model:nope")  # a string, not a list
        hub.add_derivative(
            "u/child",
            parent="acme/ok",
            downloads_all_time=5,
            tags=["base_model:../../etc", "base_model:u/child"],
        )
        yield hub


def test_garbage_items_are_stored_where_sound_and_counted_where_not(
    cli: Cli, garbage: FakeHub, isolated_env: Path
) -> None:
    out = cli("snapshot", "-f", "acme", "-q", now="2026-01-01T10:00:00").stdout
    assert re.sub(r"\d+\.\d+s$", "<t>s", out.strip()) == (
        "acme: run 1 complete at 2026-01-01 10:00:00 UTC: 7 members (6 official, "
        "1 derivatives), 10 requests (0 retries), 13 data problems (1 bad _id, "
        "1 bad createdAt, 1 bad lastModified, 2 bad repo id, 1 bad tags, "
        "1 malformed base_model tag, 2 non-integer downloadsAllTime, 1 non-integer likes, "
        "1 out-of-range downloadsAllTime, 1 out-of-range likes, "
        "1 self-referencing base_model tag), <t>s"
    )
    members = json.loads(cli("members", "-f", "acme", "--format", "json").stdout)["members"]
    got = {m["repo_id"]: (m["downloads_all_time"], m["downloads_30d"], m["likes"]) for m in members}
    assert got == {
        "acme/ok": (100, 10, 2),
        "acme/negative-likes": (50, 0, None),
        "acme/float": (None, 3, None),  # 3.0 is a whole number; True is not a count
        "acme/text": (None, None, 1),
        "acme/huge": (None, 0, 1),
        "acme/odd-fields": (7, 0, 0),
        "u/child": (5, 0, 0),
    }
    with duckdb.connect(str(isolated_env), read_only=True) as con:
        rejected, problems = con.execute("SELECT rejected, problems FROM runs").fetchall()[0]
        assert rejected == 13
        assert json.loads(problems)["bad repo id"] == 2
        assert con.execute(
            "SELECT hub_id, created_at FROM repos WHERE repo_id = 'acme/odd-fields'"
        ).fetchall() == [(None, None)]
    report = json.loads(cli("report", "-f", "acme", "--format", "json").stdout)
    assert report["series"][0]["downloads_all_time"] == 100 + 50 + 7 + 5


# -- fuzzing the parsers --------------------------------------------------------------
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
NUMBERS = (
    st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.booleans()
    | st.none()
    | st.text(max_size=5)
)
IDS = st.from_regex(REPO_ID_RE, fullmatch=True) | st.text(max_size=30) | JSON
DATES = (
    st.datetimes().map(lambda d: d.isoformat() + "Z")
    | st.text(max_size=30)
    | st.datetimes().map(lambda d: d.isoformat() + "+14:00")
    | NUMBERS
    | st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
)
TAGS = (
    st.lists(
        st.sampled_from(["base_model:", "base_model:finetune:", "base_model:merge:", "x"]).flatmap(
            lambda prefix: (IDS.filter(lambda v: isinstance(v, str))).map(lambda v: prefix + v)
        ),
        max_size=4,
    )
    | JSON
)
ITEMS = (
    st.fixed_dictionaries(
        {},
        optional={
            "id": IDS,
            "modelId": IDS,
            "_id": st.from_regex(r"[0-9a-f]{24}", fullmatch=True) | JSON,
            "author": JSON,
            "downloads": NUMBERS,
            "downloadsAllTime": NUMBERS,
            "likes": NUMBERS,
            "createdAt": DATES,
            "lastModified": DATES,
            "tags": TAGS,
            "pipeline_tag": JSON,
            "library_name": JSON,
            "unknownField": JSON,
        },
    )
    | JSON
)

_stage: list[Stage] = []


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ITEMS)
def test_parse_item_never_crashes_and_keeps_only_sound_values(item: Any) -> None:
    problems = Problems()
    record = parse_item(item, problems)
    if record is None:
        assert problems.total >= 1
        return
    assert REPO_ID_RE.match(record.repo_id) and record.repo_id.isascii()
    for value in (record.downloads_30d, record.downloads_all_time, record.likes):
        assert value is None or (type(value) is int and 0 <= value < 2**62)
    for when in (record.created_at, record.last_modified):
        assert when is None or (isinstance(when, datetime) and when.tzinfo is None)
    for edge in record.parents:
        assert REPO_ID_RE.match(edge.parent_id) and edge.parent_id != record.repo_id
    dropped = sum(
        1
        for key, name in zip(
            COUNTERS, ("downloads_30d", "downloads_all_time", "likes"), strict=True
        )
        if item.get(key) is not None and getattr(record, name) is None
    )
    assert problems.total >= dropped
    if not _stage:
        _stage.append(Stage())
    _stage[0].add([record])  # whatever parses, the stage stores


CLAIM_WORDS = st.sampled_from(
    [
        "downloads",
        "monthly downloads",
        "derivatives",
        "models",
        "likes",
        "all-time downloads",
        "derivative models",
        "official models",
        "downloads per month",
        "stars",
        "",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=40)
    | st.builds(
        lambda lead, n, unit, plus, words: f"{lead}{n}{unit}{plus} {words}",
        st.sampled_from(["", "over ", "more than ", ">", "~", "nearly "]),
        st.integers(min_value=0, max_value=10**12).map(str) | st.floats(0, 1e6).map(str),
        st.sampled_from(["", "k", "M", "m", "B", "bn", " million", " thousand"]),
        st.sampled_from(["", "+"]),
        CLAIM_WORDS,
    )
)
def test_parse_claim_returns_a_claim_or_a_usage_error(text: str) -> None:
    try:
        claim = parse_claim(text)
    except UsageError as exc:
        assert str(exc) and "\n" not in str(exc).replace(text, "")
        return
    assert claim.metric in {"downloads_all_time", "downloads_30d", "derivatives", "models", "likes"}
    assert type(claim.threshold) is int and 0 < claim.threshold < 2**62


@given(
    st.integers(min_value=1, max_value=999),
    st.sampled_from([("k", 10**3), ("M", 10**6), ("B", 10**9), (" million", 10**6), ("", 1)]),
)
def test_parse_claim_reads_thresholds_exactly(n: int, unit: tuple[str, int]) -> None:
    claim = parse_claim(f"{n}{unit[0]}+ downloads")
    assert (claim.metric, claim.threshold) == ("downloads_all_time", n * unit[1])
