"""Simultaneous UI sessions against a real app on loopback: p50/p95 seconds per question.

Starts ``assistant serve`` on a free loopback port over a scale library, waits for it, asks
one question to warm it, then opens ``--sessions`` gradio_client sessions at once (one thread
each, its own conversation); every session asks ``--questions`` data-set questions one after
another with no pause (a closed loop: the worst case for queueing), the second and later
ones as follow-ups in the same conversation. Each ``predict`` is timed from submit to the
final streamed update. Bounded: every request has a timeout and the run stops by itself.

    .venv/bin/python benchmarks/concurrency.py [--size 10000] [--sessions 20] [--questions 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(HERE.parent))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from ask import summary  # noqa: E402
from server import free_port  # noqa: E402

TARGET_P95_S = 1.0


def start_app(data_dir: Path, port: int, log: Any) -> subprocess.Popen[bytes]:
    exe = Path(sys.executable).with_name("assistant")
    cmd = [str(exe), "serve", "--data-dir", str(data_dir), "--port", str(port)]
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())


def wait_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited early (code {proc.returncode})")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return time.monotonic() - start
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the app did not answer on {url} within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def session(url: str, questions: list[str]) -> list[float]:
    from gradio_client import Client

    client = Client(url, verbose=False)
    times = []
    for question in questions:
        start = time.perf_counter()
        client.predict(question, "clinician", api_name="/ask")
        times.append(time.perf_counter() - start)
    return times


def measure(size: int, n_sessions: int, per_session: int, root: Path | None) -> dict[str, Any]:
    from ask_scale import library_questions
    from scale import scale_library

    data_dir, info = scale_library(size, root, log=lambda m: print(m, file=sys.stderr))
    pool = library_questions(data_dir, n_sessions * per_session)
    work = [
        [pool[(i * per_session + j) % len(pool)] for j in range(per_session)]
        for i in range(n_sessions)
    ]
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with tempfile.NamedTemporaryFile(prefix="app-", suffix=".log", delete=False) as log:
        proc = start_app(data_dir, port, log)
        try:
            up_s = wait_up(url, proc)
            single = session(url, pool[:1] * 3)  # warm-up, then one session alone
            app_cpu0, client_cpu0 = cpu_seconds(proc.pid), own_cpu()
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=n_sessions) as ex:
                futures = [ex.submit(session, url, qs) for qs in work]
                results = [f.result(timeout=900) for f in futures]
            wall = time.perf_counter() - started
            cpu = {"app_cpu_s": round(cpu_seconds(proc.pid) - app_cpu0, 1)}
            cpu["clients_cpu_s"] = round(own_cpu() - client_cpu0, 1)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    times = [t for r in results for t in r]
    stats = summary(times)
    return {
        "chunks": info["chunks"],
        "sessions": n_sessions,
        "questions_per_session": per_session,
        "app_up_s": round(up_s, 1),
        "alone_s": summary(single[1:]),
        "per_question_s": stats,
        "questions_per_s": round(len(times) / wall, 2),
        "wall_s": round(wall, 1),
        **cpu,
        "target_p95_s": TARGET_P95_S,
        "met": stats["p95"] <= TARGET_P95_S,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "app_log": log.name,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10000, help="scale library size")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--questions", type=int, default=3, help="questions per session")
    parser.add_argument("--root", type=Path, default=None, help="bench dir (default .bench)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if min(args.size, args.sessions, args.questions) < 1:
        parser.error("--size, --sessions and --questions must be at least 1")
    r = measure(args.size, args.sessions, args.questions, args.root)
    if args.json:
        print(json.dumps(r, indent=2))
    else:
        s, a = r["per_question_s"], r["alone_s"]
        print(
            f"{r['sessions']} sessions x {r['questions_per_session']} questions at "
            f"{r['chunks']} chunks: p50 {s['p50']:.2f} s, p95 {s['p95']:.2f} s per question "
            f"(target p95 <= {TARGET_P95_S:g} s: {'met' if r['met'] else 'MISSED'}); "
            f"{r['questions_per_s']} questions/s; one session alone p50 {a['p50']:.2f} s; "
            f"load average {r['load_average']}; CPU during the run: app {r['app_cpu_s']} s, "
            f"clients {r['clients_cpu_s']} s in {r['wall_s']} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
