"""What the live pretraining chart shows: loss rows, epoch boundaries, progress and samples.

Works on event dicts as `core.gpt.events.to_dict` makes them, so a live run's events and a
saved checkpoint's history are drawn the same way; events are told apart by their kind.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from core.gpt import events as ev
from core.gpt.events import perplexity

Events = Sequence[dict[str, Any]]


def _of_type(events: Events, *kinds: str) -> list[dict[str, Any]]:
    return [e for e in events if ev.kind_of(e) in kinds]


def steps_per_epoch(events: Events) -> int:
    """Steps in a full epoch: the start event's figure, else the longest epoch seen."""
    for event in _of_type(events, "start"):
        return int(event["steps_per_epoch"])
    counts = Counter(e["epoch"] for e in _of_type(events, "step"))
    return max(counts.values(), default=1)


def fractional_epochs(events: Events) -> dict[int, float]:
    """Epochs completed after each step, e.g. 1.5 halfway through the second epoch."""
    per_epoch = max(steps_per_epoch(events), 1)
    out, done_in_epoch, current = {}, 0, None
    for event in _of_type(events, "step"):
        if event["epoch"] != current:
            current, done_in_epoch = event["epoch"], 0
        done_in_epoch += 1
        out[event["step"]] = event["epoch"] - 1 + min(done_in_epoch / per_epoch, 1.0)
    return out


def loss_rows(events: Events, run: str) -> list[dict[str, Any]]:
    """One row per evaluation and split: run, step, epoch, tokens seen, split, loss and perplexity."""
    epochs = fractional_epochs(events)
    rows = []
    for event in _of_type(events, *ev.eval_kinds()):
        for split in ("train", "val"):
            loss = event[f"{split}_loss"]
            rows.append({
                "run": run,
                "step": event["step"],
                "epoch": round(epochs.get(event["step"], float(event["epoch"])), 3),
                "tokens_seen": event["tokens_seen"],
                "split": "training" if split == "train" else "validation",
                "loss": loss,
                "perplexity": perplexity(loss),
            })
    return rows


def batch_rows(events: Events, run: str) -> list[dict[str, Any]]:
    """Every step's own batch loss: noisier than the evaluations, but new after every step."""
    epochs = fractional_epochs(events)
    return [
        {"run": run, "step": e["step"], "epoch": round(epochs[e["step"]], 3), "tokens_seen": e["tokens_seen"],
         "split": "training batch", "loss": e["train_loss"]}
        for e in _of_type(events, "step")
    ]


def accuracy_rows(events: Events, run: str) -> list[dict[str, Any]]:
    """One row per classifier evaluation and split: run, step, epoch, split and accuracy."""
    epochs = fractional_epochs(events)
    return [
        {
            "run": run,
            "step": event["step"],
            "epoch": round(epochs.get(event["step"], float(event["epoch"])), 3),
            "tokens_seen": event["tokens_seen"],
            "split": "training" if split == "train" else "validation",
            "accuracy": event[f"{split}_accuracy"],
        }
        for event in _of_type(events, ev.ClassifierEvalEvent.kind)
        for split in ("train", "val")
    ]


def epoch_ends(events: Events) -> list[dict[str, Any]]:
    """Where each completed epoch ended: its number, step and tokens seen."""
    last: dict[int, dict[str, Any]] = {}
    for event in _of_type(events, "step"):
        last[event["epoch"]] = event
    per_epoch = steps_per_epoch(events)
    counts = Counter(e["epoch"] for e in _of_type(events, "step"))
    return [
        {"epoch": epoch, "step": e["step"], "tokens_seen": e["tokens_seen"]}
        for epoch, e in sorted(last.items())
        if counts[epoch] >= per_epoch
    ]


def samples(events: Events) -> list[dict[str, Any]]:
    """The text written after each epoch, newest first, with long runs of line breaks shortened."""
    return [{"epoch": e["epoch"], "step": e["step"], "text": shorten_line_breaks(e["text"])}
            for e in reversed(_of_type(events, "sample"))]


_LINE_BREAK_RUN = re.compile(r"(?:[ \t]*\n){3,}")


def shorten_line_breaks(text: str) -> str:
    """Replace each run of three or more line breaks by a one-line marker with its count.

    An early model often writes little but newlines (the commonest token in many texts); shown
    as they are, they would fill the screen with an empty box.
    """
    return _LINE_BREAK_RUN.sub(lambda run: f"\n[{run.group().count(chr(10))} line breaks]\n", text)


@dataclass(frozen=True)
class RunProgress:
    """How far a run is: steps of this run, speed and the time it still needs."""

    steps_done: int
    total_steps: int
    epoch: int
    tokens_seen: int
    tokens_per_s: float | None
    elapsed: float
    seconds_left: float | None
    last_train_loss: float | None
    last_val_loss: float | None

    @property
    def fraction(self) -> float:
        return min(self.steps_done / self.total_steps, 1.0) if self.total_steps else 0.0


def run_progress(events: Events) -> RunProgress | None:
    """Progress of the run whose start event is in `events` (None before it has started)."""
    start = next(iter(_of_type(events, "start")), None)
    if start is None:
        return None
    steps = _of_type(events, "step")
    evals = _of_type(events, *ev.eval_kinds())
    done = next(iter(_of_type(events, "done")), None)
    first_step = steps[0]["step"] - 1 if steps else 0
    steps_done = steps[-1]["step"] - first_step if steps else 0
    elapsed = done["elapsed"] if done else steps[-1]["elapsed"] if steps else 0.0
    left = None
    if steps_done and done is None:
        left = elapsed / steps_done * (start["total_steps"] - steps_done)
    return RunProgress(
        steps_done=steps_done,
        total_steps=int(start["total_steps"]),
        epoch=steps[-1]["epoch"] if steps else 0,
        tokens_seen=steps[-1]["tokens_seen"] if steps else 0,
        tokens_per_s=steps[-1]["tokens_per_s"] if steps else None,
        elapsed=elapsed,
        seconds_left=0.0 if done else left,
        last_train_loss=evals[-1]["train_loss"] if evals else None,
        last_val_loss=evals[-1]["val_loss"] if evals else None,
    )


def as_dicts(events: Iterable[Any]) -> list[dict[str, Any]]:
    """Training events (dataclasses or dicts) as dicts; anything else (a final evaluation) is left out."""
    return [event if isinstance(event, dict) else ev.to_dict(event)
            for event in events if isinstance(event, (dict, ev.TrainingEvent))]
