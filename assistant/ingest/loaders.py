"""Turn files (Markdown, JSONL, PubMed XML, PDF, HTML, plain text) into SourceDocs."""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from bs4 import BeautifulSoup, NavigableString, Tag
from pydantic import ValidationError

from assistant.config import IngestSettings
from assistant.ingest.pubmed import PubMedError, parse_pubmed
from assistant.metadata import field_problems, source_id_problem
from assistant.text import split_space_runs
from assistant.types import EVIDENCE_TYPES, DocSection, SourceDoc

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".md", ".markdown", ".jsonl", ".xml", ".pdf", ".html", ".htm", ".txt"}
)
_SKIPPED_NAMES = ("readme", "license", "changelog")
_META_FIELDS = frozenset(SourceDoc.model_fields) - {"sections", "path"}
_STR_FIELDS = frozenset({"volume", "issue", "pages", "pmid", "doi"})
_LIST_FIELDS = frozenset({"authors", "tags", "mesh", "publication_types"})


class LoadError(Exception):
    """One-line, user-facing reason a file could not be loaded."""


@dataclass(frozen=True)
class Skipped:
    """A path that discover_files left out, and why."""

    path: str
    reason: str


# --------------------------------------------------------------------------- discovery


def _walk(root: Path, skipped: list[Skipped]) -> list[Path]:
    """Files under ``root``; unreadable folders and folder symlinks (never followed, so a
    folder that links to itself cannot loop) are reported in ``skipped``."""
    found: list[Path] = []

    def unreadable(exc: OSError) -> None:
        skipped.append(Skipped(str(exc.filename), f"cannot read folder: {exc.strerror or exc}"))

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            if (Path(dirpath) / name).is_symlink():
                skipped.append(Skipped(str(Path(dirpath) / name), _LINKED_FOLDER))
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith(".") and not (Path(dirpath) / d).is_symlink()
        )
        for name in sorted(filenames):
            if not name.startswith(".") and not name.lower().startswith(_SKIPPED_NAMES):
                found.append(Path(dirpath) / name)
    return found


_LINKED_FOLDER = "symbolic link to a folder: not followed (give its target instead)"


def _real(path: Path) -> Path | str:
    """The file a path leads to, or why it leads nowhere (a symlink loop or a dangling link)."""
    try:
        return path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a symlink loop this way
        return "symbolic link loop"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if path.is_symlink():
            return "symbolic link to a missing file"
        return f"cannot read: {exc.strerror or exc}"


def discover_files(paths: Sequence[Path]) -> tuple[list[Path], list[Skipped]]:
    """Expand directories (recursively, sorted) into loadable files; report what was left out."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()
    for given in paths:
        if not given.exists():
            reason = _real(given) if given.is_symlink() else "no such file or directory"
            skipped.append(Skipped(str(given), str(reason)))
            continue
        for path in _walk(given, skipped) if given.is_dir() else [given]:
            suffix = path.suffix.lower()
            real = _real(path)
            if suffix not in SUPPORTED_SUFFIXES:
                kind = f"unsupported file type {suffix}" if suffix else "file has no extension"
                skipped.append(Skipped(str(path), kind))
            elif isinstance(real, str):
                skipped.append(Skipped(str(path), real))
            elif real not in seen:
                seen.add(real)
                files.append(path)
    return files, skipped


# --------------------------------------------------------------------------- text helpers


_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\u200b\ufeff\u202a-\u202e\u2066-\u2069]")
"""Control characters, soft hyphen, zero-width space, BOM, and the bidirectional overrides and
isolates (text that displays in another order than it reads)."""


def clean_line(line: str, keep_indent: bool = False) -> str:
    """NFC, control characters dropped, whitespace runs collapsed to one space, ends trimmed."""
    line = _CONTROL.sub("", unicodedata.normalize("NFC", line)).rstrip()
    indent = line[: len(line) - len(line.lstrip())].expandtabs(4) if keep_indent else ""
    return indent + " ".join(line.split())


def clean_block(lines: Sequence[str], keep_indent: bool = False) -> str:
    """Clean each line (a run of spaces inside it is a line break); keep single blank lines
    between paragraphs; trim blank ends."""
    out: list[str] = []
    for raw in (part for given in lines for part in split_space_runs(given)):
        line = clean_line(raw, keep_indent)
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip("\n")


def slugify(text: str) -> str:
    """Lower-case ASCII slug: 'Baverez 2022 (Anakinra)' -> 'baverez-2022-anakinra'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "document"


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}: {err['msg']}" if where else str(err["msg"])
    return " ".join(str(exc).split()) or type(exc).__name__


def _coerce(field: str, value: Any) -> Any:
    """Make a metadata value fit its SourceDoc field (YAML/JSON give ints, strings, lists)."""
    if field in _LIST_FIELDS:
        if isinstance(value, str):
            value = value.split(";" if ";" in value else ",")
        if not isinstance(value, list):
            raise LoadError(f"{field} must be a list or a comma-separated string")
        return [clean_line(str(v)) for v in value if str(v).strip()]
    if field == "year":
        if isinstance(value, bool) or not re.fullmatch(r"\s*\d{1,4}\s*", str(value)):
            raise LoadError(f"year must be a whole number, got {value!r}")
        return int(value)
    if field in _STR_FIELDS or field in {"source_id", "title"}:
        if isinstance(value, dict | list):
            raise LoadError(f"{field} must be a single value, got a {type(value).__name__}")
        return clean_line(str(value))
    if field == "evidence_type" and value not in EVIDENCE_TYPES:
        raise LoadError(f"evidence_type {value!r} is not one of: {', '.join(EVIDENCE_TYPES)}")
    return clean_line(value) if isinstance(value, str) else value


def _make_doc(meta: dict[str, Any], sections: list[DocSection], path: Path) -> SourceDoc:
    if not sections:
        raise LoadError("no text found in the file")
    problem = source_id_problem(meta.get("source_id"))
    if problem:
        raise LoadError(f"invalid metadata: {problem}")
    try:
        return SourceDoc(**meta, sections=sections, path=str(path))
    except ValidationError as exc:
        raise LoadError(f"invalid metadata: {_one_line(exc)}") from exc


# --------------------------------------------------------------------------- Markdown

_HEADING = re.compile(r"^(#{1,3})\s+(.*?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i, ln in enumerate(lines[1:], 1) if ln.strip() in ("---", "...")), None)
    if end is None:
        raise LoadError("front matter starts with --- but has no closing --- line")
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot parse"
        raise LoadError(f"front matter is not valid YAML: {problem}{where}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LoadError(f"front matter must be a mapping of key: value, got {type(data).__name__}")
    unknown = sorted(str(k) for k in data if k not in _META_FIELDS)
    if unknown:
        raise LoadError(f"unknown front-matter key(s): {', '.join(unknown)}")
    meta = {k: _coerce(k, v) for k, v in data.items() if v is not None}
    return meta, "\n".join(lines[end + 1 :])


def _load_markdown(text: str, path: Path) -> SourceDoc:
    meta, body = _front_matter(text)
    title: str | None = None
    parts: list[tuple[str, list[str]]] = [("", [])]
    in_fence = False
    for line in body.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match and title is None and len(match.group(1)) == 1:
            title = clean_line(match.group(2))  # the document's own '# ' title
        elif match:
            parts.append((clean_line(match.group(2)), []))
        else:
            parts[-1][1].append(line)
    sections = [DocSection(heading=h, text=t) for h, ls in parts if (t := clean_block(ls, True))]
    meta.setdefault("source_id", slugify(path.stem))
    meta.setdefault("title", title or path.stem)
    return _make_doc(meta, sections, path)


# --------------------------------------------------------------------------- JSONL


def _jsonl_record(record: Any, settings: IngestSettings, path: Path) -> SourceDoc:
    if not isinstance(record, dict):
        raise LoadError(f"expected a JSON object, got {type(record).__name__}")
    source_id = record.get(settings.jsonl_id_field)
    if isinstance(source_id, bool) or not isinstance(source_id, str | int) or not str(source_id):
        raise LoadError(f"missing or invalid id field {settings.jsonl_id_field!r}")
    body = record.get(settings.jsonl_text_field)
    texts = body if isinstance(body, list) else [body]
    paragraphs = [clean_block(t.split("\n")) for t in texts if isinstance(t, str)]
    sections = [DocSection(text=t) for t in paragraphs if t]
    if not sections:
        raise LoadError(f"missing or empty text field {settings.jsonl_text_field!r}")
    title = record.get(settings.jsonl_title_field)
    if not isinstance(title, str) or not title.strip():
        title = " ".join(sections[0].text.split())[:80].rstrip()
    meta: dict[str, Any] = {"source_id": str(source_id).strip(), "title": clean_line(title)}
    for field, key in settings.jsonl_field_map.items():
        if record.get(key) is not None:
            meta[field] = _coerce(field, record[key])
    return _make_doc(meta, sections, path)


def _load_jsonl(
    text: str, path: Path, settings: IngestSettings
) -> tuple[list[SourceDoc], list[str]]:
    bad = sorted(set(settings.jsonl_field_map) - _META_FIELDS)
    if bad:
        raise LoadError(f"jsonl_field_map names unknown SourceDoc field(s): {', '.join(bad)}")
    docs: dict[str, SourceDoc] = {}
    warnings: list[str] = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            doc = _jsonl_record(json.loads(line), settings, path)
        except json.JSONDecodeError as exc:
            warnings.append(f"line {n}: invalid JSON ({exc.msg} at column {exc.colno})")
        except LoadError as exc:
            warnings.append(f"line {n}: {exc}")
        else:
            if doc.source_id in docs:
                warnings.append(f"line {n}: duplicate id {doc.source_id!r}, first one kept")
            else:
                docs[doc.source_id] = doc
    if not docs:
        first = f"; first problem: {warnings[0]}" if warnings else ""
        raise LoadError(f"no valid JSONL record ({len(warnings)} bad line(s){first})")
    return list(docs.values()), warnings


# --------------------------------------------------------------------------- HTML

_DROP_TAGS = {"script", "style", "nav", "header", "footer", "aside", "form", "noscript",
              "template", "svg", "iframe", "button", "select"}  # fmt: skip
_SECTION_TAGS = {"h1", "h2", "h3"}
_BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h4", "h5", "h6", "pre", "br",
               "blockquote", "table", "tr", "section", "article", "main", "figure", "figcaption",
               "hr", "body", "td", "th"}  # fmt: skip


def _load_html(text: str, path: Path) -> SourceDoc:
    soup = BeautifulSoup(text, "html.parser")
    for tag in soup.find_all(list(_DROP_TAGS)):
        tag.decompose()
    parts: list[tuple[str, list[str]]] = [("", [])]
    buffer: list[str] = []

    def flush() -> None:
        line = clean_line("".join(buffer))
        if line and line != "-":
            parts[-1][1].append(line)
        buffer.clear()

    def walk(node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not a comment, doctype or CDATA
                    buffer.append(str(child))
            elif isinstance(child, Tag) and child.name in _SECTION_TAGS:
                flush()
                parts.append((clean_line(child.get_text(" ")), []))
            elif isinstance(child, Tag) and child.name in _BLOCK_TAGS:
                flush()
                buffer.append("- " if child.name == "li" else "")
                walk(child)
                flush()
            elif isinstance(child, Tag) and child.name not in ("head", "title"):
                walk(child)

    walk(soup)
    flush()
    sections = [DocSection(heading=h, text=t) for h, ls in parts if (t := clean_block(ls))]
    if not sections:
        raise LoadError("no readable text in the HTML")
    title = soup.title.get_text(" ") if soup.title else ""
    h1 = soup.find("h1")
    title = clean_line(title) or (clean_line(h1.get_text(" ")) if h1 else "") or path.stem
    return _make_doc({"source_id": slugify(path.stem), "title": title}, sections, path)


# --------------------------------------------------------------------------- PDF and text

_KNOWN_HEADINGS = re.compile(
    r"(?:\d+(?:\.\d+)*\.?\s+)?(abstract|summary|background|introduction|objectives?|"
    r"(?:materials?|patients|subjects)?\s*(?:and\s+)?methods|results|discussion|conclusions?|"
    r"case (?:report|presentation)|limitations|acknowledge?ments|references)\s*:?",
    re.IGNORECASE,
)
_LIST_ITEM = re.compile(r"(?:[-*•]|\d+[.)])\s")
# "2. Methods" or "2.1 Study Population" (not "12 Journal of X", a running page header)
_NUMBERED_HEADING = re.compile(
    r"\d{1,2}(?:\.\d{1,2})*(?:\.|\.\d{1,2})\s+[A-Z][A-Za-z-]*(?:\s+[A-Za-z-]+){0,5}"
)


def _is_heading(line: str) -> bool:
    if not (line[:1].isupper() or line[:1].isdigit()):
        return False
    if _KNOWN_HEADINGS.fullmatch(line):
        return True
    words = line.split()[1:]
    return bool(_NUMBERED_HEADING.fullmatch(line)) and all(
        w[0].isupper() for w in words if len(w) > 3
    )


def _reflow(lines: Sequence[str]) -> str:
    """Join wrapped lines into paragraphs (a new one after a short line ending a sentence)."""
    lines = [ln for ln in (clean_line(x) for x in lines) if ln]
    width = max((len(ln) for ln in lines), default=0)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if current.endswith("-") and line[:1].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}".strip()
        if line[-1] in ".!?:" and len(line) < 0.8 * width:
            paragraphs.append(current)
            current = ""
    return "\n".join([*paragraphs, current]).strip()


def _load_pdf(data: bytes, path: Path) -> SourceDoc:
    from pypdf import PdfReader

    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.ERROR)  # repairs of damaged files are not the user's business
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoadError("PDF is encrypted (password protected)")
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata else None
    except LoadError:
        raise
    except Exception as exc:  # pypdf raises many kinds of errors on damaged files
        raise LoadError(f"broken PDF: {_one_line(exc)}") from exc
    finally:
        pypdf_log.setLevel(level)
    page_lines = [[ln for ln in (clean_line(x) for x in p.split("\n")) if ln] for p in pages]
    if not any(page_lines):
        raise LoadError("PDF has no extractable text (scanned?)")
    flat = [line for lines in page_lines for line in lines]
    parts: list[tuple[str, list[str]]]
    if any(_is_heading(line) for line in flat):
        parts = [("", [])]
        for line in flat:
            if _is_heading(line):
                parts.append((line.rstrip(":"), []))
            else:
                parts[-1][1].append(line)
    else:
        parts = [(f"Page {n}", lines) for n, lines in enumerate(page_lines, 1)]
    sections = [DocSection(heading=h, text=t) for h, ls in parts if (t := _reflow(ls))]
    title = clean_line(str(meta_title or ""))
    if not title or title.lower() == "untitled" or title.lower().startswith("microsoft word"):
        title = flat[0]
    return _make_doc({"source_id": slugify(path.stem), "title": title}, sections, path)


def _load_text(text: str, path: Path) -> SourceDoc:
    paragraphs: list[list[str]] = []  # blank-line separated; wrapped lines joined, items kept
    current: list[str] = []
    for raw in [*text.split("\n"), ""]:
        line = clean_line(raw)
        if not line:
            if current:
                paragraphs.append(current)
            current = []
        elif not current or _LIST_ITEM.match(line):
            current.append(line)
        else:
            current[-1] += " " + line
    title = clean_line(next(ln for ln in text.split("\n") if ln.strip()))
    if len(paragraphs) > 1 and paragraphs[0] == [title]:
        paragraphs = paragraphs[1:]
    body = "\n\n".join("\n".join(p) for p in paragraphs)
    return _make_doc(
        {"source_id": slugify(path.stem), "title": title}, [DocSection(text=body)], path
    )


# --------------------------------------------------------------------------- entry points


def _read(path: Path, settings: IngestSettings) -> bytes:
    try:
        if not path.is_file():
            missing = "no such file or directory"
            raise LoadError(missing if not path.exists() else "not a regular file")
        size = path.stat().st_size
        limit = settings.max_file_mb * 1024 * 1024
        if size > limit:
            raise LoadError(
                f"file is too large ({size / 1048576:.1f} MB; limit {settings.max_file_mb:g} MB)"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or exc}") from exc
    if not data.strip():
        raise LoadError("file is empty" if not data else "file is empty (only whitespace)")
    return data


def _decode(data: bytes, suffix: str) -> str:
    if b"\x00" in data:
        raise LoadError(f"binary file (contains NUL bytes), not {suffix} text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    if not text.strip():
        raise LoadError("file is empty (only whitespace)")
    return text.replace("\r\n", "\n").replace("\r", "\n")


_XML_ENCODING = re.compile(rb"""\s*<\?xml[^>]*?encoding=["']([A-Za-z0-9._-]+)""")
_TEXT_LOADERS: dict[str, Callable[[str, Path], SourceDoc]] = {
    ".md": _load_markdown,
    ".markdown": _load_markdown,
    ".html": _load_html,
    ".htm": _load_html,
    ".txt": _load_text,
}


def _checked(loaded: tuple[list[SourceDoc], list[str]]) -> tuple[list[SourceDoc], list[str]]:
    """Drop each PMID, DOI or link that fails its check (``metadata.field_problems``), with a
    warning: the source is kept, the bad field never reaches an output."""
    docs, warnings = loaded
    out: list[SourceDoc] = []
    for doc in docs:
        problems = field_problems(doc.model_dump(include={"pmid", "doi", "link"}))
        if problems:
            doc = doc.model_copy(update=dict.fromkeys(problems))
            prefix = f"{doc.source_id}: " if len(docs) > 1 else ""
            warnings = [*warnings, *(f"{prefix}{why}: dropped" for why in problems.values())]
        out.append(doc)
    return out, warnings


def load_file_with_warnings(
    path: Path, settings: IngestSettings
) -> tuple[list[SourceDoc], list[str]]:
    """Load one file; also return non-fatal problems (bad JSONL lines, skipped PubMed records,
    dropped identifiers)."""
    return _checked(_load(path, settings))


def _load(path: Path, settings: IngestSettings) -> tuple[list[SourceDoc], list[str]]:
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise LoadError(f"unsupported file type {suffix or '(no extension)'}")
    path = Path(os.path.abspath(path))  # sources are identified by absolute path, never the cwd
    data = _read(path, settings)
    if suffix == ".pdf":
        return [_load_pdf(data, path)], []
    if suffix == ".xml":
        declared = _XML_ENCODING.match(data)
        if not declared or declared.group(1).lower() in (b"utf-8", b"utf8"):
            _decode(data, suffix)  # same NUL / UTF-8 checks as the other text formats
        try:
            return parse_pubmed(data, str(path))
        except PubMedError as exc:
            raise LoadError(str(exc)) from exc
    text = _decode(data, suffix)
    if suffix == ".jsonl":
        return _load_jsonl(text, path, settings)
    return [_TEXT_LOADERS[suffix](text, path)], []


def load_file(path: Path, settings: IngestSettings) -> list[SourceDoc]:
    """Load one file into SourceDocs; raises LoadError with a one-line reason."""
    return load_file_with_warnings(path, settings)[0]
