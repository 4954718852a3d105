"""Turning Hub API items into sound records: counters, dates, and base_model lineage tags.

Bad data is never a crash: a field that is missing or unsound is dropped (and counted),
an item without a usable id is rejected (and counted).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

RELATIONS = ("finetune", "quantized", "adapter", "merge")
# The Hub's repo ids, by huggingface_hub's own rules (`validate_repo_id`): "org/name" or a
# legacy canonical id without an org ("gpt2"); each part 1-96 of letters, digits, "_", "-"
# and ".", starting and ending with a letter, digit or "_" (so "_org/model" is valid), with
# no "--" or ".." and not ending in ".git".
_ID_PART = r"\w(?:[\w.-]{0,94}\w)?"
REPO_ID_RE = re.compile(rf"^(?!.*(?:--|\.\.))(?!.*\.git$)(?:{_ID_PART}/)?{_ID_PART}$", re.ASCII)
HUB_ID_RE = re.compile(r"^[0-9a-f]{24}$")
COUNTERS = ("downloads", "downloadsAllTime", "likes")
_STR = itertools.repeat(str)


@dataclass
class Problems:
    """Data problems met while parsing, counted by kind (recorded, never fatal).

    The same problem on the same repo seen twice in one snapshot (a repo listed under two
    parents, on two pages, or again after a resume) counts once.
    """

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    # (kind, example) pairs already counted; public: a resumed snapshot restores it
    seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, kind: str, example: str) -> None:
        if (kind, example) in self.seen:
            return
        self.seen.add((kind, example))
        self.counts[kind] += 1
        self.examples.setdefault(kind, example)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        return ", ".join(f"{n} {kind}" for kind, n in sorted(self.counts.items()))


@dataclass(frozen=True)
class Edge:
    """A base_model edge: the child names its direct parent, with a relation."""

    parent_id: str
    relation: str  # one of RELATIONS or "unspecified"


@dataclass
class RepoRecord:
    """One repo as seen in one listing item."""

    repo_id: str
    hub_id: str | None
    author: str | None
    created_at: datetime | None
    last_modified: datetime | None
    pipeline_tag: str | None
    library_name: str | None
    downloads_30d: int | None
    downloads_all_time: int | None
    likes: int | None
    parents: tuple[Edge, ...] = ()


def parse_item(item: Any, problems: Problems) -> RepoRecord | None:
    """A record from one API item, or None (counted in problems) when it has no usable id."""
    if not isinstance(item, dict):
        problems.add("item not an object", repr(item)[:80])
        return None
    repo_id = item.get("id", item.get("modelId"))
    if not isinstance(repo_id, str) or not REPO_ID_RE.match(repo_id):
        problems.add("bad repo id", repr(repo_id)[:80])
        return None
    hub_id = item.get("_id")
    if hub_id is not None and not (isinstance(hub_id, str) and HUB_ID_RE.match(hub_id)):
        problems.add("bad _id", f"{repo_id}: {hub_id!r}"[:80])
        hub_id = None
    author = item.get("author")
    if not isinstance(author, str) or not author:
        author = repo_id.split("/", 1)[0] if "/" in repo_id else None
    tags = item.get("tags")
    if tags is not None and not (isinstance(tags, list) and all(map(isinstance, tags, _STR))):
        problems.add("bad tags", repo_id)
        tags = None
    return RepoRecord(
        repo_id=repo_id,
        hub_id=hub_id,
        author=author,
        created_at=_date(item, "createdAt", repo_id, problems),
        last_modified=_date(item, "lastModified", repo_id, problems),
        pipeline_tag=_text(item.get("pipeline_tag")),
        library_name=_text(item.get("library_name")),
        downloads_30d=_counter(item, "downloads", repo_id, problems),
        downloads_all_time=_counter(item, "downloadsAllTime", repo_id, problems),
        likes=_counter(item, "likes", repo_id, problems),
        parents=parse_lineage(repo_id, tags or [], problems),
    )


def parse_lineage(repo_id: str, tags: list[str], problems: Problems) -> tuple[Edge, ...]:
    """Direct parents named by `base_model:<id>` and `base_model:<relation>:<id>` tags.

    A parent named by both forms takes the relation of the second; a bare tag alone gives
    "unspecified". Malformed ids and self-references are dropped and counted.
    """
    relation_of: dict[str, str] = {}
    if "base_model:" not in " ".join(tags):  # most repos have none: skip the loop
        return ()
    for tag in tags:
        if not tag.startswith("base_model:"):
            continue
        rest = tag[len("base_model:") :]
        head, sep, tail = rest.partition(":")
        if sep and head in RELATIONS:
            relation, parent = head, tail
        else:
            relation, parent = "unspecified", rest
        parent = parent.strip()
        if not REPO_ID_RE.match(parent):
            problems.add("malformed base_model tag", f"{repo_id}: {tag}"[:120])
            continue
        if parent == repo_id:
            problems.add("self-referencing base_model tag", repo_id)
            continue
        if relation != "unspecified" or parent not in relation_of:
            relation_of[parent] = relation
    return tuple(Edge(p, r) for p, r in sorted(relation_of.items()))


def _counter(item: dict[str, Any], key: str, repo_id: str, problems: Problems) -> int | None:
    value = item.get(key)
    if type(value) is int and 0 <= value < 2**62:  # the usual case, first
        return value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        problems.add(f"non-integer {key}", f"{repo_id}: {value!r}"[:80])
        return None
    if isinstance(value, float) and not value.is_integer():
        problems.add(f"non-integer {key}", f"{repo_id}: {value!r}"[:80])
        return None
    if value < 0 or value >= 2**62:
        problems.add(f"out-of-range {key}", f"{repo_id}: {value!r}"[:80])
        return None
    return int(value)


def _date(item: dict[str, Any], key: str, repo_id: str, problems: Problems) -> datetime | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value[10:11] == "T" and value.endswith("Z"):  # the usual form
        try:
            fast = datetime.fromisoformat(value[:-1])
        except ValueError:
            fast = None
        if fast is not None and fast.tzinfo is None:
            return fast
    if isinstance(value, str):
        try:
            parsed: datetime | None = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed is not None and parsed.tzinfo is not None:
                parsed = parsed.astimezone(UTC).replace(tzinfo=None)
        except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 off UTC
            parsed = None
        if parsed is not None:
            return parsed
    problems.add(f"bad {key}", f"{repo_id}: {value!r}"[:80])
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
