"""Altair charts for the Progress page, drawn from `core.journal`'s figures."""

from __future__ import annotations

from collections.abc import Sequence

import altair as alt
import pandas as pd

from core.journal.entries import WEEKDAYS
from core.journal.progress import ChapterSpan, DayProgress, calendar_position

STUDIED, GAP = "studied", "no entry"
FRAME_PX = 120  # Streamlit fits title, axes and legend inside the chart's height: room for them
STATUS_COLOURS = alt.Scale(domain=[STUDIED, GAP], range=["#2e7d32", "#ef9a9a"])


def days_frame(days: Sequence[DayProgress]) -> pd.DataFrame:
    return pd.DataFrame({
        "day": [d.day for d in days],
        "weekday": [d.weekday for d in days],
        "status": [STUDIED if d.studied else GAP for d in days],
        "page reached": [d.page for d in days],
        "part": [d.part or "" for d in days],
        "pages that day": [d.pages_today for d in days],
        "pages so far": [d.pages_read for d in days],
        "hours logged": [d.hours for d in days],
        "hours planned": [d.planned_hours for d in days],
    })


def _day_axis(last_day: int) -> alt.X:
    return alt.X("day:Q", title="day", scale=alt.Scale(domain=[0.5, last_day + 0.5], nice=False),
                 axis=alt.Axis(tickMinStep=1, format="d"))


def pages_so_far_chart(days: Sequence[DayProgress], book_pages: int) -> alt.Chart:
    """Pages covered so far against the whole book: a line that can only climb."""
    data = days_frame(days)
    tooltip = ["day", "weekday", "status", "page reached", "part", "pages that day", "pages so far"]
    base = alt.Chart(data).encode(x=_day_axis(len(days)))
    area = base.mark_area(opacity=0.25).encode(
        y=alt.Y("pages so far:Q", title="pages covered", scale=alt.Scale(domain=[0, book_pages], nice=False)))
    line = base.mark_line(color="#4c78a8").encode(y="pages so far:Q")
    points = base.mark_point(filled=True, size=60).encode(
        y="pages so far:Q",
        color=alt.Color("status:N", scale=STATUS_COLOURS, legend=alt.Legend(title=None, orient="bottom")),
        tooltip=tooltip,
    )
    whole = alt.Chart(pd.DataFrame({"y": [book_pages], "label": [f"whole book, about {book_pages} pages"]}))
    rule = whole.mark_rule(strokeDash=[4, 4], color="gray").encode(y="y:Q")
    label = whole.mark_text(align="left", dx=4, dy=-6, color="gray").encode(y="y:Q", x=alt.value(0), text="label:N")
    return (area + line + points + rule + label).properties(height=320, title="Pages covered so far")


def pages_per_day_chart(days: Sequence[DayProgress]) -> alt.Chart:
    """New pages covered each day, coloured by the part of the book they were in."""
    data = days_frame(days)
    parts = list(dict.fromkeys(p for p in data["part"] if p))
    return alt.Chart(data[data["part"] != ""]).mark_bar().encode(
        x=alt.X("day:O", title="day", scale=alt.Scale(domain=list(data["day"])), axis=alt.Axis(labelAngle=0)),
        y=alt.Y("pages that day:Q", title="new pages"),
        color=alt.Color("part:N", scale=alt.Scale(domain=parts, scheme="tableau10"),
                        legend=alt.Legend(title=None, orient="bottom")),
        tooltip=["day", "weekday", "part", "page reached", "pages that day"],
    ).properties(height=320, title="New pages each day")


def chapters_chart(spans: Sequence[ChapterSpan], last_day: int) -> alt.Chart:
    """When each chapter was read, in reading order, finished or still open."""
    data = pd.DataFrame({
        "chapter": [f"{s.chapter}: {s.title}" if s.title else s.chapter for s in spans],
        "start": [s.first_day - 0.45 for s in spans],
        "end": [(s.done_by or max(s.last_day, last_day)) + 0.45 for s in spans],
        "status": [f"done by day {s.done_by}" if s.finished else "in progress" for s in spans],
        "state": ["finished" if s.finished else "in progress" for s in spans],
        "days": [f"day {s.first_day} to {s.done_by or s.last_day}" for s in spans],
    })
    order = list(data["chapter"])
    bars = alt.Chart(data).mark_bar(cornerRadius=3).encode(
        x=alt.X("start:Q", title="day", scale=alt.Scale(domain=[0.5, last_day + 0.5], nice=False),
                axis=alt.Axis(tickMinStep=1, format="d")),
        x2="end:Q",
        # Long titles are cut (the tooltip has them whole) so that the bars keep room on a phone.
        y=alt.Y("chapter:N", sort=order, title=None, axis=alt.Axis(labelLimit=150)),
        color=alt.Color("state:N", scale=alt.Scale(domain=["finished", "in progress"], range=["#4c78a8", "#f58518"]),
                        legend=alt.Legend(title=None, orient="bottom")),
        tooltip=["chapter", "days", "status"],
    )
    return bars.properties(height=30 * len(spans) + FRAME_PX, title="Chapters, in the order they were read")


def hours_chart(days: Sequence[DayProgress]) -> alt.Chart:
    """Hours logged per day as bars, with the plan's hours as ticks."""
    data = days_frame(days)
    base = alt.Chart(data).encode(x=alt.X("day:O", title="day", axis=alt.Axis(labelAngle=0)))
    bars = base.mark_bar(opacity=0.85).encode(
        y=alt.Y("hours logged:Q", title="hours"),
        color=alt.Color("status:N", scale=STATUS_COLOURS, legend=alt.Legend(title=None, orient="bottom")),
        tooltip=["day", "weekday", "hours logged", "hours planned"],
    )
    plan = base.mark_tick(color="black", thickness=2, size=14).encode(y="hours planned:Q",
                                                                       tooltip=["day", "hours planned"])
    return (bars + plan).properties(height=300, title="Hours logged (bars) against the plan (ticks)")


def calendar_chart(days: Sequence[DayProgress], first_weekday: str) -> alt.Chart:
    """A Monday-first calendar of the journey: studied days, and the gaps between them."""
    positions = [calendar_position(d.day, first_weekday) for d in days]
    data = days_frame(days).assign(
        week=[f"week {week}" for week, _ in positions],
        column=[WEEKDAYS[col][:3] for _, col in positions],
        label=[f"{d.day}" for d in days],
    )
    base = alt.Chart(data).encode(
        x=alt.X("column:O", sort=[w[:3] for w in WEEKDAYS], title=None, axis=alt.Axis(orient="top", labelAngle=0)),
        y=alt.Y("week:O", title=None, sort=sorted(set(data["week"]), key=lambda w: int(w.split()[1]))),
    )
    cells = base.mark_rect(cornerRadius=4, stroke="white", strokeWidth=2).encode(
        color=alt.Color("status:N", scale=STATUS_COLOURS, legend=alt.Legend(title=None, orient="bottom")),
        tooltip=["day", "weekday", "status", "hours logged", "page reached"],
    )
    text = base.mark_text(fontWeight="bold").encode(
        text="label:N", color=alt.condition(alt.datum.status == STUDIED, alt.value("white"), alt.value("#7f1d1d")))
    return (cells + text).properties(height=40 * len(set(data["week"])) + FRAME_PX,
                                     title="Streak calendar (day numbers)")
