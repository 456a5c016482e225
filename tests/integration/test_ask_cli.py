"""`assistant ask` and `assistant chat` as a user runs them: subprocesses over a real index.

The corpus is ingested once per module (in-process, with the session's MiniLM); each command
that answers loads the model in its own process (~7 s), so the answering runs are few and the
failure paths (which must not load the model) are many.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from assistant.prompts import CANNOT_ANSWER_PHRASE, disclaimer

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SEED = "What is the efficacy of anakinra in HLH?"
PEDIATRIC = {"eloseily-2020-anakinra-pediatric-shlh", "bami-2020-anakinra-secondary-hlh"}
ISSUE_KEYS = {
    "question",
    "standalone_question",
    "abstained",
    "sections",
    "references",
    "disclaimer",
    "follow_ups",
    "markdown",
    "timings_ms",
}
REFERENCE_KEYS = {
    "n",
    "source_id",
    "title",
    "authors",
    "journal",
    "year",
    "pmid",
    "doi",
    "link",
    "evidence_type",
    "passages",
}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, embeddings: Any) -> Iterator[Path]:
    data = tmp_path_factory.mktemp("ask-cli") / "data"
    settings = Settings(data_dir=data)
    library = Library(settings, embeddings=embeddings)
    ingest([REPO / "corpus"], settings, library=library, progress=False)
    library.close()
    yield data


def run(*args: str | Path, stdin: str | None = None, timeout: float = 240) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env.update(HF_HUB_OFFLINE="1", ANONYMIZED_TELEMETRY="False", PYTHONIOENCODING="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "assistant", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        cwd=REPO,
        env=env,
    )


def one_json_object(stdout: str) -> dict[str, Any]:
    text = stdout.strip()
    data, end = json.JSONDecoder().raw_decode(text)
    assert end == len(text), f"more than one JSON value on stdout: {text[end : end + 80]!r}"
    assert isinstance(data, dict)
    return data


def walk_sections(sections: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for section in sections:
        yield section
        yield from walk_sections(section.get("subsections", []))


# -- answering --------------------------------------------------------------------------------


def test_ask_json_prints_one_object_with_the_issue_keys(data_dir: Path) -> None:
    proc = run("ask", SEED, "--json", "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    data = one_json_object(proc.stdout)
    assert ISSUE_KEYS <= set(data)
    assert data["question"] == SEED and data["abstained"] is False
    assert data["disclaimer"] == disclaimer()
    assert len(data["follow_ups"]) == 3 and all(isinstance(q, str) for q in data["follow_ups"])
    assert {"condense", "retrieve", "compose", "cite", "render", "total"} <= set(data["timings_ms"])
    numbers = {ref["n"] for ref in data["references"]}
    for ref in data["references"]:
        assert REFERENCE_KEYS <= set(ref)
    bullets = [b for s in walk_sections(data["sections"]) for b in s["bullets"]]
    assert bullets
    for section in walk_sections(data["sections"]):
        assert isinstance(section["heading"], str)
    for bullet in bullets:
        assert bullet["citations"] and set(bullet["citations"]) <= numbers
    assert data["markdown"].rstrip().endswith("*")


def test_ask_with_a_history_file(data_dir: Path, tmp_path: Path) -> None:
    history = tmp_path / "history.json"
    history.write_text(
        json.dumps(
            [
                {"role": "user", "content": SEED},
                {"role": "assistant", "content": "Anakinra helped most patients [1]."},
            ]
        ),
        encoding="utf-8",
    )
    proc = run("ask", "and in children?", "--history", history, "--json", "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    data = one_json_object(proc.stdout)
    standalone = data["standalone_question"].lower()
    assert "anakinra" in standalone and "children" in standalone
    assert not data["abstained"]
    cited = {r["source_id"] for r in data["references"]}
    assert cited & PEDIATRIC


def test_ask_html_is_well_formed_and_filtered(data_dir: Path) -> None:
    question = "What are the HLH-2004 diagnostic criteria?"
    proc = run("ask", question, "--html", "--evidence-type", "guideline", "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    html = proc.stdout

    class Tags(HTMLParser):
        tags: list[tuple[str, dict[str, str | None]]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append((tag, dict(attrs)))

    parser = Tags()
    parser.tags = []
    parser.feed(html)
    names = {t for t, _ in parser.tags}
    assert not names & {"script", "img", "iframe", "style"}
    assert not [a for _, attrs in parser.tags for a in attrs if a.startswith("on")]
    assert html.startswith('<div class="answer">') and 'class="disclaimer"' in html
    badges = [a["class"] for t, a in parser.tags if t == "span" and "badge" in str(a["class"])]
    assert badges and all(b == "badge guideline" for b in badges)
    cites = {a["href"] for t, a in parser.tags if t == "a" and a.get("class") == "cite"}
    ids = {f"#{a['id']}" for _, a in parser.tags if a.get("id")}
    assert cites and cites <= ids


def test_ask_out_of_scope_abstains_with_disclaimer(data_dir: Path) -> None:
    question = "What is the recommended tocilizumab dose for cytokine release syndrome?"
    proc = run("ask", question, "--data-dir", data_dir)
    assert proc.returncode == 0, proc.stderr
    assert CANNOT_ANSWER_PHRASE in proc.stdout
    assert disclaimer()[:40] in proc.stdout.replace("\\", "")
    assert "## From the" not in proc.stdout


def test_chat_conversation_through_stdin(data_dir: Path) -> None:
    script = "\n".join(
        [SEED, "and in children?", "/sources", "/new", "/sources", "/bogus", "", "/quit", ""]
    )
    proc = run("chat", "--data-dir", data_dir, stdin=script)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.count("## From the Research") >= 2  # two answers
    assert out.replace("\\", "").count(disclaimer()[:40]) >= 2
    assert "Interpreted as:" in out and "children" in out  # the follow-up was condensed
    assert "Started a new conversation." in out
    assert "No answer yet." in out  # /sources right after /new
    assert "unknown command /bogus" in out
    # /sources lists the second answer's references with their quoted passages
    listing = out.split("Started a new conversation.")[0]
    assert any(f"({t})" in listing for t in ("retrospective-cohort", "case-series"))
    assert "\u201c" in listing


def test_chat_ends_cleanly_at_end_of_input(data_dir: Path) -> None:
    proc = run("chat", "--data-dir", data_dir, stdin="/sources\n")
    assert proc.returncode == 0, proc.stderr
    assert "No answer yet." in proc.stdout


# -- failures that must not need the model ----------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\t\n"])
def test_empty_question_exits_2(data_dir: Path, question: str) -> None:
    proc = run("ask", question, "--data-dir", data_dir, timeout=60)
    assert proc.returncode == 2
    assert "empty" in proc.stderr and proc.stdout == ""
    assert disclaimer()[:40] in proc.stderr


def test_long_question_exits_2(data_dir: Path) -> None:
    proc = run("ask", "why " * 600, "--data-dir", data_dir, timeout=60)
    assert proc.returncode == 2
    assert "2000" in proc.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"role": "user", "content": "x"}', "list"),
        ('[{"role": "robot", "content": "x"}]', "role"),
        ('[{"role": "user"}]', "content"),
        ("\udcff", ""),
    ],
)
def test_malformed_history_exits_2(
    data_dir: Path, tmp_path: Path, content: str, message: str
) -> None:
    history = tmp_path / "history.json"
    if content == "\udcff":
        history.write_bytes(b"\xff\xfe\x00garbage")
    else:
        history.write_text(content, encoding="utf-8")
    proc = run("ask", SEED, "--history", history, "--data-dir", data_dir, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "history" in proc.stderr and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_history_file_exits_2(data_dir: Path, tmp_path: Path) -> None:
    proc = run("ask", SEED, "--history", tmp_path / "nope.json", "--data-dir", data_dir)
    assert proc.returncode == 2
    assert "nope.json" in proc.stderr and "Traceback" not in proc.stderr


def test_unknown_evidence_type_exits_2(data_dir: Path) -> None:
    proc = run("ask", SEED, "--evidence-type", "horoscope", "--data-dir", data_dir, timeout=60)
    assert proc.returncode == 2
    assert "horoscope" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_index_says_how_to_build_it(tmp_path: Path) -> None:
    proc = run("ask", SEED, "--data-dir", tmp_path / "empty", timeout=60)
    assert proc.returncode == 1
    assert "assistant ingest" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""
    chat = run("chat", "--data-dir", tmp_path / "empty", stdin="hello\n", timeout=60)
    assert chat.returncode == 1 and "assistant ingest" in chat.stderr
