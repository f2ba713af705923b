"""Parameters: placeholder until the widget issue builds the real page."""

import streamlit as st

st.title("Parameters")
st.info("Coming next: this page is being built.", icon=":material/construction:")
st.markdown("""Chapter 4, counted. This page will let you:

- pick a GPT-2 size or your own settings and see where the parameters live, as a donut chart and a table;
- compare sizes side by side, with memory at fp32 and bf16;
- check the day-14 notes against figures computed from the real model.""")
