"""Whether the library holds evidence for a question.

One similarity threshold cannot separate answerable from out-of-scope questions here (their best
cosine similarities overlap), so the decision combines three signals, each with a threshold
calibrated on the dev half of the in-house gold set:

- vocabulary: the question's specific terms (not question words, lay words or facet words) that
  the library does not contain at all, even allowing for a typo; a named drug or disease the
  library has never seen is decisive;
- support: the score of the best candidate sentence (see ``evidence.score_candidates``);
- overlap: how much of the question's vocabulary the closest candidate sentences hold;
- similarity: the best dense cosine similarity of a retrieved chunk;
- time-bound phrases ("10-year") and focused facets ("dose of X") that no sentence addresses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from assistant.ask.evidence import IdfTable
from assistant.ask.lexicon import Lexicon
from assistant.text import STOPWORDS, stem

# Words that carry no subject: question scaffolding and lay wording. Kept unstemmed for reading;
# compared after stemming.
GENERIC_WORDS = """
know tell explain mean means meaning use used uses using give given giving treat treated treating
treatment treatments therapy therapies drug drugs medicine medicines medication medications
patient patients people person persons doctor doctors hospital good bad best better worse worst
right wrong work works worked help helps helpful need needs take takes taking get gets start
starting stop stopping long much many often first line option options recommend recommended
recommendation role data study studies evidence research known current currently latest new
common typical usual usually normal high low level levels amount kid kids son daughter child
baby wife husband mother father mom dad friend family year years old age aged week weeks day
days month months time times ok okay please thanks thank hi hello question really actually still
yet ever never always anything something someone somebody way ways thing things kind sort type
types case cases happen happens happened going go goes effect effects chance chances likely
likelihood say says said find found show shows shown look looks like just mg dose doses dosing
diagnosed diagnose diagnosis disease diseases condition conditions illness sick ill adult adults
children pediatric paediatric infant infants outcome outcomes result results compare compared
versus vs usefulness useful overall general generally specific role roles indication indications
approach approaches management manage managed criterion criteria safe safety risk risks effective
effectiveness efficacy efficacious benefit benefits response respond responds improve improvement
guideline guidelines suggest suggests suggested recommend recommends should would could can
make makes made include includes included specifically particular particularly exactly precisely
list lists describe described consist consists component components part parts involve involved
matter matters matter important worth started begin begun early late soon quickly fast often
though although however think thought believe wonder wondering heard hear read shouldn couldn
wouldn isn aren doesn didn don maximum minimum pick picked choose chosen decide get got resolve
resolves resolved regarding concerning according overall whole entire exact approximate
original originally initial initially final finally
""".split()
GENERIC_STEMS = frozenset(stem(w) for w in GENERIC_WORDS)
_ACRONYM = re.compile(r"^[A-Z][A-Z0-9-]{1,}$")
DRUG_NAME = re.compile(r"\w{3,}(?:mab|nib|cept|kinra|ciclib|lisib)$", re.IGNORECASE)
"""Words shaped like a drug name: antibodies (-mab), kinase inhibitors (-nib), fusion proteins."""
# Word endings of drug and disease names (-mab antibodies, -nib kinase inhibitors, -itis, ...).
_MEDICAL_SUFFIX = re.compile(
    r"(mab|nib|tinib|umab|ximab|zumab|cept|kinra|itis|osis|emia|aemia|pathy|oma|ectomy|plasty|"
    r"algia|uria|penia|cytosis|vir|mycin|cillin|azole|pril|sartan|statin|olol|dronate|parin)$",
    re.IGNORECASE,
)


_QUANTITY_RE = re.compile(
    r"\b(\d+(?:\.\d+)?)-(year|month|week|day|hour)\b|\b(day|week|month|year)\s+(\d+)\b",
    re.IGNORECASE,
)


def quantities(text: str) -> list[tuple[str, str, re.Pattern[str]]]:
    """Time-bound phrases a question hinges on ("10-year", "day 28"), each with the pattern a
    supporting sentence must contain. "10 years" (an age) does not satisfy "10-year" (a span)."""
    out = []
    for m in _QUANTITY_RE.finditer(text):
        if m.group(1):
            n, unit = m.group(1), m.group(2).lower()
            pattern = re.compile(rf"\b{re.escape(n)}[- ]{unit}\b(?!s)", re.IGNORECASE)
        else:
            unit, n = m.group(3).lower(), m.group(4)
            pattern = re.compile(rf"\b{unit}\s+{re.escape(n)}\b", re.IGNORECASE)
        out.append((m.group(0), unit, pattern))
    return out


@dataclass
class SupportCheck:
    missing: list[str] = field(default_factory=list)
    specific: int = 0
    unknown_entities: list[str] = field(default_factory=list)
    best_score: float = 0.0
    top_similarity: float = 0.0
    abstain: bool = False
    reason: str = ""

    @property
    def missing_fraction(self) -> float:
        return len(self.missing) / self.specific if self.specific else 0.0


def _edit_distance_at_most(a: str, b: str, limit: int) -> bool:
    if abs(len(a) - len(b)) > limit:
        return False
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
        if min(current) > limit:
            return False
        previous = current
    return previous[-1] <= limit


TYPO_MIN_LENGTH = 6
"""Shorter words must match exactly: a one-letter slip turns "India" into "indic"."""


class Vocabulary:
    """The library's terms, with typo-tolerant lookup."""

    def __init__(self, idf: IdfTable) -> None:
        self.idf = idf
        self._terms = [t for t in idf.terms if t and t[0].isalpha()]
        self._known: dict[tuple[str, int], bool] = {}
        self._by_initial: dict[str, list[str]] = {}
        for term in self._terms:
            self._by_initial.setdefault(term[0], []).append(term)

    def _containing(self, token: str) -> list[str]:
        return [t for t in self._terms if len(t) <= len(token) + 2 and token in t]

    def knows(self, word: str, synonyms: dict[str, list[str]] | None = None) -> bool:
        key = (word, id(synonyms))
        if key not in self._known:
            if len(self._known) > 50_000:
                self._known.clear()
            self._known[key] = self._knows(word, synonyms)
        return self._known[key]

    def _knows(self, word: str, synonyms: dict[str, list[str]] | None) -> bool:
        token = word.lower()
        if token in self.idf or stem(token) in self.idf:
            return True
        if synonyms and any(self.knows(s) for s in synonyms.get(token, [])):
            return True
        if word.isupper() and len(token) >= 3 and self._containing(token):
            return True  # an acronym inside a longer one: "JIA" in "sJIA"
        if len(token) < TYPO_MIN_LENGTH:
            return False
        limit = 1 if len(token) < 10 else 2
        stemmed = stem(token)
        for term in self._by_initial.get(token[0], []):
            if _edit_distance_at_most(stemmed, term, limit) or _edit_distance_at_most(
                token, term, limit
            ):
                return True
        return False


def specific_words(question: str, lexicon: Lexicon) -> list[str]:
    """Words of the question that name a subject (not scaffolding, lay or facet words)."""
    facet_spans = [m.span() for p in lexicon.facets.values() for m in p.finditer(question)]
    out: list[str] = []
    for match in re.finditer(r"[A-Za-z][A-Za-z0-9'-]*", question):
        word = re.sub(r"'(?:s|t|re|ve|ll|d)$", "", match.group(0)).strip("'-")
        low = word.lower()
        if len(low) < 3 or low in STOPWORDS or stem(low) in GENERIC_STEMS:
            continue
        if any(a <= match.start() < b for a, b in facet_spans):
            continue
        out.append(word)
    return out


def check_support(
    question: str,
    lexicon: Lexicon,
    vocabulary: Vocabulary,
    best_score: float,
    top_similarity: float,
    *,
    min_support: float,
    max_missing_fraction: float,
    min_similarity: float,
    evidence_texts: list[str] | None = None,
    focus_gap: str | None = None,
    best_overlap: float = 1.0,
    min_overlap: float = 0.0,
) -> SupportCheck:
    """Decide abstention; the reason names what the library lacks.

    ``evidence_texts`` are the candidate sentences (for time-bound phrases of the question);
    ``focus_gap`` names a facet the question asks about its subject that no candidate sentence
    addresses (computed by the caller, e.g. "dosing of ruxolitinib").
    """
    specific = specific_words(question, lexicon)
    check = SupportCheck(
        specific=len(specific), best_score=best_score, top_similarity=top_similarity
    )
    for word in specific:
        parts = [p for p in re.split(r"[-']", word) if len(p) > 1]
        known = vocabulary.knows(word, lexicon.synonyms)
        if known or (parts != [word] and all(vocabulary.knows(p, lexicon.synonyms) for p in parts)):
            continue
        check.missing.append(word)
    for word in check.missing:
        named = any(
            pattern.search(word)
            for cls in ("drug", "disease")
            for pattern in lexicon.entities[cls].values()
        )
        if named or _ACRONYM.match(word) or _MEDICAL_SUFFIX.search(word):
            check.unknown_entities.append(word)
    if check.unknown_entities:
        check.abstain = True
        check.reason = f"the library has nothing on {', '.join(check.unknown_entities)}"
    elif check.missing and check.missing_fraction >= max_missing_fraction:
        check.abstain = True
        check.reason = f"the library has nothing on {', '.join(check.missing)}"
    elif evidence_texts is not None and (
        unmet := [
            q for q, _, p in quantities(question) if not any(p.search(t) for t in evidence_texts)
        ]
    ):
        check.abstain = True
        check.reason = f"the library has nothing on {', '.join(unmet)}"
    elif focus_gap:
        check.abstain = True
        check.reason = f"the library has no evidence on {focus_gap}"
    elif best_overlap < min_overlap:
        check.abstain = True
        check.reason = "no retrieved passage speaks to what the question asks about"
    elif best_score < min_support:
        check.abstain = True
        check.reason = "no retrieved passage answers the question closely enough"
    elif top_similarity < min_similarity:
        check.abstain = True
        check.reason = "the closest passages are only loosely related to the question"
    return check
