"""The Gradio app: wiring only. Logic lives in handlers.py, library.py and service.py.

``serve`` ingests the given corpus folders (idempotent: cheap when nothing changed), builds ONE
ask chain, and launches with analytics off, no share link and no outside network use.
"""

import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.ask.chain import MAX_QUESTION_CHARS
from assistant.config import Settings
from assistant.ingest.loaders import SUPPORTED_SUFFIXES
from assistant.ui import handlers as h
from assistant.ui import review
from assistant.ui.answer_view import SOURCES_EMPTY_HTML, hint_html
from assistant.ui.auth import gradio_auth
from assistant.ui.library import filter_rows, sources_table_html
from assistant.ui.service import AppService
from assistant.ui.uploads import UploadGuard, private_upload_dir, upload_only_file

if TYPE_CHECKING:
    import gradio as gr

TITLE = "Clinical evidence assistant"
ASSETS = Path(__file__).resolve().parent / "assets"
CHAT_HEIGHT = "calc(100dvh - 300px)"
"""The chat fills the window above the question box, so the box is in view at any size."""


def _offline_env() -> None:
    """Before gradio is imported: no analytics, no version check, no hub calls."""
    for key, value in {
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "GRADIO_SSR_MODE": "False",
    }.items():
        os.environ.setdefault(key, value)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def build_app(service: AppService) -> "gr.Blocks":
    _offline_env()
    upload_dir = private_upload_dir()  # before gradio picks its upload folder
    import gradio as gr

    slots = max(1, service.settings.compose.follow_ups)
    pages = review.PagesApp(service)
    default_audience = service.settings.compose.audience
    examples = service.examples()

    def _outputs(session: h.UISession, update: h.TurnUpdate, clear_box: bool) -> list[Any]:
        out: list[Any] = [
            session,
            update.messages,
            gr.skip() if update.sources_html is None else update.sources_html,
            gr.skip() if update.answer_json is None else update.answer_json,
            "" if clear_box and not update.hint else gr.skip(),  # a refused question stays
            gr.skip() if update.hint is None else hint_html(update.hint),
        ]
        if update.follow_ups is None:
            out.extend(gr.skip() for _ in range(slots))
        else:
            for label, visible in h.follow_up_slots(update.follow_ups, slots):
                out.append(gr.Button(value=label or " ", visible=visible))
        return out

    def ask(session: h.UISession | None, question: str, audience: str) -> Iterator[list[Any]]:
        session = h.ensure_session(session)
        for n, update in enumerate(pages.ask_turn(session, question, audience)):
            yield _outputs(session, update, clear_box=n == 0)

    def new_conversation(session: h.UISession | None) -> list[Any]:
        session = h.ensure_session(session)
        session.reset()
        hidden = [gr.Button(value=" ", visible=False) for _ in range(slots)]
        return [session, [], SOURCES_EMPTY_HTML, None, "", "", "", *hidden]

    def on_like(
        session: h.UISession | None, comment: str, data: gr.LikeData
    ) -> tuple[h.UISession, str, Any]:
        session = h.ensure_session(session)
        record, message = h.like_feedback(session, data.index, data.liked, comment)
        if record is not None:
            service.save_feedback(record)
            message = service.feedback_note(message)
        return session, message, "" if record is not None and record.comment else gr.skip()

    def on_comment(session: h.UISession | None, comment: str) -> tuple[h.UISession, str, Any]:
        session = h.ensure_session(session)
        record, message = h.comment_feedback(session, comment)
        if record is not None:
            service.save_feedback(record)
            message = service.feedback_note(message)
        return session, message, "" if record is not None else gr.skip()

    def library_table(kinds: list[str], year_from: Any, year_to: Any, text: str) -> str:
        rows = service.sources()
        return sources_table_html(filter_rows(rows, kinds, year_from, year_to, text), len(rows))

    def status() -> str:
        return h.status_html(service.status())

    def add_files(
        files: list[str] | None,
        kinds: list[str],
        year_from: Any,
        year_to: Any,
        text: str,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 - gradio's idiom
    ) -> tuple[str, str, str, None]:
        progress(0, desc="Checking and saving the files")
        paths = [Path(f) for f in files or []]
        report = service.add_files(paths, progress=True, guard=guard.reason)
        return report, library_table(kinds, year_from, year_to, text), status(), None

    with gr.Blocks(title=TITLE, analytics_enabled=False) as demo:
        session = gr.State(None)
        gr.Markdown(
            f"# {TITLE}\nAnswers are built from the articles in the library; every sentence "
            "carries a numbered citation. Not medical advice.",
            elem_id="app-title",
        )
        status_box = gr.HTML(elem_id="status", padding=False)
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, elem_id="ask-column"):
                        chatbot = gr.Chatbot(
                            elem_id="chat",
                            label="Conversation",
                            height=CHAT_HEIGHT,
                            min_height=280,
                            autoscroll=False,  # assets/app.js shows each answer from its title
                            latex_delimiters=[],
                            sanitize_html=True,
                            feedback_options=("Like", "Dislike"),
                            buttons=[],  # its copy button copied raw HTML: answers have their own
                            placeholder="Ask a clinical question about the library"
                            + (f", for example: {examples[0]}" if examples else ""),
                        )
                        with gr.Row(elem_id="composer", equal_height=True):
                            question = gr.Textbox(
                                label="Your question",
                                placeholder="Type a question and press Enter",
                                show_label=False,
                                scale=6,
                                elem_id="question",
                                max_lines=4,
                                max_length=MAX_QUESTION_CHARS,
                            )
                            ask_button = gr.Button(
                                "Ask", variant="primary", elem_id="ask", scale=1, min_width=64
                            )
                            new_button = gr.Button(
                                "New conversation", elem_id="new-conversation", scale=1,
                                min_width=160,
                            )  # fmt: skip
                        with gr.Row(elem_id="question-meta"):
                            hint = gr.HTML("", elem_id="question-hint", padding=False)
                            gr.HTML(
                                f'<p id="question-count" data-limit="{MAX_QUESTION_CHARS}">0 / '
                                f"{MAX_QUESTION_CHARS:,} characters</p>",
                                elem_id="question-counter",
                                padding=False,
                            )
                        with gr.Row(elem_id="follow-ups"):
                            follow_ups = [
                                gr.Button(
                                    " ",
                                    visible=False,
                                    size="sm",
                                    elem_classes=["follow-up"],
                                    elem_id=f"follow-up-{i}",
                                )
                                for i in range(slots)
                            ]
                        page_controls = review.ask_controls()
                        audience = gr.Radio(
                            choices=h.AUDIENCE_CHOICES,
                            value=default_audience,
                            label=h.AUDIENCE_QUESTION,
                            elem_id="audience",
                        )
                        if examples:
                            gr.Examples(
                                examples=[[q] for q in examples],
                                inputs=[question],
                                label="Examples",
                            )
                        with gr.Row():
                            comment = gr.Textbox(
                                label="Comment on the latest answer (optional; sent with a "
                                "like or dislike, or on its own)",
                                elem_id="comment",
                                scale=5,
                            )
                            send_comment = gr.Button("Send comment", elem_id="send-comment")
                        feedback_note = gr.Markdown(elem_id="feedback-note")
                        with gr.Accordion("Answer as JSON", open=False):
                            answer_json = gr.JSON(elem_id="answer-json", label="Answer as JSON")
                    with gr.Column(scale=2, elem_id="sources-column"):
                        sources = gr.HTML(SOURCES_EMPTY_HTML, elem_id="sources-panel")
            with gr.Tab("Library", id="library"):
                with gr.Row():
                    kinds = gr.Dropdown(
                        choices=h.EVIDENCE_CHOICES,
                        multiselect=True,
                        label="Evidence type",
                        elem_id="filter-type",
                    )
                    # text boxes, not gr.Number: an empty number box shows (and sends) 0
                    year_from = gr.Textbox(
                        label="From year", placeholder="any", max_length=4, elem_id="year-from"
                    )
                    year_to = gr.Textbox(
                        label="To year", placeholder="any", max_length=4, elem_id="year-to"
                    )
                    text = gr.Textbox(label="Search title, authors, journal", elem_id="filter-text")
                table = gr.HTML(elem_id="library-table")
                gr.Markdown(
                    "### Add articles\nAllowed: "
                    + ", ".join(sorted(SUPPORTED_SUFFIXES))
                    + f"; at most {service.settings.ui.upload_max_mb:g} MB per file. Stored "
                    "sources are kept; a file with the same name as an earlier upload replaces it. "
                    "Each file is checked on its own: one that cannot be added is listed with the "
                    "reason, and the others are still added."
                )
                # no file_types: the browser would refuse the whole choice for one wrong file
                # and hide the valid ones; each file is checked on the server instead.
                # upload_only_file: only files that came through this app's upload route
                files = upload_only_file(
                    file_count="multiple", label="Files to add", elem_id="upload"
                )
                add_button = gr.Button("Add to library", variant="primary", elem_id="add-files")
                upload_report = gr.HTML(elem_id="upload-report")
            review_tab = review.review_tab()

        chat_outputs = [session, chatbot, sources, answer_json, question, hint, *follow_ups]
        gr.on(
            triggers=[question.submit, ask_button.click],
            fn=ask,
            inputs=[session, question, audience],
            outputs=chat_outputs,
            api_name="ask",
            show_progress="minimal",
        )
        for button in follow_ups:
            button.click(
                ask,
                inputs=[session, button, audience],
                outputs=chat_outputs,
                api_visibility="undocumented",
                show_progress="minimal",
            )
        reset_outputs = [session, chatbot, sources, answer_json, question, hint, feedback_note]
        new_button.click(
            new_conversation,
            inputs=[session],
            outputs=[*reset_outputs, *follow_ups],
            api_name="new_conversation",
        )
        chatbot.clear(  # the chat's own bin icon starts over too, so state and view agree
            new_conversation,
            inputs=[session],
            outputs=[*reset_outputs, *follow_ups],
            api_visibility="undocumented",
        )
        chatbot.like(
            on_like,
            inputs=[session, comment],
            outputs=[session, feedback_note, comment],
            api_visibility="undocumented",
        )
        send_comment.click(
            on_comment,
            inputs=[session, comment],
            outputs=[session, feedback_note, comment],
            api_name="comment",
        )
        filters = [kinds, year_from, year_to, text]
        gr.on(
            triggers=[kinds.change, year_from.change, year_to.change, text.change],
            fn=library_table,
            inputs=filters,
            outputs=table,
            api_name="library",
            show_progress="hidden",
        )
        add_button.click(
            add_files,
            inputs=[files, *filters],
            outputs=[upload_report, table, status_box, files],
            api_name="add_files",
        )
        review.wire(
            pages, page_controls, review_tab, session=session, chatbot=chatbot,
            audience=audience, chat_outputs=chat_outputs, render=_outputs,
        )  # fmt: skip
        demo.load(status, outputs=status_box, api_name="status", show_progress="hidden")
        demo.load(library_table, inputs=filters, outputs=table, show_progress="hidden")
    # what gradio's /upload route received in this process: the only files add_files takes
    guard = UploadGuard(upload_dir, lambda: demo.upload_file_set)
    return demo


def launch_kwargs(settings: Settings) -> dict[str, Any]:
    """Arguments of ``Blocks.launch``: local only, logins (slowed when wrong) when configured."""
    auth, _ = gradio_auth(settings)
    return {
        "server_name": settings.ui.host,
        "server_port": settings.ui.port,
        "auth": auth,
        "share": False,
        "ssr_mode": False,
        "mcp_server": False,
        "max_file_size": f"{settings.ui.upload_max_mb:g}mb",
        "css": _asset("app.css"),
        "head": f"<script>{_asset('app.js')}</script>",
        "footer_links": ["api", "settings"],
        "show_error": True,
    }


def serve(settings: Settings, corpus: Sequence[Path] = ()) -> int:
    """`assistant serve`: index the corpus folders, build one chain, launch. Exit code."""
    _offline_env()
    kwargs = launch_kwargs(settings)
    if settings.ui.host not in ("127.0.0.1", "localhost", "::1") and kwargs["auth"] is None:
        print(
            f"warning: listening on {settings.ui.host} without a login; "
            "pass --auth FILE (user:password[:role] lines) to protect the app",
            file=sys.stderr,
        )
    if corpus:
        from assistant.ingest.pipeline import ingest

        report = ingest(list(corpus), settings, progress=True)
        print(report.text(), file=sys.stderr)
    service = AppService(settings)
    problem = service.try_build_chain()
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    demo = build_app(service)
    demo.queue(default_concurrency_limit=settings.ui.concurrency)
    print(
        f"serving on http://{settings.ui.host}:{settings.ui.port} "
        f"(answer mode: {settings.compose.composer})",
        file=sys.stderr,
    )
    demo.launch(**kwargs)
    return 0
