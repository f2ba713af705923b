"""Logit lens: read a GPT's residual stream after every block through its own output head."""

import streamlit as st

from core.widgets.logit_lens import MAX_LENS_TOKENS
from ui import logit_lens as lens_ui
from ui.code import show_code
from ui.navigation import require_app_navigation

require_app_navigation()

KEY = "logit_lens"

st.title("Logit lens")
st.markdown(
    "A GPT only predicts at the very end: the final LayerNorm and the output head turn the last block's "
    "vectors into scores for every token. The logit lens applies that same norm and head after *every* block, "
    "as if the model stopped there. Each layer's guess shows how the prediction forms on its way up."
)
show_code("logit_lens")
show_code("lens_logits")

st.subheader("1 · Model and text")
chosen = lens_ui.model_section(KEY)
compare = st.toggle("Compare with a second model", key=f"{KEY}_compare",
                    help="For example your model against GPT-2, or an early checkpoint against a later one.")
other = None
if compare:
    st.markdown("**Second model**")
    other = lens_ui.model_section(f"{KEY}_b")
ids = lens_ui.text_section(KEY)

if chosen is not None and ids is not None and (other is not None or not compare):
    source, model = chosen
    models = [chosen] if other is None else [chosen, other]
    limit = min([MAX_LENS_TOKENS] + [m.cfg["context_length"] for _, m in models])
    ids = lens_ui.capped(ids, limit)
    lenses = [lens_ui.lens_of(m, ids) for _, m in models]

    if all(lenses):
        st.subheader("2 · What each layer predicts")
        view = st.radio("Show", (lens_ui.TOP, lens_ui.RANK), horizontal=True, key=f"{KEY}_view")
        if view == lens_ui.RANK and len(ids) < 2:
            st.info("The rank of the true next token needs at least two tokens of text.")
        elif len(lenses) == 1:
            lens_ui.show_lens(lenses[0], view)
        else:
            columns = st.columns(2) if sum(len(lens.layers) for lens in lenses) <= 14 else (st, st)
            for column, (src, _), lens in zip(columns, models, lenses, strict=True):
                lens_ui.show_lens(lens, view, title=src.label, where=column)
        lens_ui.explain(view)

        if len(lenses) == 2 and len(ids) >= 2:
            st.subheader("3 · What changed between the two models")
            lens_ui.difference(lenses[0], lenses[1], models[0][0].label, models[1][0].label)
