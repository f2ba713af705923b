"""Labelled heatmaps of small matrices (attention weights, embeddings), drawn with altair."""

from __future__ import annotations

import math
from collections.abc import Sequence

import altair as alt
import pandas as pd
import torch

CELL_PX = 34
MASKED = "−∞"


def numbered(labels: Sequence[str]) -> list[str]:
    """Unique axis labels: a token that occurs twice must still get its own row."""
    return [f"{i}: {label}" for i, label in enumerate(labels)]


def heatmap(
    matrix: torch.Tensor,
    rows: Sequence[str],
    cols: Sequence[str],
    title: str = "",
    scheme: str = "blues",
    diverging: bool = False,
    digits: int = 2,
    row_title: str = "",
    col_title: str = "",
    cell_px: int = CELL_PX,
    values: bool = True,
) -> alt.Chart | alt.LayerChart:
    """A heatmap with the value written in each cell; -inf (masked) cells stay blank and say −∞.

    `diverging` centres the colours on zero, for numbers that can be negative; `values=False`
    leaves the numbers to the tooltip, for matrices too big to print them in.
    """
    numbers = matrix.detach().to(torch.float64).tolist()
    records = []
    for r, row in enumerate(numbers):
        for c, value in enumerate(row):
            finite = math.isfinite(value)
            records.append(
                {
                    "row": rows[r],
                    "col": cols[c],
                    "value": value if finite else None,
                    "text": f"{value:.{digits}f}" if finite else MASKED,
                }
            )
    frame = pd.DataFrame.from_records(records)
    finite_values = frame["value"].dropna()
    low, high = (finite_values.min(), finite_values.max()) if len(finite_values) else (0.0, 1.0)
    if diverging:
        bound = max(abs(low), abs(high)) or 1.0
        scale = alt.Scale(scheme=scheme, domain=[-bound, bound])
        dark = f"abs(datum.value) > {0.6 * bound}"
    else:
        scale = alt.Scale(scheme=scheme)
        dark = f"datum.value > {low + 0.6 * (high - low)}" if high > low else "false"

    x = alt.X("col:N", sort=list(cols), title=col_title or None, axis=alt.Axis(labelAngle=-45, labelOverlap=False))
    y = alt.Y("row:N", sort=list(rows), title=row_title or None, axis=alt.Axis(labelOverlap=False))
    base = alt.Chart(frame).encode(x=x, y=y)
    cells = base.mark_rect().encode(
        color=alt.Color("value:Q", scale=scale, legend=None),
        tooltip=[alt.Tooltip("row:N", title="row"), alt.Tooltip("col:N", title="column"), "text:N"],
    )
    # "pad": the cells get exactly this size and the labels come on top (Streamlit's default,
    # "fit", would squeeze the cells to leave room for long token labels).
    size = {"title": title, "width": cell_px * len(cols), "height": cell_px * len(rows),
            "autosize": alt.AutoSizeParams(type="pad")}
    if not values:
        return cells.properties(**size)
    text = base.mark_text(fontSize=11).encode(
        text="text:N",
        color=alt.when(dark).then(alt.value("white")).otherwise(alt.value("black")),
    )
    return (cells + text).properties(**size)
