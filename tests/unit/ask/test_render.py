"""Rendering: source text can never inject markup; markers, disclaimer and JSON keys are there."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from assistant.ask.render import (
    citation_line,
    md_escape,
    render_html,
    render_json,
    render_markdown,
    render_reference_html,
    safe_url,
)
from assistant.prompts import CANNOT_ANSWER_PHRASE, disclaimer
from assistant.types import Answer, AnswerSection, Bullet, Passage, Reference, SourceRef

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(1)">'
MD_LINK = "[x](javascript:alert(1))"
EVIL = f"Anakinra {SCRIPT} worked {IMG} in 19 of 21 {MD_LINK} **bold** `code` # h | t ~~s~~"
JS_URL = "javascript:alert(1)"


def evil_ref(n: int, **kw: Any) -> Reference:
    fields: dict[str, Any] = {
        "n": n,
        "source_id": f"src-{n}",
        "title": f"Title {SCRIPT} {MD_LINK}",
        "authors": [f"Doe {IMG}", "Roe R"],
        "journal": f"J {SCRIPT}",
        "year": 2022,
        "volume": "11<b>",
        "pages": "1-2",
        "pmid": "36233667",
        "doi": "10.3390/jcm11195799",
        "evidence_type": "retrospective-cohort",
        "provenance": f"Read from {IMG}",
        "passages": [
            Passage(
                chunk_id=f"src-{n}#0",
                heading=f"Results {SCRIPT}",
                text=f"Before. {EVIL} After.",
                highlights=[EVIL],
            )
        ],
    }
    fields.update(kw)
    return Reference(**fields)


def answer(abstained: bool = False, **kw: Any) -> Answer:
    sections = [
        AnswerSection(
            heading="From the Guidelines",
            kind="guidelines",
            subsections=[
                AnswerSection(
                    heading=f"Bottom line {SCRIPT}",
                    kind="bottom-line",
                    bullets=[Bullet(text=EVIL, citations=[1])],
                )
            ],
        ),
        AnswerSection(
            heading="From the Research",
            kind='research" onclick="alert(1)',
            subsections=[
                AnswerSection(
                    heading="Efficacy",
                    kind="research-topic",
                    bullets=[Bullet(text=f"Second {IMG} finding.", citations=[2, 1])],
                )
            ],
        ),
    ]
    refs = [
        evil_ref(1),
        evil_ref(2, pmid=None, doi=None, link=JS_URL),
    ]
    fields: dict[str, Any] = {
        "question": f"Does {SCRIPT} anakinra work?",
        "standalone_question": f"Does anakinra work in HLH {IMG}?",
        "sections": [] if abstained else sections,
        "references": [] if abstained else refs,
        "glossary": {f"term {SCRIPT}": f"explained {IMG}"},
        "follow_ups": [f"And {SCRIPT}?", f"What {MD_LINK}?"],
        "disclaimer": disclaimer(),
        "timings_ms": {"condense": 0.1, "retrieve": 1.0, "total": 2.0},
        "citation_map": {"src-1": 1, "src-2": 2},
        "abstained": abstained,
    }
    if abstained:
        fields["notice"] = f"{CANNOT_ANSWER_PHRASE} ({SCRIPT})"
        fields["closest_sources"] = [
            SourceRef(source_id="near", title=f"Near {SCRIPT}", link=JS_URL, authors=[IMG])
        ]
    fields.update(kw)
    out = Answer(**fields)
    out.markdown = render_markdown(out)
    return out


# -- HTML -----------------------------------------------------------------------------------

ALLOWED_TAGS = {
    "div", "section", "header", "h1", "h2", "h3", "h4", "ul", "ol", "li", "a", "p", "strong",
    "blockquote", "mark", "span", "dl", "dt", "dd", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRS = {"class", "href", "title", "id", "value", "target", "rel"}


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Tags:
    parser = Tags()
    parser.feed(html)
    parser.close()
    return parser


@pytest.mark.parametrize("abstained", [False, True])
def test_html_escapes_everything_from_sources(abstained: bool) -> None:
    html = render_html(answer(abstained))
    parsed = parse(html)
    for tag, attrs in parsed.tags:
        assert tag in ALLOWED_TAGS, tag
        assert set(attrs) <= ALLOWED_ATTRS, attrs
        href = attrs.get("href")
        if href is not None:
            assert href.startswith(("#ref-", "#cite-", "https://")), href
    assert "<script" not in html and "<img" not in html
    assert "javascript:" not in " ".join(str(a.get("href")) for _, a in parsed.tags)
    # the text survives, as text
    text = "".join(parsed.text)
    assert SCRIPT in text and IMG in text


def test_html_markers_are_anchors_to_references() -> None:
    html = render_html(answer())
    tags = parse(html).tags
    cites = [a for t, a in tags if t == "a" and a.get("class") == "cite"]
    assert [(a["href"], a.get("id")) for a in cites] == [
        ("#ref-1", "cite-1"),  # the first marker of a source is where its reference returns
        ("#ref-2", "cite-2"),
        ("#ref-1", None),
    ]
    ids = {a.get("id") for _, a in tags}
    assert {"ref-1", "ref-2"} <= ids
    assert 'href="#cite-2"' in html  # the way back from reference 2 to its marker


def test_html_reference_links_only_safe_urls() -> None:
    ref1 = render_reference_html(evil_ref(1))
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/36233667/"' in ref1
    assert 'href="https://doi.org/10.3390/jcm11195799"' in ref1
    js = render_reference_html(evil_ref(2, pmid=None, doi=None, link=JS_URL))
    assert not [t for t, _ in parse(js).tags if t == "a"]
    ok = render_reference_html(evil_ref(3, pmid=None, doi=None, link="https://example.org/a"))
    assert 'href="https://example.org/a"' in ok


def test_html_highlights_are_marked_inside_escaped_text() -> None:
    html = render_reference_html(evil_ref(1))
    assert "<mark>Anakinra &lt;script&gt;" in html
    assert html.count("<mark>") == 1


# -- Markdown -------------------------------------------------------------------------------

_LINK = re.compile(r"(?<!\\)\]\((?P<url>[^)\s]*)")


@pytest.mark.parametrize("abstained", [False, True])
def test_markdown_escapes_source_text(abstained: bool) -> None:
    md = answer(abstained).markdown
    assert re.search(r"(?<!\\)<", md) is None  # no raw HTML can start
    assert "\\<script\\>" in md and "\\<img" in md  # the text is kept, escaped
    # the only links are the ones we build: PubMed, DOI, or a checked http(s) link
    for match in _LINK.finditer(md):
        assert match.group("url").startswith(("https://pubmed.", "https://doi.org/")), match
    assert "(javascript:" not in md.replace("\\](javascript:", "")


@pytest.mark.parametrize("abstained", [False, True])
def test_markdown_renders_to_safe_html(abstained: bool) -> None:
    import markdown_it

    md = markdown_it.MarkdownIt("commonmark")  # raw HTML allowed: the worst case
    md.validateLink = lambda url: True  # and no link filtering of its own
    html = md.render(answer(abstained).markdown)
    parsed = parse(html)
    assert not [t for t, _ in parsed.tags if t in {"script", "img", "iframe"}]
    hrefs = [a.get("href") or "" for t, a in parsed.tags if t == "a"]
    assert all(h.startswith("https://") for h in hrefs), hrefs
    assert SCRIPT in "".join(parsed.text)


def test_markdown_markers_and_reference_list() -> None:
    md = answer().markdown
    assert re.search(r"^- .*finding\. \[2\]\[1\]$", md, re.MULTILINE)
    assert re.search(r"^1\. .*PMID: \[36233667\]\(https://pubmed", md, re.MULTILINE)
    assert "[Link](" not in md  # the javascript: link of reference 2 is dropped
    safe = answer(references=[evil_ref(1), evil_ref(2, pmid=None, doi=None, link="https://a.org")])
    assert "[Link](https://a.org)" in safe.markdown


def test_markdown_has_no_heading_injection() -> None:
    md = answer().markdown
    title, *headings = [line for line in md.splitlines() if line.startswith("#")]
    assert title == "# Does \\<script\\>alert(1)\\</script\\> anakinra work?"  # escaped
    assert all(re.match(r"^#{2,6} ", h) for h in headings), headings
    assert "### Bottom line \\<script\\>" in md


def test_md_escape_and_safe_url() -> None:
    assert md_escape("[x](javascript:alert(1))") == "\\[x\\](javascript:alert(1))"
    assert md_escape("<b>") == "\\<b\\>"
    for url in [JS_URL, "JAVASCRIPT:alert(1)", " javascript:x", "data:text/html,x", "//evil.org"]:
        assert safe_url(url) is None, url
    assert safe_url("ftp://x.org/a") is None
    assert safe_url("http://") is None
    assert safe_url(" https://example.org/a ") == "https://example.org/a"


def test_citation_line_formats_a_reference() -> None:
    ref = SourceRef(
        source_id="b",
        title="Anakinra for HLH: 21 cases.",
        authors=["Baverez C", "Grall M"],
        journal="J Clin Med",
        year=2022,
        volume="11",
        issue="19",
        pages="5799",
    )
    assert citation_line(ref) == (
        "Baverez C, Grall M. Anakinra for HLH: 21 cases. J Clin Med. 2022;11(19):5799."
    )
    assert citation_line(SourceRef(source_id="x", title="Only a title")) == "Only a title."


# -- disclaimer and JSON --------------------------------------------------------------------


@pytest.mark.parametrize("abstained", [False, True])
def test_disclaimer_ends_every_format(abstained: bool) -> None:
    a = answer(abstained)
    text = disclaimer()
    assert text.strip()
    assert a.markdown.rstrip().endswith(f"*{md_escape(text)}*")
    html = render_html(a)
    assert html.endswith(f'<p class="disclaimer">{text}</p></div>') or text in "".join(
        parse(html).text
    )
    assert json.loads(render_json(a))["disclaimer"] == text


def test_abstained_answer_shows_notice_and_closest_sources() -> None:
    a = answer(abstained=True)
    assert CANNOT_ANSWER_PHRASE in a.markdown
    assert "Closest sources" in a.markdown and "Near \\<script\\>" in a.markdown
    html = render_html(a)
    assert 'class="abstain"' in html and "Near &lt;script&gt;" in html


ISSUE_KEYS = {
    "question",
    "standalone_question",
    "abstained",
    "sections",
    "references",
    "disclaimer",
    "follow_ups",
    "markdown",
    "timings_ms",
}
REFERENCE_KEYS = {
    "n",
    "source_id",
    "title",
    "authors",
    "journal",
    "year",
    "pmid",
    "doi",
    "link",
    "evidence_type",
    "passages",
}


@pytest.mark.parametrize("abstained", [False, True])
def test_json_has_the_issue_keys(abstained: bool) -> None:
    a = answer(abstained)
    data = json.loads(render_json(a))
    assert ISSUE_KEYS <= set(data)
    assert isinstance(data["abstained"], bool) and data["abstained"] is abstained
    assert data["markdown"] == a.markdown
    assert all(isinstance(q, str) for q in data["follow_ups"])
    assert data["timings_ms"]["total"] == 2.0
    for ref in data["references"]:
        assert REFERENCE_KEYS <= set(ref)
    stack = list(data["sections"])
    assert bool(stack) is not abstained
    while stack:
        section = stack.pop()
        assert {"heading", "bullets"} <= set(section)
        for bullet in section["bullets"]:
            assert isinstance(bullet["text"], str)
            assert all(isinstance(n, int) for n in bullet["citations"])
        stack.extend(section.get("subsections", []))
    assert SCRIPT in render_json(a)  # JSON carries data, not markup: it is escaped by consumers
