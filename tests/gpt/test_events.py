"""The one event schema: every kind round-trips through its JSON dict, and histories that earlier
versions saved in checkpoint.json still read as the same events."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from core.gpt.events import (
    EVENT_TYPES,
    ClassifierEvalEvent,
    DoneEvent,
    EvalEvent,
    SampleEvent,
    StartEvent,
    StepEvent,
    eval_kinds,
    from_dict,
    kind_of,
    register,
    to_dict,
)

# Written by the code before the one schema: pretraining's `train.event_to_dict` ...
PRETRAINING_HISTORY = json.loads("""[
 {"type": "start", "run_id": "20261201-120000-ab12", "config": {"vocab_size": 50257, "context_length": 32,
  "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.1, "qkv_bias": false, "tie_weights": false},
  "train_tokens": 4000, "val_tokens": 400, "steps_per_epoch": 31, "total_steps": 31, "resumed_from": null},
 {"type": "step", "step": 1, "epoch": 1, "tokens_seen": 128, "train_loss": 10.9, "lr": 0.0004,
  "tokens_per_s": 512.0, "elapsed": 0.25},
 {"type": "eval", "step": 1, "epoch": 1, "tokens_seen": 128, "train_loss": 10.8, "val_loss": 10.85},
 {"type": "sample", "epoch": 1, "step": 31, "text": "Every effort moves you,,,"},
 {"type": "done", "reason": "finished", "step": 31, "epoch": 1, "tokens_seen": 3968, "elapsed": 7.5,
  "checkpoint": null}
]""")
# ... and fine-tuning's `classifier.event_record`, whose evaluations were "eval" with accuracies.
CLASSIFIER_HISTORY = json.loads("""[
 {"type": "step", "step": 1, "epoch": 1, "tokens_seen": 64, "train_loss": 0.69, "lr": 5e-05,
  "tokens_per_s": 900.0, "elapsed": 0.1},
 {"type": "eval", "step": 1, "epoch": 1, "tokens_seen": 64, "train_loss": 0.7, "val_loss": 0.69,
  "train_accuracy": 0.5, "val_accuracy": 0.55},
 {"type": "done", "reason": "stopped", "step": 1, "epoch": 1, "tokens_seen": 64, "elapsed": 0.2, "checkpoint": null}
]""")


def test_every_kind_survives_a_round_trip_through_json():
    events = [StartEvent("r", {"emb_dim": 32}, 10, 2, 3, 6, None), StepEvent(1, 1, 64, 9.5, 1e-3, 100.0, 0.5),
              EvalEvent(1, 1, 64, 9.0, 9.2), ClassifierEvalEvent(1, 1, 64, 0.7, 0.69, 0.5, 0.55),
              SampleEvent(1, 1, "hi"), DoneEvent("stopped", 1, 1, 64, 0.5, None)]
    for event in events:
        data = json.loads(json.dumps(to_dict(event)))
        assert data["type"] == event.kind == kind_of(data) and EVENT_TYPES[event.kind] is type(event)
        assert from_dict(data) == event
    assert [e.kind for e in events] == ["start", "step", "eval", "classifier_eval", "sample", "done"]


def test_old_pretraining_histories_read_as_the_same_events():
    events = [from_dict(d) for d in PRETRAINING_HISTORY]
    assert [type(e) for e in events] == [StartEvent, StepEvent, EvalEvent, SampleEvent, DoneEvent]
    assert [to_dict(e) for e in events] == PRETRAINING_HISTORY  # and are written back unchanged
    assert events[2].val_perplexity == pytest.approx(51_534, rel=1e-3)


def test_old_classifier_histories_read_their_evaluations_as_classifier_evaluations():
    events = [from_dict(d) for d in CLASSIFIER_HISTORY]
    assert [type(e) for e in events] == [StepEvent, ClassifierEvalEvent, DoneEvent]
    assert events[1] == ClassifierEvalEvent(1, 1, 64, 0.7, 0.69, 0.5, 0.55)
    assert to_dict(events[1]) == {**CLASSIFIER_HISTORY[1], "type": "classifier_eval"}


def test_anything_else_is_refused_with_a_clear_error():
    for bad in ({"type": "nope"}, {"step": 1}, "step", None):
        with pytest.raises(ValueError, match="not a training event"):
            from_dict(bad)
    with pytest.raises(ValueError, match="not a valid step event"):
        from_dict({"type": "step", "step": 1})
    with pytest.raises(ValueError, match="not a training event"):
        to_dict(object())


def test_a_new_task_registers_its_own_evaluation_kind_once():
    @register("test_events_eval")
    @dataclass(frozen=True)
    class BleuEval(EvalEvent):
        val_bleu: float

    event = BleuEval(2, 1, 10, 1.0, 1.5, 0.3)
    assert from_dict(to_dict(event)) == event and "test_events_eval" in eval_kinds()
    with pytest.raises(ValueError, match="already registered"):
        register("test_events_eval")(BleuEval)
