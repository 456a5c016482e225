"""Reviewed pages on a real library: real MiniLM, Chroma and SQLite; the CLI end to end.

A few built-in articles are copied into a temp folder and ingested once per module; the stale
rule edits one of those copies (never the corpus) in its own library.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from assistant.ask.chain import AskChain
from assistant.cli import main
from assistant.config import Settings
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from assistant.pages.service import PagesService
from assistant.pages.version import cited_sources
from assistant.pages.workflow import (
    REVIEWER_ROLE,
    NotAllowed,
    PageError,
    SourcesChanged,
    User,
)
from assistant.types import Answer

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parents[2] / "corpus"
ARTICLES = [
    "baverez-2022-anakinra-21-cases",
    "charlesworth-2023-iv-anakinra-sr",
    "eloseily-2020-anakinra-pediatric-shlh",
    "fautrel-2024-eular-pres-still",
    "fardet-2014-hscore",
]
QUESTION = "What is the efficacy of anakinra in HLH?"
PARAPHRASE = "How well does anakinra work for HLH?"
RITA = User("rita", frozenset({REVIEWER_ROLE}))
ANN = User("ann")


@dataclass
class Lib:
    settings: Settings
    library: Library
    chain: AskChain
    pages: PagesService
    folder: Path


def build(root: Path, embeddings: Any) -> Lib:
    folder = root / "articles"
    folder.mkdir()
    for name in ARTICLES:
        shutil.copy(CORPUS / f"{name}.md", folder / f"{name}.md")
    settings = Settings(data_dir=root / "data", ui={"reviewers": ["rita"]})
    library = Library(settings, embeddings=embeddings)
    report = ingest([folder], settings, library=library, progress=False)
    assert len(report.added) == len(ARTICLES) and not report.skipped
    chain = AskChain(settings, library=library)
    return Lib(settings, library, chain, PagesService(settings, library=library), folder)


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory, embeddings: Any) -> Iterator[Lib]:
    built = build(tmp_path_factory.mktemp("pages-lib"), embeddings)
    yield built
    built.pages.store.close()
    built.library.close()


def approve(pages: PagesService, page_id: int) -> None:
    pages.review(page_id, "under-review", RITA)
    pages.review(page_id, "approved", RITA, "checked against the sources")


def test_save_records_cited_versions_and_vector(lib: Lib) -> None:
    answer = lib.chain.ask(QUESTION)
    page = lib.pages.save(answer, ANN)
    hashes = lib.library.manifest.hashes()
    assert set(page.sources) == set(cited_sources(answer)) and len(page.sources) >= 2
    assert all(page.sources[sid] == hashes[sid] for sid in page.sources)
    assert page.vector is not None and page.vector.shape == (384,)
    assert float(np.linalg.norm(page.vector)) == pytest.approx(1.0, abs=1e-3)
    assert page.vector_model == "all-MiniLM-L6-v2" and page.created_by == "ann"
    assert page.answer() == answer
    view = lib.pages.view(page.id)
    assert view.changed == [] and [h.action for h in view.history] == ["saved"]


def test_only_approved_pages_for_the_same_question_and_audience_are_served(lib: Lib) -> None:
    page = lib.pages.save(lib.chain.ask(QUESTION), ANN)
    assert lib.pages.match(PARAPHRASE, "clinician") is None or (
        lib.pages.match(PARAPHRASE, "clinician").view.page.id != page.id  # type: ignore[union-attr]
    ), "a submitted page is never served"
    with pytest.raises(NotAllowed):
        lib.pages.review(page.id, "under-review", ANN)
    approve(lib.pages, page.id)
    served = lib.pages.match(PARAPHRASE, "clinician")
    assert served is not None and served.fresh and served.view.page.id == page.id
    assert served.similarity >= lib.pages.threshold
    assert served.view.page.approved_by == "rita"
    assert [h.to_status for h in served.view.history] == [
        "submitted", "under-review", "approved",
    ]  # fmt: skip
    assert lib.pages.match(PARAPHRASE, "patient") is None, "another audience"
    assert (
        lib.pages.match("What is the efficacy of anakinra in children with HLH?", "clinician")
        is None
    )
    assert lib.pages.match("What are the side effects of anakinra in HLH?", "clinician") is None
    assert lib.pages.match("How is the HScore calculated?", "clinician") is None


def test_edited_answers_are_refused(lib: Lib, tmp_path: Path) -> None:
    answer = lib.chain.ask(QUESTION)
    data = answer.model_dump(mode="json")
    first = data["sections"][0]  # the bottom line (older engines: inside the guidelines)
    bullet = (first["bullets"] or first["subsections"][0]["bullets"])[0]
    bullet["text"] += " It cured 99.9% of patients."
    with pytest.raises(PageError, match=r"citation checks: numbers \['99.9'\]"):
        lib.pages.save(Answer.model_validate(data), ANN)
    foreign = answer.model_copy(deep=True)
    foreign.references[0].source_id = "not-in-this-library"
    with pytest.raises(PageError, match="does not hold: not-in-this-library"):
        lib.pages.save(foreign, ANN)
    blank = lib.pages.save(answer.model_copy(update={"disclaimer": ""}), ANN)
    assert "not medical advice" in blank.answer().disclaimer.lower()


def test_changed_sources_need_rereview(tmp_path: Path, embeddings: Any) -> None:
    own = build(tmp_path, embeddings)
    try:
        page = own.pages.save(own.chain.ask(QUESTION), ANN)
        approve(own.pages, page.id)
        assert own.pages.match(PARAPHRASE, "clinician") is not None
        cited = sorted(page.sources)[0]
        path = own.folder / f"{cited}.md"
        text = path.read_text(encoding="utf-8")
        path.write_text(text + "\n## Update\n\n- A correction was published later.\n")
        report = ingest([own.folder], own.settings, library=own.library, progress=False)
        assert report.updated == [cited]
        own.chain.refresh()

        view = own.pages.view(page.id)
        assert view.changed == [cited] and view.needs_rereview
        assert view.status_label == "Needs re-review"
        served = own.pages.match(PARAPHRASE, "clinician")
        assert served is not None and not served.fresh, "stale: announced, not served"
        assert [v.page.id for v in own.pages.views("needs-re-review")] == [page.id]

        own.pages.review(page.id, "under-review", RITA, "source corrected")
        with pytest.raises(SourcesChanged, match=f"changed since the answer was made \\({cited}"):
            own.pages.review(page.id, "approved", RITA)
        renewed = own.pages.replace_answer(page.id, own.chain.ask(QUESTION), RITA, "regenerated")
        assert renewed.status == "submitted" and renewed.library_version != page.library_version
        assert own.pages.view(page.id).changed == []
        approve(own.pages, page.id)
        served = own.pages.match(PARAPHRASE, "clinician")
        assert served is not None and served.fresh
        actions = [h.action for h in own.pages.view(page.id).history]
        assert actions.count("answer-replaced") == 1 and len(actions) == 7
    finally:
        own.pages.store.close()
        own.library.close()


def test_cli_end_to_end(
    lib: Lib, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ["--data-dir", str(lib.settings.data_dir)]
    answer_file = tmp_path / "answer.json"
    answer_file.write_text(lib.chain.ask(QUESTION).model_dump_json())
    assert main(["pages", "save", "--from-json", str(answer_file), "--user", "ann", *data]) == 0
    page_id = int(capsys.readouterr().out.split()[2])

    assert main(["pages", "review", str(page_id), "--status", "under-review",
                 "--reviewer", "rita", *data]) == 1  # fmt: skip
    assert "does not have the reviewer role" in capsys.readouterr().err
    monkeypatch.setenv("ASSISTANT_UI__REVIEWERS", '["rita"]')
    assert main(["pages", "review", str(page_id), "--status", "approved",
                 "--reviewer", "rita", *data]) == 1  # fmt: skip
    assert "from submitted it can go to under-review" in capsys.readouterr().err
    for status, note in (("under-review", "reading"), ("approved", "![x](https://e.x/p.png)")):
        argv = ["pages", "review", str(page_id), "--status", status, "--reviewer", "rita"]
        assert main([*argv, "--note", note, *data]) == 0
    assert f"page {page_id} is now approved" in capsys.readouterr().out
    assert main(["pages", "review", str(page_id), "--status", "rejected", "--reviewer", "rita",
                 "--expect-revision", "2", *data]) == 1  # fmt: skip
    assert "changed by rita" in capsys.readouterr().err

    assert main(["pages", "list", "--json", *data]) == 0
    listed = {p["id"]: p for p in json.loads(capsys.readouterr().out)}
    assert listed[page_id]["status"] == "approved" and listed[page_id]["approved_by"] == "rita"
    assert main(["pages", "list", "--status", "approved", *data]) == 0
    assert "Approved" in capsys.readouterr().out
    assert main(["pages", "show", str(page_id), *data]) == 0
    shown = capsys.readouterr().out
    assert "Approved by rita on" in shown and "\\!\\[x\\]" in shown and "Review history" in shown

    html_out, md_out = tmp_path / "page.html", tmp_path / "page.md"
    assert main(["pages", "export", str(page_id), "--format", "html", "--out", str(html_out),
                 *data]) == 0  # fmt: skip
    assert main(["pages", "export", str(page_id), "--format", "md", "--out", str(md_out),
                 *data]) == 0  # fmt: skip
    assert "<script" not in html_out.read_text() and "Approved by rita" in html_out.read_text()
    assert md_out.read_text().startswith(f"# {QUESTION}")

    assert main(["pages", "save", "--question", PARAPHRASE, "--user", "ann", *data]) == 0
    assert "saved page" in capsys.readouterr().out
    assert main(["pages", "show", "999", *data]) == 1
    assert "there is no page 999" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"question": 3}')
    assert main(["pages", "save", "--from-json", str(bad), *data]) == 1
    assert "is not an `assistant ask --json` answer" in capsys.readouterr().err
