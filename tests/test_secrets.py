"""A token is used, and never written to the warehouse, the stage, outputs or errors."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cli
from tests.fakehub import FakeHub

TOKEN = "hf_FakeSecretTokenValue0123456789abcdefXYZ"


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeHub]:
    families = tmp_path / "families.toml"
    families.write_text('[families.acme]\nauthors = ["acme"]\nstrategy = "lineage"\n')
    monkeypatch.setenv("COLLECTOR_FAMILIES", str(families))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with FakeHub(max_page_size=2, quota=50, token_quota=1000) as fake:
        monkeypatch.setenv("HF_ENDPOINT", fake.url)
        for i in range(3):
            fake.add(f"acme/m{i}", downloads_all_time=10 * i)
            fake.add_derivative(f"u/d{i}", parent=f"acme/m{i}", downloads_all_time=i)
        yield fake


def test_the_token_reaches_the_hub_and_nothing_we_write(
    cli: Cli, hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs = []
    outputs.append(cli("snapshot", "-f", "acme", now="2026-01-01T10:00:00"))
    hub.inject("500", times=7, after=3)  # a partial run, its error recorded
    outputs.append(cli("snapshot", "-f", "acme", now="2026-01-02T10:00:00"))
    hub.inject("502", times=7, after=0)  # a failed run: error message, stage left behind
    outputs.append(cli("snapshot", "-f", "acme", now="2026-01-03T10:00:00", ok=False))
    for fmt in ("table", "json", "csv"):
        outputs.append(cli("report", "-f", "acme", "--format", fmt))
    outputs.append(cli("members", "-f", "acme", "--format", "json"))
    outputs.append(cli("verify", "1 downloads", "-f", "acme"))
    with socket.socket() as s:  # a port nobody listens on: the unreachable-Hub error
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{s.getsockname()[1]}")
    outputs.append(cli("snapshot", "-f", "acme", "--resume", now="2026-01-04T10:00:00", ok=False))

    assert set(hub.authorizations) == {f"Bearer {TOKEN}"}  # every request carried it
    texts = [o.stdout + o.stderr for o in outputs]
    assert all(texts) and "failed: cannot reach the Hub at" in texts[-1]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "acme.duckdb" for p in files)  # the kept stage is checked too
    assert any(p.name == "warehouse.duckdb" for p in files)
    secret = TOKEN.encode()
    for variant in (secret, secret[3:], secret[::-1], TOKEN.encode("utf-16-le")):
        for text in texts:
            assert variant.decode("utf-8", "ignore") not in text
        for path in files:
            assert variant not in path.read_bytes(), path
