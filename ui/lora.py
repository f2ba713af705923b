"""LoRA (book appendix E): how few weights LoRA trains, what training memory it saves, and where its adapters sit."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import AppError, UserError
from core.gpt.config import PRESETS, validate_config
from core.gpt.lora import TARGETS
from core.widgets import lora_view as lv

BOOK_RANK, BOOK_ALPHA = 16, 16
MAX_RANK_INPUT = 100_000  # the input accepts more than any layer allows, so the core says why it is too large
HEADS = {
    "classes": "a 2-way classifier head (chapter 6, the spam classifier)",
    "vocabulary": "the vocabulary head (chapter 7, instruction fine-tuning)",
}
DIMENSIONS = ("emb_dim", "n_layers", "n_heads", "context_length", "vocab_size")
METHOD_COLOURS = alt.Scale(domain=["LoRA", "Full fine-tuning"], range=["#54a24b", "#9ecae9"])


@st.cache_data(max_entries=64, show_spinner=False)
def planned(cfg_items: tuple, rank: int, alpha: float, targets: tuple[str, ...],
            num_classes: int | None) -> lv.LoRAPlan:
    return lv.lora_plan(dict(cfg_items), rank, alpha, targets, num_classes)


def plan_or_error(cfg: dict[str, Any], rank: Any, alpha: Any, targets: tuple[str, ...],
                  num_classes: int | None) -> lv.LoRAPlan | None:
    """The counts, or None with a message saying what to change."""
    try:
        return planned(tuple(sorted(cfg.items())), rank, alpha, targets, num_classes)
    except UserError as err:
        st.error(f"These settings make no LoRA model: {err}.", icon=":material/error:")
        return None


# ---------------------------------------------------------------------------------------------
# 1. The model and the adapters


def settings_section(key: str) -> tuple[dict[str, Any], int, float, tuple[str, ...], int | None]:
    """Model size, head, rank, alpha and target layers (defaults: the book's GPT-2 small spam classifier)."""
    names = list(PRESETS)
    cols = st.columns([2, 3, 1])
    preset = cols[0].selectbox("Model size", names, index=names.index("gpt2-small"), key=f"{key}_preset")
    head = cols[1].radio("Output head", list(HEADS), format_func=HEADS.get, key=f"{key}_head")
    qkv_bias = cols[2].toggle("qkv_bias", value=True, key=f"{key}_qkv_bias",
                              help="OpenAI's GPT-2 has biases in its query, key and value projections.")
    cfg = {**PRESETS[preset], "qkv_bias": qkv_bias}
    if st.toggle("Set the dimensions myself", value=False, key=f"{key}_custom"):
        cols = st.columns(len(DIMENSIONS))
        for col, field in zip(cols, DIMENSIONS, strict=True):
            cfg[field] = int(col.number_input(field, 1, 10_000_000, int(PRESETS[preset][field]),
                                              key=f"{key}_{field}_{preset}"))
    cols = st.columns([1, 1, 3])
    rank = int(cols[0].number_input("Rank", 0, MAX_RANK_INPUT, BOOK_RANK, key=f"{key}_rank",
                                    help="Columns of A and rows of B; the book uses 16."))
    alpha = float(cols[1].number_input("Alpha", None, None, float(BOOK_ALPHA), step=1.0, key=f"{key}_alpha",
                                       help="The adapter's output is alpha · (x @ A @ B); the book uses 16."))
    targets = tuple(cols[2].multiselect(
        "Layers with LoRA", TARGETS, default=list(TARGETS), format_func=lv.TARGET_LABELS.get, key=f"{key}_targets",
        help="The book adapts every linear layer."))
    return cfg, rank, alpha, targets, 2 if head == "classes" else None


def counts_section(plan: lv.LoRAPlan, rank: int) -> None:
    left, middle, right = st.columns(3)
    left.metric("Trainable with LoRA", f"{plan.trainable:,}", help="The A and B matrices of every adapter.")
    middle.metric("Base model (frozen)", f"{plan.base:,}")
    right.metric("Share trained", f"{plan.share:.2%}")
    st.caption(f"Rank {rank}: each adapted in × out layer gets rank × (in + out) new weights; the base weights "
               "stay frozen. Counted from the real model built on PyTorch's meta device (shapes only).")


def memory_section(plan: lv.LoRAPlan) -> None:
    """Weights, gradients and AdamW state in fp32, LoRA beside full fine-tuning."""
    st.subheader("Training memory")
    st.markdown("Training keeps a gradient for every trainable weight and AdamW keeps two running averages "
                "for each. Full fine-tuning pays those for every weight; LoRA only for the adapters.")
    frame = pd.DataFrame(lv.memory_rows(plan))
    chart = alt.Chart(frame).mark_bar().encode(
        x=alt.X("MB:Q", title="MB in fp32"),
        y=alt.Y("method:N", title=None, sort=["LoRA", "Full fine-tuning"]),
        color=alt.Color("part:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["method", "part", alt.Tooltip("numbers:Q", format=","), alt.Tooltip("MB:Q", format=",.1f")],
    ).properties(height=120)
    st.altair_chart(chart, width="stretch")
    totals = lv.memory_totals(plan)
    saved = lv.checkpoint_mb(plan)
    st.caption(f"In all: LoRA **{totals['LoRA']:,.1f} MB**, full fine-tuning **{totals['Full fine-tuning']:,.1f} MB** "
               "(4 bytes per number; activations not counted: they depend on the batch, and both methods need "
               f"them). A saved run holds {saved['LoRA']:,.1f} MB of adapters with LoRA against "
               f"{saved['Full fine-tuning']:,.1f} MB of weights.")


def layers_section(plan: lv.LoRAPlan) -> None:
    st.subheader("Where the adapters sit")
    frame = pd.DataFrame(plan.layers)
    for column in ("weights per layer", "LoRA per layer", "LoRA in all"):
        frame[column] = frame[column].map(lambda n: f"{n:,}")
    frame["LoRA / weights"] = frame["LoRA / weights"].map(lambda s: f"{s:.1%}")
    st.dataframe(frame, hide_index=True)
    if any(row["LoRA / weights"] > 1 for row in plan.layers):
        st.caption("Some layers get more adapter weights than they hold (a narrow layer and a large rank): "
                   "the book does this for its 768 × 2 classifier head, where it costs little.")


# ---------------------------------------------------------------------------------------------
# 3. The learner's runs: LoRA beside full fine-tuning


def runs_section(key: str) -> None:
    """Every saved spam classifier with its method, test accuracy, training time and checkpoint size."""
    try:
        rows = lv.finetuning_runs()
    except AppError as err:
        st.error(f"Could not read the saved classifiers: {err}", icon=":material/error:")
        return
    if not rows:
        st.info("No spam classifier yet. On the Spam classifier page (in the sidebar), start from a pretrained "
                "model and fine-tune it twice: once with **LoRA adapters** under *Train*, once with the book's "
                "last block. Both runs then appear here side by side.", icon=":material/model_training:")
        return
    frame = pd.DataFrame(rows).drop(columns="created")
    st.dataframe(frame, hide_index=True, key=f"{key}_runs", column_config={
        "trainable parameters": st.column_config.NumberColumn(format="localized"),
        "test accuracy": st.column_config.NumberColumn(format="percent"),
        "training time (s)": st.column_config.NumberColumn(format="%.0f"),
        "checkpoint MB": st.column_config.NumberColumn(format="%.2f"),
    })
    st.caption("Measured on this machine from the runs saved here: the time is the training loop's wall-clock "
               "time (other work on the same CPU slows it), the size what the run's folder takes on disk. A LoRA "
               "run saves its adapters and the new head only, and needs its base model to classify.")


# ---------------------------------------------------------------------------------------------
# Compact version for the journal


def compact(key: str) -> None:
    """A rank slider and the trainable count of the book's GPT-2 small spam classifier."""
    rank = st.slider("LoRA rank", 1, 64, BOOK_RANK, key=f"{key}_rank")
    cfg = validate_config({**PRESETS["gpt2-small"], "qkv_bias": True})
    plan = plan_or_error(cfg, rank, BOOK_ALPHA, TARGETS, 2)
    if plan is None:
        return
    totals = lv.memory_totals(plan)
    left, right = st.columns(2)
    left.metric("Trainable parameters", f"{plan.trainable:,}", help=f"of {plan.base:,} in GPT-2 small")
    right.metric("Training memory (fp32)", f"{totals['LoRA']:,.0f} MB",
                 delta=f"{totals['LoRA'] - totals['Full fine-tuning']:,.0f} MB vs full", delta_color="inverse")
    st.caption(f"GPT-2 small as the spam classifier, LoRA on every linear layer: {plan.share:.2%} of the weights "
               "train (the book: 2,666,528 at rank 16).")
