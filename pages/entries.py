"""Entries: the journal as a timeline, each day with its live widgets beside it; search and filter it."""

import streamlit as st

from core.journal import entries, store
from core.text import plural
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


def filter_by_topic(topic: str) -> None:
    """A click on an entry's topic tag: show only the entries with that topic."""
    st.session_state["filter_topics"] = [topic]


chapter_order = list(dict.fromkeys(c for e in journal.entries for c in e.chapters))
c1, c2, c3, c4 = st.columns([2, 2, 2, 1], vertical_alignment="bottom")
search = c1.text_input("Search", placeholder="words in titles, notes and topics", key="filter_text")
chapters = c2.multiselect("Chapter", chapter_order, placeholder="All chapters", key="filter_chapters")
in_chapters = [e for e in journal.entries if not chapters or set(chapters) & set(e.chapters)]
topic_order = sorted({t for e in in_chapters for t in e.topics})  # only the topics of the chosen chapters
st.session_state["filter_topics"] = [t for t in st.session_state.get("filter_topics", []) if t in topic_order]
topics = c3.multiselect("Topic", topic_order, placeholder="All topics", key="filter_topics")
newest_first = c4.toggle("Newest first", value=True, key="newest_first")
show_widgets = c4.toggle("Live widgets", value=True, key="show_widgets",
                         help="Show each entry's live widgets beside it")

words = search.lower().split()
shown = [
    e for e in in_chapters
    if (not topics or set(topics) & set(e.topics))
    and all(w in " ".join([e.title, e.body, *e.topics]).lower() for w in words)
]
filtered = len(shown) != len(journal.entries)
count = plural(len(journal.entries), "entry", "entries")
st.caption(f"{len(shown)} of {count}" + (" match the filters." if filtered else "."))
if not shown:
    st.info("No entry matches these filters.", icon=":material/filter_alt_off:")

previous_day = None
for entry in sorted(shown, key=lambda e: e.day, reverse=newest_first):
    if previous_day is not None and not filtered:
        first, last = sorted((previous_day, entry.day))
        if last - first > 1:
            missing = f"day {first + 1}" if last - first == 2 else f"days {first + 1}-{last - 1}"
            st.caption(f":material/more_vert: {missing}: no entry")
    render_entry(entry, show_widgets=show_widgets, key="entries", on_topic=filter_by_topic,
                 edit_link=entry.source == entries.entry_filename(entry.day))
    previous_day = entry.day
