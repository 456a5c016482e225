"""The benchmark scripts refuse bad arguments with a usage error and print their help."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[3] / "benchmarks"
sys.path.insert(0, str(BENCH))

BAD = {
    "ask": ["--repeat", "x"],
    "ask_scale": ["--repeat", "0"],
    "ingest": ["--docs", "0"],
    "realtext": ["--minutes", "0"],
    "scale": ["--sizes", "0"],
    "server": ["--replicas", "-1"],
    "concurrency": ["--sessions", "0"],
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_arguments_are_a_usage_error(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(name)
    with pytest.raises(SystemExit) as exc:
        module.main(BAD[name])
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(BAD))
def test_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = importlib.import_module(name)
    with pytest.raises(SystemExit) as exc:
        module.main(["--help"])
    assert exc.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_verdicts_compare_each_target() -> None:
    ask_scale = importlib.import_module("ask_scale")

    def row(p50: float, p95: float, cold: float, rss: float) -> dict[str, object]:
        return {
            "stages_ms": {"total": {"p50": p50, "p95": p95}},
            "cold_start_s": cold,
            "peak_rss_mb": rss,
        }

    rows = {
        "1000": row(40, 70, 5, 500),
        "10000": row(90, 200, 6, 700),
        "100000": row(160, 300, 9, 2000),
    }
    v = ask_scale.verdicts(rows)
    assert v["ask_p50_10k_ms"] == (90, 100.0, True)
    assert v["ask_p50_100k_ms"] == (160, 150.0, False)
    assert v["p95_over_p50_10000"][2] is False and v["p95_over_p50_1000"][2] is True
    assert v["p50_100k_over_1k"] == (4.0, 2.0, False)
    assert v["cold_start_s_100000"][2] is False and v["peak_rss_mb_100000"][2] is False
