"""Guess the next token: play the game a GPT is trained on, against a GPT."""

import streamlit as st

from ui import next_token_game as ng
from ui.code import show_code
from ui.navigation import require_app_navigation

require_app_navigation()

KEY = "next_token_game"

st.title("Guess the next token")
st.markdown(
    "Pretraining asks one question billions of times: what comes next? Here you answer it yourself, on "
    "the journal, *The Verdict*, Tiny Shakespeare or a text of your own, against a model that sees the same "
    "context. After each guess you see the model's whole distribution, where your guess ranks in it, and the "
    "token that really came next."
)

st.subheader("1 · Your opponent and the text")
chosen = ng.model_section(KEY)
text = ng.text_section(KEY)

if chosen is not None and text is not None:
    source, model = chosen
    st.subheader("2 · Play")
    ng.play_section(KEY, source, model, text)
    st.markdown(ng.SCORING)
    show_code("score_round")
    show_code("human_logprob")

st.subheader("3 · Scoreboard")
ng.scoreboard_section(KEY)
