"""Two models continue one prompt with the same settings and seed, token by token, side by side."""

from __future__ import annotations

import html

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import UserError
from core.widgets.sampling_view import Strategy
from core.widgets.side_by_side import Continuation, continue_prompt, first_divergence
from ui.models import choose_model
from ui.token_labels import token_label

HINT = "Its continuation is noise: a useful baseline for what training adds."
MAX_TOKENS = 200


def section(key: str, prompt_ids: list[int], strategy: Strategy, seed: int) -> None:
    """Choose two models, generate with both, and show where their texts part ways."""
    cols = st.columns(2)
    chosen = []
    for col, side in zip(cols, "AB", strict=True):
        with col:
            st.markdown(f"**Model {side}**")
            chosen.append(choose_model(f"{key}_side_{side.lower()}", HINT))
    count = st.number_input("Tokens to generate with each", 1, MAX_TOKENS, 30, key=f"{key}_side_count")
    if None in chosen:
        return
    (source_a, model_a), (source_b, model_b) = chosen
    made_for = (source_a, source_b, tuple(prompt_ids), strategy, seed, int(count))
    if st.button("Generate with both", type="primary", key=f"{key}_side_generate", icon=":material/compare:"):
        try:
            with st.spinner("Generating with both models..."):
                both = [continue_prompt(m, prompt_ids, int(count), strategy, seed) for m in (model_a, model_b)]
        except UserError as err:
            st.error(str(err), icon=":material/error:")
            return
        st.session_state[f"{key}_side"] = (made_for, both)
    shown = st.session_state.get(f"{key}_side")
    if shown is None or shown[0] != made_for:
        st.caption("Both models get the prompt, settings and seed above; greedy settings show the clearest contrast.")
        return
    a, b = shown[1]
    diverge = first_divergence(a.ids, b.ids)
    if diverge is None:
        st.success("Both models wrote exactly the same tokens.", icon=":material/done_all:")
    else:
        st.info(f"The two continuations part ways at token {diverge + 1}: underlined in red from there on.",
                icon=":material/call_split:")
    for col, side, source, continuation in zip(st.columns(2), "AB", (source_a, source_b), (a, b), strict=True):
        col.markdown(f"**{side}: {source.label}**")
        col.markdown(tokens_html(continuation, diverge), unsafe_allow_html=True)
    st.altair_chart(probability_chart(a, b, diverge), width="stretch")
    st.caption("Each token's shade and the chart show how probable the model found the token it chose, before "
               "top-k, temperature and top-p (hover a token for the probability it was drawn with).")


def tokens_html(continuation: Continuation, diverge: int | None) -> str:
    """The continuation as token chips shaded by probability, underlined from the divergence on."""
    chips = []
    for i, (token, p, raw) in enumerate(zip(continuation.ids, continuation.probs, continuation.raw_probs,
                                            strict=True)):
        underline = "border-bottom:3px solid #d62728;" if diverge is not None and i >= diverge else ""
        chips.append(f'<span title="model {raw:.1%}, drawn with {p:.1%}" style="background:rgba(76,120,168,'
                     f'{0.08 + 0.6 * raw:.2f});{underline}padding:0 2px;margin:1px;border-radius:3px;'
                     f'display:inline-block">{html.escape(token_label(token))}</span>')
    return "<div style='line-height:1.9'>" + "".join(chips) + "</div>"


def probability_chart(a: Continuation, b: Continuation, diverge: int | None) -> alt.LayerChart | alt.Chart:
    rows = [{"token number": i + 1, "model": side, "probability": raw, "token": token_label(token)}
            for side, c in (("A", a), ("B", b)) for i, (token, raw) in enumerate(zip(c.ids, c.raw_probs, strict=True))]
    lines = alt.Chart(pd.DataFrame(rows)).mark_line(point=True).encode(
        x=alt.X("token number:Q", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("probability:Q", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="~%")),
        color=alt.Color("model:N", title="model"),
        tooltip=["model", "token number", "token", alt.Tooltip("probability:Q", format=".1%")],
    ).properties(height=220)
    if diverge is None:
        return lines
    rule = alt.Chart(pd.DataFrame([{"token number": diverge + 1}])).mark_rule(color="#d62728", strokeDash=[4, 3])
    return lines + rule.encode(x="token number:Q")
