"""Sampling: placeholder until the widget issue builds the real page."""

import streamlit as st

st.title("Sampling")
st.info("Coming next: this page is being built.", icon=":material/construction:")
st.markdown("""Chapter 5's decoding strategies. This page will let you:

- see the next-token distribution at each stage: raw, after top-k, after temperature, after top-p;
- add one token at a time, or generate many, with greedy, temperature, top-k and top-p sampling;
- try the strict and creative presets from the day-20 notes.""")
