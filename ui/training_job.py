"""The server's one training slot, shared by every browser session and by both training pages.

Pretraining and spam fine-tuning each take the whole CPU, so they share one `JobSlot` kept in
`st.cache_resource`: a second session sees the running job (and its live chart), and may queue
its own run, which starts when the slot frees. The job's thread never calls Streamlit; pages
read snapshots. Every open page polls the slot's version cheaply and redraws when a run starts,
ends or the line changes, so that no page offers a stale Start button.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import streamlit as st

from core.app.estimates import available_memory, format_duration
from core.app.jobs import JobSlot, JobSnapshot, JobWork, SlotEntry
from core.errors import UserError
from core.gpt.events import DoneEvent
from core.widgets import run_view
from core.widgets.run_view import RunProgress

KIND_TITLES = {"pretraining": "A pretraining run", "spam": "A spam-classifier fine-tuning run",
               "instruct": "An instruction fine-tuning run"}
KIND_PAGES = {"pretraining": "the Pretraining page", "spam": "the Spam classifier page",
              "instruct": "the Instruction fine-tuning page"}
WATCH_S = 2.0  # how often an open page asks whether the slot changed
MAX_POINTS = 300  # per chart series: more only costs the browser time the training needs
LiveJob = SlotEntry  # kind, summary, owner and its job


@st.cache_resource(show_spinner=False)
def shared_training() -> JobSlot:
    return JobSlot(max_waiting_per_owner=1, memory_limit=available_memory)


def session_id() -> str:
    """A name for this browser session, kept for its lifetime (who started or stopped a run)."""
    return st.session_state.setdefault("training_session_id", uuid.uuid4().hex[:8])


def mine(live: LiveJob) -> bool:
    return live.owner == session_id()


def busy_message(live: LiveJob) -> str:
    """What runs now, and where to watch or stop it."""
    where = KIND_PAGES[live.kind]
    return (
        f"{KIND_TITLES[live.kind]} is in progress on this server ({live.summary}). Only one training run "
        f"at a time fits the CPU: queue yours to start when it ends, or stop it on {where}."
    )


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def _waiting_entry() -> SlotEntry | None:
    return next((e for e in shared_training().line() if e.owner == session_id()), None)


def _cancel(entry: SlotEntry) -> None:
    shared_training().cancel(entry)


def start_button(key: str, kind: str, label: str, disabled: bool = False) -> bool:
    """The start button when the slot is free; while it is busy, what runs and a button to queue
    this session's run instead; while this session's run waits, its place in line and a cancel."""
    slot = shared_training()
    waiting = _waiting_entry()
    if waiting is not None:
        position = slot.position(waiting)
        if position is not None:
            st.info(f"Your run ({waiting.summary}) is waiting: you are {_ordinal(position + 1)} in line, "
                    "counting the run in progress. It starts by itself when the slot frees.",
                    icon=":material/hourglass_top:")
            st.button("Cancel my queued run", key=f"{key}_cancel_queued", icon=":material/close:",
                      on_click=_cancel, args=(waiting,))
        return False
    live = slot.latest
    if not slot.busy() and not slot.line():
        return st.button(label, type="primary", disabled=disabled, key=f"{key}_start_button",
                         icon=":material/play_arrow:")
    if live is not None and live.kind == kind and live.job is not None and live.job.running:
        st.caption("A run is in progress (below): yours can wait in line and start when it ends or is stopped.")
    elif live is not None:
        st.info(busy_message(live), icon=":material/hourglass_top:")
    waiting_now = len(slot.line())
    after = f" after {waiting_now} other{'s' * (waiting_now > 1)} waiting" if waiting_now else ""
    return st.button(f"Queue this run{after}", disabled=disabled, key=f"{key}_queue_button",
                     icon=":material/queue:")


def start_job(key: str, kind: str, summary: str, work: JobWork, *, uses: Iterable[str] = (),
              memory_bytes: int | None = None) -> LiveJob | None:
    """Start `work` in the shared slot or put it in line, or say why not."""
    try:
        entry = shared_training().submit(work, kind, summary=summary, owner=session_id(), uses=uses,
                                         memory_bytes=memory_bytes)
    except UserError as err:
        st.error(str(err), icon=":material/block:")
        return None
    st.session_state[f"training_mine_{kind}"] = entry
    return entry


def earlier_run_note(kind: str) -> None:
    """This session's own last run, once another has taken the slot: how it ended, and who stopped it."""
    entry = st.session_state.get(f"training_mine_{kind}")
    if entry is None or entry.job is None or entry is shared_training().latest or entry.job.running:
        return
    snapshot = entry.job.snapshot()
    done = next((e for e in snapshot.events if isinstance(e, DoneEvent)), None)
    ended = f" after {done.step:,} steps" if done is not None else ""
    how = {"finished": "finished", "stopped": "was stopped", "failed": f"failed ({snapshot.error})"}[snapshot.status]
    st.info(f"Your run ({entry.summary}) {how}{ended}; it is saved with the others. Another run has started since.",
            icon=":material/history:")
    stop_note(entry, snapshot)


def refused_note(key: str) -> None:
    """Tell this session when its queued run could not start (it no longer fitted in memory)."""
    seen = st.session_state.setdefault(f"{key}_refused_seen", set())
    for entry in shared_training().refused():
        if entry.owner == session_id() and entry.number not in seen:
            seen.add(entry.number)
            st.error(f"Your queued run ({entry.summary}) could not start: {entry.refused}", icon=":material/block:")


def watch_slot(key: str) -> None:
    """Redraw the page when another session starts or ends a run or the line changes."""
    st.session_state[f"{key}_slot_version"] = shared_training().version
    st.fragment(_watch, run_every=WATCH_S)(key)


def _watch(key: str) -> None:
    if shared_training().version != st.session_state.get(f"{key}_slot_version"):
        st.rerun()


# ---------------------------------------------------------------------------------------------
# Pieces of a live view (drawn by fragments that rerun while the job runs)


def refresh_s(base: float) -> float:
    """How often a live view redraws: slower when the machine is busy, so that drawing takes less
    of the CPU that training needs."""
    return base * 2 if machine_busy() else base


def rerun_when_done(key: str, running: bool) -> None:
    """Redraw the whole page once when a job this view saw running has ended (its buttons, saved runs)."""
    flag = f"{key}_seen_running"
    if running:
        st.session_state[flag] = True
    elif st.session_state.pop(flag, False):
        st.rerun()


def owner_note(key: str, live: LiveJob) -> str:
    return "" if mine(live) else " (started in another browser session)"


def stopping(snapshot: JobSnapshot) -> bool:
    return snapshot.stop_request is not None


def _request_stop(key: str) -> None:
    shared_training().stop(by=session_id())


def stop_button(key: str, live: LiveJob, snapshot: JobSnapshot) -> None:
    """Stop the job after its current step; any session may stop it, and the owner is told who did."""
    st.button("Stop training", key=f"{key}_stop", icon=":material/stop:", disabled=stopping(snapshot),
              on_click=_request_stop, args=(key,))


def stop_note(live: LiveJob, snapshot: JobSnapshot) -> None:
    """Who asked the run to stop, and when."""
    request = snapshot.stop_request
    if request is None:
        return
    at = time.strftime("%H:%M:%S", time.localtime(request.at))
    if request.by == session_id():
        st.caption(f"You asked it to stop at {at}.")
    else:
        st.warning(f"Stopped from another browser session at {at}.", icon=":material/front_hand:")


def machine_busy() -> bool:
    """More runnable work than cores (the 1-minute load average): timings run slower than measured."""
    try:
        return os.getloadavg()[0] > (os.cpu_count() or 1)
    except OSError:
        return False


def busy_caption() -> str:
    return " The machine is busy (other programs use the CPU): estimates may be low." if machine_busy() else ""


def progress_bar(progress: RunProgress | None, stop_requested: bool = False, ended: str | None = None) -> None:
    """Steps done, epoch, speed and time left (from the steps/s measured so far), or that the run is being set up;
    `ended` ("finished", "stopped") ends the text once the job is over."""
    if progress is None:
        st.progress(0.0, text="Preparing: reading the data and building the model...")
        return
    parts = [f"step {progress.steps_done:,} of {progress.total_steps:,}", f"epoch {progress.epoch}"]
    if progress.tokens_per_s:
        parts.append(f"{progress.tokens_per_s:,.0f} tokens/s")
    if ended:
        parts.append(ended)
    elif stop_requested:
        parts.append("stopping after this step...")
    elif progress.steps_done >= progress.total_steps:
        parts.append("last step done: measuring and saving...")
    elif progress.seconds_left:
        parts.append(f"about {format_duration(progress.seconds_left)} left at the speed so far")
    st.progress(progress.fraction, text=" · ".join(parts))
    if machine_busy():
        st.caption("The machine is busy (other programs use the CPU): training runs slower than it could.")


def thin(rows: Sequence[dict[str, Any]], limit: int = MAX_POINTS) -> list[dict[str, Any]]:
    """At most about `limit` rows per split, evenly spaced, each split's last row kept (the newest figure)."""
    splits: dict[Any, list[dict[str, Any]]] = {}
    for row in rows:
        splits.setdefault(row.get("split"), []).append(row)
    kept = []
    for group in splits.values():
        stride = max(1, -(-len(group) // limit))
        kept += group[::stride] if (len(group) - 1) % stride == 0 else [*group[::stride], group[-1]]
    return kept


def drawn_once(key: str, signature: Any, build: Any) -> Any:
    """`build()`, reused while `signature` (e.g. the events' count) is unchanged: a fragment rerun
    with nothing new redraws the same chart without building it again."""
    cached = st.session_state.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    value = build()
    st.session_state[key] = (signature, value)
    return value


def fine_tuning_view(key: str, kind: str) -> tuple[LiveJob, JobSnapshot, list[dict[str, Any]]] | None:
    """The latest job when it is a fine-tuning of `kind`: its heading and stop note drawn, its snapshot and events."""
    live = shared_training().latest
    if live is None or live.kind != kind:
        return None
    snapshot = live.job.snapshot()
    rerun_when_done(key, snapshot.running)
    st.markdown(f"**Fine-tuning {live.summary}**{owner_note(key, live)}")
    stop_note(live, snapshot)
    return live, snapshot, run_view.as_dicts(snapshot.events)
