"""Spam classifier: placeholder until the widget issue builds the real page."""

import streamlit as st

st.title("Spam classifier")
st.info("Coming next: this page is being built.", icon=":material/construction:")
st.markdown("""Chapter 6, hands on. This page will let you:

- fine-tune a GPT to tell spam from normal SMS messages, with live loss and accuracy charts;
- see test accuracy, a confusion matrix and the messages it gets wrong;
- classify your own message, or a whole CSV file of them.""")
