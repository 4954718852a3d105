"""The one rendering path: every command hands a `Document` to `render` with a format.

JSON is the document's `data` as built by the library, before any formatting; the
tabular formats (table, csv, tsv, markdown) render its `columns`/`rows`.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table


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


def render(doc: Document, fmt: Format, width: int | None = None) -> str:
    """The document as text in the given format (no trailing newline)."""
    if fmt is Format.json:
        data = doc.data if doc.data is not None else doc.rows
        return json.dumps(data, indent=2, default=_json_default)
    if fmt in (Format.csv, Format.tsv):
        buf = io.StringIO()
        writer = csv.writer(buf, delimiter="," if fmt is Format.csv else "\t", lineterminator="\n")
        writer.writerow(doc.columns)
        for row in doc.rows:
            writer.writerow(["" if row.get(c) is None else _plain(row.get(c)) for c in doc.columns])
        return buf.getvalue().rstrip("\n")
    columns, cells = _human_rows(doc)
    if fmt is Format.markdown:
        lines: list[str] = []
        if doc.title:
            lines += [f"**{doc.title}**", ""]
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("| " + " | ".join("---:" if _right(doc, c) else "---" for c in columns) + " |")
        for cell_row in cells:
            lines.append("| " + " | ".join(cell_row) + " |")
        lines += [f"\n{n}" for n in doc.notes]
        return "\n".join(lines)
    table = Table(box=box.SIMPLE_HEAD)
    for c in columns:
        table.add_column(c, justify="right" if _right(doc, c) else "left", overflow="fold")
    for i, cell_row in enumerate(cells):
        table.add_row(*cell_row, end_section=doc.total and i == len(cells) - 2)
    console = Console(width=width or 200, record=True, file=io.StringIO(), color_system=None)
    if doc.title:  # above the table, not its caption, so that it never wraps at table width
        console.print(doc.title, highlight=False, soft_wrap=True)
    console.print(table)
    for note in doc.notes:
        console.print(note, highlight=False, soft_wrap=True)
    return "\n".join(line.rstrip() for line in console.export_text().splitlines()).rstrip()


def _human_rows(doc: Document) -> tuple[list[str], list[list[str]]]:
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
    return columns, [[_human(r.get(c)) for c in columns] for r in rows]


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
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return _plain(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
