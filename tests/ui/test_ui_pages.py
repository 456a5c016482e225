"""Reviewed pages in headless Chromium, on an in-process app with logins and reviewers.

The app runs in this process (the session's MiniLM, a small library built in a temp dir), so
the tests can also save and approve pages through the API and edit a cited source. Users: ann
(no role), rita and sam (reviewers). Screenshots go to test-artifacts/ui-pages-*.png.
"""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from markdown_it import MarkdownIt

from assistant.ask.session import Conversation
from assistant.config import Settings
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from assistant.pages.service import PagesService
from assistant.pages.workflow import REVIEWER_ROLE, User
from assistant.ui.app import build_app, launch_kwargs
from assistant.ui.service import AppService

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::Warning:gradio.queueing"),
]

REPO = Path(__file__).resolve().parents[2]
ARTICLES = ["baverez-2022-anakinra-21-cases", "eloseily-2020-anakinra-pediatric-shlh"]
EVIL = Path(__file__).resolve().parent / "data" / "zz-injection-test.md"
WOMBAT = """---
source_id: zz-wombat-fever-test
title: Wombat fever treatment test series
year: 2023
evidence_type: case-series
---

## Findings

- In a fictional series of 12 keepers with wombat fever, rest and fluids settled the fever \
within 3 days in 10 of them.
- Wombat fever is a fictional illness used only to test reviewed pages in the browser.
"""
PASSWORDS = {"ann": "ann-pw", "rita": "rita-pw", "sam": "sam-pw"}
RITA = User("rita", frozenset({REVIEWER_ROLE}))
ANSWERED = (
    "n => { const a = document.querySelectorAll('#chat .answer'); const last = a[a.length - 1];"
    " return a.length >= n && !last.classList.contains('pending')"
    " && !last.querySelector('.writing')"
    " && document.querySelector('#sources-panel li[id^=ref-]') !== null; }"
)


@dataclass
class PagesApp:
    url: str
    port: int
    service: AppService
    pages: PagesService
    folder: Path

    def answer(self, question: str) -> Any:
        return self.service.ask(Conversation(), question, "clinician")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def pages_app(tmp_path_factory: pytest.TempPathFactory, embeddings: Any) -> Iterator[PagesApp]:
    root = tmp_path_factory.mktemp("ui-pages")
    folder = root / "articles"
    folder.mkdir()
    for name in ARTICLES:
        shutil.copy(REPO / "corpus" / f"{name}.md", folder)
    shutil.copy(EVIL, folder)
    (folder / "zz-wombat-fever-test.md").write_text(WOMBAT, encoding="utf-8")
    port = _free_port()
    auth = [f"{user}:{password}" for user, password in PASSWORDS.items()]
    settings = Settings(
        data_dir=root / "data", ui={"auth": auth, "reviewers": ["rita", "sam"], "port": port}
    )
    library = Library(settings, embeddings=embeddings)
    ingest([folder], settings, library=library, progress=False)
    service = AppService(settings, library=library)
    assert service.try_build_chain(warm_up=False) is None
    demo = build_app(service)
    demo.queue(default_concurrency_limit=1)
    demo.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs(settings))
    pages = PagesService(settings)  # its own connection to the app's pages file
    try:
        yield PagesApp(f"http://127.0.0.1:{port}/", port, service, pages, folder)
    finally:
        demo.close()
        pages.store.close()


@contextmanager
def signed_in(browser: Any, app: PagesApp, user: str) -> Iterator[Any]:
    """A fresh browser context logged in as ``user``; it must fetch nothing but the app."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    hosts: set[str] = set()
    page.on("request", lambda r: hosts.add(urlparse(r.url).netloc or r.url.split(":")[0]))
    page.set_default_timeout(30_000)
    page.goto(app.url)
    page.fill("input[type=text]", user)
    page.fill("input[type=password]", PASSWORDS[user])
    page.click("button:has-text('Login')")
    page.wait_for_selector("#question textarea")
    try:
        yield page
    finally:
        context.close()
    allowed = {f"127.0.0.1:{app.port}", "data", "blob", "file"}
    assert hosts <= allowed, f"the page made requests outside the app: {hosts - allowed}"


def ask(page: Any, question: str, answers_before: int = 0) -> None:
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(ANSWERED, arg=answers_before + 1)


def open_review(page: Any, page_id: int) -> None:
    page.get_by_role("tab", name="Review").click()
    page.wait_for_selector(f"#pages-table tr[data-page='{page_id}']")
    page.fill("#page-id input", str(page_id))
    page.click("#open-page")
    page.wait_for_selector(f"#page-view article[data-page='{page_id}']")


def decide(page: Any, label: str, note: str = "") -> str:
    """Choose a status, write a note, apply; the message shown."""
    before = page.inner_text("#review-message") if page.locator("#review-message p").count() else ""
    page.locator("#new-status").get_by_label(label, exact=True).check()
    page.fill("#review-note textarea", note)
    page.click("#apply-review")
    page.wait_for_function(
        "b => { const m = document.querySelector('#review-message p');"
        " return m && m.innerText !== b; }",
        arg=before,
    )
    return str(page.inner_text("#review-message"))


def shot(page: Any, artifacts: Path, name: str, full: bool = True) -> None:
    page.screenshot(path=str(artifacts / f"ui-pages-{name}.png"), full_page=full)


def test_review_workflow_and_role_check(browser: Any, pages_app: PagesApp, artifacts: Path) -> None:
    with signed_in(browser, pages_app, "ann") as ann:
        ask(ann, "How fast does fever resolve with anakinra?")
        assert ann.locator("#chat .review-status").last.inner_text() == "Not reviewed"
        ann.click("#save-page")
        ann.wait_for_selector("#page-note :text('Saved as page')")
        # the answer page itself now says where it stands
        ann.wait_for_function(
            "() => [...document.querySelectorAll('#chat .review-status')].pop().innerText"
            " === 'Submitted'"
        )
        page_id = int(re.search(r"page (\d+)", ann.inner_text("#page-note")).group(1))  # type: ignore[union-attr]
        open_review(ann, page_id)
        assert "not a reviewer" in ann.inner_text("#review-identity")
        row = ann.locator(f"#pages-table tr[data-page='{page_id}']")
        assert "Submitted" in row.inner_text()
        refused = decide(ann, "Under review", "I would like to approve my own page")
        assert "'ann' does not have the reviewer role" in refused
        assert "Submitted" in ann.inner_text("#page-view .page-status")

        with (
            signed_in(browser, pages_app, "sam") as sam,
            signed_in(browser, pages_app, "rita") as rita,
        ):
            open_review(sam, page_id)  # sam reads revision 1 ...
            open_review(rita, page_id)
            assert "reviewer" in rita.inner_text("#review-identity")
            illegal = decide(rita, "Approved")
            assert "cannot become approved; from submitted it can go to under-review" in illegal
            assert "is now Under review" in decide(rita, "Under review", "Checking the dose")
            # ... and decides on it after rita changed the page: refused, not overwritten
            conflict = decide(sam, "Under review", "me too")
            assert "changed by rita" in conflict and "reload it" in conflict
            approved = decide(rita, "Approved", "Matches the cited series")
            assert "is now Approved" in approved
            view = rita.inner_text("#page-view")
            assert re.search(r"Approved by rita on \d{4}-\d{2}-\d{2}", view)
            history = rita.locator("#page-view .page-history li").all_inner_texts()
            assert len(history) == 3 and "Matches the cited series" in history[-1]
            assert "me too" not in view
            rita.locator("#page-view").scroll_into_view_if_needed()
            shot(rita, artifacts, "review")
        ann.get_by_role("tab", name="Ask").click()
        ann.get_by_role("tab", name="Review").click()
        ann.wait_for_function(
            f"() => document.querySelector(\"#pages-table tr[data-page='{page_id}']\")"
            ".innerText.includes('Approved by rita')"
        )


def test_approved_page_is_served_and_the_stale_rule(
    browser: Any, pages_app: PagesApp, artifacts: Path
) -> None:
    saved = pages_app.pages.save(pages_app.answer("How is wombat fever treated?"), User("ann"))
    pages_app.pages.review(saved.id, "under-review", RITA)
    pages_app.pages.review(saved.id, "approved", RITA, "fine")
    with signed_in(browser, pages_app, "ann") as ann:
        ask(ann, "What is the treatment for wombat fever?")
        banner = ann.locator("#chat .page-banner")
        assert "How is wombat fever treated?" in banner.inner_text()
        head = ann.locator("#chat .served-page .answer-head")  # the page's own header
        text = head.inner_text()
        assert re.search(r"Approved by rita on \d{4}-\d{2}-\d{2}", text), text
        assert head.locator(".review-status").inner_text() == "Approved"
        assert re.search(r"Last updated: page updated \d{4}-\d{2}-\d{2} \d\d:\d\d UTC", text)
        assert "What is the treatment for wombat fever?" not in text, "the page's question"
        assert "not medical advice" in ann.inner_text("#chat .disclaimer").lower()
        fresh = ann.locator("#fresh-answer")
        fresh.wait_for(state="visible")
        banner.scroll_into_view_if_needed()
        shot(ann, artifacts, "served", full=False)
        fresh.click()
        ann.wait_for_function(ANSWERED, arg=2)
        ann.wait_for_function("() => document.querySelectorAll('#chat .question').length === 2")
        fresh.wait_for(state="hidden")
        last = ann.locator("#chat .answer").last
        assert last.locator("a.cite").count() >= 1
        assert ann.locator("#chat .page-banner").count() == 1, "the fresh answer is generated"

    edited = pages_app.folder / "zz-wombat-fever-test.md"
    edited.write_text(WOMBAT + "- A later note: fluids alone were enough in 2 keepers.\n")
    assert "updated" in pages_app.service.add_files([edited], progress=False)
    with signed_in(browser, pages_app, "ann") as ann:
        ask(ann, "What is the treatment for wombat fever?")
        notice = ann.locator("#chat .stale-notice")
        assert "needs re-review" in notice.inner_text()
        assert "zz-wombat-fever-test" in notice.inner_text()
        assert ann.locator("#chat .page-banner").count() == 0, "not served as approved"
        assert ann.locator("#chat .answer").last.locator("a.cite").count() >= 1
        assert not ann.locator("#fresh-answer").is_visible()
        notice.scroll_into_view_if_needed()
        shot(ann, artifacts, "stale", full=False)
        ann.get_by_role("tab", name="Review").click()
        ann.wait_for_selector(f"#pages-table tr[data-page='{saved.id}']")  # the tab's own listing
        ann.locator("#pages-filter input").click()
        ann.get_by_role("option", name="Needs re-review").click()
        # every approved page citing the edited source, and only those (an earlier test's
        # page may cite it too)
        stale = sorted(
            p.id
            for p in pages_app.pages.store.pages(status="approved")
            if "zz-wombat-fever-test" in p.sources
        )
        assert saved.id in stale
        ann.wait_for_function(
            "ids => { const rows = [...document.querySelectorAll('#pages-table tbody tr')];"
            " return rows.map(r => Number(r.dataset.page)).sort((a, b) => a - b).join()"
            " === ids.join() && rows.every(r => r.innerText.includes('Needs re-review')); }",
            arg=stale,
        )


def test_exports_are_escaped(
    browser: Any, pages_app: PagesApp, artifacts: Path, tmp_path: Path
) -> None:
    saved = pages_app.pages.save(
        pages_app.answer("Does quokka fever settle with rest?"), User("ann")
    )
    note = (
        "ok ![pixel](https://evil.example/p.png) [click](javascript:window.__pwned=8) "
        "<img src=x onerror=window.__pwned=9>"
    )
    pages_app.pages.review(saved.id, "under-review", RITA, note)
    pages_app.pages.review(saved.id, "approved", RITA, "<script>window.__pwned=10</script>")
    with signed_in(browser, pages_app, "rita") as rita:
        open_review(rita, saved.id)
        view = rita.locator("#page-view")
        assert "<script>" in view.inner_text() and "onerror" in view.inner_text()
        assert view.locator("script, img, iframe").count() == 0
        assert rita.locator("#page-view a[href^='javascript']").count() == 0
        assert rita.evaluate("() => window.__pwned") is None

        exported: dict[str, str] = {}
        for button, fmt in (("#export-html", "html"), ("#export-md", "md")):
            rita.click(button)
            link = rita.locator(f"#export-file a[href*='page-{saved.id}.{fmt}']")
            link.wait_for()
            response = rita.request.get(link.get_attribute("href"))
            assert response.ok
            exported[fmt] = response.text()

        document = tmp_path / "page.html"
        document.write_text(exported["html"], encoding="utf-8")
        standalone = rita.context.new_page()
        standalone.goto(document.as_uri())
        assert standalone.evaluate("() => window.__pwned") is None
        assert standalone.locator("script, img, iframe, link").count() == 0
        body = standalone.inner_text("body")
        assert "Quokka fever <script>window.__pwned=1</script>" in body
        assert "Approved by rita on" in body and "Review history" in body
        assert "not medical advice" in standalone.inner_text(".disclaimer").lower()
        assert standalone.locator("a[href^='javascript']").count() == 0
        shot(standalone, artifacts, "export")
        standalone.close()

        rendered = MarkdownIt("commonmark").render(exported["md"])
        assert "<img" not in rendered and "<script" not in rendered
        assert 'href="javascript' not in rendered
        assert "Approved by rita on" in exported["md"]
