"""The run registry: every run folder under `runs/`, what state it is in, what it takes on disk,
and the one definition of "the current model".

A folder named like a run is one of: finished, stopped (early, by the learner), incomplete (no
`checkpoint.json`: a save was interrupted, or is still being written a moment ago: "saving"),
damaged (its description cannot be read or does not make sense), or a LoRA adapter (described by
`lora.json`). Every one is listed, so that
nothing on disk is out of the learner's reach. The current model is the pinned run (the pin lives
in `runs/pinned.json`), else the newest finished run, else the newest stopped one: a run stopped
early never silently replaces a pinned or finished one.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from core.app.jobs import check_not_in_use
from core.atomic import leftover_temporaries, write_text
from core.errors import UserError
from core.gpt import checkpoint as ckpt
from core.gpt.checkpoint import Checkpoint, CheckpointError
from core.gpt.lora import is_adapter
from core.paths import runs_dir

FINISHED, STOPPED, INCOMPLETE, SAVING, DAMAGED = "finished", "stopped", "incomplete", "saving", "damaged"
ADAPTER = "adapter"  # a LoRA adapter run (`core.gpt.lora`): complete, described by its own file
PIN_FILE = "pinned.json"
MAX_PIN_BYTES = 4096
# A folder without checkpoint.json that changed this recently may be a save in progress (a save
# takes a few seconds); older ones were interrupted.
SAVING_GRACE_S = 120.0


@dataclass(frozen=True)
class RunEntry:
    """One run folder as the learner sees it."""

    run_id: str
    path: Path
    status: str  # FINISHED, STOPPED, INCOMPLETE, SAVING or DAMAGED
    size_bytes: int
    checkpoint: Checkpoint | None = None
    problem: str = ""  # why it is damaged or incomplete
    changed: float = 0.0  # newest modification time of its files (seconds since the epoch)

    @property
    def complete(self) -> bool:
        return self.checkpoint is not None

    @property
    def deletable(self) -> bool:
        return self.status != SAVING

    def describe(self) -> str:
        """Its state in words: "finished after 1,200 steps", "stopped at step 12 of 100", ..."""
        if self.checkpoint is not None:
            return run_state(self.checkpoint)
        if self.status == SAVING:
            return "being saved right now"
        if self.status == ADAPTER:
            return "a LoRA adapter on top of its base model (compared on the LoRA page)"
        if self.status == INCOMPLETE:
            return "incomplete: its save was interrupted, so it holds no usable model"
        return f"damaged: {self.problem}"


def run_state(run: Checkpoint) -> str:
    step = run.progress["step"]
    if run.status == FINISHED:
        return f"finished after {step:,} steps"
    total = run.total_steps
    return f"stopped at step {step:,}" + (f" of {total:,}" if total and total > step else "") + " (early)"


def run_label(run: Checkpoint) -> str:
    """One line naming a run for lists and choosers."""
    return f"{run.run_id} · {run.preset} · {run_state(run)}"


# ---------------------------------------------------------------------------------------------
# Listing


def _changed(folder: Path) -> float:
    try:
        return max([folder.lstat().st_mtime, *(f.lstat().st_mtime for f in folder.iterdir())])
    except OSError:
        return 0.0


def read_entry(folder: Path, now: float | None = None) -> RunEntry:
    """The state of one run folder; never raises for what is inside it."""
    size, changed = ckpt.folder_size(folder), _changed(folder)
    if folder.is_symlink() or not folder.is_dir():
        return RunEntry(folder.name, folder, DAMAGED, 0, problem="it is a link or a file, not a run folder",
                        changed=changed)
    meta = folder / ckpt.META_FILE
    if not meta.exists() and not meta.is_symlink() and is_adapter(folder):
        return RunEntry(folder.name, folder, ADAPTER, size, changed=changed)
    if not meta.exists() and not meta.is_symlink():
        recent = (time.time() if now is None else now) - changed < SAVING_GRACE_S
        return RunEntry(folder.name, folder, SAVING if recent else INCOMPLETE, size,
                        problem=f"it has no {ckpt.META_FILE}", changed=changed)
    try:
        run = ckpt.read_checkpoint(folder)
    except CheckpointError as err:
        return RunEntry(folder.name, folder, DAMAGED, size, problem=str(err), changed=changed)
    return RunEntry(folder.name, folder, run.status, size, run, changed=changed)


def list_entries(root: Path | None = None, now: float | None = None) -> list[RunEntry]:
    """Every folder named like a run under `root` (default `runs_dir()`), newest first."""
    root = root or runs_dir()
    try:
        folders = [f for f in root.iterdir() if ckpt.is_run_id(f.name)] if root.is_dir() else []
    except OSError:
        folders = []
    entries = [read_entry(folder, now) for folder in folders]
    return sorted(entries, key=lambda e: (e.checkpoint.created if e.checkpoint else _iso(e.changed), e.run_id),
                  reverse=True)


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def complete_runs(entries: list[RunEntry]) -> list[Checkpoint]:
    return [e.checkpoint for e in entries if e.checkpoint is not None]


def signature(root: Path | None = None) -> tuple[tuple[str, int, int], ...]:
    """What changes whenever a run is saved, deleted, pinned or damaged: a cache key for listings."""
    root = root or runs_dir()
    if not root.is_dir():
        return ()
    marks = []
    for path in [root / PIN_FILE, *(f / ckpt.META_FILE for f in root.iterdir() if ckpt.is_run_id(f.name))]:
        try:
            info = path.lstat()
            marks.append((str(path), info.st_mtime_ns, info.st_size))
        except OSError:
            marks.append((str(path), 0, -1))
    return tuple(sorted(marks))


# ---------------------------------------------------------------------------------------------
# The current model and its pin


def pinned_id(root: Path | None = None) -> str | None:
    """The pinned run's id, or None (no pin, or a damaged pin file, which counts as none)."""
    path = (root or runs_dir()) / PIN_FILE
    try:
        if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_PIN_BYTES:
            return None
        run_id = json.loads(path.read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError, RecursionError):
        return None
    return run_id if ckpt.is_run_id(run_id) else None


def pin_run(run_id: str, root: Path | None = None) -> None:
    """Make run `run_id` the current model until it is unpinned or deleted."""
    root = root or runs_dir()
    ckpt.run_path(run_id, root)  # refuses anything but a run name
    try:
        write_text(root / PIN_FILE, json.dumps({"run_id": run_id}))
    except OSError as err:
        raise UserError(f"could not pin run {run_id}: {err.strerror or err}") from None


def unpin(root: Path | None = None) -> None:
    try:
        ((root or runs_dir()) / PIN_FILE).unlink(missing_ok=True)
    except OSError as err:
        raise UserError(f"could not remove the pin: {err.strerror or err}") from None


def current_run(entries: list[RunEntry], pinned: str | None = None) -> Checkpoint | None:
    """The pinned run if it is complete, else the newest finished run, else the newest stopped one."""
    runs = complete_runs(entries)
    for run in runs:
        if run.run_id == pinned:
            return run
    return next((r for r in runs if r.status == FINISHED), runs[0] if runs else None)


def current_checkpoint(root: Path | None = None) -> Checkpoint | None:
    """The current model of `root` (default `runs_dir()`), read from disk now."""
    return current_run(list_entries(root), pinned_id(root))


# ---------------------------------------------------------------------------------------------
# Deleting, reclaiming and sizes


def delete_entry(entry: RunEntry, root: Path | None = None, now: float | None = None) -> None:
    """Delete a run folder, whatever its state, except one being saved or used by a training job;
    a pin on it goes too."""
    root = root or runs_dir()
    check_not_in_use(entry.run_id)
    fresh = read_entry(entry.path, now)
    if not fresh.deletable:
        raise UserError(f"run {entry.run_id} is being saved right now: wait a moment and try again")
    try:
        ckpt.delete_run(entry.run_id, root)
        if pinned_id(root) == entry.run_id:
            unpin(root)
    except OSError as err:
        raise UserError(f"could not delete run {entry.run_id}: {err.strerror or err}") from None


def leftovers(root: Path | None = None) -> list[Path]:
    """Temporary files an interrupted write left in the runs folder or in a complete run's folder."""
    root = root or runs_dir()
    found = list(leftover_temporaries(root))
    for entry in list_entries(root):
        if entry.complete:
            found += leftover_temporaries(entry.path)
    return found


def reclaim_leftovers(root: Path | None = None) -> int:
    """Delete `leftovers`; the bytes freed."""
    freed = 0
    for path in leftovers(root):
        try:
            size = path.lstat().st_size
            path.unlink()
            freed += size
        except OSError:
            continue
    return freed


def total_size(root: Path | None = None) -> int:
    """Bytes every file under the runs folder takes (classifiers included; links not followed)."""
    total = 0
    for folder, _, files in os.walk(root or runs_dir()):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                continue
    return total


def drop_optimizer(entry: RunEntry) -> None:
    """Free a complete run's optimizer state (it can still be resumed, from its weights alone)."""
    if entry.checkpoint is None:
        raise UserError(f"run {entry.run_id} is not complete")
    ckpt.drop_optimizer(entry.checkpoint)
