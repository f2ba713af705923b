"""Sampling (book section 5.3): from next-token scores to text, one stage at a time."""

import streamlit as st

from ui import sampling as sm
from ui import side_by_side
from ui.code import show_code
from ui.navigation import require_app_navigation

require_app_navigation()

KEY = "sampling"

st.title("Sampling")
st.markdown(
    "A GPT does not write words: it scores every one of its 50,257 tokens as the next one. This page shows "
    "how those scores become text. Top-k keeps the best scores, temperature sharpens or flattens them, "
    "softmax turns them into probabilities, top-p keeps the most likely ones, and one token is drawn."
)

st.subheader("1 · Model and prompt")
chosen = sm.model_section(KEY)
if chosen is not None:
    source, model = chosen
    prompt = sm.prompt_section(KEY, model)

    st.subheader("2 · How to choose the next token")
    strategy = sm.strategy_section(KEY)

    if prompt is not None:
        st.subheader("3 · One token at a time")
        sm.steps_section(KEY, model, prompt, strategy)
        show_code("sampling_stages")

        st.subheader("4 · Many tokens at once")
        show_code("generate")
        sm.generate_section(KEY, model, prompt, strategy)

        st.subheader("5 · Two models side by side")
        side_by_side.section(KEY, prompt.ids, strategy, sm.seed(KEY))
