"""Everyday use: how fast the CLI starts, and `top --by new_downloads` over a long history.

Start-up is measured as whole processes against `python -c pass` in the same run (the
interpreter's own start), each the median of several runs; `top --by new_downloads`
against the same ranking computed in pandas from the warehouse tables (bench/naive.py).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import duckdb

from bench import naive
from bench.measure import run_measured

EXAMPLE = str(Path(__file__).resolve().parent.parent / "warehouse.duckdb.example")
TARGET_FLAG_S = 0.15  # --version / --help: seconds over `python -c pass`
TARGET_READ_S = 0.4  # report / verify on the example warehouse, end to end
TARGET_TOP_S = 0.5  # top --by new_downloads over the whole history (library)
RUNS = 7


def _medians(argv: list[str]) -> tuple[float, float]:
    """Median wall and median CPU seconds of RUNS processes: CPU time is what other jobs on
    a shared machine disturb least."""
    runs = [run_measured(argv) for _ in range(RUNS)]
    return statistics.median(r.wall for r in runs), statistics.median(r.cpu for r in runs)


def section_startup(out: list[str], verdicts: list[str]) -> None:
    """Start-up of the CLI (the installed `collector` script), as ratios to the bare
    interpreter."""
    script = Path(sys.executable).parent / "collector"
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "collector"]
    base, base_cpu = _medians([sys.executable, "-c", "pass"])
    cases = {
        "collector --version": [*cli, "--version"],
        "collector --help": [*cli, "--help"],
        "collector report (example warehouse)": [*cli, "report", "--db", EXAMPLE],
        'collector verify "700M+ downloads" (example)': [
            *cli,
            "verify",
            "700M+ downloads",
            "--db",
            EXAMPLE,
        ],
        "import collector.cli": [sys.executable, "-c", "import collector.cli"],
    }
    measured = {name: _medians(argv) for name, argv in cases.items()}
    walls = {name: wall for name, (wall, _) in measured.items()}
    out += [
        "## Start-up",
        "",
        f"Each the median of {RUNS} processes; `python -c pass` took {base:.3f} s in this run "
        f"({base_cpu:.3f} s CPU).",
        "",
        "| process | seconds | x `python -c pass` | over it | CPU s |",
        "|---|---:|---:|---:|---:|",
        f"| `python -c pass` | {base:.3f} | 1.0 | | {base_cpu:.3f} |",
        *(
            f"| `{name}` | {wall:.3f} | {wall / base:.1f} | +{wall - base:.3f} | {cpu:.3f} |"
            for name, (wall, cpu) in measured.items()
        ),
        "",
    ]
    for name in ("collector --version", "collector --help"):
        over = walls[name] - base
        verdicts.append(
            _verdict(
                f"`{name}` within {TARGET_FLAG_S} s of `python -c pass`",
                f"+{over:.3f} s ({walls[name]:.3f} s, {walls[name] / base:.1f}x)",
                over <= TARGET_FLAG_S,
            )
        )
    for name in list(walls)[2:4]:
        verdicts.append(
            _verdict(
                f"`{name}` end to end < {TARGET_READ_S} s",
                f"{walls[name]:.3f} s ({walls[name] / base:.1f}x `python -c pass`)",
                walls[name] < TARGET_READ_S,
            )
        )


def section_top(
    db: str, tables: dict, days: int, repos: int, out: list[str], verdicts: list[str]
) -> None:  # type: ignore[type-arg]
    """`top --by new_downloads` over the whole history and its last 30 days, vs pandas."""
    from collector.reports import series as reports
    from collector.store import warehouse

    with duckdb.connect(db, read_only=True) as con:
        dates = [r[0] for r in con.execute("SELECT date FROM day_runs ORDER BY date").fetchall()]
    ranges = {
        "whole history": (0, len(dates) - 1),
        "last 30 days": (len(dates) - 30, len(dates) - 1),
    }
    lines, met = [], True
    for label, (first, last) in ranges.items():
        with warehouse.reader(db) as con:
            times, result = [], None
            for _ in range(5):
                t = time.perf_counter()
                result = reports.top(con, "qwen", "new_downloads", dates[first], dates[last], 10)
                times.append(time.perf_counter() - t)
        ours_s = statistics.median(times)
        t = time.perf_counter()
        theirs = naive.top_new(tables, first, last, 10)
        pandas_s = time.perf_counter() - t
        assert result is not None
        same = [r["new_downloads"] for r in result["rows"]] == [int(v) for v in theirs.to_numpy()]
        lines.append(
            f"| {label} ({last - first + 1} day-runs) | {ours_s:.3f} | {pandas_s:.1f} | "
            f"{pandas_s / ours_s:,.0f}x | {same} |"
        )
        met = met and ours_s < TARGET_TOP_S and same
        if label == "whole history":
            whole = (ours_s, pandas_s, same)
    cli = statistics.median(
        run_measured(
            [sys.executable, "-m", "collector", "top", "--by", "new_downloads", "--db", db,
             "--since", str(dates[0])]
        ).wall
        for _ in range(3)
    )  # fmt: skip
    out += [
        f"## `top --by new_downloads`: {days} days x {repos:,} repos",
        "",
        "The library call `reports.top` (reads `rollup_repo_total` for the whole history, m013, and `rollup_repo_new`, m009, for other ranges) against the "
        "same ranking in pandas from the tables (bench/naive.py: per-repo changes, their new "
        "downloads, summed over the range); equal: the top 10's new downloads are the same.",
        "",
        "| range | collector s | pandas s | speed-up | equal |",
        "|---|---:|---:|---:|---|",
        *lines,
        "",
        f"`collector top --by new_downloads` over the whole history, whole process: {cli:.2f} s.",
        "",
    ]
    verdicts.append(
        _verdict(
            f"`top --by new_downloads` over {days} days x {repos:,} repos < {TARGET_TOP_S} s",
            f"{whole[0]:.3f} s (library), {whole[1] / whole[0]:,.0f}x faster than pandas "
            f"({whole[1]:.1f} s), equal: {whole[2]}; CLI process {cli:.2f} s",
            met,
        )
    )


def _verdict(target: str, measured: str, met: bool) -> str:
    return f"| {target} | {measured} | {'met' if met else '**missed**'} |"
