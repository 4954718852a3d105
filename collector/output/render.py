"""The one rendering path: every command hands a `Document` to `render` with a format.

JSON is the document's `data` as built by the library, before any formatting; the
tabular formats (table, csv, tsv, markdown) render its `columns`/`rows`. Tables fit the
terminal: short headers, then compact numbers (704.9M), then the lowest-priority columns
dropped with a footnote naming them; a number is never split across lines. CSV, TSV and
JSON always carry the full data under the stable column names.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from dataclasses import replace as dataclass_replace
from datetime import date, datetime
from enum import Enum
from typing import Any

from collector.errors import UsageError

# Short table headers of the figures every report shows; the title names the metric.
HEADERS = {
    "repo_id": "repo",
    "downloads_all_time": "all-time",
    "official_downloads_all_time": "official",
    "derivative_downloads_all_time": "derivatives",
    "downloads_30d": "30d",
    "official_downloads_30d": "official 30d",
    "new_downloads": "new",
    "official_repos": "official repos",
    "official_likes": "official likes",
    "parent_id": "parent",
    "snapshot_date": "snapshot",
}


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    tsv = "tsv"
    markdown = "markdown"


@dataclass
class Document:
    """What a command outputs: a table of rows, and the JSON object for scripts."""

    columns: list[str]
    rows: list[dict[str, Any]]
    data: Any = None
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    total: bool = False  # add a Total row (sums of numeric columns) to human formats
    total_columns: list[str] | None = None  # sum only these in the Total row (None: all numeric)
    percent_of: str | None = None  # add a percent column for this numeric column
    percent_base: float | None = None  # what 100% is (None: the column's sum over the rows)
    shares_of: str | None = None  # after each numeric column, its percent of this column in the row
    # columns a narrow table gives up, first to go first (None: from the right, never the first)
    drop: list[str] | None = None
    headers: dict[str, str] = field(default_factory=dict)  # table headers beyond HEADERS
    plain_columns: list[str] | None = None  # CSV/TSV columns (None: the table's)


@dataclass(frozen=True)
class Layout:
    """How a table is laid out: its width, and the columns a reader chose."""

    width: int | None = None  # None: the terminal's (COLUMNS when piped)
    wide: bool = False  # every column and full digits, however wide
    columns: tuple[str, ...] = ()  # only these columns (by name or header), in this order


def parse_columns(text: str | None) -> tuple[str, ...]:
    """`--columns a,b,c` as a tuple of names."""
    return tuple(c.strip() for c in (text or "").split(",") if c.strip())


def render(doc: Document, fmt: Format, layout: Layout | None = None) -> str:
    """The document as text in the given format (no trailing newline)."""
    layout = layout or Layout()
    if fmt is not Format.json and layout.columns:
        doc = _select(doc, layout.columns)
    if fmt is Format.json:
        data = doc.data if doc.data is not None else doc.rows
        return json.dumps(data, indent=2, default=_json_default)
    if fmt in (Format.csv, Format.tsv):
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="," if fmt is Format.csv else "\t", lineterminator="\n")
        plain = doc.plain_columns or doc.columns
        writer.writerow(plain)
        for row in doc.rows:
            writer.writerow(["" if row.get(c) is None else _plain(row.get(c)) for c in plain])
        return buf.getvalue().rstrip("\n")
    columns, rows = _human_rows(doc)
    if fmt is Format.markdown:
        cells = [[_human(r.get(c)) for c in columns] for r in rows]
        lines: list[str] = []
        if doc.title:
            lines += [f"**{doc.title}**", ""]
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("| " + " | ".join("---:" if _right(doc, c) else "---" for c in columns) + " |")
        for cell_row in cells:
            lines.append("| " + " | ".join(cell_row) + " |")
        lines += [f"\n{n}" for n in doc.notes]
        return "\n".join(lines)
    return _table(doc, columns, rows, layout)


def _select(doc: Document, chosen: tuple[str, ...]) -> Document:
    """The document with only the chosen columns (named in full or by their header)."""
    names = doc.plain_columns or doc.columns
    by_name = {name: name for name in names}
    by_name.update({_header(doc, name): name for name in names})
    unknown = [c for c in chosen if c not in by_name]
    if unknown:
        raise UsageError(
            f"--columns: no column {unknown[0]!r} here; choose from {', '.join(names)}"
        )
    picked = list(dict.fromkeys(by_name[c] for c in chosen))
    return dataclass_replace(doc, columns=picked, drop=[], plain_columns=None)


def _table(doc: Document, columns: list[str], rows: list[dict[str, Any]], layout: Layout) -> str:
    from rich.console import Console  # rich costs start-up time; only tables need it

    probe = Console(width=layout.width, file=io.StringIO())
    width = layout.width or probe.width
    shown = list(columns)
    compact_numbers = False
    if not layout.wide:
        droppable = _droppable(doc, columns)
        while _width(doc, shown, rows, compact_numbers) > width:
            if not compact_numbers:
                compact_numbers = True
            elif droppable:
                gone = droppable.pop(0)
                shown = [c for c in shown if c != gone and _owner(doc, c) != gone]
            else:
                break  # only key columns left: text columns fold, numbers stay whole
    hidden = [c for c in columns if c not in shown and not c.endswith("%")]
    table = _rich_table(doc, shown, rows, compact_numbers)
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    if doc.title:  # above the table, not its caption, so that it wraps at the terminal
        console.print(doc.title, highlight=False)
    console.print(table)
    for note in doc.notes:
        console.print(note, highlight=False)
    if hidden:
        names = ", ".join(_header(doc, c) for c in hidden)
        console.print(
            f"Not shown at {width} columns: {names} (--wide shows every column, "
            "--columns picks them)",
            highlight=False,
        )
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()).rstrip()


def _owner(doc: Document, column: str) -> str:
    """The column a percent column belongs to ("likes %" to "likes", "%" to percent_of)."""
    if column == "%":
        return doc.percent_of or column
    return column.removesuffix(" %")


def _droppable(doc: Document, columns: list[str]) -> list[str]:
    if doc.drop is not None:
        return [c for c in doc.drop if c in columns]
    return [c for c in reversed(columns[1:]) if not c.endswith("%")]


def _header(doc: Document, column: str) -> str:
    if column in doc.headers:
        return doc.headers[column]
    if column.endswith(" %"):
        return _header(doc, _owner(doc, column)) + " %"
    return HEADERS.get(column, column)


def _cells(
    doc: Document, columns: list[str], rows: list[dict[str, Any]], compact_numbers: bool
) -> list[list[str]]:
    def cell(value: Any) -> str:
        if compact_numbers and isinstance(value, int) and not isinstance(value, bool):
            return compact(value) if abs(value) >= 10_000 else f"{value:,}"
        return _human(value)

    return [[cell(r.get(c)) for c in columns] for r in rows]


def _rich_table(
    doc: Document, columns: list[str], rows: list[dict[str, Any]], compact_numbers: bool
) -> Any:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD)
    for c in columns:
        right = _right(doc, c)
        # numbers never wrap; text (repo ids, sentences) folds when nothing else can give
        table.add_column(
            _header(doc, c),
            justify="right" if right else "left",
            no_wrap=right,
            overflow="ellipsis" if right else "fold",
        )
    cells = _cells(doc, columns, rows, compact_numbers)
    for i, cell_row in enumerate(cells):
        table.add_row(*cell_row, end_section=doc.total and i == len(cells) - 2)
    return table


def _width(
    doc: Document, columns: list[str], rows: list[dict[str, Any]], compact_numbers: bool
) -> int:
    """Characters the table takes unwrapped: cells, one space of padding each side and
    one between columns, plus the two edges (rich's SIMPLE_HEAD box)."""
    cells = _cells(doc, columns, rows, compact_numbers)
    widths = [
        max([len(_header(doc, c))] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)
    ]
    return sum(w + 2 for w in widths) + max(len(columns) - 1, 0) + 2


def _human_rows(doc: Document) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns and rows people read: with the Total row and percent columns."""
    columns = list(doc.columns)
    rows = [dict(r) for r in doc.rows]
    pct = doc.percent_of
    if doc.total and rows:
        total: dict[str, Any] = {c: None for c in columns}
        total[columns[0]] = "Total"
        summed = doc.total_columns if doc.total_columns is not None else columns[1:]
        for c in summed:
            values = [r.get(c) for r in rows]
            if _numeric(doc, c) and any(v is not None for v in values):
                total[c] = sum(v for v in values if v is not None)
        rows.append(total)
    if pct:
        grand = doc.percent_base
        if grand is None:
            grand = sum(r.get(pct) or 0 for r in doc.rows)
        at = columns.index(pct) + 1
        columns.insert(at, "%")
        for r in rows:
            r["%"] = _percent(r.get(pct), grand)
    if doc.shares_of:
        base = doc.shares_of
        shared = [c for c in columns if c != base and _numeric(doc, c)]
        out: list[str] = []
        for c in columns:
            out.append(c)
            if c in shared:
                out.append(f"{c} %")
                for r in rows:
                    r[f"{c} %"] = _percent(r.get(c), r.get(base))
        columns = out
    return columns, rows


def _percent(value: Any, base: Any) -> str:
    if value is None or not base:
        return ""
    return f"{100 * value / base:.2f}%"


def compact(value: float | None) -> str:
    """A number as people say it: 1.2B, 700M, 12.5K, 950 (for charts and badges)."""
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    v = abs(value)
    units = [(1, ""), (10**3, "K"), (10**6, "M"), (10**9, "B"), (10**12, "T")]
    i = max(k for k, (size, _) in enumerate(units) if v >= size or k == 0)
    text = f"{v / units[i][0]:.1f}".removesuffix(".0")
    if float(text) >= 1000 and i + 1 < len(units):  # 999.96M reads 1B, not 1000M
        i += 1
        text = f"{v / units[i][0]:.1f}".removesuffix(".0")
    return f"{sign}{text}{units[i][1]}"


def _right(doc: Document, column: str) -> bool:
    return column.endswith("%") or _numeric(doc, column)


def _numeric(doc: Document, column: str) -> bool:
    return any(
        isinstance(r.get(column), int | float) and not isinstance(r.get(column), bool)
        for r in doc.rows
    )


def _human(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return _plain(value)


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return _plain(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
