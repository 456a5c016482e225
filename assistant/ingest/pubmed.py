"""Parse PubMed XML exports ("Save → XML", root ``PubmedArticleSet``) into SourceDocs."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from lxml import etree
from pydantic import ValidationError

from assistant.metadata import valid_pmid
from assistant.types import EVIDENCE_RANK, DocSection, SourceDoc


class PubMedError(ValueError):
    """The XML is malformed or not a PubMed export (one-line reason)."""


# PublicationType -> evidence type; the strongest (lowest EVIDENCE_RANK) of an article wins.
_PUBLICATION_TYPES: dict[str, str] = {
    "practice guideline": "guideline",
    "guideline": "guideline",
    "consensus development conference": "consensus-recommendation",
    "consensus development conference, nih": "consensus-recommendation",
    "meta-analysis": "meta-analysis",
    "network meta-analysis": "meta-analysis",
    "systematic review": "systematic-review",
    "randomized controlled trial": "rct",
    "case reports": "case-series",
    "review": "review",
    "scoping review": "review",
}
# An observational design is only called a cohort when MeSH says which direction it looked.
_DESIGN_MESH: dict[str, str] = {
    "prospective studies": "prospective-cohort",
    "retrospective studies": "retrospective-cohort",
}

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": "internal",  # never fetch or expand external entities
    "no_network": True,
    "load_dtd": False,
    "remove_comments": True,
    "remove_pis": True,
}


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _flat(element: Any) -> str:
    """All text inside an element (inline markup such as <i> or <sup> flattened)."""
    return "" if element is None else _clean("".join(element.itertext()))


def _first(node: Any, *paths: str) -> str | None:
    for path in paths:
        text = _flat(node.find(path))
        if text:
            return text
    return None


def evidence_type(publication_types: list[str], mesh: list[str]) -> str:
    """Map PubMed publication types (and design MeSH terms) to the strongest evidence type."""
    found = [_PUBLICATION_TYPES.get(p.lower(), "other") for p in publication_types]
    found += [_DESIGN_MESH[m.lower()] for m in mesh if m.lower() in _DESIGN_MESH]
    return min(found, key=EVIDENCE_RANK.__getitem__, default="other")


def _year(article: Any) -> int | None:
    issue = article.find("Journal/JournalIssue/PubDate")
    if issue is not None:
        year = _flat(issue.find("Year"))
        if year.isdigit():
            return int(year)
        match = re.search(r"\d{4}", _flat(issue.find("MedlineDate")))
        if match:
            return int(match.group())
    year = _flat(article.find("ArticleDate/Year"))
    return int(year) if year.isdigit() else None


def _authors(article: Any) -> list[str]:
    names: list[str] = []
    for author in article.findall("AuthorList/Author"):
        if author.get("ValidYN") == "N":
            continue
        collective = _flat(author.find("CollectiveName"))
        last = _flat(author.find("LastName"))
        initials = _flat(author.find("Initials")) or _flat(author.find("ForeName"))
        name = collective or " ".join(part for part in (last, initials) if part)
        if name:
            names.append(name)
    return names


def _sections(article: Any, title: str) -> list[DocSection]:
    sections: list[DocSection] = []
    for part in article.findall("Abstract/AbstractText"):
        text = _flat(part)
        if text:
            heading = _clean(part.get("Label") or "") or "Abstract"
            sections.append(DocSection(heading=heading, text=text))
    return sections or [DocSection(heading="", text=title)]


def _article(record: Any, path: str | None) -> SourceDoc:
    citation = record.find("MedlineCitation")
    if citation is None:
        raise PubMedError("no MedlineCitation")
    pmid = _flat(citation.find("PMID"))
    article = citation.find("Article")
    if not pmid or article is None:
        raise PubMedError("no PMID" if not pmid else "no Article")
    title = _flat(article.find("ArticleTitle")) or _flat(article.find("VernacularTitle"))
    if not title:
        raise PubMedError(f"PMID {pmid} has no title")
    mesh = [_flat(d) for d in citation.findall("MeshHeadingList/MeshHeading/DescriptorName")]
    pub_types = [_flat(p) for p in article.findall("PublicationTypeList/PublicationType")]
    doi = _first(record, "PubmedData/ArticleIdList/ArticleId[@IdType='doi']")
    doi = doi or _first(article, "ELocationID[@EIdType='doi']")
    pages = _first(article, "Pagination/MedlinePgn", "Pagination/StartPage")
    keywords = [_flat(k) for k in citation.findall("KeywordList/Keyword")]
    if valid_pmid(pmid) is None:  # it becomes the source id: the record cannot be kept
        raise PubMedError(f"PMID {pmid[:40]!r} is not a PubMed id (digits only)")
    return SourceDoc(
        source_id=pmid,
        title=title,
        authors=_authors(article),
        journal=_first(article, "Journal/Title", "Journal/ISOAbbreviation"),
        year=_year(article),
        volume=_first(article, "Journal/JournalIssue/Volume"),
        issue=_first(article, "Journal/JournalIssue/Issue"),
        pages=pages,
        pmid=pmid,
        doi=doi,
        link=f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/",
        evidence_type=evidence_type(pub_types, mesh),
        publication_types=pub_types,
        tags=[k for k in keywords if k],
        mesh=[m for m in mesh if m],
        sections=_sections(article, title),
        path=path,
    )


def parse_pubmed(data: bytes, path: str | None = None) -> tuple[list[SourceDoc], list[str]]:
    """One SourceDoc per PubmedArticle, plus warnings about records that were left out.

    Raises PubMedError when the XML does not parse, is not a PubMed export or holds no article.
    """
    try:
        root = etree.fromstring(data, etree.XMLParser(**_PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        message = re.sub(r"\s*\(<string>, line \d+\)$", "", _clean(str(exc)))
        raise PubMedError(f"malformed XML: {message}") from exc
    tag = etree.QName(root).localname
    if tag == "PubmedArticle":
        records = [root]
    elif tag == "PubmedArticleSet":
        records = [child for child in root if child.tag == "PubmedArticle"]
    else:
        raise PubMedError(
            f"not a PubMed XML export: root element is <{tag}>, expected <PubmedArticleSet>"
        )
    docs: list[SourceDoc] = []
    warnings: list[str] = []
    seen: set[str] = set()
    for n, record in enumerate(records, start=1):
        try:
            doc = _article(record, path)
        except (PubMedError, ValidationError) as exc:
            reason = str(exc).splitlines()[0]
            warnings.append(f"PubmedArticle {n}: skipped ({reason})")
            continue
        if doc.source_id in seen:
            warnings.append(f"PubmedArticle {n}: duplicate PMID {doc.source_id}, first one kept")
            continue
        seen.add(doc.source_id)
        docs.append(doc)
    books = sum(1 for child in root if child.tag == "PubmedBookArticle")
    if books:
        warnings.append(f"{books} PubmedBookArticle record(s) skipped (books are not supported)")
    if not docs:
        detail = f" ({warnings[0]})" if warnings else ""
        raise PubMedError(f"no loadable PubmedArticle in the file{detail}")
    return docs, warnings
