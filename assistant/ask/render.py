"""Answer -> Markdown, HTML and JSON. Source text is always escaped: it can never inject markup."""

from __future__ import annotations

import html
import json
import re
from urllib.parse import quote, urlparse

from assistant.ask.draft import design_label, display_heading
from assistant.prompts import CANNOT_ANSWER_PHRASE
from assistant.types import Answer, AnswerSection, Reference, SourceRef

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~!])")


def md_escape(text: str) -> str:
    """Backslash-escape what could start markup in Markdown: raw HTML, links, emphasis."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def safe_url(url: str | None) -> str | None:
    """Only http(s) URLs with a host are ever rendered as links."""
    if not url:
        return None
    parsed = urlparse(url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return None
    return url.strip()


def pubmed_url(pmid: str) -> str:
    return f"https://pubmed.ncbi.nlm.nih.gov/{quote(pmid)}/"


def doi_url(doi: str) -> str:
    return f"https://doi.org/{quote(doi, safe='/:;()._-')}"


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


# -- Markdown ---------------------------------------------------------------------------------


def _md_section(section: AnswerSection, audience: str, level: int) -> list[str]:
    lines = [f"{'#' * level} {md_escape(display_heading(section.heading, audience))}", ""]
    for bullet in section.bullets:
        lines.append(f"- {md_escape(bullet.text)} {markers(bullet.citations)}")
    if section.bullets:
        lines.append("")
    for sub in section.subsections:
        lines.extend(_md_section(sub, audience, level + 1))
    return lines


def _md_reference(ref: Reference, with_passages: bool) -> list[str]:
    links: list[str] = []
    if ref.pmid:
        links.append(f"PMID: [{md_escape(ref.pmid)}]({pubmed_url(ref.pmid)})")
    if ref.doi:
        links.append(f"DOI: [{md_escape(ref.doi)}]({doi_url(ref.doi)})")
    link = safe_url(ref.link)
    if link and not ref.pmid and not ref.doi:
        links.append(f"[Link]({link})")
    meta = [f"*{design_label(ref.evidence_type)}*", *links]
    lines = [f"{ref.n}. {md_escape(citation_line(ref))} {' · '.join(meta)}"]
    if ref.provenance:
        lines.append(f"   - Provenance: {md_escape(ref.provenance)}")
    if with_passages:
        for passage in ref.passages:
            for sentence in passage.highlights[:2]:
                lines.append(f"   - Supporting passage: \u201c{md_escape(sentence)}\u201d")
    return lines


def render_markdown(answer: Answer, with_passages: bool = True) -> str:
    lines: list[str] = []
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
    if answer.glossary:
        lines += ["## Terms used", ""]
        lines += [f"- **{md_escape(t)}**: {md_escape(d)}" for t, d in answer.glossary.items()]
        lines.append("")
    if answer.references:
        lines += ["## References", ""]
        for ref in answer.references:
            lines.extend(_md_reference(ref, with_passages))
        lines.append("")
    if answer.follow_ups:
        lines += ["## Suggested follow-up questions", ""]
        lines += [f"- {md_escape(q)}" for q in answer.follow_ups]
        lines.append("")
    lines += ["---", f"*{md_escape(answer.disclaimer)}*"]
    return "\n".join(lines).strip() + "\n"


# -- HTML -------------------------------------------------------------------------------------


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_markers(citations: list[int]) -> str:
    return "".join(f'<a class="cite" href="#ref-{n}" data-ref="{n}">[{n}]</a>' for n in citations)


def _html_section(section: AnswerSection, audience: str, level: int) -> str:
    tag = f"h{min(level, 6)}"
    parts = [
        f'<section class="{_e(section.kind)}"><{tag}>'
        f"{_e(display_heading(section.heading, audience))}</{tag}>"
    ]
    if section.bullets:
        items = "".join(
            f"<li>{_e(b.text)} {_html_markers(b.citations)}</li>" for b in section.bullets
        )
        parts.append(f"<ul>{items}</ul>")
    parts.extend(_html_section(sub, audience, level + 1) for sub in section.subsections)
    parts.append("</section>")
    return "".join(parts)


def _html_link(url: str | None, label: str) -> str:
    url = safe_url(url)
    if not url:
        return ""
    return f'<a href="{_e(url)}" target="_blank" rel="noopener noreferrer">{_e(label)}</a>'


def render_reference_html(ref: Reference) -> str:
    links = []
    if ref.pmid:
        links.append(_html_link(pubmed_url(ref.pmid), f"PMID {ref.pmid}"))
    if ref.doi:
        links.append(_html_link(doi_url(ref.doi), f"DOI {ref.doi}"))
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
    return (
        f'<li id="ref-{ref.n}" value="{ref.n}"><span class="badge {_e(ref.evidence_type)}">'
        f"{_e(design_label(ref.evidence_type))}</span> {_e(citation_line(ref))} "
        f"{' · '.join(x for x in links if x)}{provenance}{''.join(passages)}</li>"
    )


def render_html(answer: Answer) -> str:
    parts = ['<div class="answer">']
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
    parts.extend(_html_section(s, answer.audience, 2) for s in answer.sections)
    if answer.glossary:
        items = "".join(f"<dt>{_e(t)}</dt><dd>{_e(d)}</dd>" for t, d in answer.glossary.items())
        parts.append(f'<section class="glossary"><h2>Terms used</h2><dl>{items}</dl></section>')
    if answer.references:
        items = "".join(render_reference_html(r) for r in answer.references)
        parts.append(f'<section class="references"><h2>References</h2><ol>{items}</ol></section>')
    if answer.follow_ups:
        items = "".join(f"<li>{_e(q)}</li>" for q in answer.follow_ups)
        parts.append(
            f'<section class="follow-ups"><h2>Suggested follow-up questions</h2>'
            f"<ul>{items}</ul></section>"
        )
    parts.append(f'<p class="disclaimer">{_e(answer.disclaimer)}</p></div>')
    return "".join(parts)


# -- JSON -------------------------------------------------------------------------------------


def render_json(answer: Answer) -> str:
    data = answer.model_dump(mode="json")
    return json.dumps(data, ensure_ascii=False, indent=2)
