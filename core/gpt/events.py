"""What a training run reports: one event class per kind, one registry, one JSON form.

The loop in `core.gpt.train` yields these for every task (pretraining, classification, ...);
the app records them live, checkpoints keep them as `history`, the charts draw them. Each class
has a `kind`; `to_dict` writes it under the "type" key, as every saved history has it, and
`from_dict` reads it back. A new task with its own evaluation figures registers its own
`EvalEvent` subclass with `@register("its_kind")`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, TypeVar

from core.errors import UserError

EVENT_TYPES: dict[str, type[TrainingEvent]] = {}
E = TypeVar("E", bound="TrainingEvent")


def perplexity(loss: float) -> float:
    """exp(loss): how many tokens the model is, in effect, choosing among (section 5.1.2)."""
    return math.exp(loss) if loss < 700 else math.inf


class TrainingEvent:
    """Base of every event; `kind` names it in `EVENT_TYPES` and in its dict."""

    kind: ClassVar[str] = ""


def register(kind: str) -> Callable[[type[E]], type[E]]:
    """Class decorator: record an event class under `kind`."""

    def add(cls: type[E]) -> type[E]:
        if kind in EVENT_TYPES:
            raise UserError(f"an event kind {kind!r} is already registered ({EVENT_TYPES[kind].__name__})")
        cls.kind = kind
        EVENT_TYPES[kind] = cls
        return cls

    return add


@register("start")
@dataclass(frozen=True)
class StartEvent(TrainingEvent):
    """A run is set up and about to take its first step."""

    run_id: str
    config: dict[str, Any]
    train_tokens: int
    val_tokens: int
    steps_per_epoch: int
    total_steps: int  # steps this run takes (not counting a resumed run's earlier ones)
    resumed_from: str | None


@register("step")
@dataclass(frozen=True)
class StepEvent(TrainingEvent):
    """One optimizer step: `train_loss` is this batch's loss."""

    step: int
    epoch: int
    tokens_seen: int
    train_loss: float
    lr: float
    tokens_per_s: float
    elapsed: float


@register("eval")
@dataclass(frozen=True)
class EvalEvent(TrainingEvent):
    """Average losses over `eval_iter` batches of the training and validation data."""

    step: int
    epoch: int
    tokens_seen: int
    train_loss: float
    val_loss: float

    @property
    def train_perplexity(self) -> float:
        return perplexity(self.train_loss)

    @property
    def val_perplexity(self) -> float:
        return perplexity(self.val_loss)

    perplexity = val_perplexity


@register("classifier_eval")
@dataclass(frozen=True)
class ClassifierEvalEvent(EvalEvent):
    """Loss and accuracy over `eval_iter` batches of the training and validation data."""

    train_accuracy: float
    val_accuracy: float


@register("sample")
@dataclass(frozen=True)
class SampleEvent(TrainingEvent):
    """Text the model writes after an epoch (greedy, from the sample prompt)."""

    epoch: int
    step: int
    text: str


@register("done")
@dataclass(frozen=True)
class DoneEvent(TrainingEvent):
    """The loop ended: "finished" all epochs or "stopped" on request; `checkpoint` is the run folder."""

    reason: str
    step: int
    epoch: int
    tokens_seen: int
    elapsed: float
    checkpoint: str | None = None


Event = TrainingEvent  # any registered event


def eval_kinds() -> tuple[str, ...]:
    """The kinds that are evaluations (EvalEvent and its subclasses): what a loss chart draws."""
    return tuple(kind for kind, cls in EVENT_TYPES.items() if issubclass(cls, EvalEvent))


def kind_of(data: dict[str, Any]) -> str | None:
    """The kind of an event dict, None when it has none.

    Histories saved before classifier evaluations had a kind of their own wrote them as "eval"
    with accuracy figures; those read as "classifier_eval".
    """
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "eval" and "val_accuracy" in data:
        return ClassifierEvalEvent.kind
    return kind if isinstance(kind, str) else None


def to_dict(event: TrainingEvent) -> dict[str, Any]:
    """A JSON-ready dict with the event's kind under "type"."""
    if EVENT_TYPES.get(getattr(event, "kind", None)) is not type(event):
        raise UserError(f"not a training event: {event!r:.80}")
    return {"type": event.kind, **asdict(event)}


def from_dict(data: dict[str, Any]) -> TrainingEvent:
    """The event `to_dict` made (or an older history's dict); a UserError when it is not one."""
    cls = EVENT_TYPES.get(kind_of(data))
    if cls is None:
        raise UserError(f"not a training event: {data!r:.80}")
    try:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})
    except TypeError as err:
        raise UserError(f"not a valid {cls.kind} event: {err}") from None
