"""The example warehouse's site in headless Chromium: what a person sees.

Every page loads from file:// (and from a loopback static server) without console errors
and without a request leaving the site; the charts are drawn; the totals shown are
`report --format json`'s; every link resolves to a file inside the site; the family page
fits a phone's width. Without chromium these tests skip, except in CI (`CI` set), where
they must run.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from typer.testing import CliRunner

from collector.cli import app
from tests.browser import Browser, chromium_path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "warehouse.duckdb.example"

if chromium_path() is None:
    if os.environ.get("CI"):
        raise RuntimeError(
            "CI must run the browser tests: install chromium (apt-get install chromium)"
        )
    pytest.skip(
        "chromium is not installed (apt-get install chromium); CI runs these tests",
        allow_module_level=True,
    )

PAGE_FACTS = """JSON.stringify({
  charts: [...document.querySelectorAll('svg.chart')].map(s => ({
    id: s.id,
    width: s.getBoundingClientRect().width,
    lines: [...s.querySelectorAll('path.line')].map(p => ({
      series: p.dataset.series, points: +p.dataset.points, length: p.getTotalLength()})),
  })),
  totals: Object.fromEntries([...document.querySelectorAll('#totals data')].map(
    d => [d.dataset.metric, {value: d.value, text: d.innerText}])),
  links: [...document.querySelectorAll('a[href]')].map(a => a.href),
  ids: [...document.querySelectorAll('[id]')].map(e => e.id),
  scrollWidth: document.documentElement.scrollWidth,
  innerWidth: window.innerWidth,
})"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("browser") / "site"
    result = CliRunner().invoke(app, ["site", "--db", str(EXAMPLE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with Browser() as b:
        yield b


def pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def facts(browser: Browser, url: str) -> dict:
    browser.open(url)
    return json.loads(browser.evaluate(PAGE_FACTS))


def report(family: str) -> dict:
    result = CliRunner().invoke(
        app, ["report", "--family", family, "--db", str(EXAMPLE), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_every_page_renders_cleanly_and_stays_inside_the_site(site: Path, browser: Browser) -> None:
    root = site.resolve().as_uri() + "/"
    for page in pages(site):
        browser.open(page.resolve().as_uri())
        assert browser.errors() == [], page
        outside = [u for u in browser.requests() if not u.startswith((root, "data:"))]
        assert outside == [], page
        assert browser.requests()[0] == page.resolve().as_uri()


def test_every_link_resolves_inside_the_site(site: Path, browser: Browser) -> None:
    root = site.resolve()
    checked = 0
    for page in pages(site):
        seen = facts(browser, page.resolve().as_uri())
        for link in seen["links"]:
            parts = urlsplit(link)
            assert parts.scheme == "file", link
            target = Path(unquote(parts.path)).resolve()
            assert target.is_relative_to(root) and target.is_file(), f"{page}: {link}"
            if parts.fragment and target == page.resolve():
                assert parts.fragment in seen["ids"], f"{page}: {link}"
            checked += 1
    assert checked > 40


@pytest.mark.parametrize("family", ["qwen", "llama"])
def test_the_chart_is_drawn_and_the_totals_are_the_report_s(
    site: Path, browser: Browser, family: str
) -> None:
    seen = facts(browser, (site / family / "index.html").resolve().as_uri())
    series = report(family)["series"]
    last = series[-1]
    for metric in ("downloads_all_time", "official_downloads_all_time", "repos", "likes"):
        shown = seen["totals"][metric]
        assert int(shown["value"]) == last[metric]
        assert shown["text"] == f"{last[metric]:,}"
    linear = next(c for c in seen["charts"] if c["id"] == "cumulative-linear")
    assert linear["width"] > 300
    assert [(line["series"], line["points"]) for line in linear["lines"]] == [
        ("all members", len(series)),
        ("official", len(series)),
        ("derivatives", len(series)),
    ]
    assert all(line["length"] > 100 for line in linear["lines"])
    # the log chart is drawn too, shown when its radio button is chosen
    logged = next(c for c in seen["charts"] if c["id"] == "cumulative-log")
    assert logged["width"] == 0
    browser.evaluate("document.querySelector('label[for=scale-log]').click()")
    width = "document.getElementById('%s').getBoundingClientRect().width"
    assert browser.evaluate(width % "cumulative-log") > 300
    assert browser.evaluate(width % "cumulative-linear") == 0


def test_the_index_shows_each_family_s_latest_total(site: Path, browser: Browser) -> None:
    browser.open((site / "index.html").resolve().as_uri())
    shown = json.loads(
        browser.evaluate(
            """JSON.stringify([...document.querySelectorAll('#families tbody tr')].map(r =>
              [r.dataset.family, r.querySelector('[data-metric=downloads_all_time]').innerText,
               r.querySelectorAll('svg.spark path').length]))"""
        )
    )
    expected = [
        [f, f"{report(f)['series'][-1]['downloads_all_time']:,}", 1] for f in ("llama", "qwen")
    ]
    assert shown == expected


def test_the_family_page_fits_a_phone(site: Path, browser: Browser) -> None:
    browser.viewport(390, 844, 2, mobile=True)
    try:
        seen = facts(browser, (site / "qwen" / "index.html").resolve().as_uri())
    finally:
        browser.viewport(1280, 900)
    assert seen["innerWidth"] == 390
    assert seen["scrollWidth"] <= 390  # wide tables scroll inside their box, not the page
    linear = next(c for c in seen["charts"] if c["id"] == "cumulative-linear")
    assert 300 < linear["width"] <= 390


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_served_by_a_static_host(site: Path, browser: Browser) -> None:
    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        for page in ("index.html", "qwen/index.html"):
            browser.open(origin + page)
            assert browser.errors() == []
            assert [u for u in browser.requests() if not u.startswith(origin)] == []
            assert (
                browser.evaluate("document.querySelectorAll('svg.chart path.line').length") > 0
                or page == "index.html"
            )
    finally:
        server.shutdown()
        server.server_close()
