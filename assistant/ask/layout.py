"""What an answer page says about itself: its title, its review status and "Last updated".

Every output of an answer (the app's chat, the HTML export, Markdown, Copy, the CLI) shows the
same facts in the same words, so they are computed here once, as plain text; the renderers
escape them. "Last updated" is what a reader needs to judge how current the answer is: the
newest cited source (its year) and when the library the answer was built from was last built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from assistant.types import Answer


@dataclass(frozen=True)
class ReviewState:
    """Where an answer stands in the review workflow, as shown on the page."""

    label: str
    """'Not reviewed', 'Submitted', 'Under review', 'Approved', 'Needs re-review', ..."""
    css: str
    """Class of the status badge (also its colour)."""
    detail: str = ""
    """One plain sentence: who approved it and when, or how to send it for review."""
    page_updated: str | None = None
    """When the reviewed page was last changed (ISO 8601), for a page."""


NOT_REVIEWED = ReviewState(
    "Not reviewed",
    "not-reviewed",
    "no reviewer has checked this answer yet (saving it as a page sends it for review)",
)
"""A fresh answer: nobody has reviewed it."""


@dataclass(frozen=True)
class Wording:
    """The page's own labels in the reader's words (the answer's text is the composer's)."""

    review: str
    updated: str
    newest_source: str
    library_built: str
    references: str
    copy: str


WORDING: dict[str, Wording] = {
    "clinician": Wording(
        "Review status",
        "Last updated",
        "newest cited source",
        "library built",
        "References",
        "Copy as Markdown",
    ),
    "patient": Wording(
        "Checked by a reviewer",
        "Last updated",
        "newest source used",
        "library last refreshed",
        "Where this information comes from",
        "Copy this answer",
    ),
}


def wording(audience: str) -> Wording:
    return WORDING.get(audience, WORDING["clinician"])


def built_iso(timestamp: float | None) -> str | None:
    """A build time (seconds since the epoch) as '2026-12-03T09:51:00Z'."""
    if timestamp is None:
        return None
    return (
        datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


def fmt_utc(iso: str | None) -> str:
    """'2026-12-03T09:51:00Z' -> '2026-12-03 09:51 UTC' (unchanged when it is not ISO)."""
    if not iso:
        return ""
    return f"{iso[:10]} {iso[11:16]} UTC" if len(iso) >= 16 and iso[10] == "T" else iso


def newest_source_date(answer: Answer) -> str | None:
    """The date of the newest source the answer cites: its year (our sources carry no finer
    date)."""
    years = [ref.year for ref in answer.references if ref.year]
    return str(max(years)) if years else None


def last_updated(answer: Answer, review: ReviewState | None = None) -> str | None:
    """'newest cited source 2024; library built 2026-12-03 09:51 UTC' (a reviewed page's own
    last change first), or None when nothing is known (an abstained answer cites nothing; an
    answer saved by an older version has no build time)."""
    words = wording(answer.audience)
    parts = []
    if review is not None and review.page_updated:
        parts.append(f"page updated {fmt_utc(review.page_updated)}")
    newest = newest_source_date(answer)
    if newest:
        parts.append(f"{words.newest_source} {newest}")
    if answer.library_built:
        parts.append(f"{words.library_built} {fmt_utc(answer.library_built)}")
    return "; ".join(parts) or None


def title(answer: Answer) -> str:
    """The page's title: the question as the reader asked it."""
    return answer.question
