"""Text boxes that take any paste: text over a widget's limit is cut, with a notice, never silently dropped."""

from __future__ import annotations

import streamlit as st

from core.gpt.tokenizers import MAX_TEXT_CHARS
from core.widgets.token_view import prepare_text


def within_limit(text: str | None, limit: int = MAX_TEXT_CHARS) -> str:
    """`text` cut to its first `limit` characters (lone surrogates replaced), with a warning for each change."""
    prepared = prepare_text(text or "", limit)
    for note in prepared.notes:
        st.warning(note, icon=":material/content_cut:")
    return prepared.text
