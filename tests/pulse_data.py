"""A small Model Pulse dataset in the real layout, with the real dataset's quirks.

Family `qwen` (author Qwen): Qwen/A and Qwen/B official; u1/A-ft fine-tunes Qwen/A,
u2/A-ft-gguf quantizes u1/A-ft (depth 2); u3/old-name (child of Qwen/B) is renamed
u3/new-name and appears under both ids on 2025-12-10. other/big (no lineage) and
other/qwen-lookalike (a name only) are not members. Quirks: `dl_all` NULL before
2025-02-27, a gap (no March-October 2025 rows), a partial day (2025-11-24: only Qwen/A),
a low day and a frozen day in meta.json.

Family totals of `dl_all` (millions), by hand:
    2025-02-27: 100+50+5+1+2 = 158        2025-12-12: 430+155+10+3+15 = 613
    2025-02-28: 101+51+5+1+2 = 160        2026-01-10: 480+180+12+4+16 = 692
    2025-11-24: partial, Qwen/A 400       2026-01-13: 485+182+12+4+18 = 701
    2025-12-10: 420+150+10+3+15 = 598     2026-01-31: 500+190+13+5+18 = 726
(2025-12-10 would be 613 with the renamed repo counted twice.)
"""

from __future__ import annotations

import io
import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq

from tests.fakedatasets import FakeDatasets
from tests.fakehub import FakeHub

REPO = "modelpulse/model-pulse-data"
M = 1_000_000
# repo -> day -> (dl30, dl_all in millions or None, likes)
ROWS: dict[str, dict[str, tuple[int, int | None, int]]] = {
    "Qwen/A": {
        "2025-02-25": (900, None, 10),
        "2025-02-26": (910, None, 10),
        "2025-02-27": (920, 100, 11),
        "2025-02-28": (930, 101, 11),
        "2025-11-24": (5000, 400, 40),
        "2025-12-10": (6000, 420, 45),
        "2025-12-12": (6100, 430, 46),
        "2026-01-10": (7000, 480, 50),
        "2026-01-13": (7100, 485, 51),
        "2026-01-31": (7200, 500, 52),
    },
    "Qwen/B": {
        "2025-02-25": (500, None, 5),
        "2025-02-26": (500, None, 5),
        "2025-02-27": (510, 50, 5),
        "2025-02-28": (520, 51, 5),
        "2025-12-10": (3000, 150, 20),
        "2025-12-12": (3100, 155, 21),
        "2026-01-10": (3200, 180, 22),
        "2026-01-13": (3300, 182, 22),
        "2026-01-31": (3400, 190, 23),
    },
    "u1/A-ft": {
        "2025-02-25": (50, None, 1),
        "2025-02-26": (50, None, 1),
        "2025-02-27": (50, 5, 1),
        "2025-02-28": (50, 5, 1),
        "2025-12-10": (80, 10, 2),
        "2025-12-12": (80, 10, 2),
        "2026-01-10": (90, 12, 2),
        "2026-01-13": (90, 12, 2),
        "2026-01-31": (95, 13, 2),
    },
    "u2/A-ft-gguf": {
        "2025-02-25": (10, None, 0),
        "2025-02-26": (10, None, 0),
        "2025-02-27": (10, 1, 0),
        "2025-02-28": (10, 1, 0),
        "2025-12-10": (30, 3, 0),
        "2025-12-12": (30, 3, 0),
        "2026-01-10": (40, 4, 0),
        "2026-01-13": (40, 4, 0),
        "2026-01-31": (50, 5, 0),
    },
    "u3/old-name": {
        "2025-02-25": (20, None, 0),
        "2025-02-26": (20, None, 0),
        "2025-02-27": (20, 2, 0),
        "2025-02-28": (20, 2, 0),
        "2025-12-10": (60, 15, 1),
    },
    "u3/new-name": {
        "2025-12-10": (60, 15, 1),
        "2025-12-12": (60, 15, 1),
        "2026-01-10": (70, 16, 1),
        "2026-01-13": (70, 18, 1),
        "2026-01-31": (70, 18, 1),
    },
    "other/big": {d: (99999, 900, 999) for d in ("2025-02-27", "2025-12-12", "2026-01-31")},
    "other/qwen-lookalike": {"2025-12-12": (5, 1, 0)},
}
DAYS = sorted({d for days in ROWS.values() for d in days})
# (id, author, base_relation, base_ids) as in models.parquet
MODELS = [
    ("Qwen/A", "Qwen", None, []),
    ("Qwen/B", "Qwen", None, []),
    ("u1/A-ft", "u1", "finetune", ["Qwen/A"]),
    ("u2/A-ft-gguf", "u2", "quantized", ["u1/A-ft"]),
    ("u3/new-name", "u3", "adapter", ["Qwen/B"]),
    ("other/big", "other", None, []),
    ("other/qwen-lookalike", "other", None, []),
]
META = {
    "days": DAYS,
    "partial": ["2025-11-24"],
    "skip_days": ["2025-11-24"],
    "low_days": ["2026-01-10"],
    "short_days": [],
    "frozen": {"2025-02-28": 0.93, "2025-12-12": 0.01},
}


def parquet(table: pa.Table) -> bytes:
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd", row_group_size=200_000)
    return out.getvalue()


def series_month(
    month: str, rows: dict[str, dict[str, tuple[int, int | None, int]]] = ROWS
) -> bytes:
    """series/<month>.parquet: one row per model and day, sorted by id, typed as upstream."""
    records = sorted(
        (repo, day, v)
        for repo, days in rows.items()
        for day, v in days.items()
        if day.startswith(month)
    )
    return parquet(
        pa.table(
            {
                "id": pa.array([r for r, _, _ in records], pa.string()),
                "day": pa.array([date.fromisoformat(d) for _, d, _ in records], pa.date32()),
                "dl30": pa.array([v[0] for _, _, v in records], pa.int32()),
                "dl_all": pa.array(
                    [None if v[1] is None else v[1] * M for _, _, v in records], pa.int64()
                ),
                "likes": pa.array([v[2] for _, _, v in records], pa.int32()),
            }
        )
    )


def models_file() -> bytes:
    return parquet(
        pa.table(
            {
                "id": [m[0] for m in MODELS],
                "author": [m[1] for m in MODELS],
                "pipeline_tag": ["text-generation"] * len(MODELS),
                "base_relation": pa.array([m[2] for m in MODELS], pa.string()),
                "base_ids": pa.array([m[3] for m in MODELS], pa.list_(pa.string())),
                "fam_members": [0] * len(MODELS),
            }
        )
    )


def children_file() -> bytes:
    rows = [(p, m[0], m[2], m[1]) for m in MODELS for p in m[3]]
    return parquet(
        pa.table(
            {
                "parent": [r[0] for r in rows],
                "id": [r[1] for r in rows],
                "base_relation": [r[2] for r in rows],
                "author": [r[3] for r in rows],
                "dl30": pa.array([0] * len(rows), pa.int64()),
                "dl_all": pa.array([0] * len(rows), pa.int64()),
                "dl_7d": pa.array([0] * len(rows), pa.int64()),
                "likes": pa.array([0] * len(rows), pa.int32()),
            }
        )
    )


def renames_file() -> bytes:
    return parquet(
        pa.table(
            {
                "old": ["u3/old-name"],
                "new": ["u3/new-name"],
                "gone": [date(2025, 12, 10)],
                "came": [date(2025, 12, 10)],
            }
        )
    )


def files(
    rows: dict[str, dict[str, tuple[int, int | None, int]]] = ROWS,
) -> dict[str, bytes | None]:
    """Every file of the dataset, as committed."""
    months = sorted({d[:7] for days in rows.values() for d in days})
    out: dict[str, bytes | None] = {f"series/{m}.parquet": series_month(m, rows) for m in months}
    out.update(
        {
            "models.parquet": models_file(),
            "children.parquet": children_file(),
            "renames.parquet": renames_file(),
            "meta.json": json.dumps(META).encode(),
            "README.md": b"# Model Pulse\n",
        }
    )
    return out


def publish(datasets: FakeDatasets) -> str:
    """Commit the dataset; its revision sha."""
    return datasets.commit(REPO, files(), "Daily update 2026-01-31")


def add_members_today(hub: FakeHub) -> None:
    """The family's five members on the Hub today, with the counters of an own snapshot
    (510 + 195 + 14 + 5 + 19 = 743M all-time)."""
    hub.add("Qwen/A", downloads_all_time=510 * M, downloads=7300, likes=60)
    hub.add("Qwen/B", downloads_all_time=195 * M, downloads=3500, likes=25)
    hub.add_derivative("u1/A-ft", "Qwen/A", downloads_all_time=14 * M, downloads=99, likes=2)
    hub.add_derivative(
        "u2/A-ft-gguf", "u1/A-ft", "quantized", downloads_all_time=5 * M, downloads=50
    )
    hub.add_derivative(
        "u3/new-name", "Qwen/B", "adapter", downloads_all_time=19 * M, downloads=70, likes=1
    )
