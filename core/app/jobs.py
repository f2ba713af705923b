"""Running a training event stream in a background thread, one job at a time per server, others in line.

The thread only appends events to a lock-guarded list; the app's pages take snapshots of it
from their own script thread (Streamlit calls are never made from here). The job also sets the
process-wide memory policy that training is measured fastest with (`heap_for_large_tensors`).
A slot starts the next waiting run itself when its job ends, and knows which saved runs its
jobs read, so that deleting one can be refused while it is in use (`runs_in_use`, `check_not_in_use`).
"""

from __future__ import annotations

import collections
import itertools
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from core.errors import UserError
from core.gpt.fastpath import heap_for_large_tensors

# A job's work: given the stop flag, an iterable of events that checks it between steps.
JobWork = Callable[[threading.Event], Iterable[Any]]


class JobBusyError(UserError):
    """A training job is already running on this server."""


class QueueFullError(UserError):
    """This session already has a run waiting in line."""


class TooLargeError(UserError):
    """A run needs more memory than this machine can give it."""


@dataclass(frozen=True)
class StopRequest:
    """Who asked a job to stop (a session's name, "" when unknown) and when (time.time())."""

    by: str
    at: float


@dataclass(frozen=True)
class JobSnapshot:
    """A copy of a job's state at one moment."""

    status: str  # "running", "finished", "stopped" or "failed"
    events: tuple[Any, ...]
    error: str | None  # why a failed job failed
    started: float  # time.time() when it started
    ended: float | None
    stop_request: StopRequest | None = None

    @property
    def running(self) -> bool:
        return self.status == "running"


class TrainingJob:
    """Consumes `work(stop)` in a daemon thread, recording every event it yields."""

    def __init__(self, work: JobWork, name: str = "training", on_end: Callable[[], None] | None = None):
        self._work = work
        self._on_end = on_end
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._events: list[Any] = []
        self._status = "running"
        self._error: str | None = None
        self._started = time.time()
        self._ended: float | None = None
        self._stop_request: StopRequest | None = None
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
            if self._on_end is not None:
                self._on_end()

    def stop(self, by: str = "") -> None:
        """Ask the work to stop before its next step; the first request's sender and time are kept."""
        with self._lock:
            if self._stop_request is None and self._status == "running":
                self._stop_request = StopRequest(by, time.time())
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
            return JobSnapshot(self._status, tuple(self._events), self._error, self._started, self._ended,
                               self._stop_request)


@dataclass(eq=False)
class SlotEntry:
    """A run asked of the slot: waiting in line until `job` is set, or `refused` with the reason."""

    number: int  # unique on this server (unlike id(), never reused)
    kind: str
    summary: str
    owner: str
    work: JobWork = field(repr=False)
    uses: frozenset[str] = frozenset()  # run ids it reads (a run it resumes or fine-tunes)
    memory_bytes: int | None = None
    job: TrainingJob | None = None
    refused: str | None = None
    cancelled: bool = False

    @property
    def waiting(self) -> bool:
        return self.job is None and self.refused is None and not self.cancelled


_SLOTS: weakref.WeakSet[JobSlot] = weakref.WeakSet()
_SLOTS_LOCK = threading.Lock()


def runs_in_use() -> frozenset[str]:
    """Run ids read by any running or waiting job in this process (every slot's)."""
    with _SLOTS_LOCK:
        slots = list(_SLOTS)
    return frozenset().union(*(slot.runs_in_use() for slot in slots))


def check_not_in_use(run_id: str) -> None:
    """Refuse (UserError) to let a run go while a job resumes or fine-tunes from it."""
    if run_id in runs_in_use():
        raise UserError(f"run {run_id} is in use by a training run (resumed or fine-tuned from): "
                        "delete it once that run has ended")


class JobSlot:
    """Room for one training job at a time, and a line of runs waiting for it (keep one per server,
    e.g. in `st.cache_resource`). `version` grows at every change a page may want to redraw for."""

    def __init__(self, max_waiting_per_owner: int = 1, memory_limit: Callable[[], int | None] = lambda: None):
        self._lock = threading.RLock()
        self._max_waiting = max_waiting_per_owner
        self._memory_limit = memory_limit
        self._numbers = itertools.count(1)
        self._current: SlotEntry | None = None
        self._line: list[SlotEntry] = []
        self._refused: collections.deque[SlotEntry] = collections.deque(maxlen=32)
        self._version = 0
        with _SLOTS_LOCK:
            _SLOTS.add(self)

    # -- what pages read

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    @property
    def latest(self) -> SlotEntry | None:
        """The entry that runs now or ran last."""
        with self._lock:
            return self._current

    def line(self) -> tuple[SlotEntry, ...]:
        """The entries waiting, first in line first."""
        with self._lock:
            return tuple(self._line)

    def refused(self) -> tuple[SlotEntry, ...]:
        """The latest entries that could not start when their turn came."""
        with self._lock:
            return tuple(self._refused)

    def position(self, entry: SlotEntry) -> int | None:
        """1 for the next to start, 2 after it, ...; None when `entry` is not waiting."""
        with self._lock:
            return self._line.index(entry) + 1 if entry in self._line else None

    def busy(self) -> bool:
        with self._lock:
            return self._current is not None and self._current.job is not None and self._current.job.running

    def runs_in_use(self) -> frozenset[str]:
        """Run ids that the running job and the waiting ones read: not to be deleted now."""
        with self._lock:
            entries = [*self._line, *([self._current] if self.busy() else [])]
            return frozenset().union(*(e.uses for e in entries))

    # -- what sessions do

    def start(self, work: JobWork, name: str = "training", *, summary: str = "", owner: str = "",
              uses: Iterable[str] = (), memory_bytes: int | None = None) -> SlotEntry:
        """Start `work` now; JobBusyError while another job runs or others wait."""
        with self._lock:
            if self.busy() or self._line:
                raise JobBusyError(
                    "a training run is already in progress on this server; wait for it to finish or stop it first"
                )
            return self.submit(work, name, summary=summary, owner=owner, uses=uses, memory_bytes=memory_bytes)

    def submit(self, work: JobWork, kind: str = "training", *, summary: str = "", owner: str = "",
               uses: Iterable[str] = (), memory_bytes: int | None = None) -> SlotEntry:
        """Start `work` when the slot is free, else put it in line (at most `max_waiting_per_owner`
        waiting per owner). A run that cannot fit in memory is refused before it starts."""
        with self._lock:
            self._check_memory(memory_bytes)
            if sum(e.owner == owner for e in self._line) >= self._max_waiting:
                raise QueueFullError("you already have a run waiting in line: cancel it first to queue another")
            entry = SlotEntry(next(self._numbers), kind, summary, owner, work, frozenset(uses), memory_bytes)
            self._line.append(entry)
            self._changed()
            self._advance()
            return entry

    def cancel(self, entry: SlotEntry) -> bool:
        """Take a waiting entry out of line; False when it has already started (stop it instead)."""
        with self._lock:
            if entry not in self._line:
                return False
            self._line.remove(entry)
            entry.cancelled = True
            self._changed()
            return True

    def stop(self, by: str = "") -> None:
        """Ask the running job to stop, saying who asked."""
        with self._lock:
            if self.busy():
                self._current.job.stop(by)
                self._changed()

    # -- inside

    def _check_memory(self, memory_bytes: int | None) -> None:
        limit = self._memory_limit() if memory_bytes is not None else None
        if limit is not None and memory_bytes > 0.9 * limit:
            raise TooLargeError(
                f"this run needs about {memory_bytes / 2**30:,.1f} GB of memory and the machine can give "
                f"{limit / 2**30:,.1f} GB now: choose a smaller model, batch or context"
            )

    def _changed(self) -> None:
        self._version += 1

    def _advance(self) -> None:
        """Start the first waiting entry that fits, when nothing runs."""
        while self._line and not self.busy():
            entry = self._line.pop(0)
            try:
                self._check_memory(entry.memory_bytes)
            except TooLargeError as err:
                entry.refused = str(err)
                self._refused.append(entry)
                self._changed()
                continue
            entry.job = TrainingJob(entry.work, entry.kind, on_end=self._ended)
            self._current = entry
            self._changed()
            entry.job.start()

    def _ended(self) -> None:
        with self._lock:
            self._changed()
            self._advance()
