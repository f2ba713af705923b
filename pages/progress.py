"""Progress: how far the learner is through the book, how regularly they study, and what comes next."""

import datetime as dt

import streamlit as st

from core.journal import book, entries, progress, store
from core.text import plural
from ui import experiments, review
from ui import progress_charts as charts
from ui.navigation import require_app_navigation
from ui.widget_registry import WIDGET_PAGES, page_link, widgets_for_chapter

require_app_navigation()

journal = store.load_journal()
days = progress.progress_by_day(journal.entries)
spans = progress.chapter_spans(journal.entries)
streak = progress.streaks(days)
pace = progress.pace(days)
upcoming = progress.next_up(journal.entries)
day_one = progress.day_one_date(journal.entries)


def day_label(day: int | None) -> str:
    """'day 35 (a Wednesday)', or 'day 35 (about 2025-04-09)' once an entry records its date."""
    if day is None:
        return "not enough data"
    if day_one is None:
        return f"day {day} (a {entries.weekday_of(day, journal.first_weekday)})"
    return f"day {day} (about {day_one + dt.timedelta(days=day - 1):%Y-%m-%d})"


st.title("Your journey through the book")
st.caption("*Build a Large Language Model (From Scratch)*: what was read each day, how far it got, "
           "and what is next.")

if journal.problems:
    st.warning(f"{len(journal.problems)} journal file(s) could not be read and are left out of these "
               "figures.", icon=":material/error:")
    st.page_link("pages/entries.py", label="See the error cards on the Entries page", icon=":material/book:")

if not journal.entries:
    st.info("No journal entries yet. Write the first one and this page fills in.", icon=":material/edit_note:")
    st.page_link("pages/new_entry.py", label="Write an entry", icon=":material/edit_note:")
    st.stop()

latest = journal.entries[-1]
st.markdown(f"Latest entry: **day {latest.day}**, a {latest.weekday}. "
            f"{plural(len(journal.entries), 'entry', 'entries')} over {plural(latest.day, 'day')}.")

# --- At a glance -------------------------------------------------------------------------------
finished = [s for s in spans if s.finished]
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Pages covered", f"{pace.pages_read} of ~{pace.book_pages}", f"{pace.share_read:.0%} of the book",
          delta_color="off", delta_arrow="off")
c2.metric("Reading now", upcoming.current or "nothing yet",
          f"page {upcoming.page}" if upcoming.page else None, delta_color="off", delta_arrow="off")
c3.metric("Chapters", f"{len(finished)} finished", f"{len(spans)} started", delta_color="off", delta_arrow="off")
c4.metric("Hours logged", f"{pace.hours_logged:g} h", f"plan so far: {pace.hours_planned:g} h", delta_color="off",
          delta_arrow="off")
c5.metric("Streak", f"{streak.current} day{'s' * (streak.current != 1)}", f"longest: {streak.longest}",
          delta_color="off", delta_arrow="off")
st.progress(pace.share_read)

# --- Book progress -----------------------------------------------------------------------------
st.header("How far through the book")
left, right = st.columns(2)
left.altair_chart(charts.pages_so_far_chart(days, pace.book_pages), width="stretch")
right.altair_chart(charts.pages_per_day_chart(days), width="stretch")
st.caption(f"Appendix A (PyTorch, p. {book.PART_FIRST_PAGE['Appendix A']}-279) was read first, then the "
           "chapters from page 1, so page numbers jump back. Pages covered counts each part of the book "
           "on its own and adds them up, so the line only climbs. The book is taken as about "
           f"{book.BOOK_PAGES} pages including its appendices.")

st.altair_chart(charts.chapters_chart(spans, latest.day), width="stretch")
st.caption("A chapter counts as done by the day the next one was under way after its last mention.")

# --- Rhythm ------------------------------------------------------------------------------------
st.header("Study rhythm")
left, right = st.columns([3, 2])
left.altair_chart(charts.hours_chart(days), width="stretch")
right.altair_chart(charts.calendar_chart(days, journal.first_weekday), width="stretch")
plan = progress.PLAN_HOURS
gaps = ", ".join(f"days {a}-{b}" if a != b else f"day {a}" for a, b in streak.gaps) or "none"
st.caption(f"Plan: {plan['weekday']:g} h on weekdays, {plan['weekend']:g} h at weekends. Hours are what the "
           f"learner logged in each entry. Days without an entry: {gaps}.")

# --- Pace and finish ---------------------------------------------------------------------------
st.header("Pace and finish")
if pace.pages_left == 0:
    st.success("The whole book is covered. Next on the plan: hands-on projects.", icon=":material/celebration:")
else:
    c1, c2 = st.columns(2)
    with c1:
        st.metric("On plan", day_label(pace.finish_on_plan))
        if pace.pages_per_hour:
            st.caption(f"{pace.pages_per_hour:.1f} pages per logged hour, with the plan's hours from now on: "
                       f"{pace.pages_left} pages left take about {pace.pages_left / pace.pages_per_hour:.0f} hours.")
    with c2:
        st.metric("At the rhythm so far", day_label(pace.finish_at_rhythm))
        if pace.pages_per_day:
            st.caption(f"{pace.pages_per_day:.1f} pages per calendar day since day 1, gaps included.")
    if day_one is None:
        st.caption("No entry records a calendar date, so finish dates are given as day numbers. Record the "
                   "date of any entry (the Date field on New entry) to see real dates.")

# --- What comes next ---------------------------------------------------------------------------
st.header("What comes next")
if upcoming.book_done:
    st.markdown(f"Finish **{upcoming.current}**, then the plan moves on to hands-on projects.")
else:
    lines = []
    if upcoming.current:
        title = book.BOOK_CHAPTERS.get(upcoming.current, "")
        lines.append(f"- Finish **{upcoming.current}**" + (f" ({title})" if title else "")
                     + (f", from page {upcoming.page}" if upcoming.page else "") + ".")
    for chapter in upcoming.upcoming[:3]:
        lines.append(f"- Then **{chapter}**: {book.BOOK_CHAPTERS[chapter]}.")
    if len(upcoming.upcoming) > 3:
        lines.append(f"- And {', '.join(upcoming.upcoming[3:])}.")
    lines.append("- After the book: hands-on projects.")
    st.markdown("\n".join(lines))
for name in widgets_for_chapter(upcoming.current):
    page_link(WIDGET_PAGES[name], label=f"Try it live: {WIDGET_PAGES[name].title} ({WIDGET_PAGES[name].summary})")

# --- Self-tests and predictions ---------------------------------------------------------------------------------
st.header("Self-tests")
review.stats_section("progress_review")

st.header("Predict, then run")
experiments.calibration_section()
