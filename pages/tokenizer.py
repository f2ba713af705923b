"""Tokenizer explorer (book chapter 2): text → tokens → token ids → training pairs → vectors."""

import streamlit as st

from ui import tokenizer as tok
from ui.navigation import require_app_navigation

require_app_navigation()

st.title("Tokenizer explorer")
st.markdown(
    "A language model never sees letters. Its tokenizer cuts text into pieces from a fixed "
    "vocabulary and replaces each piece by its number; everything after that is arithmetic on those numbers."
)

text = tok.text_input("tok")
settings = tok.settings("tok")
result = tok.tokens_section(text, settings)
tok.unknown_word_section("tok", settings)
tok.comparison_section(text, settings)
tok.merges_section(settings)
window_ids, window_labels = tok.windows_section("tok", result)
tok.embedding_section("tok", window_ids, window_labels, result.vocab_size if result else 0)
