"""The New entry form: a new day starts blank, an existing day opens to edit, and the actions on entries.

The form's fields live in session state under `new_*` keys. Moving from a draft to an existing day
keeps the draft aside and brings it back on the way to a free day again, so nothing typed is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import streamlit as st

from core.app.experiment_records import checkpoint_record
from core.errors import AppError
from core.gpt.checkpoint import META_FILE, list_runs
from core.gpt.classifier import list_classifiers
from core.journal import book, entries, progress, store, versions
from core.journal.entries import Entry, Journal
from core.journal.experiments import Experiment, to_front
from ui.journal_view import plain
from ui.widget_registry import WIDGET_PAGES

DONE, FAILED, OPEN = "new_entry_done", "new_entry_failed", "new_open"  # OPEN: the day to show on the next run
EDITING, DRAFT = "new_editing", "new_draft"  # the day loaded to edit (None for a new day); the draft set aside
FIELDS = ("new_date", "new_title", "new_chapters", "new_page", "new_hours", "new_topics", "new_widgets", "new_body",
          "new_widget_state", "new_experiments")  # the last two are kept as read, not edited in the form
SHOWN_DELETED = 10


def planned_hours(journal: Journal, day: int) -> float:
    return progress.planned_hours(entries.weekday_of(day, journal.first_weekday))


def suggested_date(journal: Journal, day: int) -> dt.date | None:
    """Day `day`'s calendar date, when an entry records a date to count from."""
    day_one = progress.day_one_date(journal.entries)
    return day_one + dt.timedelta(days=day - 1) if day_one else None


def editable(journal: Journal, day: int) -> Entry | None:
    """Day `day`'s entry when it is in its own file `day-NN.md` (the only kind the form replaces)."""
    entry = journal.entry_for(day)
    return entry if entry is not None and entry.source == entries.entry_filename(day) else None


def blank(journal: Journal, day: int) -> dict[str, Any]:
    """A new day's form: chapter and page carry on from the latest entry, the plan's hours."""
    latest = journal.entries[-1] if journal.entries else None
    return {
        "new_date": suggested_date(journal, day),
        "new_title": "",
        "new_chapters": [c for c in (latest.chapters[-1:] if latest else ()) if c in book.BOOK_CHAPTERS],
        "new_page": latest.page if latest and latest.page else 1,
        "new_hours": planned_hours(journal, day),
        "new_topics": "",
        "new_widgets": [],
        "new_body": "",
        "new_widget_state": {},
        "new_experiments": [],
    }


def loaded(journal: Journal, entry: Entry) -> dict[str, Any]:
    """An existing entry's fields, as the form shows them."""
    return {
        "new_date": entry.date,
        "new_title": entry.title,
        "new_chapters": [c for c in entry.chapters if c in book.BOOK_CHAPTERS],
        "new_page": entry.page or blank(journal, entry.day)["new_page"],
        "new_hours": entry.hours if entry.hours is not None else planned_hours(journal, entry.day),
        "new_topics": ", ".join(entry.topics),
        "new_widgets": [w for w in entry.widgets if w in WIDGET_PAGES],
        "new_body": entry.body,
        "new_widget_state": dict(entry.widget_state),
        "new_experiments": list(entry.experiment_data),
    }


def start(journal: Journal, day: int) -> None:
    """The form's first state, on `day`; later, the day a link (`?day=14`) or an action asked to open."""
    if (asked := st.query_params.pop("day", None)) is not None and asked.isdigit():
        st.session_state[OPEN] = min(max(int(asked), 1), entries.MAX_DAY)
    if "new_day" not in st.session_state:
        entry = editable(journal, day)
        st.session_state.update(new_day=day, **(loaded(journal, entry) if entry else blank(journal, day)))
        st.session_state[EDITING] = day if entry else None
    if (opened := st.session_state.pop(OPEN, None)) is not None:
        st.session_state["new_day"] = opened
        change_day(journal)


def change_day(journal: Journal) -> None:
    """Callback of the day field: load the chosen day's entry to edit, or go back to the draft."""
    day = st.session_state["new_day"]
    was_editing = st.session_state.get(EDITING) is not None
    if not was_editing:
        st.session_state[DRAFT] = {key: st.session_state.get(key) for key in FIELDS}
    if entry := editable(journal, day):
        st.session_state.update(loaded(journal, entry))
        st.session_state[EDITING] = day
        return
    if was_editing:
        st.session_state.update(st.session_state.pop(DRAFT, None) or blank(journal, day))
    st.session_state["new_hours"] = planned_hours(journal, day)
    if (date := suggested_date(journal, day)) is not None:  # else a date typed by hand stays
        st.session_state["new_date"] = date
    st.session_state[EDITING] = None


def _act(done: str, action: Callable[[], object]) -> bool:
    """Run a file action, leaving a message for the next run; False when it failed."""
    try:
        action()
    except entries.JournalError as err:
        st.session_state[FAILED] = f"Not done: {err}."
        return False
    except OSError as err:
        st.session_state[FAILED] = f"Not done: the journal folder could not be written ({err.strerror or err})."
        return False
    st.session_state[DONE] = done
    return True


def _start_over(journal: Journal, day: int, date: dt.date | None) -> None:
    """The form on a fresh day after a save or a delete; chapter and page stay as they were."""
    st.session_state.pop(DRAFT, None)
    st.session_state[EDITING] = None
    st.session_state.update(new_day=day, new_hours=planned_hours(journal, day), new_date=date, new_title="",
                            new_topics="", new_widgets=[], new_body="", new_widget_state={}, new_experiments=[])


def save(folder: Path, journal: Journal, day: int, text: str, overwrite: bool, date: dt.date | None) -> None:
    """Callback of Save: write the entry, then start the form over on the next day."""
    path = folder / entries.entry_filename(day)
    if _act(f"Saved {path.name} in {folder}", lambda: store.write_entry(folder, day, text, overwrite=overwrite)):
        latest = journal.entries[-1].day if journal.entries else 0
        next_day = min(max(day, latest) + 1, entries.MAX_DAY)
        next_date = date + dt.timedelta(days=next_day - day) if date else suggested_date(journal, next_day)
        _start_over(journal, next_day, next_date)


def delete(folder: Path, journal: Journal, day: int) -> None:
    """Callback of Delete: move the entry to the kept versions, then start over on a new day."""
    name = entries.entry_filename(day)
    if _act(f"Deleted {name}; it is under Recently deleted, where it can be restored",
            lambda: store.delete_entry(folder, day)):
        next_day = min(max((e.day for e in journal.entries if e.day != day), default=0) + 1, entries.MAX_DAY)
        _start_over(journal, next_day, suggested_date(journal, next_day))


def restore(folder: Path, version: versions.Version) -> None:
    """Callback of Restore: bring a kept version back; the form reloads that day on the next run."""
    name = entries.entry_filename(version.day)
    if _act(f"Restored {name} from {version.saved_at:%Y-%m-%d %H:%M:%S} UTC",
            lambda: store.restore_version(folder, version)):
        st.session_state[OPEN] = version.day


def confirm_replace(entry: Entry) -> bool:
    """The confirmation to replace `entry`: a checkbox of that day's own, so it never carries over to another."""
    st.warning(f"Day {entry.day} already has an entry ({entry.source}), loaded here to edit. Saving replaces the "
               "whole file; the version it replaces is kept under Earlier versions.", icon=":material/content_copy:")
    return st.checkbox(f"Replace the existing entry for day {entry.day}", key=f"new_replace_{entry.day}")


def render_history(folder: Path, journal: Journal, entry: Entry, kept: list[versions.Version]) -> None:
    """Earlier versions of the entry being edited, each restorable, and deleting the entry."""
    earlier = [v for v in kept if v.day == entry.day and v.kind == versions.REPLACED]
    with st.expander(f"Earlier versions of day {entry.day} ({len(earlier)})"):
        if not earlier:
            st.caption(f"None yet: each time {entry.source} is replaced, the version it replaces is kept here "
                       f"(the newest {versions.KEEP_PER_DAY}).")
        for version in earlier:
            st.caption(f"Replaced on {version.saved_at:%Y-%m-%d %H:%M:%S} UTC")
            st.code(version.read(), language="markdown")
            st.button("Restore this version", key=f"new_restore_{version.path.name}", on_click=restore,
                      args=(folder, version), help="The current entry is kept as an earlier version in turn")
    with st.expander(f"Delete day {entry.day}"):
        sure = st.checkbox(f"Yes, delete {entry.source} (it can be restored from Recently deleted)",
                           key=f"new_delete_{entry.day}")
        st.button(f"Delete {entry.source}", disabled=not sure, key="delete", on_click=delete,
                  args=(folder, journal, entry.day))


def render_recently_deleted(folder: Path, journal: Journal, kept: list[versions.Version]) -> None:
    """Deleted entries, newest first, each with a Restore button."""
    deleted = [v for v in kept if v.kind == versions.DELETED][:SHOWN_DELETED]
    if not deleted:
        return
    st.subheader("Recently deleted")
    for version in deleted:
        try:
            title = entries.parse_entry(version.read()).title
        except entries.JournalError:
            title = ""  # a file kept as it was, readable or not
        c1, c2 = st.columns([4, 1], vertical_alignment="center")
        c1.markdown(f"**Day {version.day}**" + (f": {plain(title)}" if title else "")
                    + f", deleted {version.saved_at:%Y-%m-%d %H:%M} UTC")
        taken = journal.entry_for(version.day) is not None
        c2.button("Restore", key=f"new_undelete_{version.path.name}", on_click=restore, args=(folder, version),
                  help=f"Day {version.day} has an entry now; it is kept as an earlier version" if taken else None)


def runs_since(journal: Journal, folder: Path) -> list[tuple[str, Path]]:
    """Training runs saved since the latest entry was written, newest first, as (kind, run folder)."""
    latest = journal.entries[-1] if journal.entries else None
    try:
        since = (folder / latest.source).stat().st_mtime if latest else 0.0
    except OSError:
        since = 0.0
    found = [("pretraining", run) for run in list_runs()] + [("spam", run) for run in list_classifiers()]
    fresh = [(kind, run) for kind, run in found if (run.path / META_FILE).stat().st_mtime > since]
    return [(kind, run.path) for kind, run in sorted(fresh, key=lambda item: item[1].created, reverse=True)]


def _attach(record: Experiment) -> None:
    st.session_state["new_experiments"] = [*st.session_state.get("new_experiments", []), to_front(record)]


def _detach(index: int) -> None:
    kept = list(st.session_state.get("new_experiments", []))
    kept.pop(index)
    st.session_state["new_experiments"] = kept


def render_experiments_to_attach(journal: Journal, folder: Path) -> None:
    """The runs made since the last entry, each attached in one click; the experiments the entry keeps."""
    attached = st.session_state.get("new_experiments", [])
    runs = [item for item in runs_since(journal, folder)
            if not any(isinstance(r, dict) and r.get("run") == item[1].name for r in attached)]
    with st.expander(f"Experiments ({len(attached)} kept, {len(runs)} new run{'s' * (len(runs) != 1)} to attach)",
                     icon=":material/science:"):
        for i, data in enumerate(attached):
            c1, c2 = st.columns([4, 1], vertical_alignment="center")
            title = data.get("title", "(a record that cannot be read)") if isinstance(data, dict) else "(unreadable)"
            c1.markdown(plain(str(title)))
            c2.button("Remove", key=f"new_detach_{i}", on_click=_detach, args=(i,))
        if not runs:
            st.caption("No training run since the latest entry. Results from the widgets can also be added with "
                       "their own Add to the entry button.")
        for kind, path in runs:
            try:
                record = checkpoint_record(kind, path)
            except AppError:
                continue  # a damaged run folder: nothing to attach
            c1, c2 = st.columns([4, 1], vertical_alignment="center")
            c1.markdown(f"{plain(record.title)}: " + ", ".join(f"{k.replace('_', ' ')} {v:.3f}"
                                                              for k, v in record.results.items() if "loss" in k))
            c2.button("Attach", key=f"new_attach_{path.name}", on_click=_attach, args=(record,), type="primary")
