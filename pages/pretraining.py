"""Pretraining: placeholder until the widget issue builds the real page."""

import streamlit as st

st.title("Pretraining")
st.info("Coming next: this page is being built.", icon=":material/construction:")
st.markdown("""Chapter 5, live on the CPU. This page will let you:

- train a small GPT on the journal itself, on *The Verdict* or on your own text;
- watch training and validation loss fall in a live chart, with sample text after each epoch;
- stop, resume and compare runs; the newest checkpoint becomes the model the other widgets use.""")
