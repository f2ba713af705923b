"""Journal entries as cards: shared by the Entries page and the New entry preview."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.journal.entries import Entry, Problem, display_markdown
from ui.experiments import render_experiments
from ui.text import plain
from ui.widget_registry import WIDGET_PAGES, render_compact


def entry_meta(entry: Entry) -> str:
    parts = []
    if entry.date:
        parts.append(f"{entry.date:%a %d %b %Y}")
    if entry.chapters:
        parts.append(", ".join(entry.chapters))
    if entry.page is not None:
        parts.append(f"reached page {entry.page}")
    if entry.hours is not None:
        parts.append(f"{entry.hours:g} h logged")
    return " · ".join(parts)


def render_entry(entry: Entry, *, show_widgets: bool = True, key: str = "entry",
                 on_topic: Callable[[str], None] | None = None, edit_link: bool = False) -> None:
    """One entry: heading, facts, topics, the note, and its live widgets.

    With `on_topic`, each topic is a button that calls `on_topic(topic)` (the Entries page filters by it);
    with `edit_link`, an Edit link opens the entry on the New entry page.
    """
    with st.container(border=True, key=f"{key}-day{entry.day}"):
        if not edit_link:
            st.subheader(plain(entry.heading), anchor=f"day-{entry.day}")
        else:
            left, right = st.columns([6, 1], vertical_alignment="center")
            left.subheader(plain(entry.heading), anchor=f"day-{entry.day}")
            right.page_link("pages/new_entry.py", label="Edit", icon=":material/edit:", query_params={"day": entry.day},
                            help=f"Open day {entry.day} on the New entry page to change or delete it")
        if meta := entry_meta(entry):
            st.caption(plain(meta))
        if entry.topics and on_topic is None:
            st.markdown(" ".join(f":blue-badge[{plain(topic)}]" for topic in entry.topics))
        elif entry.topics:
            with st.container(horizontal=True, gap="small"):
                for i, topic in enumerate(entry.topics):
                    st.button(plain(topic), key=f"{key}-day{entry.day}-topic{i}", type="tertiary",
                              icon=":material/sell:", on_click=on_topic, args=(topic,),
                              help="Show only the entries with this topic")
        st.markdown(display_markdown(entry.body))
        render_experiments(entry, key=f"{key}-day{entry.day}")
        widgets = [name for name in entry.widgets if name in WIDGET_PAGES]
        warnings = [*entry.warnings, *entry.experiment_warnings,
                    *(f"unknown widget {name!r} (known: {', '.join(WIDGET_PAGES)})"
                      for name in entry.widgets if name not in WIDGET_PAGES)]
        for warning in warnings:
            st.caption(f":orange[:material/warning:] {entry.source}: {plain(warning)}")
        if not widgets:
            return
        if not show_widgets:
            names = ", ".join(WIDGET_PAGES[w].title for w in widgets)
            st.caption(f"Live widget{'s' if len(widgets) > 1 else ''} beside this entry: {names}")
            return
        for name in widgets:
            with st.container(border=True):
                st.caption(f"**Live: {WIDGET_PAGES[name].title}**")
                render_compact(name, key=f"{key}-day{entry.day}-{name}", state=entry.widget_state.get(name))


def render_problem(problem: Problem) -> None:
    """An error card for a file that could not be read; the other entries still show."""
    st.error(f"**{plain(problem.source)}** could not be read: {plain(problem.message)}. "
             "Fix the file in the journal folder and reload.", icon=":material/error:")
