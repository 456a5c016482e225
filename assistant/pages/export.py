"""A page as standalone HTML or Markdown, and the escaped fragments the app shows.

The answer itself is rendered by the shared renderers (``render_html`` / ``render_markdown``),
so it is escaped like every other output and new Answer fields appear here without a change;
this module only adds the page's header (question, status, approval, dates, library version,
a warning when cited sources changed) and its review history, every text escaped. The HTML
document has inline CSS, no script, and a Content-Security-Policy that forbids scripts anyway.
"""

from __future__ import annotations

import html
from typing import Literal

from assistant.ask.layout import ReviewState, last_updated
from assistant.ask.render import md_escape, render_html, render_markdown
from assistant.pages.service import PageView
from assistant.pages.store import HistoryEntry

Format = Literal["html", "md"]
FORMATS: tuple[Format, ...] = ("html", "md")

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; base-uri 'none'"
_CSS = """
body { font: 16px/1.5 system-ui, sans-serif; color: #1b1f24; margin: 0; background: #f6f7f9; }
main { max-width: 52rem; margin: 0 auto; padding: 2rem 1.5rem; background: #fff; }
h1 { font-size: 1.6rem; margin: 0 0 .5rem; }
.page-status { display: inline-block; padding: .1rem .6rem; border-radius: 1rem;
  background: #e7ecf3; font-weight: 600; }
.page-status.approved { background: #dcf3e3; color: #14532d; }
.page-status.rejected { background: #fde2e1; color: #7f1d1d; }
.page-status.needs-re-review { background: #fff1c2; color: #713f12; }
.page-meta { color: #4b5563; margin: .4rem 0 1rem; padding: 0; list-style: none; }
.page-warning { border-left: 4px solid #d97706; background: #fffbeb; padding: .5rem .8rem; }
.page-history ol { padding-left: 1.2rem; } .page-history .note { color: #374151; }
blockquote { margin: .3rem 0 .6rem; padding: .3rem .8rem; border-left: 3px solid #cbd5e1;
  color: #374151; }
mark { background: #fef08a; } .badge { font-size: .8rem; background: #eef2ff; padding: 0 .4rem; }
.disclaimer { margin-top: 1.5rem; font-style: italic; color: #4b5563; }
.evidence-table table { border-collapse: collapse; width: 100%; }
.evidence-table th, .evidence-table td { text-align: left; vertical-align: top;
  padding: .2rem .4rem; border-bottom: 1px solid #e5e7eb; }
.evidence-table .cell-label { display: none; }
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def fmt_date(iso: str | None) -> str:
    return (iso or "")[:10]


def fmt_time(iso: str | None) -> str:
    """'2026-12-03T09:15:02Z' -> '2026-12-03 09:15 UTC'."""
    if not iso:
        return ""
    return f"{iso[:10]} {iso[11:16]} UTC" if len(iso) >= 16 else iso


def approval_line(view: PageView) -> str | None:
    """'Approved by NAME on DATE' (plain text) for an approved page."""
    page = view.page
    if page.status != "approved" or not page.approved_by:
        return None
    return f"Approved by {page.approved_by} on {fmt_date(page.approved_at)}"


def status_class(view: PageView) -> str:
    return "needs-re-review" if view.needs_rereview else view.page.status


def review_state(view: PageView) -> ReviewState:
    """The page's status as the answer page shows it (with who approved it and when)."""
    return ReviewState(
        view.status_label, status_class(view), approval_line(view) or "", view.page.updated_at
    )


def changed_warning(view: PageView) -> str | None:
    if not view.changed:
        return None
    what = ", ".join(view.changed)
    if view.needs_rereview:
        return (
            f"Needs re-review: cited sources changed since approval ({what}). This page is not "
            "served as approved until its answer is regenerated and approved again."
        )
    return f"Cited sources changed since this answer was made ({what}): regenerate it first."


def history_line(entry: HistoryEntry) -> str:
    """One history entry as plain text (unescaped)."""
    if entry.action == "saved":
        change = f"saved as {entry.to_status}"
    elif entry.action == "answer-replaced":
        change = f"answer regenerated; {entry.from_status} \u2192 {entry.to_status}"
    else:
        change = f"{entry.from_status} \u2192 {entry.to_status}"
    return f"{fmt_time(entry.at)} \u00b7 {entry.actor} \u00b7 {change}"


def _meta(view: PageView) -> list[str]:
    page = view.page
    n = len(page.sources)
    sources = last_updated(page.answer())
    return [
        f"Audience: {page.audience}",
        f"Created {fmt_time(page.created_at)} by {page.created_by}",
        f"Last updated {fmt_time(page.updated_at)}" + (f" ({sources})" if sources else ""),
        f"Library version {page.library_version} ({n} cited source{'s' if n != 1 else ''})",
        f"Page {page.id}, revision {page.revision}",
    ]


# -- HTML -------------------------------------------------------------------------------------


def header_html(view: PageView, level: int = 1) -> str:
    """Question, status, approval, dates, library version and warning (escaped)."""
    page = view.page
    parts = [f"<h{level}>{_e(page.question)}</h{level}>"]
    status = f'<span class="page-status {_e(status_class(view))}">{_e(view.status_label)}</span>'
    approval = approval_line(view)
    if approval:
        status += f' <span class="page-approval">{_e(approval)}</span>'
    parts.append(f'<p class="page-state">{status}</p>')
    items = "".join(f"<li>{_e(m)}</li>" for m in _meta(view))
    parts.append(f'<ul class="page-meta">{items}</ul>')
    warning = changed_warning(view)
    if warning:
        parts.append(f'<p class="page-warning" role="alert">{_e(warning)}</p>')
    return "".join(parts)


def history_html(view: PageView) -> str:
    if not view.history:
        return ""
    items = []
    for entry in view.history:
        note = f' <span class="note">\u2014 {_e(entry.note)}</span>' if entry.note else ""
        items.append(f"<li>{_e(history_line(entry))}{note}</li>")
    return (
        f'<section class="page-history"><h2>Review history</h2><ol>{"".join(items)}</ol></section>'
    )


def page_fragment_html(view: PageView) -> str:
    """The page inside the app: header, history, then the answer (ending with the disclaimer);
    its ids are the page's own, so they never clash with the chat's or the Sources panel's."""
    anchor = f"page{view.page.id}-"
    return (
        f'<article class="reviewed-page" data-page="{view.page.id}">{header_html(view, 2)}'
        f"{history_html(view)}{render_html(view.page.answer(), header=False, anchor=anchor)}"
        "</article>"
    )


def page_html(view: PageView) -> str:
    """A standalone HTML document: inline CSS, no script, a CSP that forbids scripts."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(view.page.question)}</title><style>{_CSS}</style></head>"
        f"<body><main>{header_html(view)}{history_html(view)}"
        f"{render_html(view.page.answer(), header=False)}</main></body></html>\n"
    )


# -- Markdown ---------------------------------------------------------------------------------


def _md(text: str) -> str:
    """Escaped and on one line: a line break in a note could otherwise start a heading."""
    return md_escape(" ".join(text.split()))


def page_markdown(view: PageView) -> str:
    page = view.page
    lines = [f"# {_md(page.question)}", ""]
    state = f"**{_md(view.status_label)}**"
    approval = approval_line(view)
    if approval:
        state += f" \u00b7 {_md(approval)}"
    lines += [state, ""]
    lines += [f"- {_md(m)}" for m in _meta(view)]
    lines.append("")
    warning = changed_warning(view)
    if warning:
        lines += [f"> **{_md(warning)}**", ""]
    if view.history:
        lines += ["## Review history", ""]
        for entry in view.history:
            note = f" \u2014 {_md(entry.note)}" if entry.note else ""
            lines.append(f"1. {_md(history_line(entry))}{note}")
        lines.append("")
    return "\n".join(lines) + "\n" + render_markdown(page.answer(), header=False)


def export_page(view: PageView, fmt: str) -> str:
    if fmt == "html":
        return page_html(view)
    if fmt == "md":
        return page_markdown(view)
    raise ValueError(f"unknown export format {fmt!r}; use html or md")
