"""Model families: who is official, whether lineage is followed, read from TOML.

The file format is a public contract: keys are added, never renamed.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from collector.errors import UsageError
from collector.sources.items import REPO_ID_RE

FAMILIES_ENV = "COLLECTOR_FAMILIES"
STRATEGIES = ("lineage", "hub", "auto")
_KNOWN_KEYS = {
    "authors",
    "repos",
    "derivatives",
    "max_depth",
    "name_pattern",
    "search",
    "strategy",
    "sources",
    "modelscope_owners",
}
SOURCES = ("hub", "modelscope")  # where `collector snapshot` reads a family's counters
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Family:
    """One model family as declared in a families file."""

    name: str
    authors: tuple[str, ...]
    repos: tuple[str, ...] = ()
    derivatives: bool = True
    max_depth: int | None = None
    name_pattern: str | None = None
    search: str = ""
    strategy: str = "auto"
    source: str = field(default="", compare=False)
    sources: tuple[str, ...] = ("hub",)  # live sources snapshotted by default
    modelscope_owners: tuple[str, ...] = ()  # ModelScope orgs (default: the authors)

    def is_official(self, repo_id: str, author: str | None) -> bool:
        """True when a repo belongs to the family by authorship or explicit listing."""
        if repo_id in self.repos:
            return True
        owner = (author or repo_id.split("/", 1)[0]).lower()
        if owner not in {a.lower() for a in self.authors}:
            return False
        return self.name_pattern is None or re.search(self.name_pattern, repo_id) is not None


def default_families_path() -> Path:
    """The families file shipped with the package."""
    return Path(str(resources.files("collector") / "data" / "families.toml"))


def families_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The file in force: an explicit path, else $COLLECTOR_FAMILIES, else the packaged one."""
    if path:
        return Path(path)
    env = os.environ.get(FAMILIES_ENV)
    return Path(env) if env else default_families_path()


def load_families(path: str | os.PathLike[str] | None = None) -> dict[str, Family]:
    """Read and validate a families file; every problem names the file, family and field."""
    src = families_path(path)
    try:
        text = src.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"{src}: cannot read families file ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{src}: not valid TOML ({exc})") from None
    table = data.get("families")
    if not isinstance(table, dict) or not table:
        raise UsageError(f"{src}: no [families.NAME] table found")
    return {name: _parse_family(src, name, spec) for name, spec in table.items()}


def get_families(
    names: list[str] | None, path: str | os.PathLike[str] | None = None
) -> list[Family]:
    """The named families (all of them when names is empty), in the order asked."""
    known = load_families(path)
    if not names:
        return list(known.values())
    out = []
    for name in names:
        if name not in known:
            raise UsageError(
                f"unknown family {name!r} in {families_path(path)}; known: {', '.join(sorted(known))}"
            )
        out.append(known[name])
    return out


def get_family(name: str, path: str | os.PathLike[str] | None = None) -> Family:
    """One family by name."""
    return get_families([name], path)[0]


def _parse_family(src: Path, name: str, spec: object) -> Family:
    where = f"{src}: family {name!r}"
    if not _NAME_RE.match(name):
        raise UsageError(f"{where}: name must be lowercase letters, digits, '-' or '_'")
    if not isinstance(spec, dict):
        raise UsageError(f"{where}: must be a table")
    unknown = sorted(set(spec) - _KNOWN_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown field {unknown[0]!r}")
    authors = _str_list(where, "authors", spec.get("authors", []))
    repos = _str_list(where, "repos", spec.get("repos", []))
    for repo in repos:
        if "/" not in repo or not REPO_ID_RE.match(repo):
            raise UsageError(f"{where}: field 'repos': {repo!r} is not a repo id like 'org/name'")
    if not authors and not repos:
        raise UsageError(f"{where}: field 'authors': needs at least one author or one repo")
    derivatives = spec.get("derivatives", True)
    if not isinstance(derivatives, bool):
        raise UsageError(f"{where}: field 'derivatives': must be true or false")
    max_depth = spec.get("max_depth")
    if max_depth is not None and (
        isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0
    ):
        raise UsageError(f"{where}: field 'max_depth': must be an integer >= 0")
    pattern = spec.get("name_pattern")
    if pattern is not None:
        if not isinstance(pattern, str):
            raise UsageError(f"{where}: field 'name_pattern': must be a string")
        try:
            re.compile(pattern)
        except re.error as exc:
            raise UsageError(
                f"{where}: field 'name_pattern': bad regular expression ({exc})"
            ) from None
    search = spec.get("search", name)
    if not isinstance(search, str) or not search.strip():
        raise UsageError(f"{where}: field 'search': must be a non-empty string")
    strategy = spec.get("strategy", "auto")
    if strategy not in STRATEGIES:
        raise UsageError(f"{where}: field 'strategy': must be one of {', '.join(STRATEGIES)}")
    sources = _str_list(where, "sources", spec.get("sources", ["hub"]))
    bad = [x for x in sources if x not in SOURCES]
    if bad or not sources or len(set(sources)) != len(sources):
        raise UsageError(
            f"{where}: field 'sources': must be a list of distinct {' / '.join(SOURCES)}"
        )
    owners = _str_list(where, "modelscope_owners", spec.get("modelscope_owners", []))
    return Family(
        name=name,
        authors=tuple(authors),
        repos=tuple(repos),
        derivatives=derivatives,
        max_depth=max_depth,
        name_pattern=pattern,
        search=search,
        strategy=strategy,
        source=str(src),
        sources=tuple(sources),
        modelscope_owners=tuple(owners),
    )


def _str_list(where: str, key: str, value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise UsageError(f"{where}: field {key!r}: must be a list of non-empty strings")
    return [v.strip() for v in value]
