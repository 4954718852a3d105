"""The fault matrix with fast settings: under every fault, nothing lost, nothing doubled."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests import faultmatrix as fm


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> dict[str, fm.Row]:
    rows = fm.run_matrix(
        fm.Settings(size=20, page_size=3, days=1), tmp_path_factory.mktemp("matrix")
    )
    return {r.fault: r for r in rows}


def test_every_fault_loses_and_doubles_nothing(matrix: dict[str, fm.Row]) -> None:
    assert set(matrix) == {s.name for s in fm.SCENARIOS}
    for row in matrix.values():
        assert (row.lost, row.duplicates, row.extra) == (0, 0, 0), (row.fault, row.notes)
        assert row.stored == row.expected > 0, row.fault
        assert row.completed + row.partial == row.snapshots, row.fault


def test_transient_faults_are_retried_to_complete_runs(matrix: dict[str, fm.Row]) -> None:
    for name in (
        "500",
        "502",
        "503",
        "connection reset",
        "slower than timeout",
        "truncated body",
        "invalid JSON",
        "429 ratelimit r=0",
        "429 Retry-After",
        "429 bare",
    ):
        row = matrix[name]
        assert row.completed == row.snapshots == 1, name
        assert row.retries > 0, name  # the fault really fired
    assert matrix["429 Retry-After"].rate_limited > 0


def test_a_listing_failing_beyond_retries_makes_a_partial_run(matrix: dict[str, fm.Row]) -> None:
    row = matrix["listing fails (partial)"]
    # day 1 has no earlier run to keep members from: it fails and is resumed to complete;
    # day 2 is partial (its stale members checked at their previous values); day 3 complete
    assert (row.snapshots, row.completed, row.partial, row.resumed) == (3, 2, 1, 1)


def test_a_failing_author_listing_fails_the_run_and_resume_completes_it(
    matrix: dict[str, fm.Row],
) -> None:
    row = matrix["author listing fails (resume)"]
    assert (row.completed, row.resumed) == (1, 1)


def test_a_small_quota_is_paced_without_429s(matrix: dict[str, fm.Row]) -> None:
    for name in ("quota 10 req/10 s", "quota, bare 429s"):
        row = matrix[name]
        assert row.rate_limited == 0, name
        assert row.hub_seconds >= 10, name  # it did wait for windows to reset


def test_matrix_table_renders_one_row_per_fault(matrix: dict[str, fm.Row], tmp_path: Path) -> None:
    rows = fm.table_rows(list(matrix.values()))
    assert [r["fault"] for r in rows] == [s.name for s in fm.SCENARIOS]
    assert set(rows[0]) == set(fm.COLUMNS)
