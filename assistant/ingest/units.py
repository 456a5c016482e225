"""The units of a chunk (its lines: sentences, or a list with its lead-in) and their roles.

A role says what part of a source a unit comes from: an abstract's background, objective,
methods, results or conclusions. It is read from the section heading when the source labels
its sections (PubMed's structured abstracts do), else from the wording of the unit itself.
Composers prefer results and conclusions; an objective ("To determine whether ...") restates
the question and never answers it.
"""

from __future__ import annotations

import re

from assistant.types import Chunk

ROLES = ("background", "objective", "methods", "results", "conclusions", "other")

_HEADING_ROLES: list[tuple[str, re.Pattern[str]]] = [
    (role, re.compile(rf"^\s*(?:{pattern})\b", re.IGNORECASE))
    for role, pattern in (
        ("background", r"background|introduction|context|rationale"),
        ("objective", r"objectives?|aims?|purpose|goals?|hypothes[ie]s|study question"),
        (
            "methods",
            r"methods?|materials?|design|setting|patients?|participants|subjects|population|"
            r"interventions?|measurements?|main outcome|data sources|study selection|"
            r"statistical analys[ie]s|procedures?",
        ),
        ("results", r"results?|findings|outcomes?"),
        ("conclusions", r"conclusions?|interpretation|implications|discussion|summary"),
    )
]

_CUES: list[tuple[str, re.Pattern[str]]] = [
    (
        "objective",
        re.compile(
            r"^(?:the\s+)?(?:aims?|objectives?|purpose|goals?)\s+(?:of|was|were|is)\b|"
            r"^(?:this|the present|our)\s+study\s+(?:aim|sought|was (?:designed|conducted)|"
            r"investigat|examin|evaluat|assess)|"
            r"^we\s+(?:aimed|sought|hypothesi[sz]ed|set out)|"
            r"^to\s+(?:determine|assess|evaluate|investigate|examine|compare|identify|explore|"
            r"describe|test|clarify|analy[sz]e|establish)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "methods",
        re.compile(
            r"^(?:we|the authors)\s+(?:retrospectively\s+|prospectively\s+)?(?:reviewed|enrolled|"
            r"recruited|included|conducted|performed|analy[sz]ed|studied|searched|collected|"
            r"identified|randomi[sz]ed|used|compared)\b|"
            r"^(?:data|records|charts)\s+(?:were|was)\s+(?:collected|obtained|reviewed|extracted)|"
            r"^(?:patients|participants|subjects)\s+were\s+(?:randomi[sz]ed|enrolled|recruited|"
            r"assigned|selected|divided)",
            re.IGNORECASE,
        ),
    ),
    (
        "conclusions",
        re.compile(
            r"^(?:in\s+conclusion|to\s+conclude|in\s+summary|overall)\b|^we\s+conclude|"
            r"^(?:these|our|the)\s+(?:findings|results|data)\s+(?:suggest|indicate|show|"
            r"demonstrate|support|confirm)",
            re.IGNORECASE,
        ),
    ),
]


def heading_role(heading: str) -> str | None:
    """The role a section heading names (PubMed labels and their usual variants), if any."""
    for role, pattern in _HEADING_ROLES:
        if pattern.match(heading):
            return role
    return None


def unit_role(heading: str, text: str) -> str:
    """A unit's role: its wording first (an objective sentence inside a "Background" section is
    an objective), then its section heading, else "other"."""
    for role, pattern in _CUES:
        if pattern.search(text.strip()):
            return role
    return heading_role(heading) or "other"


def chunk_units(chunk: Chunk) -> list[str]:
    """The units of a chunk: one per line of its text (the chunker writes one unit a line)."""
    return [line for line in chunk.text.split("\n") if line.strip()]
