"""Parameter pie charts (book section 4.6): where a GPT's parameters live and what they cost."""

import streamlit as st

from ui import parameters as par
from ui.code import show_code
from ui.navigation import require_app_navigation

require_app_navigation()

st.title("Parameters: where a GPT's weights live")
st.markdown(
    "Every number below is counted from the real model of chapter 4, built for the size you pick. "
    "Change the size, tie the output head to the token embedding, or set your own dimensions."
)

chosen = par.config_section("par")
if chosen is not None:
    name, cfg = chosen
    count = par.totals_section(name, cfg)
    par.components_section(count, cfg)
    show_code("gpt_model")
    show_code("transformer_block")
    par.sizes_section(name, cfg)
    par.compute_section("par", cfg)
    show_code("count_parameters")
