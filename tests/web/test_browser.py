"""The dashboard in a real browser: headless Debian chromium driven by Playwright for Python.

A reader signs in through GitHub's (the stand-in's) authorize page and sees the model, its timeline and
charts; a user without permission sees nothing of the repository and its direct URL answers 404; a signed
out visitor lands on the sign-in page. Accessibility basics: every chart has a text alternative, and the
pages work 390 px wide. Screenshots go to the test's folder (MLOPS_BOT_UPDATE_SCREENSHOTS=1: to docs/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.conftest import MODEL, REPO, World

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(),
        reason=f"no chromium at {CHROMIUM}: `apt-get install -y chromium` (.ci/run installs it)",
    ),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (dev extra)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    return DOCS if os.environ.get("MLOPS_BOT_UPDATE_SCREENSHOTS") == "1" else tmp_path


def sign_in(browser: Any, world: World, login: str, *, width: int = 1280) -> Any:
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.goto(world.bot_url + "/")
    assert page.url.startswith(world.standin.html_url + "/login/oauth/authorize"), page.url
    page.get_by_label("Username").fill(login)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(world.bot_url + "/")
    return page


def test_a_reader_sees_the_model_its_timeline_and_charts(browser: Any, world: World, shots: Path) -> None:
    page = sign_in(browser, world, "bob")
    assert page.get_by_role("heading", name=REPO).is_visible()
    page.screenshot(path=str(shots / "dashboard-models.png"), full_page=True)
    page.get_by_role("link", name=MODEL, exact=True).click()
    page.wait_for_url(f"**/repos/{REPO}/models/{MODEL}")
    assert "version 3" in page.locator(".champion-now").inner_text()
    timeline = page.get_by_role("table").first
    assert timeline.get_by_role("row").count() == 5  # a header and four versions
    charts = page.locator("svg[role=img]")
    assert charts.count() >= 4  # accuracy and f1 by version, drift share, accuracy per batch
    for n in range(charts.count()):
        labelled = charts.nth(n).get_attribute("aria-labelledby") or ""
        names = [page.locator(f"[id='{ref}']").text_content() or "" for ref in labelled.split()]
        assert len(names) == 2 and all(name.strip() for name in names), labelled
    assert page.get_by_role("link", name="Open monitoring issue #7").is_visible()
    page.screenshot(path=str(shots / "dashboard-model.png"), full_page=True)


def test_the_model_page_works_390_px_wide(browser: Any, world: World, tmp_path: Path) -> None:
    page = sign_in(browser, world, "bob", width=390)
    page.goto(f"{world.bot_url}/repos/{REPO}/models/{MODEL}")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways at 390 px ({width} px wide)"
    assert page.locator("svg[role=img]").first.bounding_box()["width"] <= 390
    tick = page.locator("svg[role=img] text.tick").first.bounding_box()
    assert tick is not None and tick["height"] >= 9, f"chart labels are {tick} at 390 px: too small to read"
    regions = page.locator("div.scroll")  # a table wider than the screen scrolls in its own box...
    assert regions.count() >= 3
    for n in range(regions.count()):  # ...which a keyboard can reach, and a screen reader names
        region = regions.nth(n)
        assert region.get_attribute("tabindex") == "0" and region.get_attribute("aria-label"), n
    page.screenshot(path=str(tmp_path / "dashboard-model-390.png"), full_page=True)


def test_a_kept_model_card_reads_in_the_browser_390_px_wide_and_runs_no_script(
    browser: Any, world: World, tmp_path: Path
) -> None:
    from bot.adapters.store import StoredReport
    from bot.core.reports import CONTENT_TYPES, card_report_id
    from tests.web.test_reports import CARD

    rid = card_report_id(REPO, MODEL, 9, "d" * 40)
    world.store.save_report(
        StoredReport(rid, REPO, MODEL, "model-card", "card-churn.md", CONTENT_TYPES["model-card"],
                     CARD.encode(), "", 0.0)
    )  # fmt: skip
    page = sign_in(browser, world, "bob", width=390)
    answer = page.goto(f"{world.bot_url}/reports/{rid}")
    assert answer is not None and answer.status == 200
    assert page.get_by_role("heading", name="Model card: churn").is_visible()
    assert page.get_by_role("cell", name="0.91").is_visible()
    assert page.title() != "ran"  # the card's <script> did not run
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the card scrolls sideways at 390 px ({width} px wide)"
    page.screenshot(path=str(tmp_path / "report-card-390.png"), full_page=True)


def test_without_permission_nothing_shows_and_a_direct_url_is_404(browser: Any, world: World) -> None:
    page = sign_in(browser, world, "eve")
    assert REPO not in page.content() and MODEL not in page.locator("main").inner_text()
    answer = page.goto(f"{world.bot_url}/repos/{REPO}/models/{MODEL}")
    assert answer is not None and answer.status == 404
    assert "version 3" not in page.content()


def test_signed_out_the_visitor_is_sent_to_sign_in(browser: Any, world: World) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{world.bot_url}/repos/{REPO}/models/{MODEL}")
    assert page.url.startswith(world.standin.html_url + "/login/oauth/authorize")
    assert page.get_by_role("button", name="Authorize").is_visible()


def test_screenshots_are_kept_in_docs() -> None:
    kept = sorted(p.name for p in DOCS.glob("dashboard-*.png"))
    assert kept == ["dashboard-model.png", "dashboard-models.png"], kept
