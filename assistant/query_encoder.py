"""A question's embedding without torch: the same BERT sentence encoder, forward pass in numpy.

Answering a question embeds one short text. Loading sentence-transformers for that imports
torch, transformers and scikit-learn: 12-15 s and ~500 MB on the 2-core machine, before the
first answer. This module reads the same model directory (``tokenizer.json`` with the Rust
``tokenizers`` package, ``model.safetensors`` with ``safetensors.numpy``) and runs the same
computation in float32 numpy: embeddings, post-LayerNorm encoder layers with exact GELU, mean
pooling over tokens and L2 normalisation, truncated to the model's ``max_seq_length``. It loads
in well under a second, and tests check that its vectors equal sentence-transformers' (cosine
>= 0.9999) on real sentences.

Only models of that shape are read this way (``supports`` checks the directory: a BERT
encoder with mean pooling and a Normalize module); anything else uses sentence-transformers.
Documents are always embedded by sentence-transformers (batched, at ingest).
"""

from __future__ import annotations

import json
import math
import threading
from pathlib import Path

import numpy as np

_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
_P = 0.3275911


def _erf(x: np.ndarray) -> np.ndarray:
    """Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32 resolution here)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + _P * a)
    poly = ((((_A[4] * t + _A[3]) * t + _A[2]) * t + _A[1]) * t + _A[0]) * t
    return sign * (1.0 - poly * np.exp(-a * a))


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def single_threaded_numpy_blas() -> None:
    """One BLAS thread for numpy in this process. The ask path multiplies small matrices
    (tens of tokens by 384); a second OpenBLAS thread only spin-waits, and with questions
    answered side by side the pools fight over the cores: one encode took 175 ms with two
    threads and 35 ms with one on the loaded 2-core machine (15 ms when it is quiet). Torch's
    own thread pool (used at ingest) is not touched."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover - installed with the project
        return
    for lib in ThreadpoolController().lib_controllers:
        if lib.user_api == "blas" and "numpy" in str(lib.filepath):
            lib.set_num_threads(1)


def supports(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` is a sentence-transformers BERT model this encoder reproduces."""
    root = Path(model_dir)
    try:
        config = json.loads((root / "config.json").read_text())
        modules = json.loads((root / "modules.json").read_text())
        pooling = json.loads((root / "1_Pooling" / "config.json").read_text())
    except (OSError, ValueError):
        return False
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    return (
        config.get("model_type") == "bert"
        and config.get("hidden_act") == "gelu"
        and config.get("position_embedding_type", "absolute") == "absolute"
        and kinds == ["Transformer", "Pooling", "Normalize"]
        and pooling.get("pooling_mode_mean_tokens") is True
        and not any(
            pooling.get(k)
            for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens")
            + ("pooling_mode_mean_sqrt_len_tokens",)
        )
        and (root / "tokenizer.json").is_file()
        and (root / "model.safetensors").is_file()
    )


class QueryEncoder:
    """Embeds one text at a time, as the sentence-transformers model in ``model_dir`` does."""

    def __init__(self, model_dir: str | Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        root = Path(model_dir)
        config = json.loads((root / "config.json").read_text())
        st_config = root / "sentence_bert_config.json"
        max_len = 256
        if st_config.is_file():
            max_len = int(json.loads(st_config.read_text()).get("max_seq_length", max_len))
        self.max_len = min(max_len, int(config["max_position_embeddings"]))
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_len)
        raw = load_file(str(root / "model.safetensors"))
        prefix = "bert." if "bert.embeddings.word_embeddings.weight" in raw else ""
        self.w = {
            k[len(prefix) :]: v.astype(np.float32)
            for k, v in raw.items()
            if k.startswith(prefix) and v.dtype != np.int64
        }
        for i in range(self.layers):  # one fused Q/K/V projection per layer
            base = f"encoder.layer.{i}.attention.self."
            self.w[base + "qkv.weight"] = np.concatenate(
                [self.w[base + f"{n}.weight"].T for n in ("query", "key", "value")], axis=1
            )
            self.w[base + "qkv.bias"] = np.concatenate(
                [self.w[base + f"{n}.bias"] for n in ("query", "key", "value")]
            )
            for name in ("attention.output.dense", "intermediate.dense", "output.dense"):
                key = f"encoder.layer.{i}.{name}.weight"
                self.w[key + ".T"] = np.ascontiguousarray(self.w[key].T)
        self._lock = threading.Lock()  # the tokenizer's truncation state is shared
        single_threaded_numpy_blas()

    def encode(self, text: str) -> np.ndarray:
        """The L2-normalised embedding of ``text`` (float32, model dimension)."""
        with self._lock:
            ids = np.asarray(self.tokenizer.encode(text).ids, dtype=np.int64)
        w = self.w
        n = len(ids)
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:n]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        ln = "embeddings.LayerNorm"
        x = _layer_norm(x, w[ln + ".weight"], w[ln + ".bias"], self.eps)
        hidden = x.shape[1]
        head = hidden // self.heads
        for i in range(self.layers):
            p = f"encoder.layer.{i}."
            qkv = x @ w[p + "attention.self.qkv.weight"] + w[p + "attention.self.qkv.bias"]
            q, k, v = (
                qkv[:, j * hidden : (j + 1) * hidden]
                .reshape(n, self.heads, head)
                .transpose(1, 0, 2)
                for j in range(3)
            )
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(head)
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            scores /= scores.sum(axis=-1, keepdims=True)
            context = (scores @ v).transpose(1, 0, 2).reshape(n, hidden)
            attn = context @ w[p + "attention.output.dense.weight.T"]
            attn += w[p + "attention.output.dense.bias"]
            x = _layer_norm(
                attn + x,
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            inner = x @ w[p + "intermediate.dense.weight.T"] + w[p + "intermediate.dense.bias"]
            inner = _gelu(inner)
            out = inner @ w[p + "output.dense.weight.T"] + w[p + "output.dense.bias"]
            x = _layer_norm(
                out + x, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps
            )
        pooled = x.mean(axis=0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)
