"""Prompt texts from prompts/ (shipped as package data), with their {variables} checked."""

from __future__ import annotations

import string
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import yaml

EXPECTED_VARIABLES: dict[str, frozenset[str]] = {
    "condense": frozenset({"history", "question"}),
    "answer": frozenset({"audience", "question", "sources", "cannot_answer"}),
    "judge": frozenset({"question", "answer", "sources"}),
    "disclaimer": frozenset(),
}

CANNOT_ANSWER_PHRASE = "The library does not hold evidence that answers this question."
"""The one 'cannot answer' statement, shared by composers, renderer, UI and tests."""


def prompts_dir() -> Path:
    """prompts/ next to the package in a checkout, or the copy inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "prompts", here / "_data" / "prompts"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("prompts/ directory not found next to the assistant package")


def template_variables(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@cache
def load_prompt(name: str) -> str:
    """The text of prompts/<name>.txt; raises if its variables are not the expected ones."""
    text = (prompts_dir() / f"{name}.txt").read_text(encoding="utf-8").strip()
    expected = EXPECTED_VARIABLES.get(name)
    if expected is not None and template_variables(text) != expected:
        raise ValueError(
            f"prompts/{name}.txt uses variables {sorted(template_variables(text))}, "
            f"expected {sorted(expected)}"
        )
    return text


def disclaimer() -> str:
    return load_prompt("disclaimer")


@lru_cache(maxsize=1)
def glossary() -> dict[str, dict[str, Any]]:
    """Plain-language explanations of the library's technical terms (prompts/glossary.yaml)."""
    data = yaml.safe_load((prompts_dir() / "glossary.yaml").read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError("prompts/glossary.yaml must be a mapping of term -> entry")
    return data
