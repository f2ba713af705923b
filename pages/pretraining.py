"""Pretraining (book chapter 5): train a GPT on the CPU and watch it learn, live."""

import streamlit as st

from ui import pretraining as pt
from ui.code import show_code
from ui.navigation import require_app_navigation

require_app_navigation()

KEY = "pretraining"

st.title("Pretraining")
st.markdown(
    "Chapter 5 on your own CPU: a GPT learns to predict the next token of a text. Pick the text and the "
    "model, press start, and watch the training and validation loss fall while the page stays usable. "
    "Stop whenever you like: the model is saved and becomes the one the Sampling and Spam pages use."
)

st.subheader("1 · The text")
corpus = pt.corpus_section(KEY)

st.subheader("2 · The model and the training settings")
plan = pt.plan_section(KEY, corpus) if corpus is not None else None
show_code("calc_loss_batch")
show_code("calc_loss_loader")

st.subheader("3 · Training, live")
pt.start_section(KEY, plan)
pt.live_section(KEY)
show_code("train_loop")

st.subheader("4 · Saved runs")
pt.runs_section(KEY)
