"""The systems an eval run scores side by side, and how a baseline "answers"."""

SYSTEMS = ("ours", "bm25", "dense")
SYSTEM_LABELS = {
    "ours": "ours (hybrid chain)",
    "bm25": "BM25 alone",
    "dense": "dense alone (Chroma similarity_search)",
}
NAIVE_CITED_CHUNKS = 3
"""A baseline's naive answer cites the sources of its top-3 chunks."""
