"""Shared fixtures: an isolated environment, a fake Hub, and a CLI runner with a clock.

Tests never touch the user's data or the network: the warehouse lives in tmp_path, the
Hub is tests/fakehub.py on 127.0.0.1, and huggingface_hub sees an empty HF_HOME.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# Before huggingface_hub is imported anywhere: no saved token, no telemetry.
os.environ["HF_HOME"] = tempfile.mkdtemp(prefix="collector-hf-home-")
atexit.register(shutil.rmtree, os.environ["HF_HOME"], ignore_errors=True)
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ.pop("HF_TOKEN", None)

import pytest  # noqa: E402
from typer.testing import CliRunner, Result  # noqa: E402

from collector.cli import app  # noqa: E402
from tests.fakehub import FakeHub  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own warehouse path and fast retry/lock settings."""
    db = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("COLLECTOR_DB", str(db))
    monkeypatch.setenv("COLLECTOR_RETRY_WAIT", "0.01")
    # A failing listing page fails after max_retries: tests of patience set their own.
    monkeypatch.setenv("COLLECTOR_PATIENCE", "0")
    monkeypatch.setenv("COLLECTOR_LOCK_WAIT", "2")
    monkeypatch.setenv("COLUMNS", "200")
    for name in ("COLLECTOR_FAMILIES", "COLLECTOR_NOW", "HF_ENDPOINT", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return db


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHub]:
    """A started fake Hub with small pages (2 items), reached through HF_ENDPOINT."""
    with FakeHub(page_size=2) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        yield fake


@dataclass
class Cli:
    """Runs the real CLI in-process; `now` sets the snapshot clock (COLLECTOR_NOW)."""

    runner: CliRunner

    def __call__(self, *args: str, now: str | None = None, ok: bool = True) -> Result:
        env = {"COLLECTOR_NOW": now} if now else None
        result = self.runner.invoke(app, list(args), env=env)
        if ok:
            assert result.exit_code == 0, result.output + repr(result.exception)
        return result


@pytest.fixture
def cli() -> Cli:
    return Cli(CliRunner())
