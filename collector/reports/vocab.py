"""The reports' vocabularies: one enum per choice a report offers, shared by library and CLI.

Kept free of heavy imports so that the CLI can build its options from them at start-up.
"""

from __future__ import annotations

from enum import StrEnum

# A family's derivative repos, as an expression over family_daily (repos of any role
# minus the official ones); every report that counts derivatives uses this one.
DERIVATIVES_SQL = "repos - official_repos"


# The colour of a badge's value box unless chosen (shields' blue).
BADGE_COLOR = "#007ec6"


class TopBy(StrEnum):
    """What `top` ranks a family's repos by."""

    downloads_all_time = "downloads_all_time"
    new_downloads = "new_downloads"
    downloads_30d = "downloads_30d"
    likes = "likes"


class Breakdown(StrEnum):
    """How `report --by` splits a family's cumulative downloads."""

    relation = "relation"
    depth = "depth"


class Period(StrEnum):
    """The periods of `report --every`."""

    day = "day"
    week = "week"
    month = "month"


class Source(StrEnum):
    """Where a snapshot reads counters: the Hugging Face Hub, or the family's ModelScope org(s)."""

    hub = "hub"
    modelscope = "modelscope"


class BackfillSource(StrEnum):
    """Public datasets `collector backfill` imports history from."""

    modelpulse = "modelpulse"
    hubstats = "hubstats"


class Scope(StrEnum):
    """Which repos a claim counts: the official ones, the whole family, or the family on
    the Hub plus its ModelScope org(s)."""

    family = "family"
    official = "official"
    global_ = "global"


class CompareMetric(StrEnum):
    """The family_daily figures `compare` can set side by side."""

    downloads_all_time = "downloads_all_time"
    official_downloads_all_time = "official_downloads_all_time"
    derivative_downloads_all_time = "derivative_downloads_all_time"
    downloads_30d = "downloads_30d"
    official_downloads_30d = "official_downloads_30d"
    likes = "likes"
    official_likes = "official_likes"
    repos = "repos"
    official_repos = "official_repos"
    derivatives = "derivatives"


class Align(StrEnum):
    """How `compare` lines up families snapshotted on different days."""

    common = "common"
    carry_forward = "carry-forward"


class BadgeMetric(StrEnum):
    """The number a badge shows."""

    downloads_all_time = "downloads_all_time"
    downloads_30d = "downloads_30d"
    likes = "likes"
    repos = "repos"
    derivatives = "derivatives"


class FileFormat(StrEnum):
    """The file formats of `export`."""

    parquet = "parquet"
    csv = "csv"
