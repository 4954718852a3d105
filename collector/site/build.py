"""Building the site: gather, write every file into a fresh folder, then swap it in at once.

A reader of the folder sees the old site or the new one, never half of either: the new
site is written into a sibling temporary folder and exchanged with the old one by one
`renameat2(RENAME_EXCHANGE)` on Linux (elsewhere two renames, so that the folder is
briefly absent, never partial). Only a folder that collector built (it holds MARKER) or an
empty one is ever replaced, so `--out` pointed at the wrong folder deletes nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.errors import UsageError
from collector.output.render import Document, Format, render
from collector.reports import series as reports
from collector.scheduling import status as history
from collector.site import pages
from collector.site.data import FamilyData, SiteData, gather
from collector.store import warehouse

MARKER = ".collector-site"
INDEX_COLUMNS = [
    "family",
    "date",
    "repos",
    "downloads_all_time",
    "official_downloads_all_time",
    "derivative_downloads_all_time",
    "downloads_30d",
    "likes",
    "new_downloads_30_days",
]
CLAIM_COLUMNS = [
    "claim",
    "family",
    "metric",
    "scope",
    "threshold",
    "versus",
    "snapshot_date",
    "measured",
    "versus_value",
    "verdict",
    "first_reached",
    "projection_text",
    "note",
]


@dataclass
class Built:
    """What a build wrote."""

    out: Path
    families: list[str]
    pages: int
    files: int
    seconds: float
    simulated: bool


def build_site(
    db: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    claims: dict[str, list[str]] | None = None,
) -> Built:
    """Write the static site of the warehouse into `out`, replacing the previous one at once."""
    start = time.monotonic()
    target = check_target(Path(out))
    with warehouse.reader(db) as con:
        site = gather(con, claims)
    files = render_site(site)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    try:
        for name, text in files.items():
            path = tmp / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        (tmp / MARKER).write_text("built by collector site; replaced whole by each build\n")
        for folder in [tmp, *(p for p in tmp.rglob("*") if p.is_dir())]:
            folder.chmod(0o755)  # mkdtemp's 0700 would hide the site from a web server
        _swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Built(
        target,
        [f.family for f in site.families],
        sum(name.endswith(".html") for name in files),
        len(files),
        time.monotonic() - start,
        site.simulated,
    )


def check_target(out: Path) -> Path:
    """`out` if a site may be written there, else a UsageError saying why."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")
    if out.is_dir() and not (out / MARKER).exists() and any(out.iterdir()):
        raise UsageError(
            f"--out {out}: folder is not empty and was not built by `collector site`; "
            "choose a new or empty folder"
        )
    if not os.access(out.parent, os.W_OK):
        raise UsageError(f"--out {out}: cannot write in {out.parent}")
    return out


def render_site(site: SiteData) -> dict[str, str]:
    """Every file of the site: relative path -> text."""
    names = {f.family: f.slug for f in site.families}
    files: dict[str, str] = {}
    index_rows = [
        {
            "family": f.family,
            **{c: (f.latest or {}).get(c) for c in INDEX_COLUMNS[1:-1]},
            "new_downloads_30_days": f.growth["family_total"],
        }
        for f in site.families
    ]
    files["data/families.csv"] = _csv(INDEX_COLUMNS, index_rows)
    files["data/families.json"] = _json({"families": index_rows, "notices": site.notices})
    links = {"families.csv": "data/families.csv", "families.json": "data/families.json"}
    files["index.html"] = pages.index(site, links)
    for f in site.families:
        files.update({f"{f.slug}/{k}": v for k, v in _family_files(site, f, names).items()})
    return files


def _family_files(site: SiteData, f: FamilyData, names: dict[str, str]) -> dict[str, str]:
    """A family's page and the data behind each of its charts and tables, as the CLI writes
    them: `report`, `report --by`, `top`, `compare`, `verify`, `why`, `runs` in CSV/JSON."""
    out = {
        "index.html": pages.family_page(site, f, names),
        "data/daily.csv": _csv(reports.SERIES_COLUMNS, f.report["series"]),
        "data/daily.json": _json(f.report),
        "data/top.csv": _csv(reports.TOP_COLUMNS, f.top["rows"]),
        "data/top.json": _json(f.top),
        "data/claims.csv": _csv(CLAIM_COLUMNS, f.claims),
        "data/claims.json": _json({"family": f.family, "claims": f.claims}),
        "data/lineage.json": _json({"family": f.family, "lineage": f.lineage}),
        "data/runs.csv": _csv(history.RUN_COLUMNS, f.runs),
        "data/runs.json": _json({"runs": f.runs}),
    }
    for split in (f.by_relation, f.by_depth):
        dim = split["by"]
        lead = ["date", *split["groups"], "total"]
        out[f"data/by-{dim}.csv"] = _csv(lead, split["totalled"])
        out[f"data/by-{dim}.json"] = _json({k: split[k] for k in ("family", "by", "series")})
    for c in f.comparisons:
        other = names[c["families"][1]]
        data = {k: v for k, v in c.items() if k != "sentences"}
        out[f"data/compare-{other}.csv"] = _csv(["date", *c["families"]], c["series"])
        out[f"data/compare-{other}.json"] = _json(data)
    return out


def _csv(columns: list[str], rows: list[dict[str, Any]]) -> str:
    return render(Document(columns, rows), Format.csv) + "\n"


def _json(data: Any) -> str:
    return render(Document([], [], data), Format.json) + "\n"


_RENAME_EXCHANGE = 2


def _swap(new: Path, target: Path) -> None:
    """Put `new` at `target`; the old site (if any) is removed afterwards."""
    if not target.exists():
        os.rename(new, target)
        return
    if _exchange(new, target):
        shutil.rmtree(new)  # `new` now holds the old site
        return
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    os.rename(target, old)
    os.rename(new, target)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux renameat2); False where that is not available."""
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return False
    libc = ctypes.CDLL(libc_name, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    at_fdcwd = -100
    rc = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return bool(rc == 0)
