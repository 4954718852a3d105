"""What collector imports is what pyproject declares, and the oldest versions it allows are the
ones `make test-oldest` installs and tests."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _declared() -> dict[str, str]:
    """Distribution name (normalized) -> its requirement, from pyproject's dependencies."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        name = re.match(r"[A-Za-z0-9_.-]+", dep)
        assert name is not None, dep
        out[_norm(name.group())] = dep
    return out


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _imported_modules() -> set[str]:
    """Top-level modules imported anywhere in collector/, lazily or not."""
    found: set[str] = set()
    for path in (ROOT / "collector").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"collector"}


def test_every_imported_package_is_declared() -> None:
    dists = importlib.metadata.packages_distributions()
    declared = _declared()
    undeclared = sorted(
        module
        for module in _imported_modules()
        if not any(_norm(d) in declared for d in dists.get(module, [module]))
    )
    assert undeclared == []


def test_make_test_oldest_installs_the_lower_bounds_of_the_hub_client() -> None:
    """The Hub client and its HTTP stack are where an older version breaks collector:
    `make test-oldest` runs the Hub-facing tests on exactly the lowest versions allowed."""
    makefile = (ROOT / "Makefile").read_text()
    pins = dict(re.findall(r"([A-Za-z0-9_-]+)==([0-9.]+)", makefile.split("OLDEST", 1)[1]))
    declared = _declared()
    for dist in ("huggingface_hub", "httpx2"):
        lower = re.search(r">=\s*([0-9.]+)", declared[_norm(dist)])
        assert lower is not None, declared[_norm(dist)]
        assert pins[dist].split(".")[:2] == lower.group(1).split(".")[:2], (dist, pins)
