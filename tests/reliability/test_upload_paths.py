"""Uploads accept only files that came through the app's own upload route.

The real app (``build_app`` + ``launch_kwargs``, as ``assistant serve`` runs it) is driven
through gradio_client. A legitimate upload goes through gradio's ``/upload`` route first; an
attacker's client skips that step and sends a ``FileData`` whose ``path`` names a file on the
server (or a URL) straight to ``/add_files``. Gradio 6.31 itself refuses server paths outside
its upload folder at preprocess, so the holes are what lies inside that folder (it was the
shared, world-known ``$TMPDIR/gradio``), URLs (which gradio would fetch server-side), and a
handler that copied whatever path it was handed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.ingest.store import Library
from assistant.ui.app import build_app, launch_kwargs
from assistant.ui.service import AppService
from tests.reliability.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")]

REPO = Path(__file__).resolve().parents[2]
SECRET = "The vault code of the server is 4417 and only the operator knows it."
LEGIT = (
    "---\nsource_id: zz-legit-upload\ntitle: Legit upload test\nevidence_type: case-series\n"
    "---\n\n## Findings\n\n- Pangolin cough is a fictional condition used to test uploads.\n"
)


@dataclass
class App:
    url: str
    service: AppService
    demo: Any

    def source_ids(self) -> set[str]:
        return {r.ref.source_id for r in self.service.sources()}


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory, embeddings: Any) -> Iterator[App]:
    port = free_port()
    data = tmp_path_factory.mktemp("uploads") / "data"
    settings = Settings(data_dir=data, ui={"port": port, "upload_max_mb": 1})
    service = AppService(settings, library=Library(settings, embeddings=embeddings))
    demo = build_app(service)
    demo.queue(default_concurrency_limit=1)
    demo.launch(prevent_thread_lock=True, quiet=True, **launch_kwargs(settings))
    try:
        yield App(f"http://127.0.0.1:{port}/", service, demo)
    finally:
        demo.close()


def _add(client: Any, files: list[dict[str, Any]]) -> str:
    """Call /add_files; the report HTML, or the error gradio raised (also a refusal)."""
    from gradio_client.exceptions import AppError

    try:
        return str(client.predict(files, [], None, None, "", api_name="/add_files")[0])
    except AppError as exc:
        return f"refused by gradio: {exc}"


def _file_data(path: str) -> dict[str, Any]:
    return {"path": path, "orig_name": Path(path).name, "meta": {"_type": "gradio.FileData"}}


@pytest.fixture
def attacker(app: App, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A gradio_client that sends FileData paths as given instead of uploading the file."""
    import gradio_client.client as gc
    from gradio_client import Client

    monkeypatch.setattr(gc.Endpoint, "_upload_file", lambda self, f, data_index: f)
    return Client(app.url, verbose=False)


def _assert_refused(app: App, report: str, before: set[str]) -> None:
    assert "refused by gradio" in report or "not added" in report, report
    assert app.source_ids() == before, "a file that was not uploaded reached the library"
    copies = list((app.service.upload_dir).glob("*")) if app.service.upload_dir.exists() else []
    assert not any(SECRET in p.read_text(errors="replace") for p in copies if p.is_file())


def test_a_real_upload_is_added(app: App, tmp_path: Path) -> None:
    from gradio_client import Client, handle_file

    good = tmp_path / "legit.md"
    good.write_text(LEGIT)
    report = _add(Client(app.url, verbose=False), [handle_file(str(good))])
    assert "legit.md</strong>: added: Legit upload test" in report, report
    assert "zz-legit-upload" in app.source_ids()


def _plant_and_send(app: App, attacker: Any, planted: Path) -> None:
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(f"# Vault\n\n{SECRET}\n")
    try:
        before = app.source_ids()
        _assert_refused(app, _add(attacker, [_file_data(str(planted))]), before)
    finally:
        planted.unlink()


def test_a_file_planted_in_the_shared_gradio_folder_is_refused(app: App, attacker: Any) -> None:
    """Any local user (or another gradio app) can write into $TMPDIR/gradio."""
    _plant_and_send(app, attacker, Path(tempfile.gettempdir()) / "gradio" / "zz-planted" / "v.md")


def test_a_file_in_the_upload_folder_that_was_never_uploaded_is_refused(
    app: App, attacker: Any
) -> None:
    """Even inside the app's own upload folder, only what /upload received is accepted."""
    from gradio.utils import get_upload_folder

    _plant_and_send(app, attacker, Path(get_upload_folder()) / "zz-not-uploaded" / "vault.md")


@pytest.mark.parametrize(
    "path", [str(REPO / "prompts" / "answer.txt"), "/etc/hostname", str(REPO / "README.md")]
)
def test_server_paths_are_refused(app: App, attacker: Any, path: str) -> None:
    before = app.source_ids()
    _assert_refused(app, _add(attacker, [_file_data(path)]), before)


def test_a_url_is_refused_without_being_fetched(app: App, attacker: Any) -> None:
    before = app.source_ids()
    report = _add(attacker, [{**_file_data("https://example.org/a.md"), "url": None}])
    _assert_refused(app, report, before)
    assert "only files uploaded" in report, report  # our refusal, not a failed download
    assert "resolve" not in report and "Hostname" not in report, report
