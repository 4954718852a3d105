"""A small warehouse for report tests, built once per session through the real CLI.

The fake Hub serves three packaged families; `collector snapshot` runs at fixed clock
times. The values are round millions so that every number the report commands print
can be computed by hand (the tables below are the hand computation).

qwen day-runs (M = million downloads_all_time):

    date        Qwen3-8B  Qwen2.5-7B  Qwen3-8B-GGUF  Qwen2.5-7B-sft  sft-GGUF   total  new
    2026-01-05     400        200          50              10           -        660    -
    2026-01-06     425        210          55              10           -        700   40
    2026-01-08     435        212          54 (decrease)   11           -        712   13
    2026-01-12     460        220          58              12           5 (new)  755   43
    2026-02-02     560        250          65              15          10        900  145

  (2026-01-08 has two runs, 08:00 and 20:00; the day's last one counts.)
  new_downloads: 01-08 is 10 + 2 + 0 (the decrease is clamped) + 1 = 13 although the
  total grew by 12; 01-12 counts the new sft-GGUF in full (created after the 01-08 run).

llama: 2026-01-05 695, 01-07 705, 01-08 713, 01-12 725, 02-03 800 (Llama-3.1-8B + a
fine-tune: 690+5, 699+6, 706+7, 717+8, 790+10).
gemma: 2026-01-12 320, 02-02 375 (google/gemma-2-2b + a GGUF; google/t5-small is google's
but does not match gemma's name_pattern, so its 1B downloads never count).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

from typer.testing import CliRunner

from collector.cli import app
from tests.fakehub import FakeHub

M = 1_000_000

QWEN_A, QWEN_B = "Qwen/Qwen3-8B", "Qwen/Qwen2.5-7B"
QWEN_U, QWEN_S, QWEN_C = (
    "unsloth/Qwen3-8B-GGUF",
    "bob/Qwen2.5-7B-sft",
    "carol/Qwen2.5-7B-sft-GGUF",
)
LLAMA_L, LLAMA_X = "meta-llama/Llama-3.1-8B", "x/Llama-3.1-8B-ft"
GEMMA_G, GEMMA_Z, T5 = "google/gemma-2-2b", "z/gemma-2-2b-GGUF", "google/t5-small"

# (clock, families to snapshot, {repo: downloads_all_time in M}) in time order
TIMELINE: list[tuple[str, list[str], dict[str, int]]] = [
    (
        "2026-01-05T12:00:00",
        ["qwen", "llama"],
        {QWEN_A: 400, QWEN_B: 200, QWEN_U: 50, QWEN_S: 10, LLAMA_L: 690, LLAMA_X: 5},
    ),
    ("2026-01-06T12:00:00", ["qwen"], {QWEN_A: 425, QWEN_B: 210, QWEN_U: 55}),
    ("2026-01-07T12:00:00", ["llama"], {LLAMA_L: 699, LLAMA_X: 6}),
    ("2026-01-08T08:00:00", ["qwen"], {QWEN_A: 430, QWEN_B: 211}),
    ("2026-01-08T12:00:00", ["llama"], {LLAMA_L: 706, LLAMA_X: 7}),
    ("2026-01-08T20:00:00", ["qwen"], {QWEN_A: 435, QWEN_B: 212, QWEN_U: 54, QWEN_S: 11}),
    (
        "2026-01-12T12:00:00",
        ["qwen", "llama", "gemma"],
        {
            QWEN_A: 460,
            QWEN_B: 220,
            QWEN_U: 58,
            QWEN_S: 12,
            QWEN_C: 5,
            LLAMA_L: 717,
            LLAMA_X: 8,
            GEMMA_G: 300,
            GEMMA_Z: 20,
        },
    ),
    (
        "2026-02-02T12:00:00",
        ["qwen", "gemma"],
        {QWEN_A: 560, QWEN_B: 250, QWEN_U: 65, QWEN_S: 15, QWEN_C: 10, GEMMA_G: 350, GEMMA_Z: 25},
    ),
    ("2026-02-03T12:00:00", ["llama"], {LLAMA_L: 790, LLAMA_X: 10}),
]


def _populate(hub: FakeHub) -> None:
    """The repos, with downloads_30d and likes that never change."""
    hub.add(QWEN_A, downloads=40 * M, likes=1000)
    hub.add(QWEN_B, downloads=15 * M, likes=500)
    hub.add_derivative(QWEN_U, parent=QWEN_A, relation="quantized", downloads=6 * M, likes=80)
    hub.add_derivative(QWEN_S, parent=QWEN_B, relation="finetune", downloads=1 * M, likes=5)
    hub.add(LLAMA_L, downloads=50 * M, likes=2000)
    hub.add_derivative(LLAMA_X, parent=LLAMA_L, relation="finetune", downloads=3 * M, likes=20)
    hub.add(T5, downloads_all_time=1000 * M, downloads=5 * M, likes=100)


def _before(hub: FakeHub, clock: str) -> None:
    """Repos that appear during the timeline."""
    if clock == "2026-01-12T12:00:00":
        hub.add_derivative(
            QWEN_C,
            parent=QWEN_S,
            relation="quantized",
            downloads=2 * M,
            likes=1,
            created_at="2026-01-10T00:00:00.000Z",
        )
        hub.add(GEMMA_G, downloads=20 * M, likes=300)
        hub.add_derivative(GEMMA_Z, parent=GEMMA_G, relation="quantized", downloads=1 * M, likes=10)


@functools.cache
def built() -> Path:
    """Build the warehouse once per test session; return its path (do not write to it)."""
    folder = tempfile.mkdtemp(prefix="collector-reports-")
    atexit.register(shutil.rmtree, folder, True)
    path = Path(folder) / "sample.duckdb"
    runner = CliRunner()
    with FakeHub() as hub:
        _populate(hub)
        for clock, families, values in TIMELINE:
            _before(hub, clock)
            for repo, millions in values.items():
                hub.set(repo, downloads_all_time=millions * M)
            args = ["snapshot", "--quiet"] + [a for f in families for a in ("--family", f)]
            env = {
                "COLLECTOR_DB": str(path),
                "HF_ENDPOINT": hub.url,
                "COLLECTOR_NOW": clock,
                "COLLECTOR_FAMILIES": None,
            }
            result = runner.invoke(app, args, env=env)  # type: ignore[arg-type]
            assert result.exit_code == 0, result.output + repr(result.exception)
    return path


def install(db: Path) -> Path:
    """Copy the sample warehouse to `db` (the test's COLLECTOR_DB)."""
    shutil.copyfile(built(), db)
    os.chmod(db, 0o644)
    return db
