"""Pure functions of the Library tab: filtering sources, checking uploads, escaped tables.

No gradio import; ``assistant.ui.app`` wires these to components.
"""

from __future__ import annotations

import html
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.ingest.loaders import SUPPORTED_SUFFIXES
from assistant.ingest.manifest import SourceRow
from assistant.metadata import doi_url, pubmed_url, valid_doi, valid_pmid
from assistant.types import EVIDENCE_LABELS

_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
MAX_ROWS = 500


def _year(value: Any) -> int | None:
    """A year typed in a number box (float, str or empty) as an int; None when empty or not a
    plausible year (a cleared number box sends 0)."""
    if value is None or value == "":
        return None
    try:
        year = int(float(value))
    except (TypeError, ValueError):
        return None
    return year if year > 0 else None


def filter_rows(
    rows: Sequence[SourceRow],
    evidence_types: Sequence[str] | None = None,
    year_from: Any = None,
    year_to: Any = None,
    text: str | None = None,
) -> list[SourceRow]:
    """Sources matching every given filter; text matches all its words anywhere in the record."""
    kinds = set(evidence_types or ())
    low, high = _year(year_from), _year(year_to)
    words = (text or "").lower().split()
    out: list[SourceRow] = []
    for row in rows:
        ref = row.ref
        if kinds and ref.evidence_type not in kinds:
            continue
        if low is not None and (ref.year is None or ref.year < low):
            continue
        if high is not None and (ref.year is None or ref.year > high):
            continue
        if words:
            hay = " ".join(
                str(x)
                for x in (
                    ref.source_id,
                    ref.title,
                    " ".join(ref.authors),
                    ref.journal,
                    ref.year,
                    ref.pmid,
                    ref.doi,
                    EVIDENCE_LABELS.get(ref.evidence_type, ""),
                )
                if x
            ).lower()
            if not all(w in hay for w in words):
                continue
        out.append(row)
    return out


def sources_table_html(rows: Sequence[SourceRow], total: int) -> str:
    """An escaped table of sources (title, authors, journal, year, type, links, chunks)."""
    e = html.escape
    if total == 0:
        return (
            '<div class="library empty"><p>The library is empty. Add files below, or run '
            "<code>assistant ingest corpus/</code>.</p></div>"
        )
    head = f'<p class="library-count">Showing {len(rows)} of {total} sources.</p>'
    if not rows:
        return f'<div class="library">{head}<p>No source matches these filters.</p></div>'
    body = []
    for row in rows[:MAX_ROWS]:
        ref = row.ref
        links = []
        pmid, doi = valid_pmid(ref.pmid), valid_doi(ref.doi)
        if pmid:
            links.append(
                f'<a href="{e(pubmed_url(pmid))}" target="_blank" rel="noopener noreferrer">'
                f"PMID {e(pmid)}</a>"
            )
        if doi:
            links.append(
                f'<a href="{e(doi_url(doi))}" target="_blank" rel="noopener noreferrer">'
                f"DOI {e(doi)}</a>"
            )
        authors = ", ".join(ref.authors[:3]) + (" et al." if len(ref.authors) > 3 else "")
        body.append(
            f'<tr data-source="{e(ref.source_id)}"><td>{e(ref.title)}</td><td>{e(authors)}</td>'
            f"<td>{e(ref.journal or '')}</td><td>{e(str(ref.year or ''))}</td>"
            f'<td><span class="badge {e(ref.evidence_type)}">'
            f"{e(EVIDENCE_LABELS.get(ref.evidence_type, 'Other'))}</span></td>"
            f"<td>{' '.join(links)}</td><td>{row.n_chunks}</td></tr>"
        )
    more = (
        f"<p>Only the first {MAX_ROWS} are listed: narrow the filters.</p>"
        if len(rows) > MAX_ROWS
        else ""
    )
    return (
        f'<div class="library">{head}<table class="library-table"><thead><tr><th>Title</th>'
        "<th>Authors</th><th>Journal</th><th>Year</th><th>Evidence</th><th>Links</th>"
        f"<th>Chunks</th></tr></thead><tbody>{''.join(body)}</tbody></table>{more}</div>"
    )


# -- uploads ----------------------------------------------------------------------------------


def safe_upload_name(name: str) -> str:
    """A plain file name: no directories, no leading dots, only [A-Za-z0-9._-]."""
    base = Path(name.replace("\\", "/")).name
    stem, suffix = Path(base).stem, Path(base).suffix.lower()
    clean = _UNSAFE_NAME.sub("_", stem).strip("._") or "upload"
    return f"{clean[:120]}{_UNSAFE_NAME.sub('', suffix)}"


_SNIFF_BYTES = 8192
_PDF_MAGIC = b"%PDF-"


def sniff_content(head: bytes, suffix: str) -> str | None:
    """Why the first bytes of a file do not match its extension, or None when they do.

    A PDF must carry its header within the first 1,024 bytes (where readers look for it);
    every other supported type is text, so a NUL byte means a binary file under a text name.
    """
    if suffix == ".pdf":
        return None if _PDF_MAGIC in head[:1024] else "the file is not a PDF (no %PDF header)"
    if b"\x00" in head:
        return f"the file is binary, not {suffix} text"
    return None


def check_upload(path: Path, max_mb: float) -> str | None:
    """Why this uploaded file is refused, or None when it may be ingested: type (extension and
    content), size; symbolic links and other non-regular files are refused."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        allowed = ", ".join(sorted(SUPPORTED_SUFFIXES))
        what = f"file type {suffix}" if suffix else "a file without an extension"
        return f"{what} is not supported (allowed: {allowed})"
    try:
        info = path.lstat()
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        size = info.st_size
        if size == 0:
            return "the file is empty"
        if size > max_mb * 1024 * 1024:
            return f"the file is {size / 1024 / 1024:.1f} MB; the limit is {max_mb:g} MB"
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError as exc:
        return f"cannot read the uploaded file ({exc.strerror or exc})"
    return sniff_content(head, suffix)


def _copy_no_follow(source: Path, target: Path, max_bytes: float) -> None:
    """Copy a regular file without following a symbolic link (the check and the copy see the
    same file), never more than ``max_bytes``."""
    fd = os.open(source, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as src:
        if not stat.S_ISREG(os.fstat(src.fileno()).st_mode):
            raise OSError(f"{source.name} is not a regular file")
        data = src.read(int(max_bytes) + 1)
    if len(data) > max_bytes:
        raise OSError("the file grew past the size limit while it was read")
    target.write_bytes(data)


@dataclass
class Staged:
    """Uploads copied into the data directory, and those refused before ingest."""

    files: list[Path] = field(default_factory=list)
    names: dict[Path, str] = field(default_factory=dict)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def stage_uploads(
    uploads: Sequence[Path],
    dest: Path,
    max_mb: float,
    guard: Callable[[Path], str | None] | None = None,
    max_files: int | None = None,
) -> Staged:
    """Check each upload and copy the accepted ones into ``dest`` (a same-named file is
    replaced: ingest then updates the sources it holds; other sources are untouched).

    ``guard`` says why a path is not a file this app received (the app passes
    ``UploadGuard.reason``); ``max_files`` bounds one request.
    """
    staged = Staged()
    seen: set[str] = set()
    for i, upload in enumerate(uploads):
        original = upload.name
        name = safe_upload_name(original)
        reason = guard(upload) if guard is not None else None
        if reason is None and max_files is not None and i >= max_files:
            reason = f"at most {max_files} files can be added at once"
        reason = reason or check_upload(upload, max_mb)
        if reason is None and name in seen:
            reason = "another uploaded file has the same name"
        if reason:
            staged.rejected.append((original, reason))
            continue
        seen.add(name)
        dest.mkdir(parents=True, exist_ok=True)
        target = dest / name
        try:
            _copy_no_follow(upload, target, max_mb * 1024 * 1024)
        except OSError as exc:
            staged.rejected.append((original, f"could not be saved ({exc.strerror or exc})"))
            continue
        staged.files.append(target)
        staged.names[target] = original
    return staged


def upload_report_html(
    staged: Staged, summary: dict[str, Any] | None, rows: Sequence[SourceRow]
) -> str:
    """Per-file outcome of an upload: sources added or updated, or the reason it failed."""
    e = html.escape
    summary = summary or {}
    skipped = {str(Path(s["path"]).resolve()): s["reason"] for s in summary.get("skipped", [])}
    warnings: dict[str, list[str]] = {}
    for w in summary.get("warnings", []):
        warnings.setdefault(str(Path(w["path"]).resolve()), []).append(w["reason"])
    added, updated = set(summary.get("added", [])), set(summary.get("updated", []))
    by_path: dict[str, list[SourceRow]] = {}
    for row in rows:
        if row.path:
            by_path.setdefault(str(Path(row.path).resolve()), []).append(row)
    items: list[str] = []
    for original, reason in staged.rejected:
        items.append(
            f'<li class="error"><strong>{e(original)}</strong>: not added: {e(reason)}</li>'
        )
    for path in staged.files:
        key = str(path.resolve())
        original = staged.names.get(path, path.name)
        if key in skipped:
            items.append(
                f'<li class="error"><strong>{e(original)}</strong>: not added: '
                f"{e(skipped[key])}</li>"
            )
            continue
        found = by_path.get(key, [])
        if not found:
            items.append(
                f'<li class="error"><strong>{e(original)}</strong>: no source was stored</li>'
            )
            continue
        parts = []
        for row in found:
            sid = row.ref.source_id
            state = "added" if sid in added else "updated" if sid in updated else "unchanged"
            parts.append(f"{state}: {e(row.ref.title)} ({row.n_chunks} chunks)")
        notes = "".join(f"<br><em>warning: {e(w)}</em>" for w in warnings.get(key, []))
        items.append(
            f'<li class="ok"><strong>{e(original)}</strong>: {"; ".join(parts)}{notes}</li>'
        )
    totals = ""
    if summary:
        totals = (
            f"<p>The library now holds {int(summary.get('sources_total', 0))} sources "
            f"({int(summary.get('chunks_total', 0))} chunks).</p>"
        )
    if not items:
        return '<div class="upload-report"><p>Choose one or more files first.</p></div>'
    return f'<div class="upload-report"><ul>{"".join(items)}</ul>{totals}</div>'
