"""A conversation: the state a chat keeps between turns (the UI, the CLI and the eval harness
ask through it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from assistant.types import Answer, Turn

if TYPE_CHECKING:
    from assistant.ask.chain import AskChain
    from assistant.ask.retrieve import Filters


@dataclass
class Conversation:
    """Turns so far and the citation numbering they established."""

    turns: list[Turn] = field(default_factory=list)
    citation_map: dict[str, int] = field(default_factory=dict)
    answers: list[Answer] = field(default_factory=list)

    def ask(
        self,
        chain: AskChain,
        question: str,
        audience: str | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        answer = chain.ask(question, self.turns, audience, filters, self.citation_map)
        self.record(answer)
        return answer

    def record(self, answer: Answer) -> None:
        self.citation_map = dict(answer.citation_map)
        self.turns.append(Turn(role="user", content=answer.question))
        cited = {r.source_id: r.n for r in answer.references}
        self.turns.append(Turn(role="assistant", content=answer.markdown, citations=cited))
        self.answers.append(answer)

    def reset(self) -> None:
        self.turns.clear()
        self.citation_map.clear()
        self.answers.clear()

    @property
    def last(self) -> Answer | None:
        return self.answers[-1] if self.answers else None
