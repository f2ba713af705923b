"""New entry: write today's note with a live preview, saved as journal/day-NN.md."""

import streamlit as st

from core.journal import book, entries, progress, store
from ui.widget_registry import WIDGET_PAGES
from ui.journal_view import render_entry
from ui.navigation import require_app_navigation

require_app_navigation()

st.title("New entry")
journal = store.load_journal()
folder = store.journal_dir()
persistent, why_not = store.journal_storage(folder)

if saved := st.session_state.pop("new_entry_saved", None):
    st.success(f"Saved {saved}.", icon=":material/check_circle:")
    st.toast(f"Saved {saved}.", icon=":material/check_circle:")
    st.page_link("pages/entries.py", label="See it among the entries", icon=":material/book:")
if failed := st.session_state.pop("new_entry_failed", None):
    st.error(failed, icon=":material/error:")
if not persistent:
    st.info(f"{why_not} Write the entry here, then download it and add the file to the `journal/` "
            "folder of your own copy of the project.", icon=":material/cloud_off:")

latest = journal.entries[-1] if journal.entries else None


def plan_for(day: int) -> float:
    return progress.planned_hours(entries.weekday_of(day, journal.first_weekday))


def day_changed() -> None:
    """A new day number brings that day's planned hours with it."""
    st.session_state["new_hours"] = plan_for(st.session_state["new_day"])


def save(day: int, text: str, overwrite: bool) -> None:
    """Write the entry, then start the form over on the next day (a callback, so it may reset widgets)."""
    try:
        path = store.write_entry(folder, day, text, overwrite=overwrite)
    except entries.JournalError as err:
        st.session_state["new_entry_failed"] = f"Not saved: {err}."
        return
    except OSError as err:
        reason = err.strerror or err
        st.session_state["new_entry_failed"] = f"Not saved: the journal folder could not be written ({reason})."
        return
    st.session_state["new_entry_saved"] = f"{path.name} in {folder}"
    next_day = min(max(day, latest.day if latest else 0) + 1, entries.MAX_DAY)
    st.session_state.update(new_day=next_day, new_hours=plan_for(next_day), new_date=None, new_title="",
                            new_topics="", new_widgets=[], new_body="", new_replace=False)


start_day = min(latest.day + 1, entries.MAX_DAY) if latest else 1
for key, value in {
    "new_day": start_day,
    "new_chapters": [c for c in (latest.chapters[-1:] if latest else ()) if c in book.BOOK_CHAPTERS],
    "new_page": latest.page if latest and latest.page else 1,
    "new_hours": plan_for(start_day),
}.items():
    st.session_state.setdefault(key, value)

c1, c2, c3 = st.columns(3)
day = int(c1.number_input("Day", min_value=1, max_value=entries.MAX_DAY, step=1, key="new_day", on_change=day_changed,
                          help="Day 1 is the first day of the journey; the file is named after this number."))
weekday = entries.weekday_of(day, journal.first_weekday)
c1.caption(f"Day {day} is a {weekday} (day 1 was a {journal.first_weekday}); the plan says {plan_for(day):g} h.")
date = c2.date_input("Date (optional)", value=None, key="new_date")
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

topics = [t.strip() for t in topics_text.split(",") if t.strip()]
try:
    text = entries.format_entry(day=day, weekday=weekday, body=body, title=title, date=date, chapters=chapters,
                           page=int(page), hours=float(hours), topics=topics, widgets=widgets)
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

existing = journal.entry_for(day)
replace = False
if existing:
    if existing.source != entries.entry_filename(day):
        st.error(f"Day {day} is already in {existing.source}. Edit that file by hand, or choose another day.")
        text = None
    else:
        st.warning(f"Day {day} already has an entry ({existing.source}). Saving again replaces the whole file.",
                   icon=":material/content_copy:")
        replace = st.checkbox(f"Replace the existing entry for day {day}", key="new_replace")

if text is not None:
    file_name = entries.entry_filename(day)
    c1, c2 = st.columns(2)
    if persistent:
        c1.button(f"Save {file_name}", type="primary", disabled=bool(existing) and not replace, key="save",
                  on_click=save, args=(day, text, replace))
    c2.download_button(f"Download {file_name}", data=text, file_name=file_name, mime="text/markdown",
                       type="secondary" if persistent else "primary", key="download", on_click="ignore")
