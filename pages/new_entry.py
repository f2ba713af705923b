"""New entry: write a day's note with a live preview, saved as journal/day-NN.md; an existing day opens to edit."""

import streamlit as st

from core.journal import book, entries, store, versions
from ui import entry_form as form
from ui.journal_view import render_entry
from ui.navigation import require_app_navigation
from ui.widget_registry import WIDGET_PAGES

require_app_navigation()

st.title("New entry")
journal = store.load_journal()
folder = store.journal_dir()
persistent, why_not = store.journal_storage(folder)
kept = versions.list_versions(folder) if persistent else []

if done := st.session_state.pop(form.DONE, None):
    st.success(f"{done}.", icon=":material/check_circle:")
    st.toast(f"{done}.", icon=":material/check_circle:")
    st.page_link("pages/entries.py", label="See the entries", icon=":material/book:")
if failed := st.session_state.pop(form.FAILED, None):
    st.error(failed, icon=":material/error:")
if not persistent:
    st.info(f"{why_not} Write the entry here, then download it and add the file to the `journal/` "
            "folder of your own copy of the project.", icon=":material/cloud_off:")
if journal.problems:
    st.warning(f"{len(journal.problems)} journal file(s) could not be read.", icon=":material/error:")
    st.page_link("pages/entries.py", label="See the error cards on the Entries page", icon=":material/book:")

latest = journal.entries[-1] if journal.entries else None
form.start(journal, min(latest.day + 1, entries.MAX_DAY) if latest else 1)

c1, c2, c3 = st.columns(3)
day = int(c1.number_input("Day", min_value=1, max_value=entries.MAX_DAY, step=1, key="new_day",
                          on_change=form.change_day, args=(journal,),
                          help="Day 1 is the first day of the journey; the file is named after this number. "
                               "Choose a day that has an entry to edit it."))
weekday = entries.weekday_of(day, journal.first_weekday)
c1.caption(f"Day {day} is a {weekday} (day 1 was a {journal.first_weekday}); "
           f"the plan says {form.planned_hours(journal, day):g} h.")
date = c2.date_input("Date (optional)", key="new_date", format="YYYY-MM-DD",
                     help="The calendar day of this entry. Once one entry has a date, the Progress page gives "
                          "finish estimates as dates, and new entries get their date filled in.")
title = c3.text_input("Title (optional)", max_chars=entries.MAX_TITLE_CHARS, key="new_title")

c1, c2, c3 = st.columns(3)
chapters = c1.multiselect("Chapter(s) read", list(book.BOOK_CHAPTERS), key="new_chapters")
page = c2.number_input("Page reached", min_value=1, max_value=entries.MAX_PAGE, step=1, key="new_page")
hours = c3.number_input("Hours studied", min_value=0.0, max_value=24.0, step=0.25, key="new_hours",
                        help="What you actually studied; the plan is 2 h on weekdays and 1 h at weekends.")

c1, c2 = st.columns(2)
topics_text = c1.text_input("Topics", placeholder="temperature, top-k sampling", key="new_topics",
                            help="Comma-separated; they become filters on the Entries page.")
widgets = c2.multiselect("Live widgets beside the entry", list(WIDGET_PAGES),
                         format_func=lambda name: WIDGET_PAGES[name].title, key="new_widgets")
body = st.text_area("Note (markdown)", height=260, max_chars=entries.MAX_BODY_CHARS, key="new_body",
                    placeholder="What did you read? What clicked? Where was it hard? Raw HTML is not shown.")

form.render_experiments_to_attach(journal, folder)

topics = [t.strip() for t in topics_text.split(",") if t.strip()]
try:
    text = entries.format_entry(day=day, weekday=weekday, body=body, title=title, date=date, chapters=chapters,
                                page=int(page), hours=float(hours), topics=topics, widgets=widgets,
                                widget_state=st.session_state.get("new_widget_state") or None,
                                experiments=st.session_state.get("new_experiments") or ())
    error = None
except entries.JournalError as err:
    text, error = None, str(err)

st.subheader("Preview")
if error:
    st.warning(f"Not ready to save: {error}.", icon=":material/edit:")
else:
    preview, source = st.tabs(["Preview", f"File {entries.entry_filename(day)}"])
    with preview:
        render_entry(entries.parse_entry(text), show_widgets=False, key="preview")
    with source:
        st.code(text, language="markdown")

file_name = entries.entry_filename(day)
claimed = journal.entry_for(day)
unreadable = next((p for p in journal.problems if p.source == file_name), None)
existing = form.editable(journal, day)
replace = False
if claimed and not existing:
    st.error(f"Day {day} is already in {claimed.source}. Edit that file by hand, or choose another day.")
    text = None
elif unreadable:
    st.error(f"{file_name} exists but could not be read ({unreadable.message}). Fix it by hand, or choose "
             "another day.")
    text = None
elif existing:
    replace = form.confirm_replace(existing)

if text is not None:
    c1, c2 = st.columns(2)
    if persistent:
        c1.button(f"Save {file_name}", type="primary", disabled=bool(existing) and not replace, key="save",
                  on_click=form.save, args=(folder, journal, day, text, replace, date))
    c2.download_button(f"Download {file_name}", data=text, file_name=file_name, mime="text/markdown",
                       type="secondary" if persistent else "primary", key="download", on_click="ignore")

if persistent and existing:
    form.render_history(folder, journal, existing, kept)
if persistent:
    form.render_recently_deleted(folder, journal, kept)
