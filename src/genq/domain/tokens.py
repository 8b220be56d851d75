"""Counting prompt tokens without a model's tokenizer (pure, offline).

Image and video models cut prompts at a token budget (CLIP's 77 for SDXL, 175-250 for the
video models of seed 004). genq has no tokenizer files (it runs offline), so it counts the
way CLIP's BPE behaves on ordinary English: one token per punctuation mark, one per word of
up to seven letters, and one more for every further six letters of a long word. On English
prompts this lands within a few tokens of CLIP's count and errs on the high side, so a
prompt within the budget here is within it for the model.
"""

from __future__ import annotations

import re

_PIECES = re.compile(r"[A-Za-z0-9]+|[^\sA-Za-z0-9]")


def count_tokens(text: str) -> int:
    """The estimated token count of ``text``."""
    total = 0
    for piece in _PIECES.findall(text):
        total += 1 if len(piece) <= 7 else 1 + (len(piece) - 2) // 6
    return total


def truncate_to_tokens(text: str, budget: int) -> str:
    """The longest prefix of ``text``, cut at a word boundary, within ``budget`` tokens."""
    if count_tokens(text) <= budget:
        return text
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:  # the most words that fit
        mid = (lo + hi + 1) // 2
        if count_tokens(" ".join(words[:mid])) <= budget:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]).rstrip(",;:")
