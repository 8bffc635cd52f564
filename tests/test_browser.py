"""The atlas in a real browser: Debian's headless Chromium driven by Playwright.

Every page loads from file:// with no console error or warning, no failed request and every
image decoded; MathML lays out; the index filters work with JavaScript and the tables are all
there without it; a screenshot of the index is not blank.

Chromium must be installed at /usr/bin/chromium (`apt-get install chromium`; .ci/run does it).
A missing browser fails these tests rather than skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from _atlas_site import site_build

import lossatlas
from lossatlas.atlas.studies import STUDIES

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PAGES = [
    "index.html",
    "portraits.html",
    "guide.html",
    *(f"losses/{loss.name}.html" for loss in lossatlas.catalog()),
    *(f"studies/{name}.html" for name in STUDIES),
]


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    build = site_build(tmp_path_factory)
    assert build.code == 0, build.stderr
    return build.root


@pytest.fixture(scope="module")
def browser():
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"{CHROMIUM} not found: install Debian's chromium "
            "(apt-get install -y chromium) to run the browser tests; .ci/run does this",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


class Watched:
    """A page that records console errors and warnings, page errors and failed requests."""

    def __init__(self, browser, **context_options) -> None:
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, **context_options
        )
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text}")
                if m.type in ("error", "warning")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on(
            "requestfailed", lambda r: self.problems.append(f"failed: {r.url} {r.failure}")
        )
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, path: Path) -> None:
        self.page.goto(path.resolve().as_uri(), wait_until="load")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser):
    page = Watched(browser)
    yield page
    page.close()


def visible_rows(page, table: str) -> list[str]:
    return page.evaluate(
        """(table) => Array.from(document.querySelectorAll(`#${table} tr[data-family]`))
            .filter((row) => row.getClientRects().length > 0)
            .map((row) => row.dataset.family + ":" + row.dataset.names.split(" ")[0])""",
        table,
    )


@pytest.mark.parametrize("rel", PAGES)
def test_page_loads_cleanly(root, watched, rel):
    watched.open(root / rel)
    page = watched.page
    images = page.evaluate(
        """() => Array.from(document.images).map((img) => ({
            src: img.getAttribute("src"), complete: img.complete, width: img.naturalWidth}))"""
    )
    for image in images:
        assert image["complete"] and image["width"] > 0, image
    if rel.startswith(("losses/", "studies/")) or rel == "portraits.html":
        assert images, rel
    assert watched.problems == []
    for url in watched.requests:  # only files of the site (the icon, the CSS, the images...)
        assert url.startswith(root.resolve().as_uri() + "/"), url
    assert page.evaluate("getComputedStyle(document.body).margin") == "0px"  # CSS applied
    if rel.startswith("losses/"):
        box = page.locator("math").first.bounding_box()
        assert box is not None and box["width"] > 20 and box["height"] > 10


def test_family_filter_shows_only_that_family(root, watched):
    watched.open(root / "index.html")
    page = watched.page
    all_rows = visible_rows(page, "catalogue-table")
    n = len(lossatlas.catalog())
    assert len(all_rows) == n
    assert page.locator("#filters").is_visible()
    assert page.locator("#filter-count").inner_text() == f"Showing {n} of {n} losses"

    for family in ("margin", "regression", "classification"):
        page.select_option("#family-filter", family)
        expected = [x.name for x in lossatlas.catalog(family)]
        for table in ("catalogue-table", "properties-table"):
            rows = visible_rows(page, table)
            assert rows == [f"{family}:{name}" for name in expected], (family, table)
        shown = page.locator("#filter-count").inner_text()
        assert shown == f"Showing {len(expected)} of {n} losses"
        other_groups = page.evaluate(
            """(family) => Array.from(document.querySelectorAll("tbody[data-group]"))
                .filter((g) => g.dataset.group !== family && g.getClientRects().length > 0)
                .length""",
            family,
        )
        assert other_groups == 0

    page.select_option("#family-filter", "")
    page.check("input[name=robust]")
    page.check("input[name=convex]")
    expected = [
        x.name for x in lossatlas.catalog() if x.spec.properties.robust and x.spec.properties.convex
    ]
    assert [r.split(":")[1] for r in visible_rows(page, "catalogue-table")] == expected
    page.fill("#name-filter", "HuberLoss")
    assert [r.split(":")[1] for r in visible_rows(page, "catalogue-table")] == ["huber"]
    page.click("button[type=reset]")
    page.wait_for_function(
        f"document.getElementById('filter-count').textContent === 'Showing {n} of {n} losses'"
    )
    assert len(visible_rows(page, "catalogue-table")) == n
    assert watched.problems == []


def test_index_without_javascript_shows_every_row(root, browser):
    watched = Watched(browser, java_script_enabled=False)
    try:
        watched.open(root / "index.html")
        page = watched.page
        assert not page.locator("#filters").is_visible()
        n = len(lossatlas.catalog())
        assert len(visible_rows_no_js(page, "catalogue-table")) == n
        assert len(visible_rows_no_js(page, "properties-table")) == n
        assert watched.problems == []
    finally:
        watched.close()


def visible_rows_no_js(page, table: str) -> list[str]:
    # page.evaluate still runs in the isolated world when page scripts are disabled
    return [row for row in page.locator(f"#{table} tr[data-family]").all() if row.is_visible()]


def test_index_screenshot_is_not_blank(root, watched, tmp_path):
    watched.open(root / "index.html")
    shot = tmp_path / "index.png"
    watched.page.screenshot(path=str(shot), full_page=True)
    image = matplotlib.image.imread(shot)
    assert image.shape[0] > 900 and image.shape[1] == 1280
    assert float(np.std(image)) > 0.01
    # the header band is the accent colour, the body near white: the CSS is in effect
    assert image[10, 640, :3].mean() < 0.5 < image[image.shape[0] // 2, 5, :3].mean()
