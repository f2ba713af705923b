"""Charts shared by the training widgets: loss curves (pretraining, fine-tuning) and their encodings."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

LEGEND = alt.Legend(labelLimit=300)
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
    colour = alt.Color("run:N", title="Run", legend=LEGEND)
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
    return alt.layer(*layers).properties(height=height, title=alt.Title(
        "Loss", subtitle="solid: training · dashed: validation · faint: each step's own batch"))


def perplexity_chart(data: pd.DataFrame, x: str) -> alt.Chart:
    """Validation perplexity on a log scale: from ~50,000 (a uniform guess) down."""
    val = data[data["split"] == "validation"]
    return alt.Chart(val).mark_line(point=True).encode(
        x=_x(x),
        y=alt.Y("perplexity:Q", title="Validation perplexity (log scale)", scale=alt.Scale(type="log")),
        color=alt.Color("run:N", legend=None),  # the same colours as the loss chart's legend
        tooltip=["run", "step", alt.Tooltip("perplexity", format=",.1f")],
    ).properties(height=320, title="Perplexity = exp(loss)")
