"""The server's one training slot, shared by every browser session and by both training pages.

Pretraining and spam fine-tuning each take the whole CPU, so they share one `JobSlot` kept in
`st.cache_resource`: a second session sees the running job (and its live chart) instead of
starting a conflicting one. The job's thread never calls Streamlit; pages read snapshots.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import streamlit as st

from core.app.estimates import format_duration
from core.app.jobs import JobBusyError, JobSlot, JobWork, TrainingJob
from core.widgets.run_view import RunProgress

KIND_TITLES = {"pretraining": "A pretraining run", "spam": "A spam-classifier fine-tuning run",
               "instruct": "An instruction fine-tuning run"}
KIND_PAGES = {"pretraining": "the Pretraining page", "spam": "the Spam classifier page",
              "instruct": "the Instruction fine-tuning page"}


@dataclass(frozen=True)
class LiveJob:
    """A job with what it is: `kind` ("pretraining" or "spam") and a one-line summary."""

    kind: str
    summary: str
    job: TrainingJob


class SharedTraining:
    """One `JobSlot` per server and a record of what its latest job is."""

    def __init__(self) -> None:
        self.slot = JobSlot()
        self._lock = threading.Lock()
        self._latest: LiveJob | None = None

    def start(self, kind: str, summary: str, work: JobWork) -> LiveJob:
        """Start `work`; `JobBusyError` while any training job runs on this server."""
        with self._lock:
            live = LiveJob(kind, summary, self.slot.start(work, kind))
            self._latest = live
            return live

    @property
    def latest(self) -> LiveJob | None:
        with self._lock:
            return self._latest


@st.cache_resource(show_spinner=False)
def shared_training() -> SharedTraining:
    return SharedTraining()


def busy_message(live: LiveJob) -> str:
    """Why a new run cannot start now."""
    where = KIND_PAGES[live.kind]
    return (
        f"{KIND_TITLES[live.kind]} is in progress on this server ({live.summary}). Only one training run "
        f"at a time fits the CPU: wait for it to finish, or stop it on {where}."
    )


def free_to_start(kind: str) -> bool:
    """True when no training job runs; otherwise say which one does (below, or on another page)."""
    live = shared_training().latest
    if live is None or not live.job.running:
        return True
    if live.kind == kind:
        st.caption("A run is in progress (below): a new one can start when it ends or is stopped.")
    else:
        st.info(busy_message(live), icon=":material/hourglass_top:")
    return False


# ---------------------------------------------------------------------------------------------
# Pieces of a live view (drawn by a fragment that reruns every second while the job runs)


def rerun_when_done(key: str, running: bool) -> None:
    """Redraw the whole page once when a job this view saw running has ended (its buttons, saved runs)."""
    flag = f"{key}_seen_running"
    if running:
        st.session_state[flag] = True
    elif st.session_state.pop(flag, False):
        st.rerun()


def owner_note(key: str, live: LiveJob) -> str:
    return "" if st.session_state.get(f"{key}_mine") == id(live.job) else " (started in another browser session)"


def stopping(key: str, live: LiveJob) -> bool:
    return st.session_state.get(f"{key}_stopping") == id(live.job)


def _request_stop(key: str, live: LiveJob) -> None:
    live.job.stop()
    st.session_state[f"{key}_stopping"] = id(live.job)


def stop_button(key: str, live: LiveJob) -> None:
    """Stop the job after its current step; any session may stop it."""
    st.button("Stop training", key=f"{key}_stop", icon=":material/stop:", disabled=stopping(key, live),
              on_click=_request_stop, args=(key, live))


def start_job(key: str, kind: str, summary: str, work: JobWork) -> LiveJob | None:
    """Start `work` in the shared slot, or say why not; the session remembers the job as its own."""
    try:
        live = shared_training().start(kind, summary, work)
    except JobBusyError as err:
        st.info(str(err), icon=":material/hourglass_top:")
        return None
    st.session_state[f"{key}_mine"] = id(live.job)
    return live


def progress_bar(progress: RunProgress | None, stop_requested: bool = False) -> None:
    """Steps done, epoch, speed and time left, or that the run is still being set up."""
    if progress is None:
        st.progress(0.0, text="Preparing: reading the data and building the model...")
        return
    parts = [f"step {progress.steps_done:,} of {progress.total_steps:,}", f"epoch {progress.epoch}"]
    if progress.tokens_per_s:
        parts.append(f"{progress.tokens_per_s:,.0f} tokens/s")
    if stop_requested:
        parts.append("stopping after this step...")
    elif progress.steps_done >= progress.total_steps:
        parts.append("last step done: measuring and saving...")
    elif progress.seconds_left:
        parts.append(f"about {format_duration(progress.seconds_left)} left")
    st.progress(progress.fraction, text=" · ".join(parts))
