"""Attention visualizer (book chapter 3): self-attention step by step, then inside a real GPT."""

from __future__ import annotations

import math
from dataclasses import dataclass

import altair as alt
import pandas as pd
import streamlit as st
import torch

from core.errors import UserError
from core.gpt.attention import AttentionSteps, attention_steps
from core.text import plural
from core.widgets import attention_view as av
from ui import experiments as xp
from ui.heatmap import heatmap, numbered
from ui.long_text import within_limit
from ui.models import choose_model
from ui.widget_state import starting_state

TOY = "The book's example"
OWN_TEXT = "Your own short text"
STEPS = ("Inputs", "Queries, keys, values", "Scores", "Scaling", "Causal mask", "Weights", "Dropout", "Context vectors")
DEFAULT_TEXT = "The cat sat on the mat because it was tired"
DEFAULT_MODEL_TEXT = "Every effort moves you forward, one step at a time."
MAX_MODEL_TOKENS = 24


@dataclass(frozen=True)
class Settings:
    trainable: bool  # project inputs to queries, keys and values with weight matrices (section 3.4)
    causal: bool
    dropout: float
    seed: int
    n_heads: int
    head_dim: int
    head: int  # which head to show
    last_step: str


def show(chart: alt.TopLevelMixin, where=st) -> None:
    where.altair_chart(chart, width="content")


# ---------------------------------------------------------------------------------------------
# Inputs and settings


def inputs_section(key: str) -> av.AttentionInputs | None:
    """The book's six tokens, or the user's own words with random embeddings."""
    source = st.radio("Tokens to attend over", (TOY, OWN_TEXT), horizontal=True, key=f"{key}_source")
    if source == TOY:
        return av.toy_inputs()
    left, right = st.columns([3, 1])
    text = within_limit(left.text_input("Your text", DEFAULT_TEXT, key=f"{key}_text"), 2_000)
    dim = right.slider("Numbers per token", 2, 8, 3, key=f"{key}_dim")
    try:
        inputs = av.text_inputs(text or "", dim, av.MAX_TEXT_TOKENS)
    except UserError as err:
        st.info(f"{str(err).capitalize()}.")
        return None
    if inputs.dropped_tokens:
        st.warning(
            f"Only the first {av.MAX_TEXT_TOKENS} tokens are used ({inputs.dropped_tokens} more were cut): "
            "bigger heatmaps stop being readable."
        )
    return inputs


def settings(key: str) -> Settings:
    cols = st.columns(3)
    trainable = cols[0].toggle(
        "Trainable weights W_q, W_k, W_v", value=True, key=f"{key}_trainable",
        help="Off: the inputs themselves act as queries, keys and values (the book's section 3.3).",
    )
    causal = cols[1].toggle("Causal mask", value=False, key=f"{key}_causal",
                            help="Hide later tokens from each token (section 3.5).")
    dropout = cols[2].slider("Dropout", 0.0, 0.9, 0.0, step=0.1, key=f"{key}_dropout",
                             help="Share of attention weights dropped at random during training (section 3.5.2).")
    # Streamlit forgets a widget's value while it is hidden: remember the choices in our own keys,
    # so that hiding the weights (or switching the tokens) keeps the heads and d_k the learner set.
    kept = st.session_state.setdefault(f"{key}_kept", {"heads": 1, "head_dim": 2, "seed": 123})
    n_heads, head_dim, head, seed = 1, 2, 0, kept["seed"]
    if trainable:
        cols = st.columns(4)
        n_heads = kept["heads"] = cols[0].slider("Heads", 1, 4, kept["heads"], key=f"{key}_heads")
        head_dim = kept["head_dim"] = cols[1].slider("Dimensions per head (d_k)", 1, 4, kept["head_dim"],
                                                     key=f"{key}_head_dim")
        head = cols[2].selectbox("Head to show", range(n_heads), format_func=lambda h: f"head {h + 1}",
                                 key=f"{key}_head")
        seed = kept["seed"] = int(cols[3].number_input("Random seed", 0, 2**31 - 1, kept["seed"], key=f"{key}_seed"))
    elif dropout:
        seed = kept["seed"] = int(st.number_input("Random seed", 0, 2**31 - 1, kept["seed"], key=f"{key}_seed"))
    last_step = st.select_slider("Show the steps up to", STEPS, value=STEPS[-1], key=f"{key}_step")
    return Settings(trainable, causal, dropout, seed, n_heads, head_dim, min(head, n_heads - 1), last_step)


def run_attention(inputs: av.AttentionInputs, s: Settings) -> list[AttentionSteps]:
    """Every head's steps (one head without trainable weights)."""
    if not s.trainable:
        return [attention_steps(inputs.inputs, causal=s.causal, dropout=s.dropout, seed=s.seed, scale=False)]
    return av.multi_head_steps(inputs.inputs, s.n_heads, s.head_dim, s.causal, s.dropout, s.seed)


# ---------------------------------------------------------------------------------------------
# The steps


def _step(title: str, text: str) -> None:
    st.markdown(f"**{title}.** {text}")


def steps_section(inputs: av.AttentionInputs, heads: list[AttentionSteps], s: Settings) -> None:
    """Inputs → (queries, keys, values) → scores → scaling → mask → softmax → dropout → context."""
    shown = STEPS[: STEPS.index(s.last_step) + 1]
    steps = heads[s.head]
    tokens = numbered(inputs.labels)
    d_in = inputs.inputs.shape[1]
    d_k = steps.keys.shape[1]
    head_note = f" (head {s.head + 1} of {s.n_heads})" if s.n_heads > 1 else ""

    _step("1 · Inputs", f"Each token arrives as a vector of {d_in} numbers; {inputs.source}.")
    show(heatmap(inputs.inputs, tokens, [f"x{d}" for d in range(d_in)], "inputs", digits=2))

    if "Queries, keys, values" in shown:
        if s.trainable:
            _step(
                "2 · Queries, keys, values" + head_note,
                f"Three weight matrices of {d_in} × {d_k} turn each input into a query (what the token looks "
                "for), a key (what it offers) and a value (what it passes on). Before training they are random.",
            )
            cols = st.columns(3)
            for col, (name, matrix) in zip(cols, (("queries", steps.queries), ("keys", steps.keys),
                                                  ("values", steps.values)), strict=False):
                show(heatmap(matrix, tokens, [f"{name[0]}{d}" for d in range(d_k)], name), col)
        else:
            _step("2 · Queries, keys, values", "Without weights the inputs themselves serve as queries, keys "
                  "and values, as in the book's first, simplified version.")

    if "Scores" in shown:
        _step("3 · Scores", "Every query is compared with every key by a dot product: the larger the score, "
              "the better the two vectors line up.")
        show(heatmap(steps.scores, tokens, tokens, "scores q · k", "purples", row_title="query", col_title="key"))

    if "Scaling" in shown:
        if s.trainable:
            _step(
                "4 · Scaling",
                f"The scores are divided by √d_k = √{d_k} ≈ {math.sqrt(d_k):.2f}, which keeps softmax from "
                "turning nearly one-hot as vectors get longer.",
            )
            show(heatmap(steps.scaled_scores, tokens, tokens, "scores / √d_k", "purples",
                         row_title="query", col_title="key"))
        else:
            _step("4 · Scaling", "Skipped, as in the book's simplified version (section 3.3): the raw scores go "
                  "straight into softmax. With trainable weights they are first divided by √d_k.")

    if "Causal mask" in shown:
        if s.causal:
            _step("5 · Causal mask", "A token may not look ahead: every score above the diagonal becomes −∞, "
                  "which softmax turns into a weight of exactly 0.")
            show(heatmap(steps.masked_scores, tokens, tokens, "masked scores", "purples",
                         row_title="query", col_title="key"))
        else:
            _step("5 · Causal mask", "Off: every token may look at every other one, later ones included. "
                  "A GPT always uses the mask, because it must not see the word it is about to predict.")

    if "Weights" in shown:
        _step("6 · Weights", "Softmax turns each row into positive weights that add up to 1: how the "
              "token shares its attention among the tokens it can see.")
        show(heatmap(steps.weights, tokens, tokens, "attention weights", row_title="query", col_title="key"))

    if "Dropout" in shown:
        if s.dropout > 0:
            _step(
                "7 · Dropout",
                f"During training a random {s.dropout:.0%} of the weights are zeroed and the rest multiplied "
                f"by 1 / (1 − {s.dropout:g}) = {1 / (1 - s.dropout):.2f}, so each row keeps the same sum on "
                "average. The seed fixes which ones; at inference nothing is dropped.",
            )
            show(heatmap(steps.dropped_weights, tokens, tokens, "weights after dropout",
                         row_title="query", col_title="key"))
        else:
            _step("7 · Dropout", "Off (dropout 0): every weight is kept, as when the model is used after training.")

    if "Context vectors" in shown:
        d_v = steps.values.shape[1]
        _step("8 · Context vectors", "Each context vector is the weighted sum of the value vectors: "
              "a blend of the tokens the token attends to, mixed in its own proportions.")
        show(heatmap(steps.context, tokens, [f"z{d}" for d in range(d_v)], "context vectors"))
        if len(heads) > 1:
            combined = av.combined_context(heads)
            st.caption(
                f"Multi-head attention puts the {len(heads)} heads' context vectors side by side: "
                f"{combined.shape[0]} × {combined.shape[1]}, which an output projection then mixes."
            )


def focus_section(key: str, inputs: av.AttentionInputs, heads: list[AttentionSteps], s: Settings) -> None:
    """One token's row of weights as bars, and the sum that makes its context vector."""
    steps = heads[s.head]
    tokens = numbered(inputs.labels)
    # The labels themselves are the options: a new text brings new options, never a stale label.
    query = tokens.index(st.selectbox("What does this token attend to?", tokens, index=min(1, len(tokens) - 1),
                                      key=f"{key}_query"))
    weights = steps.dropped_weights[query]
    show(token_bars(weights, tokens, f"attention of {tokens[query]}"))
    terms = " + ".join(f"{w:.2f}·v{j}" for j, w in enumerate(weights.tolist()) if w)
    st.caption(f"context of {tokens[query]} = {terms}")


def token_bars(weights: torch.Tensor, tokens: list[str], title: str) -> alt.Chart:
    frame = pd.DataFrame({"token": tokens, "weight": weights.tolist()})
    return (
        alt.Chart(frame, title=title)
        .mark_bar()
        .encode(
            x=alt.X("weight:Q", axis=alt.Axis(format="%")),
            y=alt.Y("token:N", sort=tokens, title=None),
            tooltip=["token:N", alt.Tooltip("weight:Q", format=".3f")],
        )
        .properties(width=360, height=max(80, 24 * len(tokens)), autosize=alt.AutoSizeParams(type="pad"))
    )


# ---------------------------------------------------------------------------------------------
# A real model


def model_section(key: str) -> None:
    """Attention maps of a real GPT for the user's text, per layer and head."""
    st.subheader("Inside a real GPT")
    st.markdown(
        "A GPT runs the same computation in every head of every layer, with learned weights instead of "
        "random ones, and always with the causal mask. Each map below is one head's weights: row = the "
        "token that looks, column = the token it looks at."
    )
    chosen = choose_model(key, "Train a model on the Pretraining page, or download GPT-2, to see patterns that "
                               "mean something.")
    if chosen is None:
        return
    source, model = chosen
    text = within_limit(st.text_input("Text for the model", DEFAULT_MODEL_TEXT, key=f"{key}_model_text"), 2_000)
    limit = min(MAX_MODEL_TOKENS, model.cfg["context_length"])
    try:
        tokens = av.text_tokens(text or "", limit)
    except UserError as err:
        st.info(f"{str(err).capitalize()}.")
        return
    if source.trained and not tokens.gpt2:
        st.error("This model reads GPT-2 token ids, and GPT-2's vocabulary is not available here "
                 "(see the sidebar for how to get it).")
        return
    if tokens.dropped_tokens:
        st.warning(f"Only the first {limit} tokens are used ({tokens.dropped_tokens} more were cut) "
                   "to keep the maps readable.")
    maps = av.model_attention(model, tokens.ids)
    n_layers, n_heads = maps.shape[0], maps.shape[1]
    left, right = st.columns(2)
    layer = left.slider("Layer", 1, n_layers, 1, key=f"{key}_layer") - 1
    averaged = "average of all heads"
    head_choice = right.selectbox("Head", [averaged, *(f"head {h + 1}" for h in range(n_heads))],
                                  key=f"{key}_model_head")
    head = None if head_choice == averaged else int(head_choice.split()[1]) - 1
    labels = numbered(tokens.labels)
    matrix = maps[layer].mean(dim=0) if head is None else maps[layer, head]
    many = len(labels) > 12
    show(heatmap(matrix, labels, labels, f"layer {layer + 1}, " + ("all heads averaged" if head is None
         else f"head {head + 1}"), row_title="query", col_title="key", cell_px=26 if many else 32,
         values=not many))

    query = labels.index(st.selectbox("What does this token attend to?", labels, index=len(labels) - 1,
                                      key=f"{key}_model_query"))
    weights = av.attended_by(maps, layer, head, query)[: query + 1]
    show(token_bars(weights, labels[: query + 1], f"attention of {labels[query]} in layer {layer + 1}"))
    st.caption("Only the token itself and the ones before it get weight: the causal mask hides the rest.")

    with st.expander(f"All {plural(n_heads, 'head')} of layer {layer + 1}"):
        cell = max(4, 150 // len(labels))
        cols = st.columns(4)
        for h in range(n_heads):
            show(heatmap(maps[layer, h], labels, labels, f"head {h + 1}", cell_px=cell, values=False)
                 .configure_axis(labels=False, title=None, ticks=False), cols[h % 4])


# ---------------------------------------------------------------------------------------------
# Compact version for the journal


def compact(key: str, state: dict | None = None) -> None:
    """The book's six tokens: attention weights, with and without the causal mask; an entry may open it
    with the mask on (`causal`), with dropout (`dropout`) and several heads (`heads`)."""
    start = starting_state("attention", state, {"causal": False, "dropout": 0.0, "heads": 1})
    inputs = av.toy_inputs()
    causal = st.toggle("Causal mask", value=start["causal"], key=f"{key}_causal")
    dropout, heads = start["dropout"], start["heads"]
    if state and ("dropout" in state or "heads" in state):
        cols = st.columns(2)
        dropout = cols[0].slider("Dropout", 0.0, 0.9, min(max(dropout, 0.0), 0.9), step=0.1, key=f"{key}_dropout")
        heads = cols[1].slider("Heads", 1, 4, min(max(heads, 1), 4), key=f"{key}_heads")
    if heads > 1:
        steps = av.multi_head_steps(inputs.inputs, heads, 2, causal, dropout, 123)[0]
    else:  # the book's section 3.3: the inputs themselves as queries, keys and values
        steps = attention_steps(inputs.inputs, causal=causal, dropout=dropout, seed=123, scale=False)
    tokens = numbered(inputs.labels)
    shown = steps.dropped_weights if dropout else steps.weights
    title = "attention weights" + (" after dropout" if dropout else "") + (f" (head 1 of {heads})" if heads > 1 else "")
    show(heatmap(shown, tokens, tokens, title, row_title="query", col_title="key"))
    st.caption(
        "Each row is one token's softmax weights over the others (they add up to 1)."
        + (" With the mask, no token sees the ones after it." if causal else "")
        + (f" Dropout zeroes about {dropout:.0%} of them and scales the rest by 1/(1 - p)." if dropout else "")
    )
    xp.add_to_entry(key, xp.attention_view(f"The book's six tokens, causal mask {'on' if causal else 'off'}",
                                           {"text": " ".join(inputs.labels), "causal": causal, "dropout": dropout,
                                            "heads": heads}))
