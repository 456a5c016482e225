"""Questions, answers and feedback stay on this machine (the data directory), whatever the
environment says: LangChain's tracing to LangSmith is switched off for the process.

The one place a question leaves the machine is the LLM server an operator configures for an
LLM composer (``--composer openai:...`` with ``ASSISTANT_LLM__BASE_URL``), by their choice.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger(__name__)

_TRACING_ENV = ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING")


def keep_local() -> None:
    """Turn off LangSmith tracing for this process (idempotent)."""
    asked = [name for name in _TRACING_ENV if os.environ.get(name, "").lower() == "true"]
    for name in _TRACING_ENV:
        os.environ[name] = "false"
    try:
        import langsmith

        langsmith.configure(enabled=False)  # also covers values langsmith has already read
    except (ImportError, AttributeError, TypeError):  # an older langsmith reads the env only
        pass
    if asked:
        logger.warning("tracing to LangSmith is disabled (%s was set)", ", ".join(asked))
