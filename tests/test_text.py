"""Counts in sentences: the noun agrees with the number."""

from __future__ import annotations

import pytest

from core.text import plural


@pytest.mark.parametrize(
    "n, noun, plural_noun, expected",
    [(1, "token", None, "1 token"), (0, "token", None, "0 tokens"), (2, "step", None, "2 steps"),
     (1_024, "token", None, "1,024 tokens"), (1, "entry", "entries", "1 entry"), (3, "entry", "entries", "3 entries"),
     (1, "new token", None, "1 new token")],
)
def test_plural(n, noun, plural_noun, expected):
    assert plural(n, noun, plural_noun) == expected
