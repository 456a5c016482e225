"""Login and the empty-library message, on an in-process app (no model is loaded)."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.ui.app import build_app, launch_kwargs
from assistant.ui.service import AppService

pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_launch_kwargs() -> None:
    import asyncio
    import inspect

    settings = Settings(ui={"auth": ["ann:secret", "bob:p:w"], "port": 7999, "auth_delay_s": 0})
    kwargs = launch_kwargs(settings)
    check = kwargs["auth"]
    assert inspect.iscoroutinefunction(check)  # gradio awaits it only then
    assert asyncio.run(check("ann", "secret")) and asyncio.run(check("bob", "p:w"))
    assert not asyncio.run(check("ann", "wrong")) and not asyncio.run(check("eve", "secret"))
    assert kwargs["share"] is False and kwargs["server_port"] == 7999
    assert kwargs["server_name"] == "127.0.0.1" and kwargs["max_file_size"] == "20mb"
    assert "a.cite" in kwargs["head"] and "#sources-panel" in kwargs["css"]
    assert launch_kwargs(Settings())["auth"] is None
    with pytest.raises(ValueError, match="user:password"):
        launch_kwargs(Settings(ui={"auth": ["nopassword"]}))


def test_auth_and_missing_index(tmp_path: Path) -> None:
    from gradio_client import Client

    port = _free_port()
    settings = Settings(data_dir=tmp_path / "data", ui={"auth": ["ann:secret"], "port": port})
    service = AppService(settings)
    assert "assistant ingest corpus/" in (service.try_build_chain() or "")
    demo = build_app(service)
    demo.queue(default_concurrency_limit=1)
    kwargs = launch_kwargs(settings)
    demo.launch(prevent_thread_lock=True, quiet=True, **kwargs)
    try:
        url = f"http://127.0.0.1:{port}/"
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url + "config", timeout=10)
        assert err.value.code == 401
        client = Client(url, auth=("ann", "secret"), verbose=False)
        status = client.predict(api_name="/status")
        assert "no library index" in status and 'role="alert"' in status
        chat, _sources, _answer, _box, _hint = client.predict(
            "What is the efficacy of anakinra in HLH?", "clinician", api_name="/ask"
        )
        reply = str(chat[-1]["content"])
        assert "no index yet" in reply and "Library tab" in reply
        table = client.predict([], None, None, "", api_name="/library")
        assert "library is empty" in table
    finally:
        demo.close()
