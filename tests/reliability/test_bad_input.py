"""Bad input of every kind: broken files in one ingest, hostile documents, bad questions, and
questions asked while another process ingests. Each bad item is reported with a reason and
nothing already stored is lost."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assistant.ask.chain import AskChain
from assistant.ask.render import render_html
from assistant.config import Settings
from assistant.errors import InvalidQuestion
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from tests.reliability.conftest import CORPUS, html_tags, run_cli, write_doc
from tests.unit.ingest.test_loaders import make_pdf

pytestmark = pytest.mark.slow

GOOD = "Wombat fever settled with rest in 9 of 10 keepers."


def _billion_laughs() -> bytes:
    entities = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    ]
    return f"<!DOCTYPE b [{''.join(entities)}]><PubmedArticleSet>&l9;</PubmedArticleSet>".encode()


def _bad_files(root: Path) -> dict[str, str]:
    """name -> a word the skip reason must contain."""
    root.mkdir(parents=True, exist_ok=True)
    secret = root.parent / "secret.txt"
    secret.write_text("TOP-SECRET-XXE")
    files: dict[str, tuple[bytes, str]] = {
        "empty.md": (b"", "empty"),
        "blank.txt": (b" \n\t\n", "empty"),
        "binary.txt": (b"MZ\x90\x00\x03\x00\x00\x00", "binary"),
        "latin1.md": ("# Caf\xe9\n\nNa\xefve text.\n".encode("latin-1"), "UTF-8"),
        "truncated.pdf": (make_pdf([["Results", "A finding."]])[:120], "PDF"),
        "fake.pdf": (b"<html>not a pdf</html>", "PDF"),
        "scanned.pdf": (make_pdf([[]]), "text"),
        "bad-yaml.md": (b"---\ntitle: [unclosed\n---\n\nBody.\n", "YAML"),
        "unknown-key.md": (b"---\ntitel: Typo\n---\n\nBody.\n", "unknown"),
        "no-close.md": (b"---\ntitle: x\n\nBody.\n", "closing"),
        "all-bad.jsonl": (b"{not json\n[1, 2]\n", "JSONL"),
        "truncated.xml": (b"<PubmedArticleSet><PubmedArticle><MedlineCitation>", "XML"),
        "other.xml": (b"<?xml version='1.0'?><html><body>hi</body></html>", "PubMed"),
        "bomb.xml": (_billion_laughs(), "amplification"),
        "xxe.xml": (
            f'<!DOCTYPE PubmedArticle [<!ENTITY x SYSTEM "file://{secret}">]>'
            "<PubmedArticle><MedlineCitation><PMID>123</PMID><Article><ArticleTitle>T &x;"
            "</ArticleTitle></Article></MedlineCitation></PubmedArticle>".encode(),
            "entity",
        ),
        "big.txt": (b"word " * 300_000, "too large"),
        "tool.exe": (b"MZ", "unsupported"),
        "noext": (b"text", "extension"),
    }
    for name, (data, _) in files.items():
        (root / name).write_bytes(data)
    os.mkfifo(root / "pipe.md")  # a reader that opened it would wait for ever
    (root / "dir.md").mkdir()
    write_doc(root / "good.md", "bad-input-good", "Good file", GOOD)
    write_doc(root / "bad-pmid.md", "bad-pmid", "Bad PMID", "Numbat itch faded.", pmid="12ab")
    expected = {name: word for name, (_, word) in files.items()}
    expected["pipe.md"] = "regular"
    return expected


def test_one_ingest_of_every_kind_of_bad_file(tmp_path: Path, embeddings: Any) -> None:
    root = tmp_path / "lib"
    expected = _bad_files(root)
    settings = Settings(data_dir=tmp_path / "data", ingest={"max_file_mb": 1})
    lib = Library(settings, embeddings=embeddings)
    first = ingest([CORPUS / "baverez-2022-anakinra-21-cases.md"], settings, library=lib)
    started = time.perf_counter()
    report = ingest([root], settings, library=lib, progress=False)
    elapsed = time.perf_counter() - started
    assert sorted(report.added) == ["bad-input-good", "bad-pmid"] and elapsed < 60
    reasons = {Path(s["path"]).name: s["reason"] for s in report.skipped}
    assert set(reasons) == set(expected), sorted(set(reasons) ^ set(expected))
    for name, word in expected.items():
        assert word.lower() in reasons[name].lower(), (name, reasons[name])
    warned = [w["reason"] for w in report.warnings if Path(w["path"]).name == "bad-pmid.md"]
    assert warned == ["pmid '12ab' is not a PubMed id (digits only): dropped"], report.warnings
    stored = json.dumps([r.ref.model_dump() for r in lib.sources()])
    assert "TOP-SECRET-XXE" not in stored and '"pmid": "12ab"' not in stored
    assert {r.ref.source_id for r in lib.sources()} >= set(first.added) | {"bad-input-good"}
    assert lib.manifest.chunk_ids() == lib.dense.all_ids()
    lib.close()


HOSTILE = [
    "Quoll cough <script>alert(1)</script> eased with honey in 4 of 5 joeys.",
    "Quoll cough <img src=x onerror=alert(2)> is a [link](javascript:alert(3)) test.",
    "Quoll cough \u202eseriously\u202c reversed text and zero\u200bwidth characters.",
    "Quoll cough " + "x" * 5000 + " with one very long word.",
    "Quoll cough $$\\frac{a}{b}$$ and `code` and **bold** and # heading | table.",
]


@pytest.fixture(scope="module")
def hostile_chain(tmp_path_factory: pytest.TempPathFactory, embeddings: Any) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("hostile")
    write_doc(root / "lib" / "quoll.md", "zz-quoll", "Quoll <b>cough</b> notes", *HOSTILE)
    html_doc = root / "lib" / "deep.html"
    html_doc.write_text(
        "<html><head><title>Deep</title><script>alert(4)</script></head><body>"
        + "<div>" * 500
        + "<p>Quoll cough was seen in burrows.</p>"
        + "</div>" * 500
        + "</body></html>"
    )
    settings = Settings(data_dir=root / "data", compose={"follow_ups": 1})
    library = Library(settings, embeddings=embeddings)
    report = ingest([root / "lib"], settings, library=library, progress=False)
    assert sorted(report.added) == ["deep", "zz-quoll"], report.text()
    yield AskChain(settings, library)
    library.close()


def _assert_inert(answer: Any) -> None:
    """Markdown (rendered with raw HTML allowed, no link filter) and HTML: no active markup."""
    import markdown_it

    md = markdown_it.MarkdownIt("commonmark")
    md.validateLink = lambda url: True
    for name, fragment in (("markdown", md.render(answer.markdown)), ("html", render_html(answer))):
        tags = html_tags(fragment)
        assert not [t for t, _ in tags if t in {"script", "img", "iframe"}], name
        hrefs = [a.get("href") or "" for t, a in tags if t == "a"]
        assert all(h.startswith(("https://", "#ref-", "#cite-")) for h in hrefs), (name, hrefs)
        assert not any(k.startswith("on") for _, a in tags for k in a), name


def test_hostile_documents_are_inert_in_every_output(hostile_chain: Any) -> None:
    answer = hostile_chain.ask("Does quoll cough ease with honey?")
    assert answer.cited_source_ids() and "zz-quoll" in answer.cited_source_ids()
    _assert_inert(answer)
    stored = " ".join(c.text for c in hostile_chain.library.manifest.chunks_of("zz-quoll"))
    assert "reversed text" in stored and not {"\u202e", "\u202c", "\u200b"} & set(stored)


@pytest.mark.parametrize(
    "question",
    [
        "![x](https://evil.example/p.png) does quoll cough ease?",
        "<script>alert(1)</script> quoll cough?",
        "'; DROP TABLE sources; -- quoll cough",
        "quoll cough \u202e?sdrawkcab",
        "QUOLL COUGH HONEY!!!!!!!!",
        "\u00bfquoll cough? \U0001f9ea",
        "quoll " * 300,
        "?!?!.,;:",
    ],
)
def test_bad_questions_get_an_answer_or_a_refusal(hostile_chain: Any, question: str) -> None:
    answer = hostile_chain.ask(question)
    assert answer.disclaimer and answer.markdown
    _assert_inert(answer)


@pytest.mark.parametrize(
    ("question", "message"),
    [("", "empty"), ("   \n\t", "empty"), ("\x00\x01\x02", "empty"), ("a" * 2001, "2001")],
)
def test_unusable_questions_say_why(hostile_chain: Any, question: str, message: str) -> None:
    with pytest.raises(InvalidQuestion, match=message):
        hostile_chain.ask(question)


def test_the_cli_refuses_unusable_questions_before_loading_anything(tmp_path: Path) -> None:
    for question, code in (("", 2), ("x" * 2001, 2)):
        done = run_cli("ask", question, "--data-dir", str(tmp_path / "none"))
        assert done.returncode == code and "Traceback" not in done.stderr, done.stderr
        assert done.stderr.startswith("error: ")
    history = tmp_path / "history.json"
    history.write_text('[{"role": "robot", "content": 1}]')
    done = run_cli("ask", "quoll?", "--history", str(history), "--data-dir", str(tmp_path))
    assert done.returncode == 2 and "history" in done.stderr and "Traceback" not in done.stderr


def test_questions_while_another_process_ingests(tmp_path: Path, embeddings: Any) -> None:
    """A reader with its own connections (as `assistant ask` has) during a writer's ingest:
    every answer is complete and cites only sources whose passages it can show."""
    data = tmp_path / "data"
    lib_dir = tmp_path / "lib"
    lib_dir.mkdir()
    for name in ("baverez-2022-anakinra-21-cases", "fardet-2014-hscore"):
        shutil.copy(CORPUS / f"{name}.md", lib_dir)
    settings = Settings(data_dir=data, ingest={"batch_chunks": 4}, compose={"follow_ups": 0})
    writer = Library(settings, embeddings=embeddings)
    ingest([lib_dir], settings, library=writer, progress=False)
    more = [CORPUS / p.name for p in sorted(CORPUS.glob("*.md"))[:8] if p.name != "README.md"]
    reader = AskChain(settings, Library(settings, embeddings=embeddings))
    done = threading.Event()

    def write() -> None:
        try:
            ingest(more, settings, library=writer, progress=False)
        finally:
            done.set()

    thread = threading.Thread(target=write)
    thread.start()
    answers = 0
    while not done.is_set() or answers == 0:
        answer = reader.ask("How fast does fever resolve with anakinra?")
        answers += 1
        refs = {r.n: r for r in answer.references}
        for bullet in answer.all_bullets():
            assert all(refs[n].passages for n in bullet.citations)
    thread.join(120)
    assert answers >= 2
    writer.close()
    reader.library.close()
