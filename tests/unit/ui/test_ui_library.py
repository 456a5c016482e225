"""Library tab helpers: filters, the escaped table, upload checks and the per-file report."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.ingest.manifest import SourceRow
from assistant.types import SourceRef
from assistant.ui.library import (
    check_upload,
    filter_rows,
    safe_upload_name,
    sources_table_html,
    stage_uploads,
    upload_report_html,
)


def row(sid: str, title: str, year: int | None, kind: str, path: str | None = None) -> SourceRow:
    ref = SourceRef(
        source_id=sid,
        title=title,
        authors=["Henter JI", "Horne A", "Arico M", "Egeler RM"],
        journal="Blood",
        year=year,
        pmid="17089398" if kind == "guideline" else None,
        evidence_type=kind,
    )
    return SourceRow(ref=ref, path=path, content_hash="h", n_chunks=3, ingested_at=0.0)


ROWS = [
    row("henter-2007", "HLH-2004 diagnostic and therapeutic guidelines", 2007, "guideline"),
    row("baverez-2022", "Anakinra for HLH: 21 cases", 2022, "retrospective-cohort"),
    row("undated", "An undated note", None, "other"),
]


def test_filters() -> None:
    assert len(filter_rows(ROWS)) == 3
    assert [r.ref.source_id for r in filter_rows(ROWS, ["guideline"])] == ["henter-2007"]
    assert [r.ref.source_id for r in filter_rows(ROWS, year_from=2010)] == ["baverez-2022"]
    assert [r.ref.source_id for r in filter_rows(ROWS, year_to=2010.0)] == ["henter-2007"]
    assert len(filter_rows(ROWS, year_from="", year_to=None)) == 3
    assert len(filter_rows(ROWS, year_from=0, year_to=0.0)) == 3  # a cleared number box
    assert [r.ref.source_id for r in filter_rows(ROWS, text="ANAKINRA cases")] == ["baverez-2022"]
    assert [r.ref.source_id for r in filter_rows(ROWS, text="horne guideline")] == ["henter-2007"]
    assert filter_rows(ROWS, ["guideline"], text="anakinra") == []


def test_table_is_escaped() -> None:
    evil = row("x", '<script>alert(1)</script>[a](javascript:alert(1))"', 2020, "rct")
    out = sources_table_html([evil, *ROWS], 4)
    assert "<script" not in out and "&lt;script&gt;" in out
    assert "javascript:alert(1)" in out  # as text only: it is never a link
    assert 'href="javascript' not in out
    assert "Showing 4 of 4 sources" in out and "et al." in out
    assert 'href="https://pubmed.ncbi.nlm.nih.gov/17089398/"' in out
    assert "No source matches" in sources_table_html([], 3)
    assert "library is empty" in sources_table_html([], 0)


@pytest.mark.parametrize(
    "name,safe",
    [
        ("article.md", "article.md"),
        ("../../etc/passwd.md", "passwd.md"),
        ("C:\\Users\\me\\My Paper (v2).PDF", "My_Paper_v2.pdf"),
        (".hidden.txt", "hidden.txt"),
        ("<script>.html", "script.html"),
        ("....md", "upload.md"),
    ],
)
def test_safe_upload_name(name: str, safe: str) -> None:
    assert safe_upload_name(name) == safe


def test_check_upload(tmp_path: Path) -> None:
    ok = tmp_path / "a.md"
    ok.write_text("# Title\n\nBody.\n")
    assert check_upload(ok, 1) is None
    exe = tmp_path / "a.exe"
    exe.write_bytes(b"MZ")
    assert "not supported" in (check_upload(exe, 1) or "")
    bare = tmp_path / "noext"
    bare.write_text("x")
    assert "without an extension" in (check_upload(bare, 1) or "")
    empty = tmp_path / "e.txt"
    empty.write_text("")
    assert "empty" in (check_upload(empty, 1) or "")
    big = tmp_path / "big.txt"
    big.write_bytes(b"x" * 2_000_000)
    assert "limit is 1 MB" in (check_upload(big, 1) or "")


def test_stage_and_report(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    good = src / "My Article.md"
    good.write_text("---\ntitle: Good\n---\n\nBody text.\n")
    bad_json = src / "broken.jsonl"
    bad_json.write_text("{not json\n")
    exe = src / "tool.exe"
    exe.write_bytes(b"MZ")
    dest = tmp_path / "data" / "uploads"
    staged = stage_uploads([good, bad_json, exe], dest, 5)
    assert [p.name for p in staged.files] == ["My_Article.md", "broken.jsonl"]
    assert staged.rejected and staged.rejected[0][0] == "tool.exe"
    assert (dest / "My_Article.md").read_text() == good.read_text()
    stored = dest / "My_Article.md"
    summary = {
        "added": ["good"],
        "updated": [],
        "skipped": [{"path": str(dest / "broken.jsonl"), "reason": "line 1 is not JSON"}],
        "warnings": [{"path": str(stored), "reason": "no year <b>"}],
        "sources_total": 45,
        "chunks_total": 152,
    }
    rows = [row("good", "Good <i>", 2020, "rct", path=str(stored)), *ROWS]
    report = upload_report_html(staged, summary, rows)
    assert "My Article.md</strong>: added: Good &lt;i&gt; (3 chunks)" in report
    assert "broken.jsonl</strong>: not added: line 1 is not JSON" in report
    assert "tool.exe</strong>: not added: file type .exe is not supported" in report
    assert "warning: no year &lt;b&gt;" in report
    assert "45 sources (152 chunks)" in report
    assert "Choose one or more files" in upload_report_html(stage_uploads([], dest, 5), None, [])


def test_same_name_twice_in_one_upload(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.md").write_text("one")
    (b / "x.md").write_text("two")
    staged = stage_uploads([a / "x.md", b / "x.md"], tmp_path / "up", 5)
    assert len(staged.files) == 1 and "same name" in staged.rejected[0][1]


def test_content_must_match_the_extension(tmp_path: Path) -> None:
    fake_pdf = tmp_path / "paper.pdf"
    fake_pdf.write_text("<html>not a pdf</html>")
    assert "not a PDF" in (check_upload(fake_pdf, 1) or "")
    real_pdf = tmp_path / "real.pdf"
    real_pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\n1 0 obj\n")
    assert check_upload(real_pdf, 1) is None
    binary = tmp_path / "notes.txt"
    binary.write_bytes(b"MZ\x90\x00\x03\x00")
    assert "binary" in (check_upload(binary, 1) or "")


def test_symlinks_are_not_uploads(tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text("# Secret\n\nBody.\n")
    link = tmp_path / "link.md"
    link.symlink_to(secret)
    assert check_upload(link, 1) == "not a regular file"
    staged = stage_uploads([link], tmp_path / "up", 5)
    assert not staged.files and staged.rejected == [("link.md", "not a regular file")]


def test_upload_guard_accepts_only_received_files(tmp_path: Path) -> None:
    from assistant.ui.uploads import NOT_AN_UPLOAD, UploadGuard

    folder = tmp_path / "uploads"
    (folder / "abc").mkdir(parents=True)
    received = folder / "abc" / "a.md"
    received.write_text("# A\n\nBody.\n")
    other = folder / "abc" / "b.md"
    other.write_text("# B\n\nBody.\n")
    outside = tmp_path / "c.md"
    outside.write_text("# C\n\nBody.\n")
    link = folder / "abc" / "l.md"
    link.symlink_to(outside)
    guard = UploadGuard(folder, lambda: {str(received), str(outside), str(link)})
    assert guard.reason(received) is None
    assert guard.reason(other) == NOT_AN_UPLOAD  # in the folder, never received
    assert guard.reason(outside) == NOT_AN_UPLOAD  # received-looking, outside the folder
    assert guard.reason(link) == NOT_AN_UPLOAD  # a symlink out of the folder
    assert guard.reason(Path("https://example.org/a.md")) == NOT_AN_UPLOAD
    staged = stage_uploads([received, other], tmp_path / "dest", 5, guard=guard.reason)
    assert [p.name for p in staged.files] == ["a.md"]
    assert staged.rejected == [("b.md", NOT_AN_UPLOAD)]


def test_at_most_max_files_per_upload(tmp_path: Path) -> None:
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"f{i}.md")
        paths[-1].write_text(f"# F{i}\n\nBody.\n")
    staged = stage_uploads(paths, tmp_path / "dest", 5, max_files=2)
    assert len(staged.files) == 2 and "at most 2 files" in staged.rejected[0][1]
