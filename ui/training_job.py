"""The server's one training slot, shared by every browser session and by both training pages.

Pretraining and spam fine-tuning each take the whole CPU, so they share one `JobSlot` kept in
`st.cache_resource`: a second session sees the running job (and its live chart) instead of
starting a conflicting one. The job's thread never calls Streamlit; pages read snapshots.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import streamlit as st

from core.jobs import JobSlot, JobWork, TrainingJob

KIND_TITLES = {"pretraining": "A pretraining run", "spam": "A spam-classifier fine-tuning run"}


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
    where = "the Pretraining page" if live.kind == "pretraining" else "the Spam classifier page"
    return (
        f"{KIND_TITLES[live.kind]} is in progress on this server ({live.summary}). Only one training run "
        f"at a time fits the CPU: wait for it to finish, or stop it on {where}."
    )
