"""Hostile metadata: every field is validated when a file is read (PMID digits, DOI pattern,
http(s) links) and checked again, and escaped, in every output format (for indexes written
before the checks existed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.ask.render import render_html, render_json, render_markdown
from assistant.config import IngestSettings
from assistant.ingest.loaders import LoadError, load_file, load_file_with_warnings
from assistant.prompts import disclaimer
from assistant.types import Answer, AnswerSection, Bullet, Passage, Reference
from tests.reliability.conftest import html_tags

PIXEL_LINK = "https://example.org/a) ![pixel](https://evil.example/pixel.png"
SCRIPT_PMID = '"><script>alert(1)</script>'
PAREN_DOI = "10.1016/S0140-6736(20)30566-3"


def _md(tmp_path: Path, **meta: str) -> Path:
    front = "\n".join(f"{k}: {json.dumps(v)}" for k, v in meta.items())
    path = tmp_path / "hostile.md"
    path.write_text(f"---\ntitle: Hostile\n{front}\n---\n\n## Findings\n\n- A finding.\n")
    return path


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("link", PIXEL_LINK),
        ("link", "javascript:alert(1)"),
        ("link", "ftp://example.org/a"),
        ("pmid", SCRIPT_PMID),
        ("pmid", "PMC7102927"),
        ("pmid", "1234567890123"),
        ("doi", "10.1000/abc def"),
        ("doi", "not-a-doi"),
        ("doi", '10.1000/"><img src=x>'),
    ],
)
def test_an_invalid_identifier_is_dropped_with_a_warning(
    tmp_path: Path, field: str, value: str
) -> None:
    (doc,), warnings = load_file_with_warnings(_md(tmp_path, **{field: value}), IngestSettings())
    assert getattr(doc, field) is None and doc.title == "Hostile"  # the source itself is kept
    assert len(warnings) == 1 and warnings[0].startswith(field) and "dropped" in warnings[0]


def test_an_invalid_source_id_refuses_the_file_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="source_id"):
        load_file(_md(tmp_path, source_id='"><script>'), IngestSettings())


def test_valid_metadata_is_kept(tmp_path: Path) -> None:
    meta = {"pmid": "36233667", "doi": PAREN_DOI, "link": "https://example.org/a_(b)?q=1#x"}
    (doc,) = load_file(_md(tmp_path, **meta), IngestSettings())
    assert (doc.pmid, doc.doi, doc.link) == (meta["pmid"], meta["doi"], meta["link"])


def test_a_pubmed_record_with_a_hostile_pmid_is_skipped(tmp_path: Path) -> None:
    def article(pmid: str) -> str:
        return (
            f"<PubmedArticle><MedlineCitation><PMID>{pmid}</PMID><Article>"
            "<ArticleTitle>A title</ArticleTitle><Abstract><AbstractText>Text of the abstract."
            "</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
        )

    path = tmp_path / "export.xml"
    path.write_text(
        f"<PubmedArticleSet>{article('&quot;&gt;&lt;script&gt;')}{article('123')}"
        "</PubmedArticleSet>"
    )
    docs, warnings = load_file_with_warnings(path, IngestSettings())
    assert [d.source_id for d in docs] == ["123"]
    assert any("PMID" in w for w in warnings), warnings


def _answer(ref: Reference) -> Answer:
    out = Answer(
        question="Q?",
        standalone_question="Q?",
        sections=[AnswerSection(heading="Efficacy", bullets=[Bullet(text="A.", citations=[1])])],
        references=[ref],
        disclaimer=disclaimer(),
    )
    out.markdown = render_markdown(out)
    return out


def _stored(**kw: Any) -> Reference:
    """A reference as an index written before validation could hold it."""
    fields: dict[str, Any] = {
        "n": 1,
        "source_id": "old",
        "title": "Old",
        "passages": [Passage(chunk_id="old#0", text="A.", highlights=["A."])],
    }
    return Reference(**{**fields, **kw})


def _markdown_html(md: str) -> str:
    import markdown_it

    parser = markdown_it.MarkdownIt("commonmark")
    parser.validateLink = lambda url: True  # the worst case: no filtering of its own
    return str(parser.render(md))


@pytest.mark.parametrize(
    "ref",
    [
        _stored(link=PIXEL_LINK),
        _stored(pmid=SCRIPT_PMID),
        _stored(doi='10.1000/x"><img src=x onerror=alert(1)>'),
        _stored(link="https://example.org/\u202e/evil"),
    ],
)
def test_stored_hostile_metadata_is_inert_in_every_format(ref: Reference) -> None:
    answer = _answer(ref)
    for name, fragment in [
        ("markdown", _markdown_html(answer.markdown)),
        ("json markdown", _markdown_html(json.loads(render_json(answer))["markdown"])),
        ("html", render_html(answer)),
    ]:
        tags = html_tags(fragment)
        assert not [t for t, _ in tags if t in {"img", "script", "iframe"}], (name, fragment)
        hrefs = [a.get("href") or "" for t, a in tags if t == "a"]
        assert all(
            h.startswith(("https://pubmed.", "https://doi.org/", "#ref-", "#cite-")) for h in hrefs
        ), (
            name,
            hrefs,
        )
    refs = json.loads(render_json(answer))["references"]
    assert refs[0]["link"] is None and refs[0]["pmid"] in (None, "36233667")


def test_a_doi_with_parentheses_links_whole() -> None:
    answer = _answer(_stored(doi=PAREN_DOI))
    for fragment in (_markdown_html(answer.markdown), render_html(answer)):
        hrefs = [a.get("href") for t, a in html_tags(fragment) if t == "a" and a.get("href")]
        assert "https://doi.org/10.1016/S0140-6736%2820%2930566-3" in hrefs, hrefs
