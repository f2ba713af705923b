"""Running a training event stream in a background thread, one job at a time per server.

The thread only appends events to a lock-guarded list; the app's pages take snapshots of it
from their own script thread (Streamlit calls are never made from here). The job also sets the
process-wide memory policy that training is measured fastest with (`heap_for_large_tensors`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from core.errors import UserError
from core.gpt.fastpath import heap_for_large_tensors

# A job's work: given the stop flag, an iterable of events that checks it between steps.
JobWork = Callable[[threading.Event], Iterable[Any]]


class JobBusyError(UserError):
    """A training job is already running on this server."""


@dataclass(frozen=True)
class JobSnapshot:
    """A copy of a job's state at one moment."""

    status: str  # "running", "finished", "stopped" or "failed"
    events: tuple[Any, ...]
    error: str | None  # why a failed job failed
    started: float  # time.time() when it started
    ended: float | None

    @property
    def running(self) -> bool:
        return self.status == "running"


class TrainingJob:
    """Consumes `work(stop)` in a daemon thread, recording every event it yields."""

    def __init__(self, work: JobWork, name: str = "training"):
        self._work = work
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._events: list[Any] = []
        self._status = "running"
        self._error: str | None = None
        self._started = time.time()
        self._ended: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"llm-journal-{name}", daemon=True)

    def start(self) -> TrainingJob:
        self._thread.start()
        return self

    def _run(self) -> None:
        status, error = "failed", "the training thread ended unexpectedly"
        try:
            with heap_for_large_tensors():
                for event in self._work(self._stop):
                    with self._lock:
                        self._events.append(event)
            status, error = ("stopped" if self._stop.is_set() else "finished"), None
        except Exception as err:  # the job reports any failure instead of dying silently
            error = str(err) or type(err).__name__
        finally:
            with self._lock:
                self._status, self._error, self._ended = status, error, time.time()

    def stop(self) -> None:
        """Ask the work to stop before its next step."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        with self._lock:
            return self._status == "running"

    def snapshot(self) -> JobSnapshot:
        """Status and a copy of the events so far."""
        with self._lock:
            return JobSnapshot(self._status, tuple(self._events), self._error, self._started, self._ended)


class JobSlot:
    """Room for one training job at a time (keep one per server, e.g. in `st.cache_resource`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._job: TrainingJob | None = None

    def start(self, work: JobWork, name: str = "training") -> TrainingJob:
        """Start `work` in a new job; JobBusyError while another is still running."""
        with self._lock:
            if self._job is not None and self._job.running:
                raise JobBusyError(
                    "a training run is already in progress on this server; wait for it to finish or stop it first"
                )
            self._job = TrainingJob(work, name).start()
            return self._job
