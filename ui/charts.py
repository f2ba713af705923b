"""Charts shared by the training widgets: loss curves (pretraining, fine-tuning) and their encodings."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

# Below the plot, so that it never squeezes the curves; wraps into columns on a narrow screen.
LEGEND = alt.Legend(orient="bottom", direction="horizontal", columns=3, labelLimit=220, title=None)
# One clearly different hue per run (Tableau 10 minus its grey, which the epoch rules use).
RUN_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#9c755f",
               "#ff9da7"]
RUN_SCALE = alt.Scale(range=RUN_COLOURS)
GAP_NOTE = 1.0  # validation above training loss by this much: the model memorises its training text
# Solid for training, dashed for validation; the chart titles say so (a dash legend beside a colour
# legend draws no symbols in Streamlit's theme).
DASHES = alt.StrokeDash("split:N", scale=alt.Scale(domain=["training", "validation"], range=[[1, 0], [6, 3]]),
                        legend=None)


def _x(x: str) -> alt.X:
    return alt.X(f"{x}:Q", title="Tokens seen" if x == "tokens_seen" else "Epochs",
                 axis=alt.Axis(format="~s" if x == "tokens_seen" else "~g"))


def loss_chart(data: pd.DataFrame, ends: list[dict[str, Any]], x: str, batches: pd.DataFrame | None = None,
               height: int = 320) -> alt.LayerChart:
    """Evaluated training and validation loss, one colour per run, dashed for validation; each step's
    batch loss as a faint line; epoch ends as grey rules."""
    colour = alt.Color("run:N", title="Run", scale=RUN_SCALE, legend=LEGEND)
    lines = alt.Chart(data).mark_line(point=True).encode(
        x=_x(x),
        y=alt.Y("loss:Q", title="Loss (cross-entropy)", scale=alt.Scale(zero=False)),
        color=colour,
        strokeDash=DASHES,
        tooltip=["run", "split", "step", "epoch", alt.Tooltip("tokens_seen", format=","),
                 alt.Tooltip("loss", format=".3f"), alt.Tooltip("perplexity", format=",.1f")],
    )
    layers = [lines]
    if batches is not None and not batches.empty:
        layers.append(alt.Chart(batches).mark_line(strokeWidth=1, opacity=0.3).encode(
            x=_x(x), y="loss:Q", color=colour,
            tooltip=[alt.Tooltip("split", title="loss of"), "step", alt.Tooltip("loss", format=".3f")]))
    if ends:
        rules = alt.Chart(pd.DataFrame(ends)).mark_rule(color="gray", strokeDash=[2, 3], opacity=0.6).encode(
            x=f"{x}:Q", tooltip=[alt.Tooltip("epoch", title="end of epoch"), alt.Tooltip("tokens_seen", format=",")])
        layers.append(rules)
    layers += _gap_marks(data, x)
    return alt.layer(*layers).properties(height=height, title=alt.Title(
        "Loss", subtitle="solid: training · dashed: validation · faint: each step's own batch"))


def final_gap(data: pd.DataFrame) -> dict[str, Any] | None:
    """The first run's last evaluation, with validation minus training loss; None without both splits."""
    if data.empty:
        return None
    run = data[data["run"] == data["run"].iloc[0]]
    # A resumed run evaluates again at the step it resumed from: keep the latest row per split.
    last = run[run["step"] == run["step"].max()].drop_duplicates("split", keep="last").set_index("split")
    if not {"training", "validation"} <= set(last.index):
        return None
    train, val = last.loc["training"], last.loc["validation"]
    return {"gap": float(val["loss"] - train["loss"]), "tokens_seen": train["tokens_seen"], "epoch": train["epoch"],
            "training": float(train["loss"]), "validation": float(val["loss"])}


def _gap_marks(data: pd.DataFrame, x: str) -> list[alt.Chart]:
    """A bracket between the two last losses, labelled, once validation is far above training."""
    gap = final_gap(data)
    if gap is None or gap["gap"] < GAP_NOTE:
        return []
    frame = pd.DataFrame([{**gap, "note": f"gap {gap['gap']:.1f}: memorising",
                           "middle": (gap["training"] + gap["validation"]) / 2}])
    bracket = alt.Chart(frame).mark_rule(color="#e15759", strokeWidth=2).encode(
        x=f"{x}:Q", y="training:Q", y2="validation:Q")
    label = alt.Chart(frame).mark_text(align="right", dx=-6, fontWeight="bold", color="#e15759").encode(
        x=f"{x}:Q", y="middle:Q", text="note:N")
    return [bracket, label]


def perplexity_chart(data: pd.DataFrame, x: str) -> alt.Chart:
    """Validation perplexity on a log scale: from ~50,000 (a uniform guess) down."""
    val = data[data["split"] == "validation"]
    return alt.Chart(val).mark_line(point=True).encode(
        x=_x(x),
        y=alt.Y("perplexity:Q", title="Validation perplexity (log scale)", scale=alt.Scale(type="log")),
        color=alt.Color("run:N", scale=RUN_SCALE, legend=None),  # the same colours as the loss chart's legend
        tooltip=["run", "step", alt.Tooltip("perplexity", format=",.1f")],
    ).properties(height=320, title="Perplexity = exp(loss)")
