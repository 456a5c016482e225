"""Which sentence splitter splits PubMed and NIH text best: blingfire, pysbd, syntok or the
project's first regex splitter, measured on the same texts in one run.

Two measures: boundary precision/recall on hand-written cases (our own sentences, built around
the hazards of clinical text: "et al.", decimals, "vs.", "i.v.", CIs, "(n = 21).", initials),
and on real text from ../shared (200 PubMedQA abstracts, 300 MedQuAD answers) the signs of a
wrong split: pieces ending in an abbreviation, pieces starting in lower case, fragments of
fewer than three words, run-on "sentences" of more than 60 words; plus speed.

    python benchmarks/splitters.py [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CASES: list[list[str]] = [
    [
        "Patients were treated with 2.5 mg/kg/day of the drug (n = 21).",
        "Fever resolved in 19 of them.",
    ],
    ["Smith et al. reported a response rate of 63%.", "The trial was stopped early."],
    [
        "Common causes include infections, e.g. viral illness, and some cancers.",
        "Treatment depends on the cause.",
    ],
    ["The odds ratio was 2.1 (95% CI 1.3-3.4; p = 0.002).", "No difference was seen at 12 months."],
    ["Doses of approx. 100 mg daily were used.", "Side effects were mild."],
    ["Outcomes were compared vs. placebo in 40 adults.", "Mortality did not differ."],
    ["Results are shown in Fig. 2.", "The median age was 54 years."],
    [
        "Glaucoma damages the optic nerve.",
        "It is a leading cause of blindness in the U.S.",
        "Early treatment helps.",
    ],
    ["Dr. Jones led the study.", "It enrolled 120 patients."],
    ["The drug was given i.v. every 6 hours.", "Levels were checked daily."],
    ["What are the symptoms?", "Most people have no symptoms at first."],
    [
        "Blood sugar was measured after fasting (at least 8 h).",
        "A level of 126 mg/dL or higher suggests diabetes.",
    ],
    ["BACKGROUND: Few studies exist.", "METHODS: We reviewed 300 charts."],
    ["Insulin is a hormone made by the pancreas.", "It helps glucose enter cells."],
    ["The mean HbA1c fell from 8.1% to 7.2%.", "Weight was unchanged."],
    ["Survival at 5 years was 61.3%.", "Relapse occurred in 4 patients (9.1%)."],
    ["Risk was higher in women (OR 1.8) than in men.", "Age also mattered."],
    ["A total of 1,024 eyes were examined.", "Cataract was found in 312."],
    [
        "Symptoms can include: blurred vision, eye pain and headache.",
        "See a doctor if they start suddenly.",
    ],
    ["The J. Craig Venter Institute sequenced it.", "Nothing else was found."],
    ["Levels were high (>500 ng/mL).", "Ferritin fell after treatment."],
    ["The study (published in 2019) included children aged 2-16 yrs.", "All received the drug."],
    ["Treatment was effective in 90.5% of cases [3].", "It was stopped in 14.3%."],
    ["People with type 2 diabetes may need pills, such as metformin. Some also need insulin."],
]


def _legacy(text: str) -> list[str]:
    """The regex splitter the project used before (kept here only to compare against)."""
    boundary = re.compile(r"([.!?])[\"')\]]*\s+(?=[A-Z0-9\"'(\[])")
    abbreviations = {"al", "e.g", "i.e", "vs", "fig", "dr", "no", "approx", "ca", "cf", "etc"}
    out, start = [], 0
    for m in boundary.finditer(text):
        word = re.search(r"([A-Za-z.]+)$", text[start : m.start(1)])
        token = word.group(1).lower() if word else ""
        if m.group(1) == "." and (token in abbreviations or len(token) == 1):
            continue
        out.append(text[start : m.end(0)].strip())
        start = m.end(0)
    if text[start:].strip():
        out.append(text[start:].strip())
    return out


def splitters() -> dict[str, Callable[[str], list[str]]]:
    import blingfire
    import pysbd
    from syntok import segmenter

    seg = pysbd.Segmenter(language="en", clean=False)

    def syntok_split(text: str) -> list[str]:
        out = []
        for paragraph in segmenter.analyze(text):
            for sentence in paragraph:
                tokens = list(sentence)
                out.append(text[tokens[0].offset : tokens[-1].offset + len(tokens[-1].value)])
        return [s.strip() for s in out if s.strip()]

    return {
        "legacy regex": _legacy,
        "blingfire": lambda t: [s for s in blingfire.text_to_sentences(t).split("\n") if s],
        "pysbd": lambda t: [s.strip() for s in seg.segment(t) if s.strip()],
        "syntok": syntok_split,
    }


def boundaries(text: str, pieces: list[str]) -> set[int]:
    out, pos = set(), 0
    for piece in pieces[:-1]:
        i = text.find(piece, pos)
        if i < 0:
            continue
        pos = i + len(piece)
        out.add(pos)
    return out


def case_scores(split: Callable[[str], list[str]]) -> tuple[float, float, int]:
    tp = fp = fn = exact = 0
    for sentences in CASES:
        text = " ".join(sentences)
        got = split(text)
        gold, pred = boundaries(text, sentences), boundaries(text, got)
        tp, fp, fn = tp + len(gold & pred), fp + len(pred - gold), fn + len(gold - pred)
        exact += got == sentences
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), exact


ABBREVIATION_END = re.compile(r"\b(?:et al|e\.g|i\.e|vs|approx|Fig|Dr|No|ca|cf|resp)\.$")


def real_texts(shared: Path) -> list[str]:
    pubmed = [json.loads(x) for x in (shared / "datasets/pubmedqa/pqal.jsonl").open()]
    medquad = [json.loads(x) for x in (shared / "datasets/medquad/medquad.jsonl").open()]
    rng = random.Random(1)
    texts = [c for r in rng.sample(pubmed, 200) for c in r["contexts"]]
    texts += [r["answer"] for r in rng.sample(medquad, 300)]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = parser.parse_args()
    texts = real_texts(args.shared) if (args.shared / "datasets").is_dir() else []
    print(f"{len(CASES)} hand-written cases; {len(texts)} real texts from {args.shared}")
    print(
        "splitter      | cases P / R / exact | sentences | ms/text | abbrev-end | lower-start "
        "| <3 words | >60 words"
    )
    for name, split in splitters().items():
        p, r, exact = case_scores(split)
        started = time.perf_counter()
        out = [split(t) for t in texts]
        ms = (time.perf_counter() - started) * 1000 / max(len(texts), 1)
        pieces = [s for o in out for s in o]
        abbrev = sum(1 for o in out for s in o[:-1] if ABBREVIATION_END.search(s))
        lower = sum(1 for o in out for s in o[1:] if s[:1].islower())
        short = sum(1 for s in pieces if len(s.split()) < 3)
        long_ = sum(1 for s in pieces if len(s.split()) > 60)
        print(
            f"{name:13s} | {p:.2f} / {r:.2f} / {exact}/{len(CASES)} | {len(pieces):9d} | "
            f"{ms:7.2f} | {abbrev:10d} | {lower:11d} | {short:8d} | {long_:9d}"
        )


if __name__ == "__main__":
    main()
