"""Checks of the bibliographic fields a source file brings: ids, PMID, DOI and links.

Loaders refuse a source whose id fails (``source_id_problem``) and drop, with a warning, a
PMID, DOI or link that fails (``field_problems``); the renderers check again
(``valid_*``) because an index written before these checks may hold anything, and build every
URL themselves, percent-encoded so that no character of it can close a Markdown link.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote, urlsplit

PMID_RE = re.compile(r"\d{1,12}")
"""A PubMed id: digits only (8 of them today; a few more are allowed for growth)."""
DOI_RE = re.compile(r"10\.\d{4,9}/[^\s\"<>\\`]+")
"""A DOI: the 10. directory, a registrant code, a slash, a suffix of visible characters (the
Crossref pattern, minus the characters that could start markup)."""
_ID_FORBIDDEN = re.compile(r"[\"'<>`\\]")
_MAX_ID = 200
_URL_SAFE = "/:@!$&'*+,;=-._~?#%[]"
"""Characters kept as they are in a URL we write; everything else (spaces, parentheses, quotes,
angle brackets) is percent-encoded."""


def _visible(text: str) -> bool:
    """No whitespace, control or format characters (such as right-to-left overrides)."""
    return not any(ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf") for ch in text)


def valid_pmid(value: str | None) -> str | None:
    return value if value and PMID_RE.fullmatch(value) else None


def valid_doi(value: str | None) -> str | None:
    return value if value and DOI_RE.fullmatch(value) and _visible(value) else None


def valid_link(value: str | None) -> str | None:
    """An http(s) URL with a host and only visible characters, else None."""
    if not value or not _visible(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return value


def source_id_problem(sid: object) -> str | None:
    """Why ``sid`` cannot identify a source (one line), or None."""
    if isinstance(sid, str) and (
        not sid or len(sid) > _MAX_ID or _ID_FORBIDDEN.search(sid) or not _visible(sid.strip())
    ):
        return f"source_id {sid[:60]!r} must be 1-{_MAX_ID} visible characters without quotes or <>"
    return None


_CHECKS = (("pmid", valid_pmid, "is not a PubMed id (digits only)"),
           ("doi", valid_doi, "is not a DOI (10.NNNN/suffix, no spaces or quotes)"),
           ("link", valid_link, "is not an http(s) URL"))  # fmt: skip


def field_problems(meta: dict[str, object]) -> dict[str, str]:
    """The PMID, DOI and link fields that fail their check, each with the reason."""
    out: dict[str, str] = {}
    for field, check, why in _CHECKS:
        value = meta.get(field)
        if isinstance(value, str) and value and check(value) is None:
            out[field] = f"{field} {value[:80]!r} {why}"
    return out


def safe_href(url: str) -> str:
    """``url`` percent-encoded for a Markdown or HTML link: nothing in it ends the link."""
    return quote(url, safe=_URL_SAFE)


def pubmed_url(pmid: str) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{quote(pmid, safe='')}/"


def doi_url(doi: str) -> str:
    return f"https://doi.org/{quote(doi, safe='/:;._-')}"
