"""Entries: the journal as a timeline, each day with its live widgets beside it."""

import streamlit as st

from core.journal import store
from ui.journal_view import render_entry, render_problem
from ui.navigation import require_app_navigation

require_app_navigation()

st.title("Journal entries")
journal = store.load_journal()

for problem in journal.problems:
    render_problem(problem)

if not journal.entries:
    st.info(f"No entries in `{store.journal_dir()}` yet.", icon=":material/edit_note:")
    st.page_link("pages/new_entry.py", label="Write the first entry", icon=":material/edit_note:")
    st.stop()

chapter_order = list(dict.fromkeys(c for e in journal.entries for c in e.chapters))
topic_order = sorted({t for e in journal.entries for t in e.topics})
c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
chapters = c1.multiselect("Chapter", chapter_order, placeholder="All chapters", key="filter_chapters")
topics = c2.multiselect("Topic", topic_order, placeholder="All topics", key="filter_topics")
newest_first = c3.toggle("Newest first", value=True, key="newest_first")
show_widgets = c3.toggle("Live widgets", value=True, key="show_widgets",
                         help="Show each entry's live widgets beside it")

shown = [
    e for e in journal.entries
    if (not chapters or set(chapters) & set(e.chapters)) and (not topics or set(topics) & set(e.topics))
]
filtered = len(shown) != len(journal.entries)
st.caption(f"{len(shown)} of {len(journal.entries)} entries" + (" match the filters." if filtered else "."))
if not shown:
    st.info("No entry matches these filters.", icon=":material/filter_alt_off:")

previous_day = None
for entry in sorted(shown, key=lambda e: e.day, reverse=newest_first):
    if previous_day is not None and not filtered:
        first, last = sorted((previous_day, entry.day))
        if last - first > 1:
            missing = f"day {first + 1}" if last - first == 2 else f"days {first + 1}-{last - 1}"
            st.caption(f":material/more_vert: {missing}: no entry")
    render_entry(entry, show_widgets=show_widgets, key="entries")
    previous_day = entry.day
