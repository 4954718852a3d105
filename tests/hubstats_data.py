"""A small `cfahlgren1/hub-stats` in the real layout: one models.parquet per day, each a git
revision of the dataset, with the real dataset's quirks.

Family `qwen` (author Qwen): Qwen/A and Qwen/B official; u1/A-ft fine-tunes Qwen/A;
u2/A-ft-gguf quantizes u1/A-ft (depth 2); u4/B-lora has no base_model tag on 03-01 and
tags Qwen/B (adapter) from 03-02 on: it joins the family that day. other/big (no lineage)
and other/qwen-lookalike (a name and a `qwen` tag only) are never members.

Commits, oldest first (UTC): 03-01 13:05 models.parquet (no downloadsAllTime, no _id);
03-01 20:00 datasets.parquet only (not a snapshot); 03-02 09:00 models.parquet (superseded
by the day's later commit: its figures must never appear); 03-02 13:05 models.parquet
(downloadsAllTime appears); 03-03 13:05 (an `_id` column, createdAt as text, columns in
another order); 03-04 13:05.

Family totals by hand (repos; 30-day; all-time in millions; likes):
    2026-03-01: 4 repos; 100+50+10+5 = 165; all-time none; 10+5+1+0 = 16
    2026-03-02: 5 repos; 110+55+11+6+8 = 190; 400+150+10+3+2 = 565; 11+5+1+0+0 = 17
    2026-03-03: 5 repos; 120+60+12+7+9 = 208; 410+152+11+3+3 = 579; 12+6+1+0+1 = 20
    2026-03-04: 5 repos; 130+65+13+8+10 = 226; 420+155+12+4+4 = 595; 13+6+2+0+1 = 22
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from tests.fakedatasets import FakeDatasets
from tests.pulse_data import parquet

REPO = "cfahlgren1/hub-stats"
M = 1_000_000
DAYS = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
LINEAGE = {  # repo -> its base_model tags (from 03-02 on for u4/B-lora)
    "Qwen/A": [],
    "Qwen/B": [],
    "u1/A-ft": ["base_model:Qwen/A", "base_model:finetune:Qwen/A"],
    "u2/A-ft-gguf": ["base_model:u1/A-ft", "base_model:quantized:u1/A-ft"],
    "u4/B-lora": ["base_model:Qwen/B", "base_model:adapter:Qwen/B"],
    "other/big": [],
    "other/qwen-lookalike": [],
}
# day -> repo -> (downloads (30 d), downloadsAllTime in millions, likes)
ROWS: dict[str, dict[str, tuple[int, int, int]]] = {
    "2026-03-01": {
        "Qwen/A": (100, 390, 10),
        "Qwen/B": (50, 149, 5),
        "u1/A-ft": (10, 9, 1),
        "u2/A-ft-gguf": (5, 3, 0),
        "u4/B-lora": (7, 2, 0),
        "other/big": (9999, 900, 99),
        "other/qwen-lookalike": (3, 1, 0),
    },
    "2026-03-02": {
        "Qwen/A": (110, 400, 11),
        "Qwen/B": (55, 150, 5),
        "u1/A-ft": (11, 10, 1),
        "u2/A-ft-gguf": (6, 3, 0),
        "u4/B-lora": (8, 2, 0),
        "other/big": (9999, 900, 99),
        "other/qwen-lookalike": (3, 1, 0),
    },
    "2026-03-03": {
        "Qwen/A": (120, 410, 12),
        "Qwen/B": (60, 152, 6),
        "u1/A-ft": (12, 11, 1),
        "u2/A-ft-gguf": (7, 3, 0),
        "u4/B-lora": (9, 3, 1),
        "other/big": (9999, 901, 99),
        "other/qwen-lookalike": (3, 1, 0),
    },
    "2026-03-04": {
        "Qwen/A": (130, 420, 13),
        "Qwen/B": (65, 155, 6),
        "u1/A-ft": (13, 12, 2),
        "u2/A-ft-gguf": (8, 4, 0),
        "u4/B-lora": (10, 4, 1),
        "other/big": (9999, 902, 99),
        "other/qwen-lookalike": (3, 1, 0),
    },
}
# the superseded early commit of 03-02: figures that must never be imported
EARLY = {repo: (1, 1, 1) for repo in ROWS["2026-03-02"]}


def _tags(repo: str, day: str) -> list[str]:
    tags = ["transformers", "safetensors", "license:apache-2.0", "region:us"]
    if repo == "other/qwen-lookalike":
        tags.append("qwen")
    if repo != "u4/B-lora" or day >= "2026-03-02":
        tags += LINEAGE[repo]
    return tags


def models_file(
    day: str,
    rows: dict[str, tuple[int, int, int]] | None = None,
    renamed: dict[str, str] | None = None,
) -> bytes:
    """The day's models.parquet, with the columns that revision had; `renamed` (old id ->
    new id): repos listed under a new id, with their `_id` and their own tags unchanged
    (the tags of their children still name the old id, as on the Hub)."""
    rows = rows or ROWS[day]
    hub_ids = {r: f"{n:024x}" for n, r in enumerate(sorted(rows), 1)}  # kept across renames
    named = {(renamed or {}).get(r, r): r for r in rows}  # id in the file -> repo
    ids = sorted(named)
    created = datetime(2025, 1, 1, tzinfo=UTC)
    columns: dict[str, pa.Array] = {
        "id": pa.array(ids, pa.string()),
        "author": pa.array([i.split("/")[0] for i in ids], pa.string()),
        "downloads": pa.array([rows[named[i]][0] for i in ids], pa.int64()),
        "likes": pa.array([rows[named[i]][2] for i in ids], pa.int64()),
        "trendingScore": pa.array([0.5] * len(ids), pa.float64()),
        "tags": pa.array([_tags(named[i], day) for i in ids], pa.list_(pa.string())),
        "pipeline_tag": pa.array(["text-generation"] * len(ids), pa.string()),
        "createdAt": pa.array([created] * len(ids), pa.timestamp("ms", tz="UTC")),
    }
    if day >= "2026-03-02":
        columns["downloadsAllTime"] = pa.array([rows[named[i]][1] * M for i in ids], pa.int64())
    if day >= "2026-03-03":  # a drifted revision: an `_id`, createdAt as text, new order
        columns["_id"] = pa.array([hub_ids[named[i]] for i in ids], pa.string())
        columns["createdAt"] = pa.array(["2025-01-01T00:00:00.000Z"] * len(ids), pa.string())
        columns = dict(reversed(list(columns.items())))
    return parquet(pa.table(columns))


def publish(datasets: FakeDatasets) -> dict[str, str]:
    """Commit the dataset's history; the sha of each day's snapshot revision."""
    shas: dict[str, str] = {}
    at = {d: datetime.fromisoformat(f"{d}T13:05:00+00:00") for d in DAYS}
    for day in DAYS:
        if day == "2026-03-02":
            datasets.commit(
                REPO,
                {"models.parquet": models_file(day, EARLY)},
                "Upload models.parquet with huggingface_hub",
                datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            )
        shas[day] = datasets.commit(
            REPO,
            {"models.parquet": models_file(day)},
            "Upload models.parquet with huggingface_hub",
            at[day],
        )
        if day == "2026-03-01":
            datasets.commit(
                REPO,
                {"datasets.parquet": parquet(pa.table({"id": ["x/y"]}))},
                "Upload datasets.parquet with huggingface_hub",
                datetime(2026, 3, 1, 20, 0, tzinfo=UTC),
            )
    return shas
