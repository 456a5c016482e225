"""Vocabulary: general clinical wording (prompts/vocabulary.yaml) and the terms of the library
being asked (derived from it at ingest). The offline ask steps read both; none of them knows a
drug or a disease of its own."""
