"""The web page in a real browser: Debian's Chromium, headless, driven by playwright (no browser
download), against a real `wpqa serve` with the bundled model. Each step's screenshot is saved
(to WPQA_SCREENSHOT_DIR when set, else the test's temp folder)."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from tests.serving import Served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.llm,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)"),
]

# questions written for this test (not from an evaluation set)
EN = "What did China launch to promote cross-border data flows?"
ZH = "世界贸易组织的电子商务谈判有哪些进展？"
OUTSIDE = "What is the boiling point of liquid nitrogen in kelvin?"
# turns whose checked answer (or abstention) is on the page
ANSWERED = ("Array.from(document.querySelectorAll('.turn .answer-body'))"
            ".filter(b => b.innerText.trim().length > 0).length")


def ask(page, question: str, n: int):
    """Ask with the button and wait for the `n`-th turn's checked answer; that turn."""
    page.fill("#question", question)
    page.click("#ask")
    page.wait_for_function(f"{ANSWERED} >= {n}", timeout=600_000)
    return page.locator(".turn").nth(n - 1)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def test_ask_in_both_languages_and_open_a_highlighted_citation(corpus_index, browser, tmp_path):
    shots = Path(os.environ.get("WPQA_SCREENSHOT_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    s = Served(corpus_index["args"], ["--llm", "llama-cpp"])
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(s.url + "/")
        page.wait_for_selector("#index-panel >> text=5")  # five documents listed
        page.screenshot(path=str(shots / "1-start.png"))

        # English: the checked quotes appear first, then the answer
        page.fill("#question", EN)
        page.press("#question", "Enter")
        page.wait_for_selector(".turn .quote", timeout=300_000)
        assert page.locator(".turn .answer-body").inner_text().strip() == ""  # the model is still writing
        page.wait_for_function(f"{ANSWERED} >= 1", timeout=600_000)
        first = page.locator(".turn").nth(0)
        assert first.locator(".abstained").count() == 0
        body = first.locator(".answer-body").inner_text()
        assert re.search(r"[A-Za-z]{3,}", body) and not re.search(r"[\u4e00-\u9fff]", body), body
        assert first.locator(".citation a").count() >= 1
        page.screenshot(path=str(shots / "2-answer-en.png"), full_page=True)

        # Chinese
        second = ask(page, ZH, 2)
        assert re.search(r"[\u4e00-\u9fff]", second.inner_text())
        assert second.locator(".citation a").count() >= 1
        page.screenshot(path=str(shots / "3-answer-zh.png"), full_page=True)

        # a question the reports do not answer looks different
        third = ask(page, OUTSIDE, 3)
        assert third.locator(".abstained").count() == 1 and third.locator(".quote").count() == 0
        page.screenshot(path=str(shots / "4-not-in-documents.png"), full_page=True)

        # a citation opens the cited page with the quote highlighted
        with page.context.expect_page() as opened:
            first.locator(".citation a").first.click()
        view = opened.value
        view.wait_for_load_state("load")
        view.wait_for_function("(() => { const i = document.querySelector('img'); "
                               "return i && i.complete && i.naturalWidth > 0; })()", timeout=60_000)
        assert "page" in view.inner_text("body").lower()
        assert re.search(r"highlighted", view.inner_text("body"))
        view.screenshot(path=str(shots / "5-cited-page.png"))

        # the index panel brings the index up to date (nothing new: it says so)
        page.click("#update-index")
        page.wait_for_function("document.querySelector('#build-progress') && "
                               "/up to date|added|changed/.test(document.querySelector('#index-panel').innerText)",
                               timeout=120_000)
        page.screenshot(path=str(shots / "6-index-panel.png"))
        assert not errors, errors
    finally:
        s.stop()
