"""Attention visualizer (book chapter 3): self-attention one step at a time, then inside a real GPT."""

import streamlit as st

from ui import attention as att
from ui.code import show_code
from ui.navigation import require_app_navigation

require_app_navigation()

st.title("Attention visualizer")
st.markdown(
    "Self-attention lets every token build a new vector out of the others, weighted by how well "
    "they match. Follow it step by step on a handful of tokens, then look inside a real model."
)

inputs = att.inputs_section("att")
if inputs is not None:
    settings = att.settings("att")
    heads = att.run_attention(inputs, settings)
    att.steps_section(inputs, heads, settings)
    show_code("attention_steps")
    att.focus_section("att", inputs, heads, settings)
att.model_section("att")
show_code("multi_head_attention")
