"""kill -9 at random points of real ingests, with one model load for all of them.

Run by test_crash_updates.py as ``python crash_worker.py DATA LIB ROUNDS SEED OUT KILLS``
(at most ROUNDS rounds, stopping after KILLS kills). This
process loads MiniLM once (one thread, so forking is safe), then for each round edits some
sources (new content -> new chunk ids: the update path), forks a child that runs the real
``ingest`` and sends it SIGKILL after a random delay drawn over the length of a whole run.
Between the kill and the next run a forked checker reads the library exactly as it was left:
every source the manifest holds must have all its vectors in Chroma, and a question must still
get a cited answer. The parent never opens the stores itself (a forked child must not share
SQLite handles with its parent). One JSON summary is written to OUT.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.reliability.conftest import add_finding  # noqa: E402

QUESTION = "How fast does fever resolve with anakinra?"


def settings_for(data: Path) -> Any:
    from assistant.config import Settings

    # small commit units: a kill lands between commits with more batches to come
    return Settings(data_dir=data, ingest={"batch_chunks": 4}, compose={"follow_ups": 0})


def edit(lib: Path, rng: random.Random, round_no: int) -> list[str]:
    """Change a random half of the sources (a new last finding), so their chunk ids change."""
    files = sorted(lib.glob("*.md"))
    chosen = rng.sample(files, k=max(1, len(files) // 2))
    for path in chosen:
        add_finding(path, f"Revision note {round_no} for this summary.")
    return [p.stem for p in chosen]


def run_child(fn: Any) -> int:
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported through the exit code
            print(f"child failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            code = 1
        os._exit(code)
    return pid


def ingest_child(data: Path, lib: Path, embeddings: Any) -> Any:
    def go() -> None:
        from assistant.ingest.pipeline import ingest
        from assistant.ingest.store import Library

        settings = settings_for(data)
        library = Library(settings, embeddings=embeddings)
        ingest([lib], settings, library=library, progress=False)
        library.close()

    return go


def check_child(data: Path, lib: Path, out: Path, embeddings: Any, final: bool) -> Any:
    """Read the library as the kill left it; write what was found to ``out``."""

    def go() -> None:
        from assistant.ask.chain import AskChain
        from assistant.ingest.lexical import LexicalIndex
        from assistant.ingest.loaders import load_file
        from assistant.ingest.store import Library

        settings = settings_for(data)
        library = Library(settings, embeddings=embeddings)
        dense = library.dense.all_ids()
        rows = library.sources()
        missing = {
            r.ref.source_id: len(library.manifest.chunk_ids(r.ref.source_id) - dense) for r in rows
        }
        stored = library.manifest.hashes()
        current = {
            d.source_id: d.content_hash()
            for p in sorted(lib.glob("*.md"))
            for d in load_file(p, settings.ingest)
        }
        found: dict[str, Any] = {
            "sources": len(rows),
            "up_to_date": sum(stored.get(sid) == h for sid, h in current.items()),
            "manifest_chunks": library.manifest.count_chunks(),
            "dense_vectors": len(dense),
            "sources_without_all_vectors": sorted(s for s, n in missing.items() if n),
        }
        if rows:
            chain = AskChain(settings, library)
            answer = chain.ask(QUESTION)
            found["answer_cites"] = answer.cited_source_ids()
            found["abstained"] = answer.abstained
        if final:
            lexical = LexicalIndex.load(library.lexical_dir)
            found["consistent"] = (
                lexical is not None
                and set(lexical.ids) == dense == library.manifest.chunk_ids()
                and lexical.generation == library.manifest.revision()
            )
        library.close()
        out.write_text(json.dumps(found))

    return go


def wait(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def main(data: Path, lib: Path, rounds: int, seed: int, out: Path, min_kills: int) -> None:
    from assistant.config import EmbeddingSettings
    from assistant.models import get_embeddings

    embeddings = get_embeddings(EmbeddingSettings(threads=1))
    embeddings.embed_query("warm up")  # weights loaded before any fork
    # imported (never opened) here, so each forked child starts at once
    import chromadb  # noqa: F401
    import langchain_chroma  # noqa: F401

    import assistant.ask.chain  # noqa: F401
    import assistant.ingest.pipeline  # noqa: F401

    rng = random.Random(seed)
    probe = out.with_suffix(".probe.json")

    assert wait(run_child(ingest_child(data, lib, embeddings))) == 0, "the first ingest failed"
    edit(lib, rng, 0)
    start = time.perf_counter()  # an update run, uninterrupted: the span kills are drawn from
    assert wait(run_child(ingest_child(data, lib, embeddings))) == 0, "an update failed"
    update_run = time.perf_counter() - start
    kills: list[dict[str, Any]] = []
    finished = 0
    for round_no in range(1, rounds + 1):
        edited = edit(lib, rng, round_no)
        delay = rng.uniform(0.01, update_run)
        pid = run_child(ingest_child(data, lib, embeddings))
        time.sleep(delay)
        os.kill(pid, signal.SIGKILL)
        code = wait(pid)
        if code != -signal.SIGKILL:  # the ingest ended before the kill: not a kill
            finished += 1
            continue
        checked = time.perf_counter()
        assert wait(run_child(check_child(data, lib, probe, embeddings, final=False))) == 0
        kills.append({"round": round_no, "delay_s": round(delay, 3), "edited": edited,
                      "check_s": round(time.perf_counter() - checked, 2),
                      **json.loads(probe.read_text())})  # fmt: skip
        if len(kills) >= min_kills:
            break
    assert wait(run_child(ingest_child(data, lib, embeddings))) == 0, "the re-run failed"
    assert wait(run_child(check_child(data, lib, probe, embeddings, final=True))) == 0
    summary = {
        "seed": seed,
        "update_run_s": round(update_run, 2),
        "kills": kills,
        "finished_before_kill": finished,
        "final": json.loads(probe.read_text()),
        "files": len(list(lib.glob("*.md"))),
    }
    out.write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    data, lib, rounds, seed, out, kills = sys.argv[1:7]
    main(Path(data), Path(lib), int(rounds), int(seed), Path(out), int(kills))
