"""An app process notices an ingest finished by another process (the replica set-up: several
app processes over one data directory) at its next question, without a restart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from assistant.ask.chain import AskChain
from assistant.config import Settings
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library

pytestmark = pytest.mark.slow

NOTE = """\
---
source_id: {sid}
title: "{title}"
evidence_type: review
year: 2020
---

## Summary

{body}
"""


def write_note(folder: Path, sid: str, title: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{sid}.md").write_text(NOTE.format(sid=sid, title=title, body=body))


def test_a_running_chain_picks_up_another_process_ingest(tmp_path: Path, embeddings: Any) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first, second = tmp_path / "first", tmp_path / "second"
    # fictional notes written for this test
    write_note(
        first,
        "note-zorvath",
        "Zorvath syndrome: a fictional note",
        "Zorvath syndrome is a made-up condition used only in this test. "
        "Patients with zorvath syndrome were treated with rest in the fictional cohort.",
    )
    ingest([first], settings, library=Library(settings, embeddings=embeddings), progress=False)
    chain = AskChain(settings, library=Library(settings, embeddings=embeddings))
    before = chain.ask("How is quillfen disease treated?")
    assert not any(cid for cid in before.retrieved_ids if "quillfen" in cid)

    write_note(
        second,
        "note-quillfen",
        "Quillfen disease: a fictional note",
        "Quillfen disease is another made-up condition used only in this test. "
        "In the fictional cohort, quillfen disease was treated with warm compresses in 40% "
        "of patients.",
    )
    other = Library(settings, embeddings=embeddings)  # another process's library handle
    ingest([second], settings, library=other, progress=False)
    other.close()

    after = chain.ask("How is quillfen disease treated?")
    sources = {r.source_id for r in after.references} | {s.source_id for s in after.closest_sources}
    assert "note-quillfen" in sources, after.markdown
    chain.library.close()
