"""Tokenizer explorer (book chapter 2): text → tokens → token ids → training pairs → vectors."""

import streamlit as st

from ui import tokenizer as tok
from ui.code import show_code
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
show_code("simple_tokenizer")
tok.unknown_word_section("tok", settings)
show_code("simple_tokenizer_v2")
tok.comparison_section(text, settings)
tok.merges_section(settings)
show_code("bpe")
window_ids, window_labels = tok.windows_section("tok", result)
show_code("sliding_window")
tok.embedding_section("tok", window_ids, window_labels, result.vocab_size if result else 0)
show_code("embeddings")
