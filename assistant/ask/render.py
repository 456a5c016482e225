"""Answer -> Markdown, HTML and JSON. Source text is always escaped: it can never inject markup."""

from __future__ import annotations

import html
import json
import re

from assistant.ask.citations import MARKER_RE, parse_marker
from assistant.ask.draft import design_label, display_heading
from assistant.ask.layout import NOT_REVIEWED, ReviewState, last_updated, title, wording
from assistant.metadata import (
    doi_url,
    pubmed_url,
    safe_href,
    valid_doi,
    valid_link,
    valid_pmid,
)
from assistant.prompts import CANNOT_ANSWER_PHRASE
from assistant.types import Answer, AnswerSection, Bullet, Reference, SourceRef

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!])")


def md_escape(text: str) -> str:
    """Backslash-escape what could start markup in Markdown: raw HTML, links, emphasis."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def safe_url(url: str | None) -> str | None:
    """Only http(s) URLs with a host and no space, control or format character are ever
    rendered as links (and then percent-encoded by ``safe_href``)."""
    return valid_link(url.strip()) if url else None


def markers(citations: list[int]) -> str:
    return "".join(f"[{n}]" for n in citations)


def citation_line(ref: SourceRef) -> str:
    """Authors. Title. Journal. Year;Volume(Issue):Pages. -- plain text, unescaped."""
    parts: list[str] = []
    if ref.authors:
        parts.append(", ".join(ref.authors).rstrip(".") + ".")
    parts.append(ref.title.rstrip(".") + ".")
    venue = ref.journal or ""
    detail = ""
    if ref.year:
        detail = str(ref.year)
    if ref.volume:
        detail += f";{ref.volume}"
        if ref.issue:
            detail += f"({ref.issue})"
    if ref.pages:
        detail += f":{ref.pages}"
    tail = " ".join(x for x in (venue + ("." if venue else ""), detail) if x).strip()
    if tail:
        parts.append(tail if tail.endswith(".") else tail + ".")
    return " ".join(parts)


def _pieces(text: str) -> list[tuple[str, list[int]]]:
    """A bullet's text split around its own [n] markers: (text, numbers of the marker after)."""
    out: list[tuple[str, list[int]]] = []
    last = 0
    for m in MARKER_RE.finditer(text):
        out.append((text[last : m.start()], parse_marker(m.group(1))))
        last = m.end()
    out.append((text[last:], []))
    return out


def md_bullet(bullet: Bullet) -> str:
    """The bullet's text escaped, with its markers: inline where a generated sentence put them,
    else at the end."""
    if not bullet.inline:
        return f"{md_escape(bullet.text)} {markers(bullet.citations)}"
    return "".join(md_escape(t) + markers(ns) for t, ns in _pieces(bullet.text))


EVIDENCE_TABLE = "Evidence at a glance"
TABLE_COLUMNS = ("Ref", "Design", "Participants", "Year", "Key result")


def certainty_text(answer: Answer) -> str:
    assert answer.certainty is not None
    reasons = "; ".join(answer.certainty.reasons)
    return f"Certainty of the evidence: {answer.certainty.label}" + (
        f" ({reasons})" if reasons else ""
    )


def table_rows(answer: Answer) -> list[tuple[str, ...]]:
    return [
        (
            f"[{row.n}]" if row.n else "",
            row.design_label,
            row.participants or "not stated",
            str(row.year or ""),
            row.result,
        )
        for row in answer.evidence_table
    ]


def md_certainty(answer: Answer) -> str:
    return f"**{md_escape(certainty_text(answer))}**"


def md_evidence_table(answer: Answer) -> list[str]:
    if not answer.evidence_table:
        return []

    def cell(text: str, marker: bool = False) -> str:
        return text if marker else md_escape(" ".join(text.split()))

    lines = [f"## {EVIDENCE_TABLE}", "", "| " + " | ".join(TABLE_COLUMNS) + " |"]
    lines.append("|" + "---|" * len(TABLE_COLUMNS))
    for row in table_rows(answer):
        lines.append("| " + " | ".join(cell(c, i == 0) for i, c in enumerate(row)) + " |")
    return [*lines, ""]


# -- Markdown ---------------------------------------------------------------------------------


def _md_section(section: AnswerSection, audience: str, level: int) -> list[str]:
    lines = [f"{'#' * level} {md_escape(display_heading(section.heading, audience))}", ""]
    for bullet in section.bullets:
        lines.append(f"- {md_bullet(bullet)}")
    if section.bullets:
        lines.append("")
    for sub in section.subsections:
        lines.extend(_md_section(sub, audience, level + 1))
    return lines


def _md_reference(ref: Reference, with_passages: bool) -> list[str]:
    links: list[str] = []
    pmid, doi = valid_pmid(ref.pmid), valid_doi(ref.doi)
    if pmid:
        links.append(f"PMID: [{md_escape(pmid)}]({pubmed_url(pmid)})")
    if doi:
        links.append(f"DOI: [{md_escape(doi)}]({doi_url(doi)})")
    link = safe_url(ref.link)
    if link and not pmid and not doi:
        links.append(f"[Link]({safe_href(link)})")
    meta = [f"*{design_label(ref.evidence_type)}*", *links]
    lines = [f"{ref.n}. {md_escape(citation_line(ref))} {' · '.join(meta)}"]
    if ref.provenance:
        lines.append(f"   - Provenance: {md_escape(ref.provenance)}")
    if with_passages:
        for passage in ref.passages:
            for sentence in passage.highlights[:2]:
                lines.append(f"   - Supporting passage: \u201c{md_escape(sentence)}\u201d")
    return lines


def markdown_header(answer: Answer, review: ReviewState | None = None) -> list[str]:
    """The page's title, review status and "Last updated", as Markdown lines."""
    words, review = wording(answer.audience), review or NOT_REVIEWED
    status = f"**{words.review}:** {md_escape(review.label)}"
    if review.detail:
        status += f" \u2014 {md_escape(review.detail)}"
    lines = [f"# {md_escape(' '.join(title(answer).split()))}", "", status, ""]
    updated = last_updated(answer, review)
    if updated:
        lines += [f"**{words.updated}:** {md_escape(updated)}", ""]
    return lines


def render_markdown(
    answer: Answer,
    with_passages: bool = True,
    *,
    header: bool = True,
    review: ReviewState | None = None,
    follow_ups: bool = True,
) -> str:
    """The answer page as Markdown: title, review status and "Last updated" (``header``),
    the answer with its bottom line first, references, follow-ups, the disclaimer."""
    lines: list[str] = markdown_header(answer, review) if header else []
    if answer.standalone_question and answer.standalone_question != answer.question:
        lines += [f"*Interpreted as:* {md_escape(answer.standalone_question)}", ""]
    if answer.abstained:
        lines += [f"**{md_escape(answer.notice or CANNOT_ANSWER_PHRASE)}**", ""]
        if answer.closest_sources:
            lines.append("Closest sources in the library (they do not answer the question):")
            for ref in answer.closest_sources:
                lines.append(
                    f"- {md_escape(citation_line(ref))} *{design_label(ref.evidence_type)}*"
                )
            lines.append("")
    elif answer.notice:
        lines += [f"*{md_escape(answer.notice)}*", ""]
    for section in answer.sections:
        lines.extend(_md_section(section, answer.audience, 2))
        if section.kind == "bottom-line" and answer.certainty:
            lines += [md_certainty(answer), ""]
    lines.extend(md_evidence_table(answer))
    if answer.glossary:
        lines += ["## Terms used", ""]
        lines += [f"- **{md_escape(t)}**: {md_escape(d)}" for t, d in answer.glossary.items()]
        lines.append("")
    if answer.references:
        lines += [f"## {wording(answer.audience).references}", ""]
        for ref in answer.references:
            lines.extend(_md_reference(ref, with_passages))
        lines.append("")
    if answer.follow_ups and follow_ups:
        lines += ["## Suggested follow-up questions", ""]
        lines += [f"- {md_escape(q)}" for q in answer.follow_ups]
        lines.append("")
    lines += ["---", f"*{md_escape(answer.disclaimer)}*"]
    return "\n".join(lines).strip() + "\n"


# -- HTML -------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


class _Anchors:
    """Ids of one rendered answer: its markers and references link to each other, and a
    prefix keeps two answers on one page (the app's chat) apart."""

    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix
        self.first_marker: set[int] = set()

    def ref(self, n: int) -> str:
        return f"{self.prefix}ref-{n}"

    def cite(self, n: int) -> str:
        return f"{self.prefix}cite-{n}"

    def markers(self, citations: list[int]) -> str:
        out = []
        for n in citations:
            # the first marker of each source is where its reference's back-link returns to
            ident = "" if n in self.first_marker else f' id="{self.cite(n)}"'
            self.first_marker.add(n)
            out.append(f'<a class="cite" href="#{self.ref(n)}"{ident} title="Source {n}">[{n}]</a>')
        return "".join(out)


def html_bullet(bullet: Bullet, anchors: _Anchors) -> str:
    if not bullet.inline:
        return f"{_e(bullet.text)} {anchors.markers(bullet.citations)}"
    return "".join(_e(t) + anchors.markers(ns) for t, ns in _pieces(bullet.text))


def html_certainty(answer: Answer) -> str:
    assert answer.certainty is not None
    level = answer.certainty.label.replace(" ", "-")
    return f'<p class="certainty {level}"><strong>{_e(certainty_text(answer))}</strong></p>'


def html_evidence_table(answer: Answer, anchors: _Anchors, tag: str = "h2") -> str:
    if not answer.evidence_table:
        return ""
    head = "".join(f"<th>{_e(c)}</th>" for c in TABLE_COLUMNS)
    body = []
    for row, values in zip(answer.evidence_table, table_rows(answer), strict=True):
        ref = anchors.markers([row.n]) if row.n else ""
        # each cell names its column for narrow screens, where the rows become cards
        cells = "".join(
            f'<td><span class="cell-label">{_e(c)}: </span>{_e(v)}</td>'
            for c, v in zip(TABLE_COLUMNS[1:], values[1:], strict=True)
        )
        body.append(f"<tr><td>{ref}</td>{cells}</tr>")
    return (
        f'<section class="evidence-table"><{tag}>{EVIDENCE_TABLE}</{tag}><table><thead><tr>'
        f"{head}</tr></thead><tbody>{''.join(body)}</tbody></table></section>"
    )


def _html_section(section: AnswerSection, audience: str, level: int, anchors: _Anchors) -> str:
    tag = f"h{min(level, 6)}"
    parts = [
        f'<section class="{_e(section.kind)}"><{tag}>'
        f"{_e(display_heading(section.heading, audience))}</{tag}>"
    ]
    if section.bullets:
        items = "".join(f"<li>{html_bullet(b, anchors)}</li>" for b in section.bullets)
        parts.append(f"<ul>{items}</ul>")
    parts.extend(_html_section(sub, audience, level + 1, anchors) for sub in section.subsections)
    parts.append("</section>")
    return "".join(parts)


def _html_link(url: str | None, label: str) -> str:
    url = safe_url(url)
    if not url:
        return ""
    href = _e(safe_href(url))
    return f'<a href="{href}" target="_blank" rel="noopener noreferrer">{_e(label)}</a>'


def render_reference_html(
    ref: Reference, *, anchor: str = "", back_to: str | None = None, fold: bool = False
) -> str:
    """One reference (``id="{anchor}ref-N"``): badge, citation, links, provenance and the
    passages with the cited sentences marked (inside a closed ``<details>`` when ``fold``);
    ``back_to`` is the id of the marker its back-link returns to."""
    links = []
    pmid, doi = valid_pmid(ref.pmid), valid_doi(ref.doi)
    if pmid:
        links.append(_html_link(pubmed_url(pmid), f"PMID {pmid}"))
    if doi:
        links.append(_html_link(doi_url(doi), f"DOI {doi}"))
    if not links and ref.link:
        links.append(_html_link(ref.link, "Link"))
    passages = []
    for p in ref.passages:
        text = _e(p.text)
        for sentence in p.highlights:
            escaped = _e(sentence)
            text = text.replace(escaped, f"<mark>{escaped}</mark>", 1)
        heading = f"<strong>{_e(p.heading)}</strong> " if p.heading else ""
        passages.append(f"<blockquote>{heading}{text}</blockquote>")
    provenance = (
        f'<p class="provenance">Provenance: {_e(ref.provenance)}</p>' if ref.provenance else ""
    )
    quoted = "".join(passages)
    if fold and quoted:
        quoted = f"<details><summary>Supporting passage</summary>{quoted}</details>"
    back = (
        f' <a class="backref" href="#{_e(back_to)}" title="Back to [{ref.n}] in the answer">'
        "\u21a9 back to text</a>"
        if back_to
        else ""
    )
    return (
        f'<li id="{_e(anchor)}ref-{ref.n}" value="{ref.n}"><span class="badge '
        f'{_e(ref.evidence_type)}">{_e(design_label(ref.evidence_type))}</span> '
        f"{_e(citation_line(ref))} {' · '.join(x for x in links if x)}{back}{provenance}"
        f"{quoted}</li>"
    )


def html_header(answer: Answer, review: ReviewState | None = None, level: int = 1) -> str:
    """The page's title, review status and "Last updated" (escaped)."""
    words, review = wording(answer.audience), review or NOT_REVIEWED
    tag = f"h{min(max(level, 1), 6)}"
    status = (
        f'<span class="review-label">{_e(words.review)}:</span> '
        f'<span class="review-status {_e(review.css)}">{_e(review.label)}</span>'
    )
    if review.detail:
        status += f' <span class="review-detail">{_e(review.detail)}</span>'
    meta = [f'<p class="answer-review">{status}</p>']
    updated = last_updated(answer, review)
    if updated:
        meta.append(
            f'<p class="last-updated"><span class="review-label">{_e(words.updated)}:</span> '
            f"{_e(updated)}</p>"
        )
    return (
        f'<header class="answer-head"><{tag} class="answer-title">'
        f"{_e(' '.join(title(answer).split()))}</{tag}>{''.join(meta)}</header>"
    )


def render_html(
    answer: Answer,
    *,
    header: bool = True,
    review: ReviewState | None = None,
    level: int = 2,
    anchor: str = "",
    follow_ups: bool = True,
    fold_passages: bool = False,
    before_disclaimer: str = "",
) -> str:
    """The answer page as an HTML fragment: title, review status and "Last updated"
    (``header``, one level above the sections), the answer with its bottom line first, the
    references (each with a back-link to its first marker), follow-ups and the disclaimer.
    ``anchor`` prefixes every id, so several answers can share one page."""
    anchors = _Anchors(anchor)
    parts = ['<div class="answer">']
    if header:
        parts.append(html_header(answer, review, level - 1))
    if answer.standalone_question and answer.standalone_question != answer.question:
        parts.append(f'<p class="standalone">Interpreted as: {_e(answer.standalone_question)}</p>')
    if answer.abstained:
        parts.append(
            f'<p class="abstain"><strong>{_e(answer.notice or CANNOT_ANSWER_PHRASE)}</strong></p>'
        )
        if answer.closest_sources:
            items = "".join(f"<li>{_e(citation_line(r))}</li>" for r in answer.closest_sources)
            parts.append(f"<p>Closest sources in the library:</p><ul>{items}</ul>")
    elif answer.notice:
        parts.append(f'<p class="notice">{_e(answer.notice)}</p>')
    tag = f"h{min(level, 6)}"
    for section in answer.sections:
        parts.append(_html_section(section, answer.audience, level, anchors))
        if section.kind == "bottom-line" and answer.certainty:
            parts.append(html_certainty(answer))
    parts.append(html_evidence_table(answer, anchors, tag))
    if answer.glossary:
        items = "".join(f"<dt>{_e(t)}</dt><dd>{_e(d)}</dd>" for t, d in answer.glossary.items())
        parts.append(
            f'<section class="glossary"><{tag}>Terms used</{tag}><dl>{items}</dl></section>'
        )
    if answer.references:
        items = "".join(
            render_reference_html(
                r,
                anchor=anchor,
                back_to=anchors.cite(r.n) if r.n in anchors.first_marker else None,
                fold=fold_passages,
            )
            for r in answer.references
        )
        parts.append(
            f'<section class="references"><{tag}>{_e(wording(answer.audience).references)}'
            f"</{tag}><ol>{items}</ol></section>"
        )
    if answer.follow_ups and follow_ups:
        items = "".join(f"<li>{_e(q)}</li>" for q in answer.follow_ups)
        parts.append(
            f'<section class="follow-ups"><{tag}>Suggested follow-up questions</{tag}>'
            f"<ul>{items}</ul></section>"
        )
    parts.append(before_disclaimer)
    parts.append(f'<p class="disclaimer">{_e(answer.disclaimer)}</p></div>')
    return "".join(parts)


# -- JSON -------------------------------------------------------------------------------------


def render_json(answer: Answer) -> str:
    """The answer as JSON; identifiers and links that fail their checks are null (an index
    written before the checks existed may hold them), so a consumer never links them."""
    data = answer.model_dump(mode="json")
    for ref in [*data.get("references", []), *data.get("closest_sources", [])]:
        ref["pmid"], ref["doi"] = valid_pmid(ref.get("pmid")), valid_doi(ref.get("doi"))
        ref["link"] = safe_url(ref.get("link"))
    return json.dumps(data, ensure_ascii=False, indent=2)
