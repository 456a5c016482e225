"""Settings: environment, TOML file, forbidden extra keys, index name, no I/O at import."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from assistant.config import RetrievalSettings, Settings, load_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ASSISTANT_* variable from the caller, and a cwd without an assistant.toml."""
    for key in list(os.environ):
        if key.startswith("ASSISTANT_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


def dotted(key: str, value: Any, config_file: Path | None = None, **other: Any) -> Settings:
    """``load_settings`` with one dotted override ("retrieval.top_k")."""
    overrides: dict[str, Any] = {key: value, **other}
    return load_settings(config_file, **overrides)


def write_toml(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


# --------------------------------------------------------------------------- defaults and env


def test_defaults() -> None:
    settings = Settings()
    assert settings.data_dir == Path(".assistant")
    assert settings.embedding.model == "all-MiniLM-L6-v2"
    assert settings.store.chroma_url is None


def test_env_prefix_and_nested_delimiter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "from-env"))
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "7")
    monkeypatch.setenv("ASSISTANT_CHUNKING__MAX_WORDS", "120")
    monkeypatch.setenv("ASSISTANT_STORE__CHROMA_URL", "http://127.0.0.1:9999")
    settings = load_settings()
    assert settings.data_dir == tmp_path / "from-env"
    assert settings.retrieval.top_k == 7
    assert settings.chunking.max_words == 120
    assert settings.store.chroma_url == "http://127.0.0.1:9999"


def test_unprefixed_env_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATA_DIR", "/nowhere")
    monkeypatch.setenv("RETRIEVAL__TOP_K", "3")
    settings = Settings()
    assert settings.data_dir == Path(".assistant")
    assert settings.retrieval.top_k == RetrievalSettings().top_k


def test_explicit_overrides_beat_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ASSISTANT_DATA_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "7")
    settings = dotted("retrieval.top_k", 9, data_dir=tmp_path / "cli")
    assert settings.data_dir == tmp_path / "cli"
    assert settings.retrieval.top_k == 9
    # None means "option not given": the environment still applies
    settings = dotted("retrieval.top_k", None, data_dir=None)
    assert settings.data_dir == tmp_path / "env"
    assert settings.retrieval.top_k == 7


def test_invalid_env_value_is_a_validation_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "many")
    with pytest.raises(ValidationError, match="top_k"):
        Settings()


# --------------------------------------------------------------------------- TOML


def test_toml_file(tmp_path: Path) -> None:
    config = write_toml(
        tmp_path / "my.toml",
        f"""
        data_dir = "{tmp_path / "from-toml"}"
        [retrieval]
        top_k = 5
        [chunking]
        skip_sections = ["Appendix"]
        """,
    )
    settings = load_settings(config_file=config)
    assert settings.data_dir == tmp_path / "from-toml"
    assert settings.retrieval.top_k == 5
    assert settings.chunking.skip_sections == ["Appendix"]
    assert isinstance(settings, Settings)


def test_env_and_overrides_beat_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = write_toml(tmp_path / "my.toml", "[retrieval]\ntop_k = 5\nk_dense = 11\n")
    monkeypatch.setenv("ASSISTANT_RETRIEVAL__TOP_K", "6")
    settings = load_settings(config_file=config)
    assert (settings.retrieval.top_k, settings.retrieval.k_dense) == (6, 11)
    settings = dotted("retrieval.top_k", 8, config_file=config)
    assert settings.retrieval.top_k == 8


def test_default_toml_in_working_directory(tmp_path: Path) -> None:
    write_toml(tmp_path / "assistant.toml", "[compose]\nfollow_ups = 2\n")
    assert Settings().compose.follow_ups == 2


def test_missing_toml_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="settings file not found"):
        load_settings(config_file=tmp_path / "absent.toml")


# --------------------------------------------------------------------------- extra keys


def test_extra_top_level_key_forbidden() -> None:
    with pytest.raises(ValidationError) as info:
        Settings(colour="blue")  # type: ignore[call-arg]
    assert "colour" in str(info.value)
    assert "extra" in str(info.value).lower()


def test_extra_nested_key_in_toml_forbidden(tmp_path: Path) -> None:
    config = write_toml(tmp_path / "bad.toml", "[retrieval]\ntop_k = 5\ntop_kk = 6\n")
    with pytest.raises(ValidationError) as info:
        load_settings(config_file=config)
    assert "retrieval.top_kk" in str(info.value)
    assert "Extra inputs are not permitted" in str(info.value)


def test_extra_nested_key_in_env_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_CHUNKING__MAX_WORD", "100")
    with pytest.raises(ValidationError, match=r"chunking\.max_word"):
        Settings()


def test_extra_dotted_override_forbidden() -> None:
    with pytest.raises(ValidationError, match=r"store\.nope"):
        dotted("store.nope", 1)


def test_out_of_range_value_rejected() -> None:
    with pytest.raises(ValidationError, match="max_words"):
        dotted("chunking.max_words", 5)


# --------------------------------------------------------------------------- index name


def test_index_name_follows_what_shapes_the_vectors(tmp_path: Path) -> None:
    base = Settings().index_name()
    assert base.startswith("library-") and base == Settings().index_name()
    shaped = [
        dotted("chunking.max_words", 100),
        dotted("chunking.overlap_sentences", 0),
        dotted("chunking.skip_sections", ["Methods"]),
        dotted("embedding.model", str(tmp_path)),
    ]
    names = [s.index_name() for s in shaped]
    assert base not in names
    assert len(set(names)) == len(names)
    same = [
        load_settings(data_dir=tmp_path / "other"),
        dotted("retrieval.top_k", 3),
        dotted("embedding.batch_size", 8),
        dotted("compose.audience", "patient"),
    ]
    assert {s.index_name() for s in same} == {base}
    prefixed = dotted("store.collection_prefix", "mine").index_name()
    assert prefixed == "mine-" + base.removeprefix("library-")


# --------------------------------------------------------------------------- no I/O at import


def test_import_and_settings_do_no_io(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import os
        import assistant.config, assistant.cli, assistant.ingest.pipeline, assistant.models
        from assistant.config import Settings, load_settings
        assistant.cli.build_parser()
        s = load_settings()
        s.index_name()
        print(sorted(os.listdir(".")))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
    env["PYTHONPATH"] = str(REPO)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
    assert not (tmp_path / ".assistant").exists()
