"""Coloured tokens: escaped text, red for a positive score and blue for a negative one, strength by size."""

from __future__ import annotations

import re

from ui.token_colors import NEGATIVE, POSITIVE, colored_tokens_html


def spans(markup: str) -> list[tuple[str, str]]:
    return re.findall(r'<span title="[^"]*" style="background: (rgba\([^)]*\))[^"]*">([^<]*)</span>', markup)


def test_text_is_escaped_and_kept_whole():
    markup = colored_tokens_html([("<script>", 0.2), (' "a" & b', -0.1)])
    assert "<script>" not in markup
    assert [text for _, text in spans(markup)] == ["&lt;script&gt;", " &quot;a&quot; &amp; b"]


def test_colour_follows_the_sign_and_strength_the_size():
    (strong, _), (weak, _), (negative, _) = spans(colored_tokens_html([("a", 0.4), ("b", 0.1), ("c", -0.2)]))
    assert strong == f"rgba{(*POSITIVE, 0.85)}" and weak.startswith(f"rgba({POSITIVE[0]}")
    assert float(weak.rsplit(",", 1)[1][:-1]) < float(strong.rsplit(",", 1)[1][:-1])
    assert negative.startswith(f"rgba({NEGATIVE[0]}, {NEGATIVE[1]}, {NEGATIVE[2]}")


def test_tiny_scores_stay_faint():
    (colour, _), = spans(colored_tokens_html([("a", 0.001)]))
    assert float(colour.rsplit(",", 1)[1][:-1]) < 0.1
