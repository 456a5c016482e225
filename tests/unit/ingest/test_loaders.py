"""Loaders: every format's happy path and the ways a file can be broken.

All fixtures are made up for these tests (fictional titles, authors and identifiers).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from assistant.config import IngestSettings
from assistant.ingest.loaders import (
    SUPPORTED_SUFFIXES,
    LoadError,
    Skipped,
    discover_files,
    load_file,
    load_file_with_warnings,
)
from assistant.ingest.pubmed import evidence_type

CORPUS = Path(__file__).resolve().parents[3] / "corpus"
SETTINGS = IngestSettings()


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def load_error(path: Path, settings: IngestSettings = SETTINGS) -> str:
    with pytest.raises(LoadError) as info:
        load_file(path, settings)
    message = str(info.value)
    assert message and "\n" not in message
    return message


# --------------------------------------------------------------------------- discovery


def test_discover_expands_sorted_and_skips(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    for name in [
        "b.md",
        "a.txt",
        "sub/c.jsonl",
        "README.md",
        "LICENSE.txt",
        "CHANGELOG.md",
        ".hidden.md",
        ".git/d.md",
        "notes.docx",
        "Makefile",
    ]:
        write(lib / name, "text")
    explicit_readme = write(tmp_path / "README.md", "# Readme")
    files, skipped = discover_files([lib, explicit_readme, tmp_path / "missing.md", lib / "b.md"])
    assert files == [lib / "a.txt", lib / "b.md", lib / "sub" / "c.jsonl", explicit_readme]
    assert Skipped(str(lib / "notes.docx"), "unsupported file type .docx") in skipped
    assert Skipped(str(tmp_path / "missing.md"), "no such file or directory") in skipped
    assert any(s.path == str(lib / "Makefile") for s in skipped)
    assert not any("README" in s.path or "hidden" in s.path or ".git" in s.path for s in skipped)


def test_supported_suffixes() -> None:
    assert {".md", ".jsonl", ".xml", ".pdf", ".html", ".htm", ".txt"} <= SUPPORTED_SUFFIXES


# --------------------------------------------------------------------------- common checks


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.md", b"", "file is empty"),
        ("blank.txt", b"  \n\t\n ", "only whitespace"),
        ("blank.pdf", b"\n\n", "only whitespace"),
        ("binary.md", b"# Title\x00\x01\x02 more", "binary file"),
        ("binary.jsonl", b'{"id": 1}\x00', "binary file"),
        ("latin1.txt", "Caf\u00e9 notes".encode("latin-1"), "UTF-8 (byte 0xe9 at offset 3)"),
        ("bom-only.txt", "\ufeff\u2003\n".encode(), "only whitespace"),
        ("latin1.xml", b"<PubmedArticleSet>\xff</PubmedArticleSet>", "not valid UTF-8"),
        ("notes.docx", b"whatever", "unsupported file type .docx"),
    ],
)
def test_unloadable_files(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    assert expected in load_error(write(tmp_path / name, content))


def test_missing_file(tmp_path: Path) -> None:
    assert "no such file" in load_error(tmp_path / "gone.md")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path / "locked.md", "# Locked")
    path.chmod(0)
    assert "cannot read file" in load_error(path)


def test_too_large(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "word " * 1000)
    assert "too large" in load_error(path, IngestSettings(max_file_mb=0.001))
    assert load_file(path, SETTINGS)


# --------------------------------------------------------------------------- Markdown

FRONT_MATTER_DOC = """---
source_id: made-up-2020-example
title: "A Made-Up Study: Loader Fixture"
authors: "Alpha A, Beta B, et al."
journal: Journal of Fixtures
year: 2020
volume: 7
issue: 2
pages: 10-19
pmid: 1000000001
evidence_type: retrospective-cohort
tags: [fixture, example]
---

Intro line  with  extra spaces.

## Design

- First  bullet.
- Second bullet.

### Detail

Plain paragraph.

## Empty

## Findings

- A finding.
"""


def test_markdown_with_front_matter(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "made-up-2020-example.md", FRONT_MATTER_DOC), SETTINGS)
    assert doc.source_id == "made-up-2020-example"
    assert doc.title == "A Made-Up Study: Loader Fixture"
    assert doc.authors == ["Alpha A", "Beta B", "et al."]
    assert (doc.year, doc.volume, doc.issue, doc.pages, doc.pmid) == (
        2020,
        "7",
        "2",
        "10-19",
        "1000000001",
    )
    assert doc.evidence_type == "retrospective-cohort"
    assert doc.tags == ["fixture", "example"]
    assert doc.path == str(tmp_path / "made-up-2020-example.md")
    assert [s.heading for s in doc.sections] == ["", "Design", "Detail", "Findings"]
    assert doc.sections[0].text == "Intro line with extra spaces."
    assert doc.sections[1].text == "- First bullet.\n- Second bullet."
    assert doc.sections[3].text == "- A finding."


def test_markdown_without_front_matter(tmp_path: Path) -> None:
    text = "# The Real Title\n\nSome text.\n\n## Part C#\nMore.\n```\n# not a heading\n```\n"
    [doc] = load_file(write(tmp_path / "My Notes (v2).markdown", text), SETTINGS)
    assert doc.source_id == "my-notes-v2"
    assert doc.title == "The Real Title"
    assert doc.sections[0].text == "Some text."
    assert doc.sections[1].heading == "Part C#"
    assert "# not a heading" in doc.sections[1].text


def test_markdown_title_falls_back_to_stem(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "plain-notes.md", "Just a line.\n"), SETTINGS)
    assert (doc.title, doc.source_id) == ("plain-notes", "plain-notes")


@pytest.mark.parametrize(
    ("front", "expected"),
    [
        ("title: [unclosed", "front matter is not valid YAML"),
        ("title: a\n  bad: indent: here", "front matter is not valid YAML"),
        ("- just\n- a list", "must be a mapping"),
        ("title: x\nflavour: mint", "unknown front-matter key(s): flavour"),
        ("title: x\nyear: twenty", "year must be a whole number"),
        ("title: x\nevidence_type: anecdote", "evidence_type 'anecdote' is not one of"),
        ("title: x\npopulation: [a, b]", "invalid metadata: population"),
    ],
)
def test_bad_front_matter(tmp_path: Path, front: str, expected: str) -> None:
    path = write(tmp_path / "bad.md", f"---\n{front}\n---\n\nBody.\n")
    assert expected in load_error(path)


def test_front_matter_unclosed_and_no_body(tmp_path: Path) -> None:
    assert "no closing ---" in load_error(write(tmp_path / "a.md", "---\ntitle: x\n\nBody\n"))
    assert "no text" in load_error(write(tmp_path / "b.md", "---\ntitle: x\n---\n\n"))


# --------------------------------------------------------------------------- JSONL


def test_jsonl_records_and_warnings(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "id": 101,
                "title": "First",
                "text": "Body  one.",
                "url": "https://x.test/1",
                "yr": "2021",
                "who": "Gamma G, Delta D",
            }
        ),
        "{not json",
        json.dumps({"title": "no id", "text": "x"}),
        json.dumps({"id": "b", "text": ["Context one.", "Context two.", 3]}),
        json.dumps({"id": "c", "text": ""}),
        json.dumps({"id": 101, "text": "duplicate"}),
        "",
        json.dumps(["not", "an", "object"]),
    ]
    settings = IngestSettings(jsonl_field_map={"link": "url", "year": "yr", "authors": "who"})
    docs, warnings = load_file_with_warnings(
        write(tmp_path / "lib.jsonl", "\n".join(lines)), settings
    )
    assert [d.source_id for d in docs] == ["101", "b"]
    first, second = docs
    assert (first.title, first.link, first.year) == ("First", "https://x.test/1", 2021)
    assert first.authors == ["Gamma G", "Delta D"]
    assert first.sections[0].text == "Body one."
    assert [s.text for s in second.sections] == ["Context one.", "Context two."]
    assert second.title == "Context one."
    assert len(warnings) == 5
    assert warnings[0].startswith("line 2: invalid JSON")
    assert "line 3: missing or invalid id field 'id'" in warnings
    assert "line 5: missing or empty text field 'text'" in warnings
    assert "line 6: duplicate id '101', first one kept" in warnings
    assert warnings[-1].startswith("line 8: expected a JSON object")
    assert load_file(tmp_path / "lib.jsonl", settings) == docs


def test_jsonl_long_text_title_is_truncated(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", json.dumps({"id": "x", "text": "word " * 50}))
    [doc] = load_file(path, SETTINGS)
    assert len(doc.title) <= 80 and doc.title.startswith("word word")


def test_jsonl_without_a_valid_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.jsonl", '{"broken": \n{"id": "x"}\n')
    message = load_error(path)
    assert "no valid JSONL record (2 bad line(s)" in message


def test_jsonl_field_map_must_name_sourcedoc_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "ok.jsonl", json.dumps({"id": "x", "text": "y"}))
    assert "unknown SourceDoc field(s): colour" in load_error(
        path, IngestSettings(jsonl_field_map={"colour": "c"})
    )


# --------------------------------------------------------------------------- PubMed XML

PUBMED_XML = """<?xml version="1.0" ?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2025//EN"
  "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_250101.dtd">
<PubmedArticleSet>
<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="1">1000000001</PMID>
    <Article PubModel="Print">
      <Journal>
        <JournalIssue CitedMedium="Internet">
          <Volume>12</Volume><Issue>3</Issue>
          <PubDate><Year>2021</Year><Month>Mar</Month></PubDate>
        </JournalIssue>
        <Title>Journal of Made-Up Fixtures</Title>
        <ISOAbbreviation>J Made-Up Fixtures</ISOAbbreviation>
      </Journal>
      <ArticleTitle>A fictional <i>fixture</i> study of drug X<sup>2</sup>.</ArticleTitle>
      <Pagination><MedlinePgn>101-109</MedlinePgn></Pagination>
      <Abstract>
        <AbstractText Label="BACKGROUND" NlmCategory="BACKGROUND">Why   it was done.</AbstractText>
        <AbstractText Label="RESULTS">It <b>worked</b> in 3 of 4.</AbstractText>
      </Abstract>
      <AuthorList CompleteYN="Y">
        <Author ValidYN="Y"><LastName>Example</LastName><ForeName>Ann</ForeName>
          <Initials>A</Initials></Author>
        <Author ValidYN="Y"><LastName>Sample</LastName><ForeName>Bo C</ForeName>
          <Initials>BC</Initials></Author>
        <Author ValidYN="Y"><CollectiveName>Fixture Study Group</CollectiveName></Author>
      </AuthorList>
      <PublicationTypeList>
        <PublicationType UI="D016428">Journal Article</PublicationType>
        <PublicationType UI="D064888">Observational Study</PublicationType>
      </PublicationTypeList>
    </Article>
    <MeshHeadingList>
      <MeshHeading><DescriptorName UI="D006801">Humans</DescriptorName></MeshHeading>
      <MeshHeading><DescriptorName UI="D012189">Retrospective Studies</DescriptorName>
      </MeshHeading>
    </MeshHeadingList>
    <KeywordList Owner="NOTNLM"><Keyword>fixture</Keyword></KeywordList>
  </MedlineCitation>
  <PubmedData>
    <ArticleIdList>
      <ArticleId IdType="pubmed">1000000001</ArticleId>
      <ArticleId IdType="doi">10.0000/fixture.1</ArticleId>
    </ArticleIdList>
    <ReferenceList><Reference><Citation>Other.</Citation><ArticleIdList>
      <ArticleId IdType="doi">10.0000/not-this-one</ArticleId></ArticleIdList></Reference>
    </ReferenceList>
  </PubmedData>
</PubmedArticle>
<PubmedArticle>
  <MedlineCitation>
    <PMID Version="1">1000000002</PMID>
    <Article>
      <Journal>
        <JournalIssue><PubDate><MedlineDate>2019 Nov-Dec</MedlineDate></PubDate></JournalIssue>
        <ISOAbbreviation>Fixture Rev</ISOAbbreviation>
      </Journal>
      <ArticleTitle>An imaginary review &amp; meta-analysis.</ArticleTitle>
      <ELocationID EIdType="doi" ValidYN="Y">10.0000/fixture.2</ELocationID>
      <PublicationTypeList>
        <PublicationType>Review</PublicationType>
        <PublicationType>Meta-Analysis</PublicationType>
      </PublicationTypeList>
    </Article>
  </MedlineCitation>
</PubmedArticle>
<PubmedBookArticle><BookDocument><PMID>1000000003</PMID></BookDocument></PubmedBookArticle>
</PubmedArticleSet>
"""


def test_pubmed_xml(tmp_path: Path) -> None:
    docs, warnings = load_file_with_warnings(write(tmp_path / "export.xml", PUBMED_XML), SETTINGS)
    assert [d.source_id for d in docs] == ["1000000001", "1000000002"]
    first, second = docs
    assert first.title == "A fictional fixture study of drug X2."
    assert first.pmid == "1000000001"
    assert first.authors == ["Example A", "Sample BC", "Fixture Study Group"]
    assert (first.journal, first.year, first.volume, first.issue, first.pages) == (
        "Journal of Made-Up Fixtures",
        2021,
        "12",
        "3",
        "101-109",
    )
    assert first.doi == "10.0000/fixture.1"
    assert first.link == "https://pubmed.ncbi.nlm.nih.gov/1000000001/"
    assert first.mesh == ["Humans", "Retrospective Studies"]
    assert first.evidence_type == "retrospective-cohort"
    assert [(s.heading, s.text) for s in first.sections] == [
        ("BACKGROUND", "Why it was done."),
        ("RESULTS", "It worked in 3 of 4."),
    ]
    assert second.title == "An imaginary review & meta-analysis."
    assert (second.journal, second.year, second.doi) == ("Fixture Rev", 2019, "10.0000/fixture.2")
    assert second.evidence_type == "meta-analysis"
    assert [(s.heading, s.text) for s in second.sections] == [("", second.title)]
    assert second.path == str(tmp_path / "export.xml")
    assert warnings == ["1 PubmedBookArticle record(s) skipped (books are not supported)"]


def test_pubmed_single_article_root_and_unlabelled_abstract(tmp_path: Path) -> None:
    xml = (
        "<PubmedArticle><MedlineCitation><PMID>1000000004</PMID><Article>"
        "<ArticleTitle>Fixture.</ArticleTitle><Abstract><AbstractText>Plain abstract."
        "</AbstractText></Abstract><ArticleDate><Year>2018</Year></ArticleDate>"
        "<PublicationTypeList><PublicationType>Case Reports</PublicationType>"
        "</PublicationTypeList></Article></MedlineCitation></PubmedArticle>"
    )
    [doc] = load_file(write(tmp_path / "one.xml", xml), SETTINGS)
    assert (doc.source_id, doc.year, doc.evidence_type) == ("1000000004", 2018, "case-series")
    assert [(s.heading, s.text) for s in doc.sections] == [("Abstract", "Plain abstract.")]


@pytest.mark.parametrize(
    ("types", "mesh", "expected"),
    [
        (["Journal Article", "Practice Guideline"], [], "guideline"),
        (["Consensus Development Conference, NIH"], [], "consensus-recommendation"),
        (["Systematic Review", "Review"], [], "systematic-review"),
        (["Randomized Controlled Trial"], ["Prospective Studies"], "rct"),
        (["Observational Study"], ["Prospective Studies"], "prospective-cohort"),
        (["Observational Study"], [], "other"),
        (["Review", "Case Reports"], [], "case-series"),
        (["Review"], [], "review"),
        (["Journal Article"], [], "other"),
        ([], [], "other"),
    ],
)
def test_evidence_type_mapping(types: list[str], mesh: list[str], expected: str) -> None:
    assert evidence_type(types, mesh) == expected


def test_truncated_xml(tmp_path: Path) -> None:
    path = write(tmp_path / "cut.xml", PUBMED_XML[: len(PUBMED_XML) // 2])
    assert load_error(path).startswith("malformed XML: ")


def test_non_pubmed_xml(tmp_path: Path) -> None:
    path = write(tmp_path / "feed.xml", "<?xml version='1.0'?><rss><channel/></rss>")
    assert "root element is <rss>" in load_error(path)


def test_pubmed_set_without_articles(tmp_path: Path) -> None:
    path = write(tmp_path / "none.xml", "<PubmedArticleSet></PubmedArticleSet>")
    assert "no loadable PubmedArticle" in load_error(path)


def test_xml_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = write(tmp_path / "secret.txt", "TOP-SECRET")
    xml = (
        f'<!DOCTYPE PubmedArticle [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<PubmedArticle><MedlineCitation><PMID>1000000005</PMID><Article>"
        "<ArticleTitle>Title &x;</ArticleTitle></Article></MedlineCitation></PubmedArticle>"
    )
    try:
        docs = load_file(write(tmp_path / "xxe.xml", xml), SETTINGS)
    except LoadError:
        return
    assert "TOP-SECRET" not in docs[0].model_dump_json()


# --------------------------------------------------------------------------- PDF


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF whose pages show the given lines in Helvetica."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (" ".join(f"{5 + 2 * i} 0 R" for i in range(len(pages))).encode(), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (%s) >>" % title.encode() if title else b"<< >>",
    ]
    for i, lines in enumerate(pages):
        escaped = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for ln in lines]
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td", *[f"({ln}) Tj T*" for ln in escaped], "ET"]
        stream = "\n".join(ops).encode()
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (6 + 2 * i)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 4 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_pdf_sections_at_headings(tmp_path: Path) -> None:
    pdf = make_pdf(
        [
            ["Fixture PDF Study", "Abstract", "A short made-up summary."],
            [
                "1. Methods",
                "We made this file by hand.",
                "2.1 Study Population",
                "Nobody.",
                "12 Journal of Fixtures",
                "Results",
                "It parsed.",
            ],
        ],
        title="Fixture PDF (metadata title)",
    )
    [doc] = load_file(write(tmp_path / "Fixture Paper.pdf", pdf), SETTINGS)
    assert doc.source_id == "fixture-paper"
    assert doc.title == "Fixture PDF (metadata title)"
    assert [s.heading for s in doc.sections] == [
        "",
        "Abstract",
        "1. Methods",
        "2.1 Study Population",
        "Results",
    ]
    assert doc.sections[0].text == "Fixture PDF Study"
    assert doc.sections[2].text == "We made this file by hand."
    assert doc.sections[3].text == "Nobody.\n12 Journal of Fixtures"  # not a heading
    assert doc.sections[-1].text == "It parsed."


def test_pdf_pages_without_headings(tmp_path: Path) -> None:
    pdf = make_pdf([["First page title", "some words here"], ["second page words"]])
    [doc] = load_file(write(tmp_path / "pages.pdf", pdf), SETTINGS)
    assert doc.title == "First page title"
    assert [s.heading for s in doc.sections] == ["Page 1", "Page 2"]
    assert doc.sections[1].text == "second page words"


def test_pdf_without_text(tmp_path: Path) -> None:
    path = write(tmp_path / "scan.pdf", make_pdf([[]]))
    assert load_error(path) == "PDF has no extractable text (scanned?)"


@pytest.mark.parametrize("cut", [20, 200])
def test_broken_pdf(tmp_path: Path, cut: int) -> None:
    path = write(tmp_path / "cut.pdf", make_pdf([["Some text"]])[:cut])
    message = load_error(path)
    assert "PDF" in message


def test_not_a_pdf(tmp_path: Path) -> None:
    assert "broken PDF" in load_error(write(tmp_path / "fake.pdf", b"hello, not a pdf"))


# --------------------------------------------------------------------------- HTML and text

HTML_DOC = """<!DOCTYPE html>
<html><head><title>Fixture   Page</title><style>p {color: red}</style>
<script>var secret = "do not index";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/x">Menu item</a></nav>
<header>Site banner</header>
<p>Lead   paragraph with <b>bold</b> text.</p>
<!-- a comment -->
<h2>Key points</h2>
<ul><li>First item</li><li>Second <i>item</i></li></ul>
<div>Loose text in a div</div>
<h3>More</h3><p>Last words.<br>After a break.</p>
<footer>Copyright footer</footer>
<noscript>Enable JS</noscript>
</body></html>
"""


def test_html(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "page.html", HTML_DOC), SETTINGS)
    assert (doc.source_id, doc.title) == ("page", "Fixture Page")
    assert [s.heading for s in doc.sections] == ["", "Key points", "More"]
    assert doc.sections[0].text == "Lead paragraph with bold text."
    assert doc.sections[1].text == "- First item\n- Second item\nLoose text in a div"
    assert doc.sections[2].text == "Last words.\nAfter a break."
    dumped = doc.model_dump_json()
    for hidden in ("do not index", "Menu item", "banner", "footer", "Enable JS", "comment", "red"):
        assert hidden not in dumped


def test_html_title_from_h1_and_no_text(tmp_path: Path) -> None:
    [doc] = load_file(write(tmp_path / "a.htm", "<h1>Heading One</h1><p>Body.</p>"), SETTINGS)
    assert doc.title == "Heading One"
    assert doc.sections[-1].text == "Body."
    empty = write(tmp_path / "b.html", "<html><script>x=1</script><nav>menu</nav></html>")
    assert "no readable text" in load_error(empty)


def test_plain_text(tmp_path: Path) -> None:
    text = "Fixture Notes\n\nA wrapped\nparagraph  here.\n\n- item one\n- item two\n\n\nEnd."
    [doc] = load_file(write(tmp_path / "Fixture Notes.txt", text), SETTINGS)
    assert (doc.source_id, doc.title) == ("fixture-notes", "Fixture Notes")
    assert doc.sections[0].text == "A wrapped paragraph here.\n\n- item one\n- item two\n\nEnd."


def test_text_normalisation(tmp_path: Path) -> None:
    decomposed = "Cafe\u0301\u00a0au\tla\u00adit\x07"  # combining acute, NBSP, tab, soft hyphen
    [doc] = load_file(
        write(tmp_path / "n.txt", f"\ufeff{decomposed}\r\nSecond line.\r\n"), SETTINGS
    )
    assert doc.title == "Caf\u00e9 au lait"


# --------------------------------------------------------------------------- built-in corpus


def test_every_corpus_file_loads() -> None:
    files, _ = discover_files([CORPUS])
    assert files, "the corpus folder is empty"
    for path in files:
        docs = load_file(path, SETTINGS)
        assert [d.source_id for d in docs] == [path.stem], path
        assert all(d.sections and d.title for d in docs), path


def test_runs_of_spaces_and_inline_dash_lists_are_line_breaks() -> None:
    """Scraped pages (MedQuAD's NIH text) mark breaks with runs of spaces and write lists inline
    after a colon; both become lines, so a list keeps its lead-in and items."""
    from assistant.ingest.loaders import clean_block

    text = clean_block(
        [
            "Overview      Your risk rises with age.",
            "These resources address the management of X:  - Registry: X - Encyclopedia: X",
            "Vitamin D - a hormone - helps bones.",
        ]
    )
    assert text.split("\n") == [
        "Overview",
        "Your risk rises with age.",
        "These resources address the management of X:",
        "- Registry: X",
        "- Encyclopedia: X",
        "Vitamin D - a hormone - helps bones.",
    ]
