"""`python -m bench.site`: how long `collector site` takes on the example warehouse.

collector builds the whole site in one process, one read-only connection. The baseline is
the naive way to publish the same figures: one CLI process per figure a page needs
(`report`, `report --by relation|depth`, `top`, `compare`, `verify`, `why`, `runs`, for
each family), output captured. Both run --repeat times here; medians of wall time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 5.0


def collector(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "collector", *args], capture_output=True, text=True, check=True
    )
    return done.stdout


def site(db: Path, out: Path) -> None:
    collector("site", "--db", str(db), "--out", str(out))


def naive(db: Path, out: Path) -> None:
    """The site's figures, one CLI process each (what a shell script would do)."""
    out.mkdir(parents=True, exist_ok=True)
    index = json.loads((out.parent / "families.json").read_text())
    families = [f["family"] for f in index["families"]]
    for family in families:
        commands = [
            ["report", "--format", "json"],
            ["report", "--by", "relation", "--format", "json"],
            ["report", "--by", "depth", "--format", "json"],
            ["top", "--limit", "20", "--format", "json"],
            ["runs", "--limit", "30", "--format", "json"],
            ["members", "--format", "json"],
            *(["compare", family, o, "--format", "json"] for o in families if o != family),
            *(
                ["verify", f"{family} passed {o}", "--format", "json"]
                for o in families
                if o != family
            ),
            ["verify", "700M+ downloads", "--format", "json"],
        ]
        for i, args in enumerate(commands):
            scoped = [] if args[0] == "compare" else ["--family", family]
            (out / f"{family}-{i}.json").write_text(collector(*args, *scoped, "--db", str(db)))


def median_seconds(f, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, default=ROOT / "warehouse.duckdb.example")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "site"
        ours = median_seconds(lambda: site(args.db, out), args.repeat)
        (Path(tmp) / "families.json").write_text((out / "data/families.json").read_text())
        files = sum(1 for p in out.rglob("*") if p.is_file())
        theirs = median_seconds(lambda: naive(args.db, Path(tmp) / "naive"), args.repeat)
    print(f"collector site: {ours:.2f} s for {files} files (target < {TARGET_S:g} s)")
    print(f"one CLI process per figure: {theirs:.2f} s ({theirs / ours:.1f}x slower)")
    if ours >= TARGET_S:
        sys.exit(1)


if __name__ == "__main__":
    main()
