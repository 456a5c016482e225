"""Chroma server mode against the embedded store, on the same scale library, in one run.

The scale library's Chroma directory is copied and served by ``chroma run`` on loopback; the
same questions are then asked alternately through a chain on the embedded store and a chain
whose dense index is a ``chromadb.HttpClient`` (``store.chroma_url``), both reading the same
manifest and lexical index, so both see the same machine load. Reported: ask p50/p95 of each
and the ratio server / embedded (target <= 1.5 at 10k). Then ``--replicas`` separate app
processes ask the questions at the same time against that one server, sharing the data
directory (manifest in WAL mode, lexical index files): each reports its p50 and whether its
answers are the same as the in-process server chain's.

    .venv/bin/python benchmarks/server.py [--size 10000] [--repeat 2] [--replicas 2]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from ask import summary  # noqa: E402

TARGET_RATIO = 1.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def chroma_server(path: Path) -> Iterator[str]:
    """``chroma run`` on a loopback port serving ``path``; its URL while it runs."""
    exe = Path(sys.executable).with_name("chroma")
    if not exe.is_file():
        raise SystemExit(f"`chroma` not found beside {sys.executable} (it comes with chromadb)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="chroma-", suffix=".log", delete=False)
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"chroma run did not come up (log: {log.name})")
            try:
                with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                    break
            except OSError:
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def fingerprint(markdown: str) -> str:
    return hashlib.sha1(markdown.encode()).hexdigest()[:10]


def replica(data_dir: Path, url: str, questions: list[str]) -> int:
    """One app process against the server: its ask times and answer fingerprints."""
    from scale import settings_for

    from assistant.ask.chain import AskChain

    chain = AskChain(settings_for(data_dir, **{"store.chroma_url": url}))
    chain.ask(questions[0])
    times, prints = [], []
    for question in questions:
        answer = chain.ask(question)
        times.append(answer.timings_ms["total"])
        prints.append(fingerprint(answer.markdown))
    print(json.dumps({"times": times, "prints": prints}), flush=True)
    return 0


def measure(size: int, repeat: int, replicas: int, root: Path | None) -> dict[str, Any]:
    from ask_scale import library_questions
    from scale import scale_library, settings_for

    from assistant.ask.chain import AskChain

    data_dir, info = scale_library(size, root, log=lambda m: print(m, file=sys.stderr))
    questions = library_questions(data_dir, 30)
    with tempfile.TemporaryDirectory(prefix="chroma-server-") as tmp:
        served = Path(tmp) / "chroma"
        shutil.copytree(data_dir / "chroma", served)
        with chroma_server(served) as url:
            embedded = AskChain(settings_for(data_dir))
            server = AskChain(settings_for(data_dir, **{"store.chroma_url": url}))
            times: dict[str, list[float]] = {"embedded": [], "server": []}
            same = 0
            server_prints = []
            for timed in [False] + [True] * repeat:
                for question in questions:
                    a = embedded.ask(question)
                    b = server.ask(question)
                    if timed:
                        times["embedded"].append(a.timings_ms["total"])
                        times["server"].append(b.timings_ms["total"])
                    else:
                        same += int(a.markdown == b.markdown)
                        server_prints.append(fingerprint(b.markdown))
            embedded.library.close()
            server.library.close()
            reps = run_replicas(data_dir, url, questions, replicas)
    emb, srv = summary(times["embedded"]), summary(times["server"])
    ratio = round(srv["p50"] / emb["p50"], 2) if emb["p50"] else 0.0
    return {
        "size": size,
        "chunks": info["chunks"],
        "questions": len(questions),
        "embedded_ms": emb,
        "server_ms": srv,
        "ratio_server_over_embedded_p50": ratio,
        "target_ratio": TARGET_RATIO,
        "met": ratio <= TARGET_RATIO,
        "answers_identical": f"{same}/{len(questions)}",
        "replicas": [
            {
                "ask_ms": summary(r["times"]),
                "answers_as_in_process": sum(
                    x == y for x, y in zip(r["prints"], server_prints, strict=True)
                ),
            }
            for r in reps
        ],
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def run_replicas(data_dir: Path, url: str, questions: list[str], n: int) -> list[dict[str, Any]]:
    """``n`` app processes at once against one server and one data directory."""
    if n < 1:
        return []
    cmd = [sys.executable, __file__, "--replica", str(data_dir), "--url", url]
    procs = [
        subprocess.Popen([*cmd, "--questions-json", json.dumps(questions)], stdout=subprocess.PIPE)
        for _ in range(n)
    ]
    out = []
    for proc in procs:
        stdout, _ = proc.communicate(timeout=600)
        if proc.returncode != 0:
            raise SystemExit(f"a replica failed (exit {proc.returncode})")
        out.append(json.loads(stdout.decode().strip().splitlines()[-1]))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10000, help="scale library size")
    parser.add_argument("--repeat", type=int, default=2, help="timed passes")
    parser.add_argument("--replicas", type=int, default=2, help="app processes sharing a server")
    parser.add_argument("--root", type=Path, default=None, help="bench dir (default .bench)")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--replica", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--questions-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replica:
        return replica(args.replica, args.url, json.loads(args.questions_json))
    if args.size < 1 or args.repeat < 1 or args.replicas < 0:
        parser.error("--size and --repeat must be at least 1, --replicas at least 0")
    result = measure(args.size, args.repeat, args.replicas, args.root)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        e, s = result["embedded_ms"], result["server_ms"]
        print(f"server mode at {result['chunks']} chunks, {result['questions']} questions")
        print(f"  embedded  p50 {e['p50']:.1f} ms  p95 {e['p95']:.1f} ms")
        print(f"  server    p50 {s['p50']:.1f} ms  p95 {s['p95']:.1f} ms")
        verdict = "met" if result["met"] else "MISSED"
        print(
            f"  ratio server / embedded p50 = {result['ratio_server_over_embedded_p50']:.2f} "
            f"(target <= {TARGET_RATIO}: {verdict}); identical answers "
            f"{result['answers_identical']}"
        )
        for i, r in enumerate(result["replicas"], 1):
            print(
                f"  replica {i}: p50 {r['ask_ms']['p50']:.1f} ms, p95 {r['ask_ms']['p95']:.1f} ms,"
                f" answers as the in-process server chain: {r['answers_as_in_process']}"
                f"/{result['questions']}"
            )
        print(f"  load average {result['load_average']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
