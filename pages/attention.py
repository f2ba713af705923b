"""Attention: placeholder until the widget issue builds the real page."""

import streamlit as st

st.title("Attention")
st.info("Coming next: this page is being built.", icon=":material/construction:")
st.markdown("""Chapter 3, step by step. This page will let you:

- walk through self-attention on the book's six-token example and on your own text: scores, scaling, softmax weights, context vectors;
- switch the causal mask and dropout on and off, and pick a head of multi-head attention;
- see which tokens a real model attends to, layer by layer.""")
