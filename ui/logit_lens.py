"""Logit lens: what each layer of a GPT would predict if it were the last, position by position."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from core.app.model_sources import ModelSource
from core.errors import UserError
from core.gpt.model import GPTModel
from core.gpt.tokenizers import MAX_TEXT_CHARS, TokenizerUnavailable, encode
from core.widgets import logit_lens as ll
from core.widgets.token_view import prepare_text
from ui.heatmap import heatmap, numbered
from ui.models import choose_model, newest_model
from ui.token_labels import token_label

DEFAULT_TEXT = "Every effort moves you forward, one step at a time."
COMPACT_TOKENS = 16
TOP, RANK = "Each layer's top next token", "Rank of the true next token"
UNTRAINED_HINT = ("Every layer of an untrained model guesses noise, so the grid shows no pattern. "
                  "Train a model on the Pretraining page, or download GPT-2, to watch a prediction form.")
CELL_W, CELL_H = 78, 22


def model_section(key: str) -> tuple[ModelSource, GPTModel] | None:
    return choose_model(key, UNTRAINED_HINT)


def text_section(key: str, compact: bool = False) -> list[int] | None:
    """The text as GPT-2 token IDs (`<|endoftext|>` is one token); None with the reason when unusable."""
    field = st.text_input if compact else st.text_area
    text = field("Text", DEFAULT_TEXT, max_chars=MAX_TEXT_CHARS, key=f"{key}_text")
    if not text.strip():
        st.info("Type a text: the lens shows what every layer predicts after each of its tokens.",
                icon=":material/edit:")
        return None
    prepared = prepare_text(text)
    for note in prepared.notes:
        st.caption(note)
    try:
        return encode(prepared.text, allow_special=True)
    except TokenizerUnavailable as err:
        st.error(str(err), icon=":material/cloud_off:")
        return None


def capped(ids: list[int], limit: int) -> list[int]:
    """The first `limit` tokens, with a notice when the text was longer."""
    cut = ll.cap_tokens(ids, limit)
    if cut.dropped:
        st.warning(f"The text has {len(ids):,} tokens; the lens shows the first {limit} "
                   f"({cut.dropped:,} cut) to stay quick and readable.", icon=":material/content_cut:")
    return cut.ids


def lens_of(model: GPTModel, ids: list[int]) -> ll.LogitLens | None:
    try:
        return ll.logit_lens(model, ids)
    except UserError as err:
        st.error(str(err), icon=":material/error:")
        return None


def lens_frame(lens: ll.LogitLens) -> pd.DataFrame:
    """One row per layer and position: the top token, its probability, and the true next token's rank."""
    rows = numbered([token_label(t) for t in lens.token_ids])
    records = []
    for layer, name in enumerate(lens.layers):
        for pos, row in enumerate(rows):
            has_next = pos < len(lens.token_ids) - 1
            records.append({
                "position": row, "layer": name,
                "top": token_label(int(lens.top_ids[layer, pos])), "probability": float(lens.top_probs[layer, pos]),
                "next": token_label(lens.token_ids[pos + 1]) if has_next else "(end of text)",
                "rank": int(lens.true_ranks[layer, pos]) if has_next else None,
                "next probability": float(lens.true_probs[layer, pos]) if has_next else None,
            })
    return pd.DataFrame.from_records(records)


def grid(frame: pd.DataFrame, view: str, title: str = "") -> alt.LayerChart:
    """Positions down, layers across: each cell the top token (coloured by probability) or the true token's rank."""
    positions = list(dict.fromkeys(frame["position"]))
    layers = list(dict.fromkeys(frame["layer"]))
    if view == TOP:
        color = alt.Color("probability:Q", scale=alt.Scale(scheme="blues", domain=[0, 1]), legend=None)
        text, dark = "top:N", "datum.probability > 0.6"
    else:
        frame = frame.assign(log_rank=frame["rank"].map(lambda r: None if pd.isna(r) else math.log10(r)))
        color = alt.Color("log_rank:Q", scale=alt.Scale(scheme="greens", reverse=True, domain=[0, 4.7]), legend=None)
        text, dark = "rank:Q", "datum.rank <= 10"
    base = alt.Chart(frame).encode(
        x=alt.X("layer:N", sort=layers, title=None, axis=alt.Axis(orient="top", labelAngle=0, labelOverlap=False)),
        y=alt.Y("position:N", sort=positions, title="after token", axis=alt.Axis(labelOverlap=False, labelLimit=140)),
    )
    cells = base.mark_rect().encode(color=color, tooltip=[
        alt.Tooltip("position:N", title="after token"), alt.Tooltip("layer:N"), alt.Tooltip("top:N", title="top token"),
        alt.Tooltip("probability:Q", format=".1%"), alt.Tooltip("next:N", title="true next token"),
        alt.Tooltip("rank:Q", title="its rank"), alt.Tooltip("next probability:Q", format=".2%")])
    labels = base.mark_text(fontSize=10, limit=CELL_W - 4).encode(
        text=text, color=alt.when(dark).then(alt.value("white")).otherwise(alt.value("black")))
    return (cells + labels).properties(title=title, width=CELL_W * len(layers), height=CELL_H * len(positions),
                                       autosize=alt.AutoSizeParams(type="pad"))


def show_lens(lens: ll.LogitLens, view: str, title: str = "", where=st) -> None:
    where.altair_chart(grid(lens_frame(lens), view, title), width="content")


def explain(view: str) -> None:
    if view == TOP:
        st.caption("Each cell: the token that layer would predict next, darker the surer it is. The last column "
                   "is the model's real prediction; the embeddings column is what the token alone suggests, before "
                   "any block has mixed in its context. Hover a cell for the true next token and its rank.")
    else:
        st.caption("Each cell: where that layer ranks the token that really comes next (1 = its favourite, "
                   "out of 50,257). Watch the ranks fall from left to right as the blocks refine the guess.")


def difference(a: ll.LogitLens, b: ll.LogitLens, name_a: str, name_b: str) -> None:
    """The change in the true token's rank from model A to model B, layer by layer."""
    try:
        change = ll.rank_change(a, b)
    except UserError:
        st.info(f"The two models have {len(a.layers) - 1} and {len(b.layers) - 1} blocks: a layer-by-layer "
                "difference needs the same depth (two checkpoints of one run, say). Compare them side by side.",
                icon=":material/compare_arrows:")
        return
    rows = numbered([token_label(t) for t in a.token_ids[:-1]])
    chart = heatmap(-change.T, rows, a.layers, title=f"log10(rank in A / rank in B): A = {name_a}, B = {name_b}",
                    scheme="redblue", diverging=True, digits=1, cell_px=44, col_title="layer", row_title="after token")
    st.altair_chart(chart, width="content")
    st.caption("Blue: model B ranks the true next token higher (closer to 1) than model A; red: lower. "
               "1.0 means ten times higher in the ranking.")


# ---------------------------------------------------------------------------------------------
# Compact version for journal entries


def compact(key: str) -> None:
    """The newest model's logit lens over a short text: each layer's top next token."""
    chosen = newest_model()
    if chosen is None:
        return
    source, model = chosen
    st.caption(f"Model: {source.label}.")
    ids = text_section(key, compact=True)
    if ids is None:
        return
    lens = lens_of(model, capped(ids, min(COMPACT_TOKENS, model.cfg["context_length"])))
    if lens is not None:
        show_lens(lens, TOP)
        explain(TOP)
