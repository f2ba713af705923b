"""Small helpers for the sentences widgets show."""

from __future__ import annotations


def plural(n: int, noun: str, plural_noun: str | None = None) -> str:
    """The count and its noun in agreement: '1 token', '2 tokens', '1,024 tokens' ('1 entry', '3 entries')."""
    return f"{n:,} {noun if n == 1 else plural_noun or noun + 's'}"
