"""Dataset repos for the fake Hub: git-like revisions of files, served as the Hub serves them.

What huggingface_hub asks of the real Hub for a dataset (see ``history-sources.md``):

* ``GET /api/datasets/{repo}`` and ``/api/datasets/{repo}/revision/{rev}``: info with ``sha``
  and ``siblings`` (sizes and blob ids with ``blobs=true``).
* ``GET /api/datasets/{repo}/tree/{rev}[/{path}]``: the files under a folder (``recursive``),
  with ``Link`` paging like every Hub listing.
* ``GET /api/datasets/{repo}/commits/{rev}``: the history reachable from ``rev``, newest
  first (``id``, ``title``, ``message``, ``authors``, ``date``), paged by ``Link`` (``p``).
* ``HEAD``/``GET /datasets/{repo}/resolve/{rev}/{path}``: the file, with ``ETag``,
  ``X-Repo-Commit``, ``Content-Length`` and ``Range`` (206 with ``Content-Range``).
* Errors with the Hub's ``X-Error-Code`` (RepoNotFound, RevisionNotFound, EntryNotFound), so
  the client raises its own typed errors.

Attach with ``FakeDatasets().attach(hub)``; every request still goes through the hub's
faults, rate limits and request log.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import Message
from typing import Any
from urllib.parse import quote

from tests.fakehub import FakeHub, _error, _json_response, _Response

TREE_PAGE = 1000  # entries per tree page, as on the Hub
COMMITS_PAGE = 50  # commits per page, as on the Hub


@dataclass(frozen=True)
class Commit:
    """One revision of a dataset repo: its full file set."""

    sha: str
    message: str
    date: datetime
    files: Mapping[str, bytes]


class FakeDatasets:
    """Dataset repos, each a list of commits (newest last); thread-safe."""

    def __init__(self, tree_page: int = TREE_PAGE, commits_page: int = COMMITS_PAGE) -> None:
        self.tree_page = tree_page
        self.commits_page = commits_page
        self._repos: dict[str, list[Commit]] = {}
        self._lock = threading.Lock()
        self._hub: FakeHub | None = None
        self.downloads: list[str] = []  # paths of the file bodies served (GET resolve)

    def attach(self, hub: FakeHub) -> FakeDatasets:
        """Serve these repos from `hub` (see FakeHub.datasets)."""
        hub.datasets = self
        self._hub = hub
        return self

    def commit(
        self,
        repo: str,
        files: Mapping[str, bytes | None],
        message: str = "Update",
        when: datetime | None = None,
    ) -> str:
        """A new revision of `repo`: the previous files with `files` applied (None deletes),
        dated `when` (default: one day after 2026-01-01 per earlier commit)."""
        with self._lock:
            history = self._repos.setdefault(repo, [])
            current = dict(history[-1].files) if history else {}
            for path, body in files.items():
                if body is None:
                    current.pop(path, None)
                else:
                    current[path] = body
            seed = f"{repo}\n{len(history)}\n{message}".encode()
            digest = hashlib.sha1(seed + b"".join(current.get(p, b"") for p in sorted(current)))
            sha = digest.hexdigest()
            date = when or datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=len(history))
            history.append(Commit(sha, message, date, current))
            return sha

    def head(self, repo: str) -> str:
        """The sha of `repo`'s newest revision."""
        with self._lock:
            return self._repos[repo][-1].sha

    # ------------------------------------------------------------------ serving
    @staticmethod
    def serves(path: str) -> bool:
        return path.startswith(("/api/datasets/", "/datasets/"))

    def respond(
        self, method: str, path: str, params: list[tuple[str, str]], headers: Message
    ) -> _Response:
        if path.startswith("/api/datasets/"):
            return self._api(path[len("/api/datasets/") :], dict(params))
        return self._resolve(method, path[len("/datasets/") :], headers)

    def _find(self, rest: str) -> tuple[str, list[Commit], str] | None:
        """The repo named at the start of `rest` ("org/name/..."), its commits, the remainder."""
        parts = rest.split("/", 2)
        if len(parts) < 2:
            return None
        repo = f"{parts[0]}/{parts[1]}"
        with self._lock:
            history = list(self._repos.get(repo, []))
        if not history:
            return None
        return repo, history, parts[2] if len(parts) > 2 else ""

    @staticmethod
    def _at(history: list[Commit], revision: str) -> Commit | None:
        if revision == "main":
            return history[-1]
        for c in history:
            if c.sha == revision:
                return c
        return None

    def _api(self, rest: str, params: dict[str, str]) -> _Response:
        found = self._find(rest)
        if found is None:
            return _not_found("RepoNotFound", "Repository not found")
        repo, history, tail = found
        if tail == "" or tail.startswith("revision/"):
            commit = self._at(history, tail[len("revision/") :] if tail else "main")
            if commit is None:
                return _not_found("RevisionNotFound", "Invalid rev id")
            return _json_response(
                200, self._info(repo, commit, params.get("blobs", "").lower() == "true")
            )
        if tail.startswith("tree/"):
            revision, _, folder = tail[len("tree/") :].partition("/")
            commit = self._at(history, revision)
            if commit is None:
                return _not_found("RevisionNotFound", "Invalid rev id")
            return self._tree(repo, commit, folder, params)
        if tail.startswith("commits/"):
            commit = self._at(history, tail[len("commits/") :])
            if commit is None:
                return _not_found("RevisionNotFound", "Invalid rev id")
            return self._commits(repo, history[: history.index(commit) + 1], params)
        return _error(404, "Not Found")

    def _commits(self, repo: str, history: list[Commit], params: dict[str, str]) -> _Response:
        listing = [
            {
                "id": c.sha,
                "title": c.message.splitlines()[0],
                "message": "\n".join(c.message.splitlines()[1:]),
                "authors": [{"user": "bot", "avatar": ""}],
                "date": c.date.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
            for c in reversed(history)
        ]
        page_no = int(params.get("p", "0") or 0)
        start = page_no * self.commits_page
        headers: list[tuple[str, str]] = []
        if start + self.commits_page < len(listing) and self._hub is not None:
            where = f"/api/datasets/{repo}/commits/{history[-1].sha}"
            headers.append(("Link", f'<{self._hub.url}{where}?p={page_no + 1}>; rel="next"'))
        return _json_response(200, listing[start : start + self.commits_page], headers=headers)

    def _info(self, repo: str, commit: Commit, blobs: bool) -> dict[str, Any]:
        siblings = []
        for path in sorted(commit.files):
            sibling: dict[str, Any] = {"rfilename": path}
            if blobs:
                body = commit.files[path]
                sibling.update(size=len(body), blobId=_blob_id(body))
            siblings.append(sibling)
        return {
            "_id": hashlib.sha1(repo.encode()).hexdigest()[:24],
            "id": repo,
            "author": repo.split("/")[0],
            "sha": commit.sha,
            "lastModified": commit.date.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "private": False,
            "gated": False,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": [],
            "siblings": siblings,
        }

    def _tree(self, repo: str, commit: Commit, folder: str, params: dict[str, str]) -> _Response:
        folder = folder.strip("/")
        prefix = f"{folder}/" if folder else ""
        recursive = params.get("recursive", "").lower() == "true"
        if folder and not any(p.startswith(prefix) for p in commit.files):
            return _not_found("EntryNotFound", f"{folder} does not exist on {commit.sha}")
        entries: dict[str, dict[str, Any]] = {}
        for path in sorted(commit.files):
            if not path.startswith(prefix):
                continue
            rest = path[len(prefix) :]
            if "/" in rest and not recursive:
                sub = prefix + rest.split("/", 1)[0]
                entries.setdefault(
                    sub,
                    {"type": "directory", "oid": _blob_id(sub.encode()), "size": 0, "path": sub},
                )
                continue
            body = commit.files[path]
            entries[path] = {"type": "file", "oid": _blob_id(body), "size": len(body), "path": path}
        listing = list(entries.values())
        start = int(params.get("cursor", "0") or 0)
        page = listing[start : start + self.tree_page]
        headers: list[tuple[str, str]] = []
        if start + self.tree_page < len(listing) and self._hub is not None:
            query = "&".join(
                f"{k}={quote(v)}"
                for k, v in {**params, "cursor": str(start + self.tree_page)}.items()
            )
            where = f"/api/datasets/{repo}/tree/{commit.sha}" + (
                f"/{quote(folder, safe='')}" if folder else ""
            )
            headers.append(("Link", f'<{self._hub.url}{where}?{query}>; rel="next"'))
        return _json_response(200, page, headers=headers)

    def _resolve(self, method: str, rest: str, headers: Message) -> _Response:
        found = self._find(rest)
        if found is None:
            return _not_found("RepoNotFound", "Repository not found")
        _, history, tail = found
        head, _, path = tail.partition("/")
        if head != "resolve" or "/" not in path:
            return _error(404, "Not Found")
        revision, _, filename = path.partition("/")
        commit = self._at(history, revision)
        if commit is None:
            return _not_found("RevisionNotFound", "Invalid rev id")
        body = commit.files.get(filename)
        if body is None:
            return _not_found("EntryNotFound", f"{filename} does not exist on {commit.sha}")
        common = [
            ("ETag", f'"{_blob_id(body)}"'),
            ("X-Repo-Commit", commit.sha),
            ("Accept-Ranges", "bytes"),
            ("Content-Type", "application/octet-stream"),
        ]
        if method == "GET":
            with self._lock:
                self.downloads.append(filename)
        wanted = headers.get("Range")
        if wanted and wanted.startswith("bytes="):
            first, _, last = wanted[len("bytes=") :].partition("-")
            start = int(first) if first else max(len(body) - int(last), 0)
            end = min(int(last), len(body) - 1) if first and last else len(body) - 1
            if start >= len(body):
                return _Response(416, b"", [("Content-Range", f"bytes */{len(body)}")])
            part = body[start : end + 1]
            return _Response(
                206, part, [*common, ("Content-Range", f"bytes {start}-{end}/{len(body)}")]
            )
        return _Response(200, body, common)


def _blob_id(body: bytes) -> str:
    # git's blob id: sha1 of "blob <size>\0" + content
    return hashlib.sha1(b"blob %d\0" % len(body) + body).hexdigest()


def _not_found(code: str, message: str) -> _Response:
    return _Response(
        404,
        json.dumps({"error": message}).encode(),
        [
            ("Content-Type", "application/json"),
            ("X-Error-Code", code),
            ("X-Error-Message", message),
        ],
    )
