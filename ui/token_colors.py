"""Text drawn token by token, each token coloured by a signed score (red: positive, blue: negative)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import streamlit as st

POSITIVE = (228, 87, 86)  # the spam red of the Spam page's charts
NEGATIVE = (76, 120, 168)  # the ham blue
FAINTEST = 0.01  # scores this small stay nearly white even when every score is small


def colored_tokens_html(pieces: Sequence[tuple[str, float]], unit: str = "points") -> str:
    """HTML spans, one per (text, score): the colour's strength is the score against the largest one.

    Token text is escaped, so a message holding markup is shown as typed, never run.
    """
    largest = max([abs(score) for _, score in pieces] + [FAINTEST])
    spans = []
    for text, score in pieces:
        red, green, blue = POSITIVE if score > 0 else NEGATIVE
        alpha = min(1.0, abs(score) / largest) * 0.85
        tip = html.escape(f"{text!r}: {score * 100:+.1f} {unit}", quote=True)
        spans.append(f'<span title="{tip}" style="background: rgba({red}, {green}, {blue}, {alpha:.2f}); '
                     f'border-radius: 3px; padding: 1px 0; white-space: pre-wrap">{html.escape(text)}</span>')
    return '<div style="line-height: 2; font-family: monospace">' + "".join(spans) + "</div>"


def show_colored_tokens(pieces: Sequence[tuple[str, float]], unit: str = "points") -> None:
    st.markdown(colored_tokens_html(pieces, unit), unsafe_allow_html=True)
