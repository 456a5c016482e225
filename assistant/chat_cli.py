"""The CLI's ask and chat commands (thin: the conversation and the chain do the work)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.ask.session import Conversation
from assistant.errors import InvalidQuestion
from assistant.prompts import disclaimer
from assistant.types import Answer, Turn

if TYPE_CHECKING:
    from assistant.ask.retrieve import Filters
    from assistant.config import Settings

EXIT_BAD_QUESTION = 2


def load_history(path: Path) -> list[Turn]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidQuestion(f"cannot read the history file {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise InvalidQuestion(f"the history file {path} is not valid JSON: {exc}") from exc
    try:
        return Turn.parse_list(raw)
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise InvalidQuestion(
            f"the history file {path} is not a list of "
            f'{{"role": "user"|"assistant", "content": str}}: {first}'
        ) from exc


def _filters(args: argparse.Namespace) -> Filters:
    from assistant.ask.retrieve import Filters

    try:
        return Filters(tuple(args.evidence_type or ()), args.year_from, args.year_to)
    except ValueError as exc:
        raise InvalidQuestion(str(exc)) from exc


def ask_once(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.ask.chain import AskChain, validate_question
    from assistant.ask.render import render_html, render_json

    try:
        validate_question(args.question)
        history = load_history(args.history) if args.history else []
        filters = _filters(args)
    except InvalidQuestion as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(disclaimer(), file=sys.stderr)
        return EXIT_BAD_QUESTION
    chain = AskChain(settings)
    answer = chain.ask(args.question, history, args.audience, filters)
    if args.json:
        print(render_json(answer))
    elif args.html:
        print(render_html(answer))
    else:
        print(answer.markdown)
    return 0


CHAT_HELP = "Commands: /new starts over, /sources lists the last answer's sources, /quit leaves."


def chat(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.ask.chain import AskChain

    chain = AskChain(settings)
    conversation = Conversation()
    print(f"Ask a clinical question. {CHAT_HELP}")
    while True:
        try:
            line = input("\n> ").strip()
        except EOFError:
            print()
            return 0
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        if line == "/new":
            conversation.reset()
            print("Started a new conversation.")
            continue
        if line == "/sources":
            print(_sources_text(conversation.last))
            continue
        if line.startswith("/"):
            print(f"unknown command {line}. {CHAT_HELP}")
            continue
        try:
            answer = conversation.ask(chain, line, args.audience)
        except InvalidQuestion as exc:
            print(f"error: {exc}\n{disclaimer()}")
            continue
        print(answer.markdown)


def _sources_text(answer: Answer | None) -> str:
    from assistant.ask.render import citation_line

    if answer is None:
        return "No answer yet."
    refs = answer.references or []
    if not refs:
        return "The last answer cited no sources."
    lines = []
    for ref in refs:
        lines.append(f"[{ref.n}] {citation_line(ref)} ({ref.evidence_type})")
        for passage in ref.passages:
            for sentence in passage.highlights:
                lines.append(f"    \u201c{sentence}\u201d")
    return "\n".join(lines)
