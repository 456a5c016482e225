"""Gradio wiring of reviewed pages: the Ask tab's page buttons and the Review tab.

Logic lives in ``pages_handlers`` (pure) and ``assistant.pages``; this module only builds
components and connects events. gradio is imported inside the functions (after app.py has set
its offline environment), and the handlers that need the logged-in user are defined there too,
so gradio sees ``request: gr.Request`` as a real annotation.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.pages.service import PagesService, Served
from assistant.pages.workflow import PageError, User
from assistant.types import Answer
from assistant.ui import handlers as h
from assistant.ui import pages_handlers as ph
from assistant.ui.service import AppService

if TYPE_CHECKING:
    import gradio as gr


class PagesApp:
    """The app's pages backend: the shared library and lock of ``AppService``."""

    def __init__(self, service: AppService) -> None:
        self.service = service
        self.pages = PagesService(service.settings, library=service.library, lock=service.lock)

    def user(self, request: Any) -> User:
        return self.pages.user(getattr(request, "username", None) if request else None)

    def match(self, question: str, audience: str) -> Served | None:
        if not self.service.library.is_built():
            return None
        return self.pages.match(question, audience)

    def ask_turn(self, session: h.UISession, question: str, audience: str) -> Iterator[Any]:
        return ph.ask_or_serve(session, question, audience, self.service.ask_stream, self.match)

    def answer(self, question: str, audience: str) -> Answer:
        """A fresh answer outside any conversation (to regenerate a page)."""
        from assistant.ask.session import Conversation

        return self.service.ask(Conversation(), question, audience)


@dataclass
class AskControls:
    save: "gr.Button"
    fresh: "gr.Button"
    note: "gr.Markdown"


@dataclass
class ReviewTab:
    tab: "gr.Tab"
    identity: "gr.HTML"
    status_filter: "gr.Dropdown"
    table: "gr.HTML"
    page_id: "gr.Number"
    open_button: "gr.Button"
    message: "gr.HTML"
    view: "gr.HTML"
    opened: "gr.State"
    new_status: "gr.Radio"
    note: "gr.Textbox"
    apply_button: "gr.Button"
    reanswer_button: "gr.Button"
    export_html: "gr.Button"
    export_md: "gr.Button"
    export_file: "gr.File"


def ask_controls() -> AskControls:
    """Under the answer: 'Save as page', and 'Generate a fresh answer' (shown for a served page)."""
    import gradio as gr

    with gr.Row():
        save = gr.Button("Save as page", elem_id="save-page", size="sm")
        fresh = gr.Button(
            "Generate a fresh answer", elem_id="fresh-answer", size="sm", visible=False
        )
    note = gr.Markdown(elem_id="page-note")
    return AskControls(save, fresh, note)


def review_tab() -> ReviewTab:
    """The Review tab (call inside ``gr.Tabs``)."""
    import gradio as gr

    with gr.Tab("Review", id="review") as tab:
        identity = gr.HTML(elem_id="review-identity")
        with gr.Row():
            status_filter = gr.Dropdown(
                choices=ph.STATUS_FILTERS, value="", label="Show", elem_id="pages-filter"
            )
        table = gr.HTML(elem_id="pages-table")
        with gr.Row():
            page_id = gr.Number(label="Page number", precision=0, elem_id="page-id")
            open_button = gr.Button("Open page", elem_id="open-page")
        opened = gr.State(None)
        with gr.Row():
            new_status = gr.Radio(
                choices=ph.REVIEW_CHOICES, label="New status", elem_id="new-status"
            )
            note = gr.Textbox(label="Note (kept in the history)", elem_id="review-note", scale=2)
        with gr.Row():
            apply_button = gr.Button("Change status", variant="primary", elem_id="apply-review")
            reanswer_button = gr.Button("Regenerate answer", elem_id="reanswer")
            export_html = gr.Button("Export HTML", elem_id="export-html")
            export_md = gr.Button("Export Markdown", elem_id="export-md")
        message = gr.HTML(elem_id="review-message")
        export_file = gr.File(
            label="Exported page", elem_id="export-file", interactive=False, height=80
        )
        view = gr.HTML(elem_id="page-view")
    return ReviewTab(
        tab, identity, status_filter, table, page_id, open_button, message, view, opened,
        new_status, note, apply_button, reanswer_button, export_html, export_md, export_file,
    )  # fmt: skip


def wire(
    app: PagesApp,
    controls: AskControls,
    tab: ReviewTab,
    *,
    session: "gr.State",
    chatbot: "gr.Chatbot",
    audience: "gr.Radio",
    chat_outputs: list[Any],
    render: Callable[[h.UISession, h.TurnUpdate, bool], list[Any]],
) -> None:
    """Connect the page buttons and the Review tab; ``render`` is the Ask tab's own output
    builder, so a fresh answer streams into the chat exactly like a question."""
    import gradio as gr

    def save(
        state: h.UISession | None, request: gr.Request
    ) -> tuple[h.UISession, str, list[dict[str, str]]]:
        state = h.ensure_session(state)
        note = ph.save_latest(state, app.user(request), app.pages)
        return state, note, list(state.messages)  # the answer now says "Submitted"

    def fresh(state: h.UISession | None, aud: str) -> Iterator[list[Any]]:
        state = h.ensure_session(state)
        for update in ph.fresh_answer(state, aud, app.service.ask_stream):
            yield render(state, update, False)

    def fresh_button(state: h.UISession | None) -> Any:
        return gr.Button(visible=ph.last_is_served(h.ensure_session(state)))

    controls.save.click(
        save, inputs=[session], outputs=[session, controls.note, chatbot], api_name="save_page"
    )
    controls.fresh.click(
        fresh,
        inputs=[session, audience],
        outputs=chat_outputs,
        api_name="fresh_answer",
        show_progress="minimal",
    )
    chatbot.change(
        fresh_button, inputs=[session], outputs=controls.fresh, queue=False, show_progress="hidden"
    )

    def show(status: str | None, request: gr.Request) -> tuple[str, str]:
        return ph.identity_html(app.user(request)), ph.list_pages(app.pages, status)

    def open_(number: Any) -> tuple[str, ph.Opened | None, str]:
        return ph.open_page(app.pages, number)

    def apply(
        opened: ph.Opened | None, status: str | None, note: str, request: gr.Request
    ) -> tuple[str, str, ph.Opened | None, str]:
        message, view, shown = ph.apply_review(app.pages, app.user(request), opened, status, note)
        return message, view, shown, ph.list_pages(app.pages, None)

    def reanswer(
        opened: ph.Opened | None, request: gr.Request
    ) -> tuple[str, str, ph.Opened | None]:
        return ph.reanswer_page(app.pages, app.user(request), opened, app.answer)

    def export(fmt: str) -> Callable[[Any], tuple[Any, str]]:
        def run(opened: ph.Opened | None) -> tuple[Any, str]:
            try:
                return str(ph.export_to_file(app.pages, opened, fmt)), ""
            except PageError as exc:
                return None, ph.message_html(f"Nothing exported: {exc}", ok=False)

        return run

    listing = [tab.identity, tab.table]
    tab.tab.select(show, inputs=[tab.status_filter], outputs=listing, show_progress="hidden")
    tab.status_filter.change(
        show, inputs=[tab.status_filter], outputs=listing, api_name="pages", show_progress="hidden"
    )
    gr.on(
        triggers=[tab.open_button.click, tab.page_id.submit],
        fn=open_,
        inputs=[tab.page_id],
        outputs=[tab.view, tab.opened, tab.message],
        api_name="open_page",
    )
    tab.apply_button.click(
        apply,
        inputs=[tab.opened, tab.new_status, tab.note],
        outputs=[tab.message, tab.view, tab.opened, tab.table],
        api_name="review_page",
    )
    tab.reanswer_button.click(
        reanswer,
        inputs=[tab.opened],
        outputs=[tab.message, tab.view, tab.opened],
        api_visibility="undocumented",
    )
    for button, fmt in ((tab.export_html, "html"), (tab.export_md, "md")):
        button.click(
            export(fmt),
            inputs=[tab.opened],
            outputs=[tab.export_file, tab.message],
            api_visibility="undocumented",
        )
