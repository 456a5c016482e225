"""The answer page in headless Chromium at a laptop's and a phone's size: what is in view after
each answer, streaming, Copy, back-links from references, the small things (hints, counter,
accessible names) and colour contrast as rendered. Screenshots: test-artifacts/ui-layout-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.wcag import AA_TEXT, contrast, over, parse_colour

pytestmark = [pytest.mark.browser, pytest.mark.slow]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# the seed question of the built-in corpus (tests may know the corpus; assistant/ may not)
SEED_QUESTION = "What is the efficacy of anakinra in HLH?"
FOLLOW_UP = "What dose was used in children?"
FINAL = (
    "n => { const a = document.querySelectorAll('#chat .answer'); const last = a[a.length - 1];"
    " return a.length >= n && !last.classList.contains('pending')"
    " && !last.querySelector('.writing') && last.querySelector('.copy-answer') !== null; }"
)
IN_VIEW = """sel => { const all = document.querySelectorAll(sel); const el = all[all.length - 1];
  if (!el) return null;
  const r = el.getBoundingClientRect();
  let visible = r.top >= 0 && r.top + Math.min(r.height, 40) <= window.innerHeight
    && r.width > 0;
  for (let p = el.parentElement; p && visible; p = p.parentElement) {
    const s = getComputedStyle(p);
    if (/(auto|scroll|hidden)/.test(s.overflowY)) {
      const b = p.getBoundingClientRect();
      visible = r.top >= b.top - 1 && r.top + Math.min(r.height, 40) <= b.bottom + 1;
    }
  }
  const bar = document.getElementById('composer');  // fixed over the page on a phone
  const hidden = !bar.contains(el) && getComputedStyle(bar).position === 'fixed'
    && r.top + Math.min(r.height, 40) > bar.getBoundingClientRect().top;
  return {top: Math.round(r.top), visible: visible && !hidden}; }"""
RECORD_STATES = """() => {
  window.__states = [];
  const note = () => {
    const a = document.querySelectorAll('#chat .answer'); const last = a[a.length - 1];
    if (!last) return;
    const state = last.classList.contains('pending')
      ? (last.querySelector('.draft') ? 'draft' : 'steps:'
         + [...last.querySelectorAll('.progress li')].map(li => li.textContent).join('|'))
      : last.querySelector('.writing') ? 'sections:' + last.querySelectorAll('section').length
      : 'final';
    const s = window.__states;
    if (s[s.length - 1] !== state) s.push(state);
  };
  new MutationObserver(note).observe(document.getElementById('chat'),
    {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture
def sized(browser: Any, app_server: Any) -> Iterator[Any]:
    """``sized(viewport)`` -> a fresh page of the app at that size (its own session)."""
    contexts: list[Any] = []

    def make(viewport: dict[str, int], query: str = "", **options: Any) -> Any:
        context = browser.new_context(viewport=viewport, **options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(app_server.url + query)
        page.wait_for_selector("#question textarea")
        return page

    yield make
    for context in contexts:
        context.close()


def ask(page: Any, question: str, n: int) -> None:
    page.fill("#question textarea", question)
    page.press("#question textarea", "Enter")
    page.wait_for_function(FINAL, arg=n)
    page.wait_for_timeout(150)  # the smooth scroll to the new question


def in_view(page: Any, selector: str) -> dict[str, Any]:
    found = page.evaluate(IN_VIEW, selector)
    assert found is not None, f"nothing matches {selector}"
    return dict(found)


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"ui-layout-{name}.png"))


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_bottom_line_and_question_box_in_view_after_every_answer(
    sized: Any, artifacts: Path, size: str
) -> None:
    page = sized(DESKTOP if size == "desktop" else PHONE)
    assert in_view(page, "#question textarea")["visible"], "the box is in view on arrival"
    page.evaluate(RECORD_STATES)
    ask(page, SEED_QUESTION, 1)
    states = page.evaluate("() => window.__states")
    # streamed: the steps, then the sections as they are shown, then the page
    assert any(s.startswith("steps:") and "Searching the library" in s for s in states), states
    assert any(s.startswith("sections:") for s in states), states
    assert states[-1] == "final", states
    answer = page.locator("#chat .answer").last
    assert answer.locator(".answer-title").inner_text() == SEED_QUESTION
    assert answer.locator(".review-status").inner_text() == "Not reviewed"
    updated = answer.locator(".last-updated").inner_text()
    assert re.search(r"newest cited source (19|20)\d\d; library built \d{4}-\d\d-\d\d", updated)
    first_section = answer.locator("section").first
    assert "bottom-line" in (first_section.get_attribute("class") or "")
    for selector in ("#chat .answer-title", "#chat section.bottom-line", "#question textarea"):
        assert in_view(page, selector)["visible"], f"{selector} is out of view ({size})"
    under = answer.locator("section.references li")
    assert under.count() == page.locator("#sources-panel li[id^=ref-]").count() >= 2
    shot(page, artifacts, size)
    ask(page, FOLLOW_UP, 2)  # and again after a follow-up, in a longer conversation
    assert page.locator("#chat .answer").last.locator(".standalone").count() == 1
    for selector in ("#chat section.bottom-line", "#question textarea"):
        assert in_view(page, selector)["visible"], f"{selector} is out of view ({size}, 2nd)"
    assert page.locator("#chat .answer .answer-title").last.inner_text() == FOLLOW_UP


def test_reference_back_links_on_a_phone(sized: Any, artifacts: Path) -> None:
    page = sized(PHONE)
    ask(page, SEED_QUESTION, 1)
    answer = page.locator("#chat .answer").last
    marker = answer.locator("a.cite").last
    n = marker.inner_text().strip("[]")
    marker.click()
    ref = page.locator(f"#a1-ref-{n}")
    page.wait_for_function(  # the panel is far below on a phone: the list under the answer
        f"() => document.getElementById('a1-ref-{n}').classList.contains('active')"
    )
    page.wait_for_timeout(600)
    assert in_view(page, f"#a1-ref-{n}")["visible"]
    assert ref.locator("details").get_attribute("open") is not None
    assert ref.locator("mark").first.is_visible(), "the cited sentence is highlighted"
    shot(page, artifacts, "reference")
    ref.locator("a.backref").click()
    page.wait_for_function(f"() => document.activeElement.id === 'a1-cite-{n}'")
    # a smooth scroll over the whole answer: wait until it ends with the marker in view
    page.wait_for_function(
        f"() => {{ const f = {IN_VIEW}; const r = f('#a1-cite-{n}'); return r && r.visible; }}",
        timeout=5_000,
    )
    assert in_view(page, f"#a1-cite-{n}")["visible"], "back at the first marker of the source"
    shot(page, artifacts, "back-to-marker")


def test_panel_back_link_on_a_laptop(sized: Any) -> None:
    page = sized(DESKTOP)
    ask(page, SEED_QUESTION, 1)
    page.locator("#chat .answer a.cite").last.click()
    active = page.locator("#sources-panel li.active")
    active.wait_for()  # the panel is beside the chat: the source is shown there
    n = (active.get_attribute("id") or "").removeprefix("ref-")
    page.evaluate("() => { document.querySelector('#chat .bubble-wrap').scrollTop = 1e6; }")
    active.locator("a.backref").click()
    page.wait_for_function(f"() => document.activeElement.id === 'a1-cite-{n}'")
    page.wait_for_timeout(600)
    assert in_view(page, f"#a1-cite-{n}")["visible"]


def test_copy_gives_clean_markdown(sized: Any, artifacts: Path, app_server: Any) -> None:
    page = sized(DESKTOP)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_server.url)
    ask(page, SEED_QUESTION, 1)
    button = page.locator("#chat .answer button.copy-answer").last
    button.click()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#chat button.copy-answer')]"
        ".some(b => b.textContent === 'Copied')"
    )
    text = page.evaluate("() => navigator.clipboard.readText()")
    assert text.startswith(f"# {SEED_QUESTION}\n\n**Review status:** Not reviewed")
    assert "**Last updated:** newest cited source" in text
    assert re.search(r"\n- [^\n]+ \[1\]\n", text), "bullets end with plain [n] markers"
    assert "\n## Bottom line\n" in text and "\n## References\n\n1. " in text
    assert text.index("## Bottom line") < text.index("## References")
    assert "not medical advice" in text.lower()
    for leftover in ("&#91;", "&#93;", "&amp;", "&lt;", "<div", "<a ", "class="):
        assert leftover not in text, leftover
    shot(page, artifacts, "copied")


def test_small_things(sized: Any, artifacts: Path) -> None:
    page = sized(DESKTOP)
    page.click("#ask")  # an empty question: a hint, no message
    hint = page.locator("#question-hint .question-hint")
    hint.wait_for()
    assert "Type a question first" in hint.inner_text()
    assert page.locator("#chat .question").count() == 0
    box = page.locator("#question textarea")
    assert box.get_attribute("maxlength") == "2000"
    box.fill("Is it safe?")
    assert page.inner_text("#question-count") == "11 / 2,000 characters"
    box.fill("x" * 2100)
    assert len(box.input_value()) == 2000
    assert "2,000 / 2,000 characters: the limit" in page.inner_text("#question-count")
    shot(page, artifacts, "limit")
    box.fill("")
    # every control has an accessible name (the box used to be called "Textbox")
    ask(page, SEED_QUESTION, 1)
    assert not hint.is_visible() or hint.inner_text() == ""
    assert unnamed_controls(page) == []
    assert page.get_by_role("textbox", name="Your question").count() == 1
    page.get_by_role("tab", name="Library").click()
    page.wait_for_selector("#library-table tbody tr")
    assert unnamed_controls(page) == []


def unnamed_controls(page: Any) -> list[str]:
    """Interactive nodes of Chromium's accessibility tree that have no name."""
    roles = {
        "button", "checkbox", "combobox", "link", "listbox", "menuitem", "radio", "searchbox",
        "slider", "spinbutton", "switch", "tab", "textbox",
    }  # fmt: skip
    session = page.context.new_cdp_session(page)
    nodes = session.send("Accessibility.getFullAXTree")["nodes"]
    out = []
    for node in nodes:
        role = node.get("role", {}).get("value")
        if node.get("ignored") or role not in roles:
            continue
        if not str(node.get("name", {}).get("value", "")).strip():
            out.append(f"{role} (backend node {node.get('backendDOMNodeId')})")
    return out


CONTRAST_PROBE = """sels => {
  const bg = el => { // the first opaque background behind el, with translucent ones on top
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = getComputedStyle(e).backgroundColor;
      if (c && c !== 'rgba(0, 0, 0, 0)' && c !== 'transparent') {
        layers.push(c);
        if (!c.startsWith('rgba') || c.endsWith(', 1)')) break;
      }
    }
    if (!layers.length || layers[layers.length - 1].startsWith('rgba(')) layers.push(
      getComputedStyle(document.body).backgroundColor);
    return layers;
  };
  const out = {};
  for (const sel of sels) {
    const el = document.querySelector(sel);
    if (el) out[sel] = {color: getComputedStyle(el).color, layers: bg(el),
                        opacity: getComputedStyle(el).opacity};
  }
  return out; }"""
MEASURED = [
    "#chat .answer .answer-title",
    "#chat .answer .review-label",
    "#chat .answer .review-status",
    "#chat .answer .review-detail",
    "#chat .answer .last-updated",
    "#chat .answer section.bottom-line li",
    "#chat .answer a.cite",
    "#chat .answer a.backref",
    "#chat .answer details summary",
    "#chat .answer button.copy-answer",
    "#chat .answer .disclaimer",
    "#chat .answer .provenance",
    "#sources-panel .hint",
    "#sources-panel .badge",
    "#sources-panel a.backref",
    "#sources-panel mark",
    "#sources-panel .provenance",
    "#question-count",
]


def measured_ratios(page: Any) -> dict[str, float]:
    found = page.evaluate(CONTRAST_PROBE, MEASURED)
    ratios = {}
    for selector, probe in found.items():
        assert float(probe["opacity"]) == 1.0, f"{selector} is faded"
        layers = [parse_colour(c) for c in probe["layers"]]
        base, _ = layers[-1]
        for rgb, alpha in reversed(layers[:-1]):
            base = over(rgb, alpha, base)
        fg, alpha = parse_colour(probe["color"])
        ratios[selector] = round(contrast(over(fg, alpha, base), base), 2)
    return ratios


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_rendered_contrast_meets_aa(sized: Any, artifacts: Path, theme: str) -> None:
    page = sized(DESKTOP, color_scheme=theme, query=f"?__theme={theme}")
    assert page.evaluate("() => document.body.classList.contains('dark')") == (theme == "dark")
    ask(page, SEED_QUESTION, 1)  # one of its sources has a provenance line
    page.locator("#chat .answer details").first.evaluate("d => d.open = true")
    ratios = measured_ratios(page)
    missing = set(MEASURED) - set(ratios)
    assert not missing, f"not on the page: {missing}"
    print(f"\n{theme} theme contrast (lowest first):")
    for selector, ratio in sorted(ratios.items(), key=lambda kv: kv[1]):
        print(f"  {ratio:5.2f}:1  {selector}")
    low = {s: r for s, r in ratios.items() if r < AA_TEXT}
    assert not low, f"below {AA_TEXT}:1 ({theme}): {low}"
    shot(page, artifacts, f"contrast-{theme}")


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_seed_answer_shows_certainty_and_evidence_table(
    sized: Any, artifacts: Path, size: str
) -> None:
    """The seed answer (issue 10): its bottom line names the observational designs, a certainty
    label of low or very low with its reasons, and the "Evidence at a glance" table with one row
    per cited study, each row's marker a link to its reference."""
    page = sized(DESKTOP if size == "desktop" else PHONE)
    ask(page, SEED_QUESTION, 1)
    answer = page.locator("#chat .answer").last
    bottom = answer.locator("section.bottom-line").inner_text()
    assert "Evidence in the library" in bottom and "no randomised trial" in bottom, bottom
    label = answer.locator("p.certainty").inner_text()
    assert re.search(r"Certainty of the evidence: (low|very low)\b", label), label
    table = answer.locator("section.evidence-table")
    rows = table.locator("tbody tr")
    assert rows.count() >= 3
    headers = [h.strip().lower() for h in table.locator("thead th").all_inner_texts()]
    assert "design" in headers, headers
    assert rows.first.locator("a.cite").count() == 1
    # no cell breaks inside a word (a laptop: the short columns keep to one line); on a phone
    # one card per study, nothing wider than the answer
    cell = table.locator("tbody tr td").nth(1)
    if size == "desktop":
        assert cell.evaluate("td => getComputedStyle(td).whiteSpace") == "nowrap"
    else:
        assert cell.evaluate("td => getComputedStyle(td).display") == "block"
        assert table.evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    table.evaluate("el => el.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(artifacts / f"ui-evidence-{size}.png"))
