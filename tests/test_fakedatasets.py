"""The fake Hub serves dataset repos as the real Hub does for huggingface_hub's own client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, RevisionNotFoundError

from tests.fakedatasets import FakeDatasets
from tests.fakehub import FakeHub

REPO = "org/data"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[FakeHub, FakeDatasets]]:
    with FakeHub() as hub:
        yield hub, FakeDatasets(tree_page=2).attach(hub)


def test_info_revision_and_sizes(served: tuple[FakeHub, FakeDatasets]) -> None:
    hub, datasets = served
    first = datasets.commit(REPO, {"a.txt": b"one", "series/2025-01.parquet": b"xy"})
    second = datasets.commit(REPO, {"a.txt": b"three", "b.txt": b"4"})
    api = HfApi(endpoint=hub.url)
    info = api.dataset_info(REPO, files_metadata=True)
    assert info.sha == second
    assert {s.rfilename: s.size for s in info.siblings or []} == {
        "a.txt": 5,
        "b.txt": 1,
        "series/2025-01.parquet": 2,
    }
    old = api.dataset_info(REPO, revision=first)
    assert old.sha == first
    assert sorted(s.rfilename for s in old.siblings or []) == ["a.txt", "series/2025-01.parquet"]
    with pytest.raises(RevisionNotFoundError):
        api.dataset_info(REPO, revision="f" * 40)


def test_tree_pages_through_link_headers(served: tuple[FakeHub, FakeDatasets]) -> None:
    hub, datasets = served
    sha = datasets.commit(REPO, {f"series/2025-0{m}.parquet": b"x" * m for m in range(1, 6)})
    datasets.commit(REPO, {"top.txt": b"t"})
    api = HfApi(endpoint=hub.url)
    tree = list(api.list_repo_tree(REPO, "series", repo_type="dataset", revision=sha))
    assert [(f.path, getattr(f, "size", None)) for f in tree] == [
        (f"series/2025-0{m}.parquet", m) for m in range(1, 6)
    ]
    assert hub.request_count(f"/api/datasets/{REPO}/tree/") == 3  # 5 entries, 2 a page
    top = list(api.list_repo_tree(REPO, repo_type="dataset"))
    assert sorted((type(e).__name__, e.path) for e in top) == [
        ("RepoFile", "top.txt"),
        ("RepoFolder", "series"),
    ]


def test_download_is_pinned_cached_and_checked(
    served: tuple[FakeHub, FakeDatasets], tmp_path: Path
) -> None:
    hub, datasets = served
    first = datasets.commit(REPO, {"f.bin": b"first version"})
    datasets.commit(REPO, {"f.bin": b"second"})
    cache = tmp_path / "cache"
    path = hf_hub_download(
        REPO, "f.bin", repo_type="dataset", revision=first, endpoint=hub.url, cache_dir=cache
    )
    assert Path(path).read_bytes() == b"first version"
    assert Path(path).parent.name == first  # snapshots/<X-Repo-Commit>/f.bin
    latest = hf_hub_download(REPO, "f.bin", repo_type="dataset", endpoint=hub.url, cache_dir=cache)
    assert Path(latest).read_bytes() == b"second"
    assert datasets.downloads == ["f.bin", "f.bin"]
    again = hf_hub_download(
        REPO, "f.bin", repo_type="dataset", revision=first, endpoint=hub.url, cache_dir=cache
    )
    assert again == path and datasets.downloads == ["f.bin", "f.bin"]  # from the cache
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(
            REPO, "nope.bin", repo_type="dataset", revision=first, endpoint=hub.url, cache_dir=cache
        )


def test_range_requests(served: tuple[FakeHub, FakeDatasets]) -> None:
    hub, datasets = served
    sha = datasets.commit(REPO, {"f.bin": bytes(range(100))})
    import httpx2

    url = f"{hub.url}/datasets/{REPO}/resolve/{sha}/f.bin"
    head = httpx2.head(url)
    assert head.status_code == 200
    assert head.headers["X-Repo-Commit"] == sha
    assert head.headers["Content-Length"] == "100"
    assert head.headers["ETag"].startswith('"')
    part = httpx2.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206
    assert part.content == bytes(range(10, 20))
    assert part.headers["Content-Range"] == "bytes 10-19/100"
    tail = httpx2.get(url, headers={"Range": "bytes=-5"})
    assert tail.content == bytes(range(95, 100))
    assert httpx2.get(url, headers={"Range": "bytes=200-"}).status_code == 416


def test_commits_page_through_link_headers() -> None:
    with FakeHub() as hub:
        datasets = FakeDatasets(commits_page=2).attach(hub)
        when = [datetime(2026, 3, d, 13, tzinfo=UTC) for d in (1, 1, 2, 3, 4)]
        shas = [
            datasets.commit(REPO, {"f.txt": str(i).encode()}, f"Upload f.txt {i}\n\nbody", at)
            for i, at in enumerate(when)
        ]
        api = HfApi(endpoint=hub.url)
        commits = api.list_repo_commits(REPO, repo_type="dataset")
        assert [(c.commit_id, c.title, c.message, c.created_at) for c in commits] == [
            (sha, f"Upload f.txt {i}", "\nbody", at)
            for i, (sha, at) in reversed(list(enumerate(zip(shas, when, strict=True))))
        ]
        assert hub.request_count(f"/api/datasets/{REPO}/commits/") == 3  # 5 commits, 2 a page
        older = api.list_repo_commits(REPO, repo_type="dataset", revision=shas[1])
        assert [c.commit_id for c in older] == [shas[1], shas[0]]
        with pytest.raises(RevisionNotFoundError):
            api.list_repo_commits(REPO, repo_type="dataset", revision="f" * 40)
