"""The command line starts fast: `assistant --help` imports no torch and returns in < 1 s."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.cli import build_parser, main

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "sentence_transformers", "transformers", "chromadb", "gradio", "langchain_chroma")
SUBCOMMANDS = ("ingest", "sources", "ask", "chat", "serve", "status", "eval", "feedback", "pages")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO)
    return env


def _script() -> list[str]:
    """The installed console script when there is one, else the module."""
    exe = Path(sys.executable).with_name("assistant")
    if exe.is_file():
        return [str(exe)]
    found = shutil.which("assistant")
    return [found] if found else [sys.executable, "-m", "assistant"]


def _timed(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess[str]]:
    start = time.perf_counter()
    out = subprocess.run(
        cmd, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=60, check=False
    )
    return time.perf_counter() - start, out


def test_help_is_fast(tmp_path: Path) -> None:
    cmd = [*_script(), "--help"]
    _timed(cmd, tmp_path)  # warm-up: .pyc files, page cache
    runs = [_timed(cmd, tmp_path) for _ in range(3)]
    for _, out in runs:
        assert out.returncode == 0, out.stderr
        assert "usage: assistant" in out.stdout
        for name in SUBCOMMANDS:
            assert name in out.stdout
    best = min(seconds for seconds, _ in runs)
    assert best < 1.0, f"`assistant --help` took {best:.2f} s"
    assert not any(tmp_path.iterdir()), "--help wrote files"


def test_help_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "import assistant.cli\n"
        "assistant.cli.build_parser().format_help()\n"
        "try:\n"
        "    assistant.cli.main(['--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print('HEAVY=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "HEAVY=", out.stdout


def test_building_parser_in_process_imports_no_torch() -> None:
    already = "torch" in sys.modules  # another test in this session may have loaded it
    build_parser().format_help()
    if not already:
        assert "torch" not in sys.modules


def test_python_m_assistant_help(tmp_path: Path) -> None:
    _, out = _timed([sys.executable, "-m", "assistant", "--help"], tmp_path)
    assert out.returncode == 0, out.stderr
    assert "usage: assistant" in out.stdout
    assert "ingest" in out.stdout


@pytest.mark.parametrize("name", ["ingest", "sources"])
def test_subcommand_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "--data-dir" in text and "--chroma-url" in text
    if name == "ingest":
        for option in ("--prune", "--strict", "--json", "--no-progress"):
            assert option in text


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: assistant" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["frobnicate"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_ingest_requires_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["ingest"])
    assert info.value.code == 2


def test_sources_on_empty_library(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sources", "--data-dir", str(tmp_path / "d"), "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert main(["sources", "--data-dir", str(tmp_path / "d")]) == 0
    assert "library is empty" in capsys.readouterr().out
