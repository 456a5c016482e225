"""Loopback HTTP fakes: an OpenAI-compatible chat server and a catch-all recorder."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    """What a fake server was sent."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    def prompts(self) -> list[str]:
        return [
            str(m.get("content", ""))
            for r in self.requests
            for m in (r.get("body") or {}).get("messages", [])
        ]


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _read(handler: BaseHTTPRequestHandler, seen: Recorded) -> Any:
    length = int(handler.headers.get("Content-Length") or 0)
    raw = handler.rfile.read(length) if length else b""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    seen.requests.append(
        {"path": handler.path, "headers": dict(handler.headers.items()), "body": body}
    )
    return body


@contextmanager
def fake_openai(reply: Callable[[str], str]) -> Iterator[tuple[str, Recorded]]:
    """An OpenAI-compatible server whose answer is ``reply(prompt)``; yields (base_url, log)."""
    seen = Recorded()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = _read(self, seen) or {}
            if self.path.rstrip("/") != "/v1/chat/completions":
                self.send_error(404)
                return
            prompt = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
            payload = {
                "id": "chatcmpl-fake",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model", "fake"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply(prompt)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
            data = json.dumps(payload).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    with serve(Handler) as url:
        yield f"{url}/v1", seen


@contextmanager
def recorder() -> Iterator[tuple[str, Recorded]]:
    """Answers every request with an empty 200 JSON object and records it."""
    seen = Recorded()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            _read(self, seen)
            data = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = _any  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    with serve(Handler) as url:
        yield url, seen
