"""`assistant pages ...`: save answers as pages, list, show, review, re-answer, export.

Registered from assistant/cli.py. Whoever can run this command on the server can also write the
pages database directly, so the CLI is not a security boundary: ``--reviewer NAME`` names the
operator acting locally, and NAME must be listed in the ``ui.reviewers`` setting (the same list
the app uses), so the history names a real reviewer and a typo is caught.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.pages.workflow import STATUSES, PageError

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.pages.service import PagesService, PageView
    from assistant.types import Answer

AUDIENCES = ("clinician", "patient", "student")


def add_pages_parser(
    sub: Any, common: Callable[[argparse.ArgumentParser], None]
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(
        "pages", help="reviewed answer pages: save, list, show, review, export"
    )
    actions = parser.add_subparsers(dest="pages_command", metavar="ACTION", required=True)

    p = actions.add_parser("save", help="save an answer as a page (status: submitted)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--question", help="ask the library this question and save the answer")
    source.add_argument("--from-json", type=Path, help="an `assistant ask --json` output file")
    p.add_argument("--audience", choices=AUDIENCES)
    p.add_argument("--history", type=Path, help="conversation so far (as for `ask --history`)")
    p.add_argument("--composer", help="'extractive' or an LLM spec such as openai:MODEL")
    p.add_argument("--user", help="who saves it (default: your login name)")
    p.add_argument("--json", action="store_true", help="print the saved page as JSON")
    common(p)

    p = actions.add_parser("list", help="the pages, most recently updated first")
    p.add_argument("--status", choices=[*STATUSES, "needs-re-review"])
    p.add_argument("--json", action="store_true")
    common(p)

    p = actions.add_parser("show", help="one page with its review history")
    p.add_argument("id", type=int)
    p.add_argument("--json", action="store_true")
    common(p)

    p = actions.add_parser("review", help="change a page's status (reviewers only)")
    p.add_argument("id", type=int)
    p.add_argument("--status", required=True, choices=[s for s in STATUSES if s != "submitted"])
    p.add_argument("--reviewer", required=True, help="your name, as listed in ui.reviewers")
    p.add_argument("--note", default="", help="why (kept in the page's history)")
    p.add_argument(
        "--expect-revision",
        type=int,
        help="refuse if the page is no longer at this revision (someone changed it meanwhile)",
    )
    common(p)

    p = actions.add_parser(
        "reanswer", help="regenerate a page's answer from the library now (reviewers only)"
    )
    p.add_argument("id", type=int)
    p.add_argument("--reviewer", required=True, help="your name, as listed in ui.reviewers")
    p.add_argument("--note", default="")
    p.add_argument("--expect-revision", type=int)
    p.add_argument("--composer")
    common(p)

    p = actions.add_parser("export", help="a page as standalone HTML or Markdown")
    p.add_argument("id", type=int)
    p.add_argument("--format", choices=["html", "md"], default="html")
    p.add_argument("--out", type=Path, help="write here (default: stdout)")
    common(p)
    return parser


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Exit code: 0 done, 1 refused (the reason is printed), 2 bad input."""
    from assistant.pages.service import PagesService

    service = PagesService(settings)
    try:
        return _ACTIONS[args.pages_command](args, service)
    except PageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        service.store.close()


# -- actions ----------------------------------------------------------------------------------


def _answer_from_file(path: Path) -> Answer:
    from pydantic import ValidationError

    from assistant.types import Answer

    try:
        return Answer.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PageError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "the file"
        raise PageError(
            f"{path} is not an `assistant ask --json` answer ({where}: {first['msg']})"
        ) from exc


def _ask(
    args: argparse.Namespace, service: PagesService, question: str, audience: str | None
) -> Answer:
    from assistant.ask.chain import AskChain
    from assistant.chat_cli import load_history
    from assistant.errors import InvalidQuestion

    try:
        history = load_history(args.history) if getattr(args, "history", None) else []
        return AskChain(service.settings).ask(question, history, audience)
    except InvalidQuestion as exc:
        raise PageError(str(exc)) from exc


def _save(args: argparse.Namespace, service: PagesService) -> int:
    if args.from_json is not None:
        answer = _answer_from_file(args.from_json)
        if args.audience and args.audience != answer.audience:
            raise PageError(
                f"{args.from_json} holds an answer for {answer.audience}s, not {args.audience}s"
            )
    else:
        answer = _ask(args, service, args.question, args.audience)
    user = service.user(args.user or getpass.getuser())
    page = service.save(answer, user)
    view = service.view(page.id)
    if args.json:
        print(json.dumps(_view_json(view), indent=2, ensure_ascii=False))
    else:
        print(f"saved page {page.id} ({page.status}): {page.question}")
    return 0


def _list(args: argparse.Namespace, service: PagesService) -> int:
    views = service.views(args.status)
    if args.json:
        print(json.dumps([_view_json(v, answer=False) for v in views], indent=2))
        return 0
    if not views:
        print("no pages" + (f" with status {args.status}" if args.status else ""))
        return 0
    for v in views:
        p = v.page
        print(
            f"{p.id:>4}  {v.status_label:15.15}  {p.audience:9.9}  {p.updated_at[:16]:16}  "
            f"{(p.approved_by or ''):12.12}  {p.question[:70]}"
        )
    print(f"{len(views)} page(s)")
    return 0


def _show(args: argparse.Namespace, service: PagesService) -> int:
    view = service.view(args.id)
    if args.json:
        print(json.dumps(_view_json(view), indent=2, ensure_ascii=False))
        return 0
    from assistant.pages.export import page_markdown

    print(page_markdown(view), end="")
    return 0


def _review(args: argparse.Namespace, service: PagesService) -> int:
    reviewer = service.user(args.reviewer)
    page = service.review(args.id, args.status, reviewer, args.note, args.expect_revision)
    print(f"page {page.id} is now {page.status} (revision {page.revision}, by {reviewer.name})")
    return 0


def _reanswer(args: argparse.Namespace, service: PagesService) -> int:
    from assistant.pages.workflow import require_reviewer

    reviewer = service.user(args.reviewer)
    require_reviewer(reviewer)  # before spending time on the answer
    old = service.store.get(args.id)
    answer = _ask(args, service, old.standalone_question, old.audience)
    page = service.replace_answer(args.id, answer, reviewer, args.note, args.expect_revision)
    print(
        f"page {page.id} has a new answer (library version {page.library_version}) and is "
        f"{page.status} again: review it"
    )
    return 0


def _export(args: argparse.Namespace, service: PagesService) -> int:
    from assistant.pages.export import export_page

    text = export_page(service.view(args.id), args.format)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote page {args.id} as {args.format} to {args.out}", file=sys.stderr)
    return 0


def _view_json(view: PageView, answer: bool = True) -> dict[str, Any]:
    p = view.page
    data: dict[str, Any] = {
        "id": p.id,
        "question": p.question,
        "standalone_question": p.standalone_question,
        "audience": p.audience,
        "status": p.status,
        "display_status": view.status_label,
        "needs_rereview": view.needs_rereview,
        "changed_sources": view.changed,
        "revision": p.revision,
        "created_at": p.created_at,
        "created_by": p.created_by,
        "updated_at": p.updated_at,
        "approved_by": p.approved_by,
        "approved_at": p.approved_at,
        "library_version": p.library_version,
        "sources": p.sources,
    }
    if answer:
        data["answer"] = p.answer_data()
        data["history"] = [
            {
                "at": h.at,
                "actor": h.actor,
                "action": h.action,
                "from": h.from_status,
                "to": h.to_status,
                "note": h.note,
                "revision": h.revision,
            }
            for h in view.history
        ]
    return data


_ACTIONS: dict[str, Callable[[argparse.Namespace, PagesService], int]] = {
    "save": _save,
    "list": _list,
    "show": _show,
    "review": _review,
    "reanswer": _reanswer,
    "export": _export,
}
