"""Command line: thin wrappers over the ingest, ask, serve and eval flows.

Nothing heavy is imported at module level, so `assistant --help` is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from assistant.pages.cli import add_pages_parser

EXIT_USAGE = 2


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="data directory (default .assistant/)")
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument(
        "--chroma-url",
        help="use a Chroma server (chroma run) instead of the "
        "embedded store, e.g. http://127.0.0.1:8000",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assistant",
        description="Citation-grounded clinical question answering over a library of articles.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("ingest", help="add or update articles in the library")
    p.add_argument("paths", nargs="+", type=Path, help="files or folders to ingest")
    p.add_argument("--prune", action="store_true", help="remove sources whose files are gone")
    p.add_argument("--strict", action="store_true", help="exit 1 if any file was skipped")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--no-wait", action="store_true", help="exit at once if another ingest holds the data dir"
    )
    _common(p)

    p = sub.add_parser("sources", help="list the library")
    p.add_argument("--json", action="store_true")
    _common(p)

    p = sub.add_parser("ask", help="answer one question with citations")
    p.add_argument("question")
    p.add_argument("--audience", choices=["clinician", "patient", "student"])
    p.add_argument("--history", type=Path, help='JSON file: [{"role": ..., "content": ...}, ...]')
    p.add_argument("--composer", help="'extractive' or an LLM spec such as openai:MODEL")
    p.add_argument("--evidence-type", action="append", help="only these evidence types")
    p.add_argument("--year-from", type=int)
    p.add_argument("--year-to", type=int)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--html", action="store_true", help="print HTML")
    _common(p)

    p = sub.add_parser("chat", help="a conversation in the terminal")
    p.add_argument("--audience", choices=["clinician", "patient", "student"])
    p.add_argument("--composer")
    _common(p)

    p = sub.add_parser("serve", help="start the web app")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument(
        "--auth",
        type=Path,
        metavar="FILE",
        help="require a login: FILE holds user:password[:role] lines (never put a password "
        "on the command line: ps shows it to every user)",
    )
    p.add_argument(
        "--corpus",
        type=Path,
        action="append",
        help="folder to index first if the index is missing or stale",
    )
    p.add_argument("--composer")
    _common(p)

    p = sub.add_parser("status", help="index size, build time and answer mode")
    p.add_argument("--json", action="store_true")
    _common(p)

    # everything after `eval` goes to evals' own parser (`assistant eval --help`): no options
    # are parsed here ('+' prefix), so `--gold` and friends are not mistaken for ours
    p = sub.add_parser(
        "eval",
        help="score the chain against gold answers (see assistant eval --help)",
        add_help=False,
        prefix_chars="+",
    )
    p.add_argument("args", nargs=argparse.REMAINDER)

    p = sub.add_parser("feedback", help="work with the feedback log")
    p.add_argument("action", choices=["export"])
    p.add_argument("--out", type=Path, help="write candidates here (default: stdout)")
    _common(p)
    add_pages_parser(sub, _common)
    return parser


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from assistant.config import load_settings

    overrides: dict[str, Any] = {
        "data_dir": getattr(args, "data_dir", None),
        "store.chroma_url": getattr(args, "chroma_url", None),
        "compose.composer": getattr(args, "composer", None),
        **extra,
    }
    return load_settings(getattr(args, "config", None), **overrides)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "eval":
        from evals.__main__ import main as eval_main

        return eval_main(args.args)
    from assistant.privacy import keep_local

    keep_local()  # questions never go to a tracing service, whatever the environment says
    handler = _HANDLERS[args.command]
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one clear line instead of a traceback for expected failures
        from assistant.errors import USER_ERRORS, user_message

        if isinstance(exc, USER_ERRORS):
            print(f"error: {user_message(exc)}", file=sys.stderr)
            if args.command in ("ask", "chat", "serve"):
                from assistant.prompts import disclaimer

                print(disclaimer(), file=sys.stderr)
            return 1
        raise


def _cmd_ingest(args: argparse.Namespace) -> int:
    from assistant.ingest.pipeline import ingest

    settings = _settings(args)
    report = ingest(
        args.paths, settings, prune=args.prune, progress=not args.no_progress, wait=not args.no_wait
    )
    if args.json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print(report.text())
    nothing_read = report.files_read == 0 and not report.unchanged
    if nothing_read or (args.strict and report.skipped):
        return 1
    return 0


def _cmd_sources(args: argparse.Namespace) -> int:
    from assistant.ingest.store import Library

    lib = Library(_settings(args))
    rows = lib.sources()
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "source_id": r.ref.source_id,
                        "title": r.ref.title,
                        "year": r.ref.year,
                        "evidence_type": r.ref.evidence_type,
                        "chunks": r.n_chunks,
                        "path": r.path,
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return 0
    if not rows:
        print("the library is empty: run `assistant ingest corpus/`")
        return 0
    for r in rows:
        year = r.ref.year or "n.d."
        print(
            f"{r.ref.source_id:48.48}  {year!s:>4}  {r.ref.evidence_type:24.24}  "
            f"{r.n_chunks:>3}  {r.ref.title[:70]}"
        )
    print(f"{len(rows)} sources, {sum(r.n_chunks for r in rows)} chunks")
    return 0


def _cmd_ask(args: argparse.Namespace) -> int:
    from assistant.chat_cli import ask_once

    return ask_once(args, _settings(args))


def _cmd_chat(args: argparse.Namespace) -> int:
    from assistant.chat_cli import chat

    return chat(args, _settings(args))


def _cmd_serve(args: argparse.Namespace) -> int:
    from assistant.ui.app import serve

    if args.auth is not None and ":" in str(args.auth) and not args.auth.exists():
        print(
            "error: --auth takes a FILE of user:password[:role] lines; a password given on the "
            "command line is visible to every user in `ps`",
            file=sys.stderr,
        )
        return EXIT_USAGE
    extra = {"ui.host": args.host, "ui.port": args.port, "ui.auth_file": args.auth}
    return serve(_settings(args, **extra), corpus=args.corpus or [])


def _cmd_status(args: argparse.Namespace) -> int:
    from assistant.status import library_status

    status = library_status(_settings(args))
    if args.json:
        print(json.dumps(status, indent=2))
    else:
        for key, value in status.items():
            print(f"{key}: {value}")
    return 0


def _cmd_feedback(args: argparse.Namespace) -> int:
    from assistant.feedback import export_candidates

    return export_candidates(_settings(args), args.out)


def _cmd_pages(args: argparse.Namespace) -> int:
    from assistant.pages.cli import run

    return run(args, _settings(args))


_HANDLERS = {
    "ingest": _cmd_ingest,
    "sources": _cmd_sources,
    "ask": _cmd_ask,
    "chat": _cmd_chat,
    "serve": _cmd_serve,
    "status": _cmd_status,
    "feedback": _cmd_feedback,
    "pages": _cmd_pages,
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
