"""An interrupted update never leaves a source without vectors (new vectors are written, then
the manifest commits, then the replaced vectors go), and a second ingest waits for the first."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from assistant.config import Settings
from assistant.ingest.lock import IngestBusy, ingest_lock, is_locked
from assistant.ingest.pipeline import ingest
from assistant.ingest.store import Library
from tests.reliability.conftest import CORPUS, REPO, add_finding, cli_env, run_cli

pytestmark = pytest.mark.slow

SLICE = [
    "baverez-2022-anakinra-21-cases",
    "bami-2020-anakinra-secondary-hlh",
    "fardet-2014-hscore",
    "henter-2007-hlh2004-guidelines",
    "mehta-2020-covid-cytokine-storm",
    "rajasekaran-2014-anakinra-picu",
    "zhang-2022-ruxolitinib-pediatric-hlh",
    "allen-2008-ferritin-hlh",
]
ROUNDS = 20
MIN_KILLS = 10
SEED = 20261203


def copy_slice(dest: Path, names: list[str] = SLICE) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copy(CORPUS / f"{name}.md", dest / f"{name}.md")
    return dest


def sources_missing_vectors(lib: Library) -> list[str]:
    dense = lib.dense.all_ids()
    return [
        r.ref.source_id for r in lib.sources() if lib.manifest.chunk_ids(r.ref.source_id) - dense
    ]


def test_an_update_interrupted_before_the_manifest_commit_keeps_the_old_vectors(
    tmp_path: Path, embeddings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = copy_slice(tmp_path / "lib", SLICE[:4])
    settings = Settings(data_dir=tmp_path / "data", ingest={"batch_chunks": 4})
    lib = Library(settings, embeddings=embeddings)
    ingest([root], settings, library=lib, progress=False)
    for name in SLICE[:2]:  # new content: new chunk ids for these two sources
        add_finding(root / f"{name}.md", "An added finding for the update test.")

    def die(*_: object, **__: object) -> None:
        raise KeyboardInterrupt("simulated kill between the vector write and the commit")

    monkeypatch.setattr(lib.manifest, "replace_sources", die)
    with pytest.raises(KeyboardInterrupt):
        ingest([root], settings, library=lib, progress=False)
    monkeypatch.undo()
    assert sources_missing_vectors(lib) == []
    report = ingest([root], settings, library=lib, progress=False)
    assert sorted(report.updated) == sorted(SLICE[:2]) and report.recovered_orphans > 0
    assert lib.manifest.chunk_ids() == lib.dense.all_ids()
    lib.close()


def test_kill_9_at_random_points_never_leaves_a_source_without_vectors(tmp_path: Path) -> None:
    root = copy_slice(tmp_path / "lib", SLICE[:3])
    out = tmp_path / "crash.json"
    worker = Path(__file__).with_name("crash_worker.py")
    args = [str(tmp_path / "data"), str(root), str(ROUNDS), str(SEED), str(out), str(MIN_KILLS)]
    done = subprocess.run(
        [sys.executable, str(worker), *args],
        env=cli_env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(out.read_text())
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    (REPO / "test-artifacts" / "crash-kills.json").write_text(json.dumps(summary, indent=1))
    kills = summary["kills"]
    assert len(kills) >= MIN_KILLS, summary
    for kill in kills:
        assert kill["sources_without_all_vectors"] == [], kill
        assert kill["sources"] == 3, kill  # nothing lost between the kill and the re-run
        assert kill["answer_cites"] and not kill["abstained"], kill
    assert summary["final"]["consistent"] and summary["final"]["sources"] == 3


# -- one ingest at a time -----------------------------------------------------------------


def test_a_second_ingest_exits_with_a_message_or_waits(tmp_path: Path, embeddings: Any) -> None:
    data = tmp_path / "data"
    root = copy_slice(tmp_path / "lib", SLICE[:1])
    with ingest_lock(data):
        assert is_locked(data)
        done = run_cli("ingest", str(root), "--data-dir", str(data), "--no-wait")
        assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
        assert "another ingest (pid" in done.stderr and str(data) in done.stderr, done.stderr
        with pytest.raises(IngestBusy, match="another ingest"):
            ingest([root], Settings(data_dir=data), wait=False, progress=False)

        settings = Settings(data_dir=data)
        result: dict[str, Any] = {}

        def second() -> None:
            start = time.perf_counter()
            lib = Library(settings, embeddings=embeddings)
            result["report"] = ingest([root], settings, library=lib, progress=False)
            result["waited_s"] = time.perf_counter() - start
            lib.close()

        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.5)
        assert thread.is_alive() and "report" not in result  # waiting, not ingesting
    thread.join(60)
    assert result["waited_s"] >= 1.4 and result["report"].added == SLICE[:1]
    assert not is_locked(data)


def test_a_killed_holder_never_leaves_a_stale_lock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code = (
        "import sys, time; from pathlib import Path; from assistant.ingest.lock import "
        "ingest_lock\nwith ingest_lock(Path(sys.argv[1])):\n print('held', flush=True)\n"
        " time.sleep(60)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(data)], env=cli_env(), cwd=REPO, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"held"
        assert is_locked(data)
        with pytest.raises(IngestBusy, match=f"pid {holder.pid}"):
            with ingest_lock(data, wait=False):
                pass
        holder.kill()
        holder.wait(10)
        with ingest_lock(data, wait=False):  # the kernel released it with the process
            assert is_locked(data)
    finally:
        if holder.poll() is None:
            holder.kill()
