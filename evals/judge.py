"""An optional LLM judge (RAGAS-style faithfulness and answer relevancy); off by default.

It sends prompts/judge.txt with the question, the answer's sentences with their markers and the
cited passages, and expects JSON ``{"faithfulness": x, "relevancy": y}`` with values in [0, 1].
A reply it cannot parse, or a failed call, is recorded as an error for that item and never
guessed. Enabled with ``--judge SPEC`` (an LLM spec such as ``openai:MODEL``).
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from assistant.config import Settings
from assistant.prompts import load_prompt
from evals.scoring import abstained, bullets, references

FIELDS = ("faithfulness", "relevancy")
_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)


def parse_scores(reply: str) -> dict[str, float] | None:
    """The first JSON object of ``reply`` holding both fields as numbers in [0, 1], or None."""
    for match in _OBJECT.finditer(reply or ""):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        values = {k: data.get(k) for k in FIELDS}
        if all(
            isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v <= 1
            for v in values.values()
        ):
            return {k: float(v) for k, v in values.items()}  # type: ignore[arg-type]
    return None


def judge_prompt(rec: dict[str, Any]) -> str:
    refs = references(rec)
    answer = "\n".join(
        f"- {b['text']} " + "".join(f"[{n}]" for n in b.get("citations", [])) for b in bullets(rec)
    )
    sources = []
    for n in sorted(refs):
        texts = " ".join(p.get("text", "") for p in refs[n].get("passages", []))
        sources.append(f"[{n}] {refs[n].get('title', '')}: {texts}")
    question = rec.get("standalone_question") or rec["question"]
    return load_prompt("judge").format(
        question=question, answer=answer, sources="\n".join(sources) or "(none)"
    )


class Judge:
    """Grades one record with a chat model; remembers how many calls failed."""

    def __init__(self, chat_model: Any, where: str = "") -> None:
        self.chat_model = chat_model
        self.where = where
        self.failures = 0

    @classmethod
    def from_spec(cls, spec: str, settings: Settings) -> Judge:
        from assistant.models import get_chat_model

        return cls(get_chat_model(spec, settings.llm), settings.llm.base_url or spec)

    def grade(self, rec: dict[str, Any]) -> dict[str, Any] | None:
        """Scores for an answered record; None for abstentions and failed asks."""
        if rec.get("error") or abstained(rec) or not bullets(rec):
            return None
        try:
            reply = self.chat_model.invoke(judge_prompt(rec))
        except Exception as exc:  # the server is optional: report, do not stop the run
            self.failures += 1
            if self.failures == 1:
                print(f"warning: the judge LLM at {self.where} failed: {exc}", file=sys.stderr)
            return {"error": f"{type(exc).__name__}: {exc}"}
        content = getattr(reply, "content", reply)
        scores = parse_scores(content if isinstance(content, str) else str(content))
        if scores is None:
            return {"error": "unparseable judge reply", "reply": str(content)[:500]}
        return scores
