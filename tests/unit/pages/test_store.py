"""The pages store on a real SQLite file: workflow, history, migrations, concurrent reviewers."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from assistant.pages import schema
from assistant.pages.store import PageStore
from assistant.pages.workflow import (
    Conflict,
    IllegalTransition,
    NotAllowed,
    PageError,
    PageNotFound,
)

from .conftest import ANN, RITA, SAM, make_answer, new_page

REPO = Path(__file__).resolve().parents[3]


def test_saved_page_is_submitted_with_its_history(store: PageStore) -> None:
    page = store.create(new_page())
    assert (page.id, page.status, page.revision) == (1, "submitted", 1)
    assert page.created_by == "ann" and page.created_at == page.updated_at
    assert page.created_at.endswith("Z") and page.approved_by is None
    assert page.sources == {"src-a": "hash-a"} and len(page.library_version) == 12
    assert page.answer() == make_answer()
    assert page.vector is not None and list(page.vector) == [1.0, 0.0, 0.0]
    [entry] = store.history(page.id)
    assert (entry.actor, entry.action, entry.from_status, entry.to_status) == (
        "ann", "saved", None, "submitted",
    )  # fmt: skip


def test_full_review_path_keeps_every_change(store: PageStore) -> None:
    page = store.create(new_page())
    store.set_status(page.id, "under-review", RITA, "checking the dose")
    approved = store.set_status(page.id, "approved", RITA, "matches the source")
    assert approved.status == "approved" and approved.revision == 3
    assert approved.approved_by == "rita" and approved.approved_at == approved.updated_at
    again = store.set_status(page.id, "under-review", SAM, "new trial published")
    assert again.approved_by is None and again.approved_at is None, "no stale approval shown"
    rejected = store.set_status(page.id, "rejected", SAM, "superseded")
    history = store.history(page.id)
    assert [(h.actor, h.from_status, h.to_status, h.note, h.revision) for h in history] == [
        ("ann", None, "submitted", "", 1),
        ("rita", "submitted", "under-review", "checking the dose", 2),
        ("rita", "under-review", "approved", "matches the source", 3),
        ("sam", "approved", "under-review", "new trial published", 4),
        ("sam", "under-review", "rejected", "superseded", 5),
    ]
    assert rejected.revision == 5 and all(h.at for h in history)


def test_refusals_change_nothing(store: PageStore) -> None:
    page = store.create(new_page())
    with pytest.raises(NotAllowed, match="reviewer role"):
        store.set_status(page.id, "under-review", ANN)
    with pytest.raises(IllegalTransition, match="from submitted it can go to under-review"):
        store.set_status(page.id, "approved", RITA)
    with pytest.raises(PageNotFound, match="there is no page 99"):
        store.set_status(99, "under-review", RITA)

    def refuse(_page: object) -> None:
        raise PageError("checked and refused")

    with pytest.raises(PageError, match="checked and refused"):
        store.set_status(page.id, "under-review", RITA, check=refuse)
    assert store.get(page.id) == page
    assert len(store.history(page.id)) == 1


def test_a_stale_revision_is_a_conflict(store: PageStore) -> None:
    page = store.create(new_page())
    store.set_status(page.id, "under-review", RITA, expected_revision=1)
    with pytest.raises(Conflict) as err:
        store.set_status(page.id, "under-review", SAM, expected_revision=1)
    assert "changed by rita" in str(err.value) and "revision 2" in str(err.value)
    # a decision taken on an old view is refused even when the step itself is legal
    store.set_status(page.id, "approved", RITA, expected_revision=2)
    with pytest.raises(Conflict):
        store.set_status(page.id, "under-review", SAM, expected_revision=2)
    assert store.get(page.id).status == "approved"


def test_replace_answer_resubmits(store: PageStore) -> None:
    page = store.create(new_page())
    store.set_status(page.id, "under-review", RITA)
    store.set_status(page.id, "approved", RITA)
    new = new_page(make_answer(title="A study, updated"), {"src-a": "hash-b"})
    with pytest.raises(NotAllowed):
        store.replace_answer(page.id, new, ANN)
    replaced = store.replace_answer(page.id, new, RITA, "source updated", expected_revision=3)
    assert replaced.status == "submitted" and replaced.approved_by is None
    assert replaced.sources == {"src-a": "hash-b"}
    assert replaced.library_version != page.library_version
    assert replaced.answer().references[0].title == "A study, updated"
    last = store.history(page.id)[-1]
    assert (last.action, last.from_status, last.to_status) == (
        "answer-replaced", "approved", "submitted",
    )  # fmt: skip
    patient = new_page(make_answer().model_copy(update={"audience": "patient"}))
    with pytest.raises(PageError, match="for clinicians"):
        store.replace_answer(page.id, patient, RITA)


def test_listing_filters_and_orders(store: PageStore) -> None:
    first = store.create(new_page())
    second = store.create(new_page(make_answer("Is drug X safe?")))
    patient = store.create(new_page(make_answer().model_copy(update={"audience": "patient"})))
    store.set_status(first.id, "under-review", RITA)
    assert [p.id for p in store.pages()][0] == first.id, "most recently updated first"
    assert [p.id for p in store.pages(status="submitted")] == sorted(
        [second.id, patient.id], reverse=True
    )
    assert [p.id for p in store.pages(audience="patient")] == [patient.id]


def test_wal_and_schema_version(store: PageStore) -> None:
    db = sqlite3.connect(store.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    db.close()


def test_migrations_run_forward_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "pages.sqlite"
    old = PageStore(path)
    page = old.create(new_page())
    old.close()
    v2 = "ALTER TABLE pages ADD COLUMN topic TEXT; CREATE INDEX pages_by_topic ON pages(topic)"
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, (2, v2)])
    for _ in range(2):  # the second open finds nothing to do
        reopened = PageStore(path)
        assert reopened.get(page.id) == page, "data survives the migration"
        reopened.close()
    db = sqlite3.connect(path)
    assert db.execute("SELECT version FROM schema_version ORDER BY version").fetchall() == [
        (1,),
        (2,),
    ]
    assert "topic" in [r[1] for r in db.execute("PRAGMA table_info(pages)")]
    db.close()


def test_a_failed_migration_leaves_the_file_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "pages.sqlite"
    PageStore(path).close()
    broken = "ALTER TABLE pages ADD COLUMN topic TEXT; ALTER TABLE nowhere ADD COLUMN x TEXT"
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, (2, broken)])
    with pytest.raises(sqlite3.OperationalError):
        PageStore(path)
    db = sqlite3.connect(path)
    assert db.execute("SELECT MAX(version) FROM schema_version").fetchone() == (1,)
    assert "topic" not in [r[1] for r in db.execute("PRAGMA table_info(pages)")]
    db.close()


def test_a_newer_database_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "pages.sqlite"
    PageStore(path).close()
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_version VALUES (7)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(PageError, match="schema version 7, newer than this program knows"):
        PageStore(path)
    assert path.read_bytes() == before


# -- concurrency: real threads and processes on one file --------------------------------------


def _under_review(path: Path) -> int:
    with_store = PageStore(path)
    page = with_store.create(new_page())
    with_store.set_status(page.id, "under-review", RITA)
    with_store.close()
    return page.id


def test_concurrent_reviewers_in_threads_never_overwrite(tmp_path: Path) -> None:
    """Eight reviewers saw revision 2 and decide at the same instant: one wins, seven are told."""
    path = tmp_path / "pages.sqlite"
    page_id = _under_review(path)
    stores = [PageStore(path) for _ in range(8)]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []
    lock = threading.Lock()

    def decide(i: int, s: PageStore) -> None:
        barrier.wait()
        target = "approved" if i % 2 else "rejected"
        try:
            s.set_status(page_id, target, RITA, f"reviewer {i}", expected_revision=2)
            result = f"ok:{target}"
        except Conflict:
            result = "conflict"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=decide, args=(i, s)) for i, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    winners = [o for o in outcomes if o.startswith("ok")]
    assert len(outcomes) == 8 and len(winners) == 1 and outcomes.count("conflict") == 7
    history = stores[0].history(page_id)
    assert len(history) == 3 and history[-1].revision == 3
    assert stores[0].get(page_id).status == winners[0].removeprefix("ok:")
    for s in stores:
        s.close()


def test_concurrent_saves_in_threads_all_land(tmp_path: Path) -> None:
    path = tmp_path / "pages.sqlite"
    stores = [PageStore(path) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    ids: list[int] = []

    def save(s: PageStore) -> None:
        barrier.wait()
        for _ in range(5):
            ids.append(s.create(new_page()).id)

    threads = [threading.Thread(target=save, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(ids) == list(range(1, 31))
    assert all(len(stores[0].history(i)) == 1 for i in ids)
    for s in stores:
        s.close()


WORKER = """
import sys, time
from pathlib import Path
from assistant.pages.store import PageStore
from assistant.pages.workflow import Conflict, User
path, go, target, ready = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
store = PageStore(path)
ready.touch()
while not go.exists():
    time.sleep(0.005)
try:
    store.set_status(1, target, User("proc", frozenset({"reviewer"})), expected_revision=2)
    print("ok")
except Conflict:
    print("conflict")
"""


def test_concurrent_reviewers_in_processes_never_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "pages.sqlite"
    assert _under_review(path) == 1
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(path), str(go), target, str(tmp_path / f"ready{i}")],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i, target in enumerate(("approved", "rejected", "approved", "rejected"))
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready*"))) < len(procs):  # all have opened the file
        assert time.monotonic() < deadline, "the workers did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.01)
    go.touch()
    results = [p.communicate(timeout=60) for p in procs]
    outputs = [out.strip() for out, _ in results]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    assert sorted(outputs) == ["conflict", "conflict", "conflict", "ok"]
    check = PageStore(path)
    assert check.get(1).revision == 3 and len(check.history(1)) == 3
    check.close()


def test_a_follow_up_is_titled_by_its_standalone_question(store: PageStore) -> None:
    answer = make_answer("and in children?").model_copy(
        update={"standalone_question": "What is the dose of drug X in children?"}
    )
    page = store.create(new_page(answer))
    assert page.question == page.standalone_question == "What is the dose of drug X in children?"
    assert page.answer().question == "and in children?", "the answer JSON is kept as it was"
