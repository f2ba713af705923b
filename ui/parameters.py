"""Parameter pie charts (book section 4.6): where a GPT's parameters live, and what they cost."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import UserError
from core.gpt.config import PRESETS, get_preset, validate_config
from core.gpt.params import ParameterCount, count_parameters
from core.text import plural
from core.widgets import param_view as pv
from ui import experiments as xp
from ui.widget_state import starting_state

DIMENSIONS = {  # key: (label, upper bound, help)
    "emb_dim": ("emb_dim", 16_384, "numbers per token vector"),
    "n_layers": ("n_layers", 128, "transformer blocks"),
    "n_heads": ("n_heads", 256, "attention heads; must divide emb_dim"),
    "context_length": ("context_length", 131_072, "positions the model can see at once"),
    "vocab_size": ("vocab_size", 1_000_000, "tokens in the vocabulary"),
}
# The journal's day 14: the learner's estimate of what GPT-2 small holds beside the token embedding,
# attention and feed-forward ("positional embeddings, LayerNorms, biases"), shown beside the exact count.
DAY14_PRESET = "gpt2-small"
DAY14_ESTIMATE = 1_400_000
COLOURS = alt.Scale(
    domain=list(pv.COMPONENT_LABELS.values()),
    range=["#4c78a8", "#9ecae9", "#f58518", "#54a24b", "#e45756", "#b279a2"],
)


@st.cache_data(max_entries=64, show_spinner=False)
def counted(cfg_items: tuple) -> ParameterCount:
    return count_parameters(dict(cfg_items))


@st.cache_data(max_entries=8, show_spinner=False)
def sizes(tied: bool, extra_items: tuple) -> list[dict[str, Any]]:
    return pv.preset_rows(tied, {name: dict(items) for name, items in extra_items})


@st.cache_data(max_entries=64, show_spinner=False)
def compute_rows(cfg_items: tuple, context_tokens: int) -> list[dict[str, Any]]:
    return pv.weights_vs_compute(dict(cfg_items), context_tokens)


def frozen(cfg: dict[str, Any]) -> tuple:
    """A hashable form of a config, for the caches."""
    return tuple(sorted(cfg.items()))


# ---------------------------------------------------------------------------------------------
# Choosing a model


def config_section(key: str) -> tuple[str, dict[str, Any]] | None:
    """A preset, optionally with its dimensions edited; None (with a message) when they do not fit together."""
    names = list(PRESETS)
    cols = st.columns([2, 1, 1])
    preset = cols[0].selectbox("Model size", names, index=names.index("gpt2-small"), key=f"{key}_preset")
    tied = cols[1].toggle("Weight tying", value=False, key=f"{key}_tied",
                          help="The output head reuses the token embedding matrix, as in OpenAI's GPT-2.")
    qkv_bias = cols[2].toggle("qkv_bias", value=False, key=f"{key}_qkv_bias",
                              help="Biases in the query, key and value projections (OpenAI's GPT-2 has them).")
    cfg = {**PRESETS[preset], "tie_weights": tied, "qkv_bias": qkv_bias}
    name = preset
    if st.toggle("Set the dimensions myself", value=False, key=f"{key}_custom"):
        cols = st.columns(len(DIMENSIONS))
        for col, (field, (label, upper, hint)) in zip(cols, DIMENSIONS.items(), strict=False):
            cfg[field] = int(col.number_input(label, 1, upper, int(PRESETS[preset][field]), help=hint,
                                              key=f"{key}_{field}_{preset}"))
        name = "your model"
    try:
        return name, validate_config(cfg)
    except UserError as err:
        st.error(f"These dimensions do not make a model: {err}.")
        return None


# ---------------------------------------------------------------------------------------------
# Counting


def totals_section(name: str, cfg: dict[str, Any]) -> ParameterCount:
    count = counted(frozen(cfg))
    tied = cfg["tie_weights"]
    left, right = st.columns(2)
    left.metric("Parameters without weight tying", f"{count.total:,}")
    right.metric("With weight tying", f"{count.total_tied:,}",
                 help="The output head reuses the token embedding matrix, so it adds nothing of its own.")
    params = pv.model_parameters(count, tied)
    left.metric("Memory in fp32", pv.format_bytes(4 * params), help="4 bytes per parameter (1 MB = 1024² bytes).")
    right.metric("Memory in bf16", pv.format_bytes(2 * params), help="2 bytes per parameter.")
    st.caption(
        f"{name} holds **{pv.model_parameters(count, tied):,}** parameters (weight tying "
        f"{'on' if tied else 'off'}; memory for the weights alone): emb_dim {cfg['emb_dim']:,}, "
        f"{plural(cfg['n_layers'], 'layer')}, {plural(cfg['n_heads'], 'head')}, "
        f"context {cfg['context_length']:,}, vocabulary "
        f"{cfg['vocab_size']:,}. Counted from the real model built on PyTorch's meta device (shapes only, no memory)."
    )
    return count


def donut(rows: list[dict[str, Any]], size: int = 190) -> alt.Chart:
    """Components as a ring; the legend sits beside it and the ring keeps its size ("pad")."""
    frame = pd.DataFrame(rows).assign(order=range(len(rows)))  # rows come in the book's order
    return (
        alt.Chart(frame)
        .mark_arc(innerRadius=size // 4, stroke="white")
        .encode(
            theta=alt.Theta("parameters:Q", stack=True),
            color=alt.Color("component:N", scale=COLOURS, sort=list(pv.COMPONENT_LABELS.values()),
                            legend=alt.Legend(title=None, orient="right", labelLimit=0)),
            order=alt.Order("order:Q"),
            tooltip=["component:N", alt.Tooltip("parameters:Q", format=","), alt.Tooltip("share:Q", format=".2%")],
        )
        .properties(width=size, height=size, autosize=alt.AutoSizeParams(type="pad"))
    )


def component_table(count: ParameterCount, tied: bool) -> pd.DataFrame:
    rows = pv.component_rows(count, tied)
    per_block = {pv.COMPONENT_LABELS[k]: v for k, v in count.per_block.items()}
    frame = pd.DataFrame(rows)
    frame["per block"] = frame["component"].map(per_block)
    frame["share"] = frame["share"].map(lambda s: f"{s:.2%}")
    frame["parameters"] = frame["parameters"].map(lambda n: f"{n:,}")
    frame["per block"] = frame["per block"].map(lambda n: "" if pd.isna(n) else f"{int(n):,}")
    return frame


def components_section(count: ParameterCount, cfg: dict[str, Any]) -> None:
    """Donut and exact table by component, with the day-14 note beside them."""
    st.subheader("Where the parameters live")
    st.markdown(
        "The token embedding holds one vector per vocabulary entry; attention and the feed-forward "
        "repeat in every block, the feed-forward holding twice as many weights as attention because "
        "it widens each vector four times."
    )
    tied = cfg["tie_weights"]
    rows = pv.component_rows(count, tied)
    left, right = st.columns([5, 6])
    left.altair_chart(donut(rows), width="content")
    right.dataframe(component_table(count, tied), hide_index=True)
    if tied:
        right.caption("With weight tying the output head is the token embedding matrix, so it is not counted twice.")
    day14_note(right)


def day14_note(where=st) -> None:
    """The learner's estimate on day 14 beside the exact count."""
    count = counted(frozen(get_preset(DAY14_PRESET)))
    exact = pv.rest_beside_main_parts(count)
    total = count.total_tied  # the day-14 percentages are shares of the tied total
    positions, layer_norms = count.components["positional_embedding"], count.components["layer_norms"]
    where.info(
        f"**Day 14 in the journal.** For GPT-2 small, the rest beside the token embedding, attention "
        f"and feed-forward (\"positional embeddings, LayerNorms, biases\") was estimated at "
        f"~{DAY14_ESTIMATE / 1e6:.1f} M (~{DAY14_ESTIMATE / total:.0%}). Counted exactly: positional "
        f"embedding {positions:,} + LayerNorms {layer_norms:,} = "
        f"**{exact:,}** ({exact / total:.2%} of {total:,}). The biases were never "
        "in that rest: they sit inside attention and the feed-forward."
    )


def sizes_section(name: str, cfg: dict[str, Any]) -> None:
    """Every GPT-2 size (and a custom model) as stacked bars by component."""
    st.subheader("All sizes side by side")
    st.markdown(
        "Going from small to XL mostly adds blocks and widens them: attention and the feed-forward "
        "grow with layers × emb_dim², while the embeddings only grow with emb_dim."
    )
    tied = cfg["tie_weights"]
    extra = () if name in pv.GPT2_PRESETS else ((name, frozen(cfg)),)
    frame = pd.DataFrame(sizes(tied, extra))
    frame["millions"] = frame["parameters"] / 1e6
    frame["component_order"] = frame.groupby("model").cumcount()
    order = list(dict.fromkeys(frame["model"]))
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            y=alt.Y("model:N", sort=order, title=None, axis=alt.Axis(labelOverlap=False)),
            x=alt.X("millions:Q", title="parameters (millions)"),
            color=alt.Color("component:N", scale=COLOURS,
                            legend=alt.Legend(title=None, orient="bottom", columns=3, labelLimit=0)),
            order=alt.Order("component_order:Q"),
            tooltip=["model:N", "component:N", alt.Tooltip("parameters:Q", format=","),
                     alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=36 * len(order), autosize=alt.AutoSizeParams(type="fit-x"))
    )
    st.altair_chart(chart, width="stretch")
    totals = frame.groupby("model", sort=False)["parameters"].sum()
    st.caption(" · ".join(f"{model}: {total:,}" for model, total in totals.items()))


def compute_section(key: str, cfg: dict[str, Any]) -> None:
    """Share of the weights beside share of the compute per token."""
    st.subheader("Weights versus compute")
    st.markdown(
        "Parameters say how much memory a model needs; FLOPs per token say how much work each new "
        "token costs. Attention also compares the token with every earlier one, so its share of "
        "the compute grows with the context while its share of the weights stays put."
    )
    if cfg["context_length"] > 1:
        context = st.slider("Tokens already in the context", 1, cfg["context_length"], cfg["context_length"],
                            key=f"{key}_context_{cfg['context_length']}")
    else:  # a slider needs two ends
        context = 1
        st.caption("With a context of 1 token, attention only ever sees the token itself.")
    rows = compute_rows(frozen(cfg), context)
    frame = pd.DataFrame(rows)
    long = frame.melt(id_vars="part", value_vars=["parameter share", "FLOP share"], var_name="measure",
                      value_name="share")
    chart = (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("share:Q", axis=alt.Axis(format="%"), title=None),
            y=alt.Y("measure:N", title=None),
            row=alt.Row("part:N", title=None, sort=list(frame["part"]),
                        header=alt.Header(labelAngle=0, labelAlign="left", labelFontWeight="bold")),
            color=alt.Color("measure:N", legend=None),
            tooltip=["part:N", "measure:N", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(width=420, height=50)
    )
    st.altair_chart(chart, width="content")
    table = frame.assign(**{
        "parameters": frame["parameters"].map(lambda n: f"{n:,}"),
        "parameter share": frame["parameter share"].map(lambda s: f"{s:.1%}"),
        "FLOPs per token": frame["FLOPs per token"].map(lambda n: f"{n:,}"),
        "FLOP share": frame["FLOP share"].map(lambda s: f"{s:.1%}"),
    })
    st.dataframe(table, hide_index=True)
    st.caption(
        "A multiply-add counts as 2 FLOPs; forward pass only (training costs about three times as much). "
        "The embeddings are lookups and cost no multiplications."
    )


# ---------------------------------------------------------------------------------------------
# Compact version for the journal


def compact(key: str, state: dict | None = None) -> None:
    """A donut for one GPT-2 size with its totals; the day-14 note where the entry asks for it (`note: day14`)."""
    start = starting_state("parameters", state, {"preset": pv.GPT2_PRESETS[0], "note": ""})
    names = list(pv.GPT2_PRESETS)
    preset = st.selectbox("Model size", names, index=names.index(start["preset"]) if start["preset"] in names else 0,
                          key=f"{key}_preset")
    cfg = validate_config(PRESETS[preset])
    count = counted(frozen(cfg))
    left, right = st.columns([3, 2])
    left.altair_chart(donut(pv.component_rows(count, False), size=170), width="content")
    right.metric("Parameters", f"{count.total:,}")
    right.caption(f"{count.total_tied:,} with weight tying · {pv.format_bytes(4 * count.total)} in fp32")
    xp.add_to_entry(key, xp.parameter_config(preset, cfg, count))
    if preset == DAY14_PRESET and start["note"] == "day14":
        day14_note()
