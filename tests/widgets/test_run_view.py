"""Turning training events into the live chart's rows, epoch marks, samples and progress."""

from __future__ import annotations

import math

import pytest

from core.gpt.events import ClassifierEvalEvent, EvalEvent, SampleEvent, StartEvent, StepEvent, to_dict
from core.widgets import run_view

START = {"type": "start", "run_id": "r", "config": {}, "train_tokens": 400, "val_tokens": 40,
         "steps_per_epoch": 4, "total_steps": 8, "resumed_from": None}


def step(n: int, epoch: int, elapsed: float) -> dict:
    return {"type": "step", "step": n, "epoch": epoch, "tokens_seen": 50 * n, "train_loss": 10.0 - n,
            "lr": 4e-4, "tokens_per_s": 100.0, "elapsed": elapsed}


def evaluation(n: int, epoch: int) -> dict:
    return {"type": "eval", "step": n, "epoch": epoch, "tokens_seen": 50 * n, "train_loss": 9.0 - n / 2,
            "val_loss": 9.5 - n / 4}


def events(steps_done: int) -> list[dict]:
    out = [START]
    for n in range(1, steps_done + 1):
        epoch = (n - 1) // 4 + 1
        out.append(step(n, epoch, elapsed=0.5 * n))
        if n % 2 == 1:
            out.append(evaluation(n, epoch))
        if n % 4 == 0:
            out.append({"type": "sample", "epoch": epoch, "step": n, "text": f"after epoch {epoch}"})
    return out


def test_loss_rows_have_both_splits_epochs_and_perplexity():
    rows = run_view.loss_rows(events(6), "run r")
    assert [r["split"] for r in rows[:2]] == ["training", "validation"]
    assert len(rows) == 6  # evaluations after steps 1, 3, 5
    fifth = [r for r in rows if r["step"] == 5]
    assert fifth[0]["epoch"] == pytest.approx(1.25)  # one step into the second epoch of four steps
    assert fifth[1]["perplexity"] == pytest.approx(math.exp(9.5 - 5 / 4))
    assert {r["run"] for r in rows} == {"run r"}


def test_only_completed_epochs_are_marked():
    assert run_view.epoch_ends(events(6)) == [{"epoch": 1, "step": 4, "tokens_seen": 200}]
    assert [e["epoch"] for e in run_view.epoch_ends(events(8))] == [1, 2]


def test_samples_are_newest_first():
    assert [s["text"] for s in run_view.samples(events(8))] == ["after epoch 2", "after epoch 1"]


@pytest.mark.parametrize("text, shown", [
    ("Every effort moves you" + "\n" * 40 + "the", "Every effort moves you\n[40 line breaks]\nthe"),
    ("a\n \n\t\nb", "a\n[3 line breaks]\nb"),  # blank lines with spaces count too
    ("a\n\nb\nc", "a\n\nb\nc"),  # a paragraph break stays as it is
    ("\n\n\n", "\n[3 line breaks]\n"),
])
def test_long_runs_of_line_breaks_in_samples_are_shortened(text, shown):
    assert run_view.shorten_line_breaks(text) == shown


def test_progress_reports_speed_and_time_left():
    progress = run_view.run_progress(events(6))
    assert (progress.steps_done, progress.total_steps, progress.epoch) == (6, 8, 2)
    assert progress.fraction == pytest.approx(0.75)
    assert progress.seconds_left == pytest.approx(3.0 / 6 * 2)
    assert progress.tokens_per_s == 100.0
    assert progress.last_val_loss == pytest.approx(9.5 - 5 / 4)
    assert run_view.run_progress([]) is None
    assert run_view.run_progress([START]).steps_done == 0


def test_a_finished_run_has_no_time_left():
    done = {"type": "done", "reason": "finished", "step": 8, "epoch": 2, "tokens_seen": 400, "elapsed": 4.2,
            "checkpoint": "x"}
    progress = run_view.run_progress(events(8) + [done])
    assert progress.seconds_left == 0.0 and progress.elapsed == 4.2 and progress.fraction == 1.0


def test_a_resumed_run_counts_its_own_steps():
    resumed = {**START, "resumed_from": "old", "total_steps": 4}
    later = [resumed, step(9, 3, 0.5), step(10, 3, 1.0)]
    progress = run_view.run_progress(later)
    assert (progress.steps_done, progress.total_steps) == (2, 4)


def test_saved_histories_without_a_start_event_still_get_epochs():
    saved = [e for e in events(8) if e["type"] != "start"]
    assert run_view.steps_per_epoch(saved) == 4
    assert run_view.loss_rows(saved, "x")[-1]["epoch"] == pytest.approx(1.75)


def test_live_events_become_dicts_and_job_labels_are_left_out():
    live = [StartEvent("r", {}, 1, 1, 1, 1, None), StepEvent(1, 1, 5, 2.0, 1e-3, 10.0, 0.1),
            EvalEvent(1, 1, 5, 2.0, 2.5), SampleEvent(1, 1, "hi"), "not an event"]
    out = run_view.as_dicts(live)
    assert [e["type"] for e in out] == ["start", "step", "eval", "sample"]
    assert out[2] == to_dict(live[2])


def test_batch_rows_follow_every_step():
    rows = run_view.batch_rows(events(5), "r")
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0]["loss"] == 9.0 and rows[0]["split"] == "training batch"
    assert rows[4]["epoch"] == pytest.approx(1.25)


def test_accuracy_rows_come_from_classifier_evaluations_only():
    classifier_eval = to_dict(ClassifierEvalEvent(1, 1, 50, 0.7, 0.69, 0.55, 0.5))
    rows = run_view.accuracy_rows([START, step(1, 1, 0.1), classifier_eval], "r")
    assert [(r["split"], r["accuracy"]) for r in rows] == [("training", 0.55), ("validation", 0.5)]
    assert [r["loss"] for r in run_view.loss_rows([START, step(1, 1, 0.1), classifier_eval], "r")] == [0.7, 0.69]
    assert run_view.accuracy_rows(events(3), "r") == []  # pretraining evaluations have no accuracy


def test_histories_saved_before_classifier_evaluations_had_a_kind_still_draw():
    classifier_eval = {"type": "eval", "step": 1, "epoch": 1, "tokens_seen": 50, "train_loss": 0.7,
                       "val_loss": 0.69, "train_accuracy": 0.55, "val_accuracy": 0.5}
    rows = run_view.accuracy_rows([START, step(1, 1, 0.1), classifier_eval], "r")
    assert [(r["split"], r["accuracy"]) for r in rows] == [("training", 0.55), ("validation", 0.5)]
    assert run_view.accuracy_rows(events(3), "r") == []  # pretraining evaluations have no accuracy


def test_classifier_events_become_dicts():
    out = run_view.as_dicts([ClassifierEvalEvent(1, 1, 8, 0.7, 0.69, 0.5, 0.55)])
    assert out[0]["type"] == "classifier_eval" and out[0]["val_accuracy"] == 0.55
