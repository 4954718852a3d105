"""`make reliability`: the fault matrix with heavy settings, a large family against a small
quota, kill -9 at 20 random moments, and the storage fault matrix (full disks, size limits,
read-only mounts, damaged files and logs, a newer DuckDB, a second writer, a long reader).
Prints tables; exits 1 if anything was lost or doubled.

    python -m bench.reliability            # everything (a few minutes)
    python -m bench.reliability --quick    # smaller settings
    python -m bench.reliability --storage  # the storage table alone
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

# Before huggingface_hub is imported: no saved token or telemetry reaches the fake Hub.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="reliability-hf-home-")
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.pop("HF_TOKEN", None)

from huggingface_hub.utils import logging as hf_logging  # noqa: E402

from collector.output.render import Document, Format, render  # noqa: E402
from collector.snapshot.run import take_snapshot  # noqa: E402
from tests import faultmatrix as fm  # noqa: E402
from tests import storagefaults as sf  # noqa: E402


def fault_matrix(quick: bool, workdir: Path) -> bool:
    settings = (
        fm.Settings(size=40, runs=1, page_size=5, days=2, bursts=2)
        if quick
        else fm.Settings(size=150, runs=3, page_size=10, days=2, bursts=3)
    )
    clock = time.monotonic()
    rows = fm.run_matrix(settings, workdir)
    title = (
        f"Fault matrix: {settings.runs} run(s) per fault, each a family of "
        f"{settings.size} repos snapshotted on {settings.days} days "
        f"({time.monotonic() - clock:.0f} s)"
    )
    print(render(Document(fm.COLUMNS, fm.table_rows(rows), title=title), Format.table))
    for r in rows:
        for note in r.notes:
            print(f"  {r.fault}: {note}")
    return all(r.lost == r.duplicates == r.extra == 0 for r in rows)


def large_family(sizes: list[int], quotas: list[tuple[int, int, str]], workdir: Path) -> bool:
    """Snapshot a family of N repos against each quota, on a virtual clock."""
    out = []
    ok = True
    for size in sizes:
        for quota, window, who in quotas:
            settings = fm.Settings(size=size, page_size=1000)
            world = fm.build_world(settings, random.Random(size), quota=quota, window=window)
            try:
                db = workdir / f"large-{size}-{quota}.duckdb"
                clock = time.monotonic()
                result = take_snapshot(
                    [fm.FAMILY], db=db, client=fm.client_for(world), now=fm.DAY0
                )[0]
                real = time.monotonic() - clock
                row = fm.Row("large")
                fm.check_run(db, result.run_id or 0, world.expected(), {}, row)
                limited = sum(1 for r in world.hub.requests if r.status == 429)
            finally:
                world.hub.stop()
            ok = ok and row.lost == row.duplicates == 0 and result.status == "complete"
            hub_time = world.clock.slept + real  # as long as it would take against the Hub
            out.append(
                {
                    "repos": size,
                    "quota": f"{quota}/{window}s",
                    "who": who,
                    "status": result.status,
                    "members": result.members,
                    "requests": result.requests,
                    "429s": limited,
                    "waited": str(timedelta(seconds=round(world.clock.slept))),
                    "hub_time": str(timedelta(seconds=round(hub_time))),
                    "real_time": f"{real:.0f} s",
                    "lost": row.lost,
                    "duplicates": row.duplicates,
                }
            )
    columns = list(out[0])
    print(
        render(
            Document(
                columns,
                out,
                title="Large family against a quota (virtual clock: waits are counted, not slept)",
            ),
            Format.table,
        )
    )
    return ok


def kills(quick: bool, workdir: Path) -> bool:
    clock = time.monotonic()
    result = fm.kill_and_resume(
        workdir,
        days=2 if quick else 10,
        seed=3,
        size=40 if quick else 150,
        min_kills=4 if quick else 20,
    )
    rows = [
        {
            "days": result.days,
            "kills": result.kills,
            "killed mid-run": result.killed_running,
            "reruns resuming a stage": result.resumed_stages,
            "consistent after kill": result.consistent_after_kill,
            "report equal to undisturbed": result.reports_equal,
        }
    ]
    title = (
        f"kill -9 at random moments, each followed by a rerun ({time.monotonic() - clock:.0f} s)"
    )
    print(render(Document(list(rows[0]), rows, title=title), Format.table))
    for note in result.notes:
        print(f"  {note}")
    return result.reports_equal and result.consistent_after_kill == result.kills


def storage(quick: bool, workdir: Path) -> bool:
    settings = (
        sf.Settings(size=20, days=3, hold=3, lock_wait=1)
        if quick
        else sf.Settings(size=150, days=10, hold=90, lock_wait=30)
    )
    clock = time.monotonic()
    rows, _ = sf.run_matrix(settings, workdir)
    title = (
        f"Storage faults: a warehouse with {settings.days} days of a {settings.size}-repo family; "
        f"second writer and reader hold it {settings.hold:g} s against a lock wait of "
        f"{settings.lock_wait:g} s ({time.monotonic() - clock:.0f} s)"
    )
    print(render(Document(sf.COLUMNS, sf.table_rows(rows), title=title), Format.table))
    for r in rows:
        for note in r.notes:
            print(f"  {r.fault}: {note}")
        if not r.ok:
            print(f"  {r.fault}: NOT OK: {r.saw}")
    return all(r.ok for r in rows)


def main() -> int:
    hf_logging.set_verbosity_error()
    quick = "--quick" in sys.argv
    if "--storage" in sys.argv:  # the storage table alone
        with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
            ok = storage(quick, Path(tmp))
        print("\nOK: nothing lost, nothing doubled" if ok else "\nFAILED: see the table above")
        return 0 if ok else 1
    with tempfile.TemporaryDirectory(prefix="reliability-") as tmp:
        work = Path(tmp)
        ok = fault_matrix(quick, work)
        print()
        quotas = [(50, 10, "fake small quota")]
        if not quick:
            quotas += [
                (500, 300, "anonymous"),
                (1000, 300, "free account (token)"),
                (2500, 300, "PRO (token)"),
            ]
        ok = large_family([1000] if quick else [5000], quotas, work) and ok
        print()
        (work / "kills").mkdir()
        ok = kills(quick, work / "kills") and ok
        print()
        (work / "storage").mkdir()
        ok = storage(quick, work / "storage") and ok
    print("\nOK: nothing lost, nothing doubled" if ok else "\nFAILED: see the tables above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
