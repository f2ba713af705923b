"""The one saved-runs view (Pretraining's runs, Spam's classifiers) and the cached run listing every
page reads: state, size on disk, the runs folder's total, the optimizer-state choice, and deleting
after a confirming tick; incomplete and damaged runs are listed too, so that they can be deleted."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from core.app import runs as registry
from core.app.runs import RunEntry
from core.errors import UserError
from core.gpt.checkpoint import Checkpoint
from core.paths import runs_dir

STATUS_ICONS = {registry.FINISHED: "✅", registry.STOPPED: "⏸️", registry.INCOMPLETE: "🧩",
                registry.SAVING: "💾", registry.DAMAGED: "⚠️",
                registry.ADAPTER: "🧷"}


@st.cache_data(max_entries=8, show_spinner=False)
def _entries(root: str, signature: tuple) -> list[RunEntry]:
    return registry.list_entries(Path(root))


def entries(root: Path | None = None) -> list[RunEntry]:
    """Every run folder under `root` (default the runs folder), newest first, re-read only when one changed.

    Folders without a description are re-read every time: they may be saves in progress.
    """
    root = root or runs_dir()
    listed = _entries(str(root), registry.signature(root))
    return [registry.read_entry(e.path) if e.checkpoint is None else e for e in listed]


def complete(root: Path | None = None) -> list[Checkpoint]:
    return registry.complete_runs(entries(root))


def current(root: Path | None = None) -> Checkpoint | None:
    """The current model (pinned, else the newest finished run, else the newest stopped one)."""
    root = root or runs_dir()
    return registry.current_run(entries(root), registry.pinned_id(root))


def pinned(root: Path | None = None) -> str | None:
    return registry.pinned_id(root or runs_dir())


def forget() -> None:
    """Drop the cached listing (after a delete, a pin or a save on this server)."""
    _entries.clear()


# ---------------------------------------------------------------------------------------------
# The view


def saved_runs_view(key: str, root: Path | None = None, what: str = "run", empty: str = "None yet.") -> None:
    """The table of runs under `root`, the total size, and the optimizer-state and delete controls."""
    root = root or runs_dir()
    note = st.session_state.pop(f"{key}_runs_note", None)
    if note:
        (st.success if note[0] else st.error)(note[1])
    listed = entries(root)
    if not listed:
        st.caption(empty)
        return
    now = registry.current_run(listed, registry.pinned_id(root))
    pinned = registry.pinned_id(root)
    rows = [_row(entry, now, pinned) for entry in listed]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key=f"{key}_runs",
                 column_config={"validation loss": st.column_config.NumberColumn(format="%.3f"),
                                "size on disk (MB)": st.column_config.NumberColumn(format="%.1f")})
    leftovers = registry.leftovers(root)
    st.caption(f"All saved runs take {registry.total_size(root) / 1e6:,.1f} MB on disk.")
    if leftovers:
        size = sum(p.stat().st_size for p in leftovers if p.exists()) / 1e6
        st.button(f"Free {size:,.1f} MB left by interrupted writes", key=f"{key}_reclaim",
                  icon=":material/cleaning_services:", on_click=_reclaim, args=(key, root))
    _optimizer_section(key, listed)
    _delete_section(key, root, listed, what)


def _row(entry: RunEntry, now: Checkpoint | None, pinned: str | None) -> dict:
    run = entry.checkpoint
    evals = [e for e in run.history if e.get("type") == "eval"] if run else []
    marks = []
    if run is not None and now is not None and run.run_id == now.run_id:
        marks.append("current model")
    if entry.run_id == pinned:
        marks.append("pinned")
    return {
        "run": entry.run_id,
        "status": f"{STATUS_ICONS.get(entry.status, '')} {entry.describe()}",
        "saved (UTC)": run.created[:19].replace("T", " ") if run else "",
        "model": run.preset if run else "",
        "tokens seen": run.progress["tokens_seen"] if run else None,
        "validation loss": evals[-1].get("val_loss") if evals and isinstance(evals[-1].get("val_loss"), float)
        else None,
        "optimizer state": ("kept" if run.has_optimizer else "not kept") if run else "",
        "size on disk (MB)": entry.size_bytes / 1e6,
        "note": ", ".join(marks),
    }


def _label(entry: RunEntry) -> str:
    return f"{entry.run_id} · {entry.describe()}"[:160]


def _optimizer_section(key: str, listed: list[RunEntry]) -> None:
    kept = [e for e in listed if e.checkpoint is not None and e.checkpoint.has_optimizer]
    if not kept:
        return
    with st.expander("Free the optimizer state", icon=":material/compress:"):
        st.caption("A run keeps AdamW's state so that it can resume exactly where it stopped; the state takes "
                   "twice the weights' space. A finished run rarely needs it: without it, resuming starts the "
                   "optimizer afresh from the saved weights.")
        entry = st.selectbox("Run", kept, format_func=_label, key=f"{key}_slim_run")
        st.button(f"Forget the optimizer state of run {entry.run_id}", key=f"{key}_slim",
                  icon=":material/compress:", on_click=_slim, args=(key, entry))


def _delete_section(key: str, root: Path, listed: list[RunEntry], what: str) -> None:
    deletable = [e for e in listed if e.deletable]
    if not deletable:
        return
    with st.expander(f"Delete a {what}", icon=":material/delete:"):
        st.caption("Incomplete and damaged runs hold no usable model: deleting them frees their space. "
                   "Deleting the current model makes the newest finished run the current one.")
        entry = st.selectbox(f"{what.capitalize()} to delete", deletable, format_func=_label,
                             key=f"{key}_delete_run")
        sure = st.checkbox(f"Yes, delete {what} {entry.run_id} and its {entry.size_bytes / 1e6:,.1f} MB",
                           key=f"{key}_delete_sure")
        st.button(f"Delete {what}", disabled=not sure, key=f"{key}_delete", icon=":material/delete:",
                  on_click=_delete, args=(key, root, entry, what))


def _delete(key: str, root: Path, entry: RunEntry, what: str) -> None:
    st.session_state[f"{key}_delete_sure"] = False  # the next deletion asks again
    try:
        registry.delete_entry(entry, root)
    except UserError as err:
        st.session_state[f"{key}_runs_note"] = (False, f"Could not delete {what} {entry.run_id}: {err}")
    else:
        st.session_state[f"{key}_runs_note"] = (True, f"Deleted {what} {entry.run_id}.")
    forget()


def _slim(key: str, entry: RunEntry) -> None:
    try:
        registry.drop_optimizer(entry)
    except UserError as err:
        st.session_state[f"{key}_runs_note"] = (False, f"Could not change run {entry.run_id}: {err}")
    else:
        st.session_state[f"{key}_runs_note"] = (True, f"Run {entry.run_id} no longer keeps its optimizer state.")
    forget()


def _reclaim(key: str, root: Path) -> None:
    freed = registry.reclaim_leftovers(root)
    st.session_state[f"{key}_runs_note"] = (True, f"Freed {freed / 1e6:,.1f} MB.")
    forget()
