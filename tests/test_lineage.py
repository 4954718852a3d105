"""Lineage at any depth: chains, several official ancestors, merges, cycles, self-loops,
malformed tags, lookalike names, and a repo that gains its base_model tag later.
Every figure below is computed by hand from the repos' counters.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.fakehub import FakeHub

DAY1, DAY2 = "2026-02-01T06:00:00", "2026-02-02T06:00:00"


def build_family(hub: FakeHub, cli: Cli) -> None:
    hub.add("Qwen/Base", downloads_all_time=1000, downloads=10, likes=3)
    # An official repo that is also a fine-tune of another official repo stays official.
    hub.add_derivative("Qwen/Instruct", parent="Qwen/Base", downloads_all_time=500, downloads=5)
    hub.add_derivative("a/ft", parent="Qwen/Instruct", relation="finetune", downloads_all_time=100)
    hub.add_derivative("b/ft-gguf", parent="a/ft", relation="quantized", downloads_all_time=10)
    hub.add_derivative("c/ft-gguf-copy", parent="b/ft-gguf", relation=None, downloads_all_time=1)
    hub.add_derivative(
        "d/merge", parent=["Qwen/Base", "Qwen/Instruct"], relation="merge", downloads_all_time=20
    )
    # Two official ancestors by two paths: counted once, at its smallest depth.
    hub.add_derivative(
        "e/adapter", parent=["Qwen/Base", "a/ft"], relation="adapter", downloads_all_time=5
    )
    # A cycle hanging off the family: f/x <-> g/y.
    hub.add_derivative(
        "f/x", parent="a/ft", relation="finetune", downloads_all_time=3, tags=["base_model:g/y"]
    )
    hub.add_derivative("g/y", parent="f/x", relation=None, downloads_all_time=4)
    # A cycle with no link to the family: never found, never counted.
    hub.add_derivative("h/p", parent="h/q", relation=None, downloads_all_time=1000)
    hub.add_derivative("h/q", parent="h/p", relation=None, downloads_all_time=1000)
    hub.add_derivative(
        "i/self",
        parent="Qwen/Base",
        relation=None,
        downloads_all_time=2,
        tags=["base_model:i/self"],
    )
    hub.add_derivative(
        "j/bad",
        parent="Qwen/Base",
        relation=None,
        downloads_all_time=6,
        tags=["base_model:", "base_model:finetune:", "base_model:not an id"],
    )
    hub.add("k/qwen-like-GGUF", downloads_all_time=99, downloads=9)
    hub.add("l/late", downloads_all_time=50, created_at="2025-01-01T00:00:00.000Z")
    cli("snapshot", "-q", now=DAY1)
    hub.set("Qwen/Base", downloads_all_time=1200)
    hub.set_tags("l/late", ["base_model:a/ft", "base_model:quantized:a/ft"])
    cli("snapshot", "-q", now=DAY2)


def test_members_roles_relations_depths(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    out = json.loads(cli("members", "--format", "json").stdout)
    assert out["as_of"] == "2026-02-02"
    got = {
        m["repo_id"]: (
            m["role"],
            m["relation"],
            m["depth"],
            m["parent_id"],
            m["downloads_all_time"],
        )
        for m in out["members"]
    }
    assert got == {
        "Qwen/Base": ("official", None, 0, None, 1200),
        "Qwen/Instruct": ("official", None, 0, None, 500),
        "a/ft": ("derivative", "finetune", 1, "Qwen/Instruct", 100),
        "d/merge": ("derivative", "merge", 1, "Qwen/Base", 20),
        "e/adapter": ("derivative", "adapter", 1, "Qwen/Base", 5),
        "i/self": ("derivative", "unspecified", 1, "Qwen/Base", 2),
        "j/bad": ("derivative", "unspecified", 1, "Qwen/Base", 6),
        "b/ft-gguf": ("derivative", "quantized", 2, "a/ft", 10),
        "f/x": ("derivative", "finetune", 2, "a/ft", 3),
        "l/late": ("derivative", "quantized", 2, "a/ft", 50),
        "c/ft-gguf-copy": ("derivative", "unspecified", 3, "b/ft-gguf", 1),
        "g/y": ("derivative", "unspecified", 3, "f/x", 4),
    }


def test_members_as_of_first_day_excludes_the_late_repo(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    out = json.loads(cli("members", "--as-of", "2026-02-01", "--format", "json").stdout)
    ids = {m["repo_id"] for m in out["members"]}
    assert len(ids) == 11 and "l/late" not in ids and "k/qwen-like-GGUF" not in ids


def test_report_official_and_derivative_parts(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    series = json.loads(cli("report", "--format", "json").stdout)["series"]
    picked = [
        (
            r["repos"],
            r["downloads_all_time"],
            r["official_downloads_all_time"],
            r["derivative_downloads_all_time"],
            r["new_downloads"],
        )
        for r in series
    ]
    assert picked == [
        # 1000+500 official; 100+10+1+20+5+3+4+2+6 = 151 derivative
        (11, 1651, 1500, 151, None),
        # Base +200; l/late (created long before) joins with 50, not new downloads
        (12, 1901, 1700, 201, 200),
    ]


def test_report_by_relation_and_depth(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    by_rel = json.loads(cli("report", "--by", "relation", "--format", "json").stdout)["series"]
    assert by_rel == [
        {
            "date": "2026-02-01",
            "official": 1500,
            "finetune": 103,
            "quantized": 10,
            "adapter": 5,
            "merge": 20,
            "unspecified": 13,
        },
        {
            "date": "2026-02-02",
            "official": 1700,
            "finetune": 103,
            "quantized": 60,
            "adapter": 5,
            "merge": 20,
            "unspecified": 13,
        },
    ]
    by_depth = json.loads(cli("report", "--by", "depth", "--format", "json").stdout)["series"]
    assert by_depth == [
        {"date": "2026-02-01", "0": 1500, "1": 133, "2": 13, "3": 5},
        {"date": "2026-02-02", "0": 1700, "1": 133, "2": 63, "3": 5},
    ]


def test_why_prints_the_chain(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    out = cli("why", "c/ft-gguf-copy").stdout
    assert out.splitlines() == [
        "c/ft-gguf-copy is a member of qwen at 2026-02-02",
        "",
        "  depth   repo_id          role         relation      downloads_all_time",
        " ────────────────────────────────────────────────────────────────────────",
        "      0   Qwen/Instruct    official                                  500",
        "      1   a/ft             derivative   finetune                     100",
        "      2   b/ft-gguf        derivative   quantized                     10",
        "      3   c/ft-gguf-copy   derivative   unspecified                    1",
    ]


def test_why_not_a_member(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    result = cli("why", "k/qwen-like-GGUF", ok=False)
    assert result.exit_code == 1
    assert result.stdout == (
        "k/qwen-like-GGUF was never seen in a snapshot of qwen: it has no base_model lineage "
        "to an official repo of qwen, or it is not on the Hub\n"
    )


def test_lookalikes_are_listed_apart_never_counted(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    out = json.loads(cli("members", "--unlinked", "--format", "json").stdout)
    assert [r["repo_id"] for r in out["unlinked"]] == ["k/qwen-like-GGUF"]
    assert out["downloads_all_time"] == 99
    series = json.loads(cli("report", "--format", "json").stdout)["series"]
    assert series[-1]["downloads_all_time"] == 1901  # the 99 never leaks in


def test_verify_derivatives_at_any_depth(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    out = json.loads(cli("verify", "10 derivatives", "--format", "json").stdout)
    assert (out["measured"], out["verdict"], out["first_reached"]) == (
        10,
        "supported",
        "2026-02-02",
    )
    out = json.loads(cli("verify", "1.9K downloads", "--format", "json").stdout)
    assert out["breakdown"] == {"official": 1700, "derivative": 201}
    assert (out["verdict"], out["first_reached"]) == ("supported", "2026-02-02")


def test_bad_tags_are_counted_not_fatal(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    summary = cli("snapshot", "-q", now="2026-02-03T06:00:00").stdout
    # j/bad: 3 malformed tags; i/self: 1 self-reference (i/self is listed twice: once)
    assert re.search(
        r", 4 data problems \(3 malformed base_model tag, 1 self-referencing "
        r"base_model tag\), ",
        summary,
    ), summary


def test_requests_are_announced_and_counted(hub: FakeHub, cli: Cli) -> None:
    build_family(hub, cli)
    before = hub.request_count("/api/models")
    result = cli("snapshot", now="2026-02-03T06:00:00")
    made = hub.request_count("/api/models") - before
    # announced from the last run's members (one listing each, plus the author's)
    assert "expecting about 13 requests (12 members at the last run" in result.stderr
    assert f"{made} requests (0 retries)" in result.stdout
    # one listing for the author, then one per parent found (pages of 2): each parent once
    parents = [dict(r.params).get("filter") for r in hub.requests[before:]]
    listed = [p for p in parents if p]
    assert len(listed) == len(set(listed))


def test_max_depth(hub: FakeHub, cli: Cli, tmp_path: Path) -> None:
    families = tmp_path / "families.toml"
    families.write_text(
        '[families.qwen]\nauthors = ["Qwen"]\nmax_depth = 1\nstrategy = "lineage"\n'
    )
    hub.add("Qwen/Base", downloads_all_time=1000)
    hub.add_derivative("a/ft", parent="Qwen/Base", downloads_all_time=100)
    hub.add_derivative("b/q", parent="a/ft", relation="quantized", downloads_all_time=10)
    cli("snapshot", "-q", "--families", str(families), now=DAY1)
    out = json.loads(cli("members", "--format", "json").stdout)
    assert sorted(m["repo_id"] for m in out["members"]) == ["Qwen/Base", "a/ft"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[families.x]\nrepos = []\n", "family 'x': field 'authors': needs at least one"),
        ('[families.x]\nauthors = ["A"]\nmax_depth = -1\n', "family 'x': field 'max_depth'"),
        ('[families.x]\nauthors = "A"\n', "family 'x': field 'authors': must be a list"),
        ('[families.x]\nauthors = ["A"]\nderivatives = "yes"\n', "field 'derivatives'"),
        ('[families.x]\nauthors = ["A"]\nrepos = ["no-slash here"]\n', "field 'repos'"),
        ('[families.x]\nauthors = ["A"]\ncolour = 1\n', "unknown field 'colour'"),
        ('[families.x]\nauthors = ["A"]\nname_pattern = "("\n', "field 'name_pattern'"),
        ("[families.x\n", "not valid TOML"),
        ("", "no [families.NAME] table"),
    ],
)
def test_bad_families_file(cli: Cli, tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "fam.toml"
    path.write_text(text)
    result = cli("snapshot", "--families", str(path), "--family", "x", ok=False)
    assert result.exit_code == 2
    assert str(path) in result.stderr and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_losing_the_tag_leaves_the_family_on_that_date(hub: FakeHub, cli: Cli) -> None:
    hub.add("Qwen/Base", downloads_all_time=1000)
    hub.add_derivative("a/ft", parent="Qwen/Base", downloads_all_time=100)
    hub.add_derivative("b/q", parent="a/ft", relation="quantized", downloads_all_time=10)
    cli("snapshot", "-q", now=DAY1)
    hub.set_tags("a/ft", [])  # a/ft drops its base_model tag: it and its child leave
    hub.set("a/ft", downloads_all_time=150)
    cli("snapshot", "-q", now=DAY2)
    out = json.loads(cli("report", "--format", "json").stdout)
    assert [(r["repos"], r["downloads_all_time"], r["new_downloads"]) for r in out["series"]] == [
        (3, 1110, None),
        (1, 1110, 0),  # their last member values stay in the cumulative total
    ]
    assert [(a["repo_id"], a["kind"]) for a in out["anomalies"]] == [
        ("a/ft", "departed"),
        ("b/q", "departed"),
    ]
    first = json.loads(cli("members", "--as-of", "2026-02-01", "--format", "json").stdout)
    assert len(first["members"]) == 3  # history is not rewritten
