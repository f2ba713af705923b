"""Tokenizer: placeholder until the widget issue builds the real page."""

import streamlit as st

st.title("Tokenizer")
st.info("Coming next: this page is being built.", icon=":material/construction:")
st.markdown("""Chapter 2, made visible. This page will let you:

- paste any text and see it as GPT-2 tokens with their IDs, counts and the decoded round trip;
- compare GPT-2's byte-pair encoding with the book's simple tokenizers and a BPE trained from scratch;
- follow the data pipeline: sliding-window input/target pairs and the token plus positional embeddings.""")
