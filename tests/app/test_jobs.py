"""Background training jobs: events recorded, stop, one job at a time, failures reported."""

from __future__ import annotations

import threading

import pytest
import torch

from core.app import jobs
from core.app.jobs import JobBusyError, JobSlot, TrainingJob
from core.gpt.events import DoneEvent, StepEvent
from core.gpt.model import GPTModel
from core.gpt.pretrain import make_loaders, pretraining_task
from core.gpt.train import TrainSettings, train

SMALL = {"vocab_size": 500, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2}


def training(stop: threading.Event):
    """A real training loop over a repeating token pattern, long enough to need stopping."""
    torch.manual_seed(0)
    model = GPTModel(SMALL)
    ids = [i % 37 for i in range(4000)]
    train_loader, val_loader = make_loaders(ids, 16, 2)
    task = pretraining_task(train_loader, val_loader)
    return train(model, train_loader, task, TrainSettings(epochs=50, eval_freq=1000, eval_iter=1), stop)


def wait_for(predicate, timeout=30.0):
    finished = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return
        finished.wait(0.01)
    pytest.fail("timed out")


def test_stop_ends_a_running_training_job_within_one_step():
    job = TrainingJob(training).start()
    wait_for(lambda: len(job.snapshot().events) >= 2)
    job.stop()
    steps_when_stopped = sum(isinstance(e, StepEvent) for e in job.snapshot().events)
    assert job.join(timeout=30)
    snap = job.snapshot()
    assert snap.status == "stopped" and not snap.running and snap.error is None and snap.ended >= snap.started
    assert sum(isinstance(e, StepEvent) for e in snap.events) <= steps_when_stopped + 1
    assert isinstance(snap.events[-1], DoneEvent) and snap.events[-1].reason == "stopped"


def test_snapshots_are_copies():
    release = threading.Event()

    def work(stop):
        yield 1
        release.wait(10)
        yield 2

    job = TrainingJob(work).start()
    wait_for(lambda: job.snapshot().events == (1,))
    first = job.snapshot()
    release.set()
    job.join(10)
    assert first.events == (1,) and first.running
    assert job.snapshot().events == (1, 2) and job.snapshot().status == "finished"


def test_a_failing_job_reports_its_message():
    def work(stop):
        yield "started"
        raise ValueError("the text is too short to train on")

    job = TrainingJob(work).start()
    assert job.join(10)
    snap = job.snapshot()
    assert snap.status == "failed" and snap.error == "the text is too short to train on"
    assert snap.events == ("started",)


def test_the_slot_refuses_a_second_job_while_one_runs_and_accepts_one_after():
    slot = JobSlot()
    release = threading.Event()

    def blocking(stop):
        while not (stop.is_set() or release.is_set()):
            release.wait(0.01)
            yield "tick"

    first = slot.start(blocking)
    with pytest.raises(JobBusyError, match="already in progress"):
        slot.start(blocking)
    first.stop()
    assert first.join(10) and first.snapshot().status == "stopped"
    second = slot.start(lambda stop: iter(["done"]))
    assert second.join(10) and second.snapshot().status == "finished"


def test_the_slot_is_safe_when_many_threads_start_at_once():
    slot = JobSlot()
    hold = threading.Event()
    outcomes, started = [], []

    def work(stop):
        hold.wait(10)
        yield "x"

    def try_start():
        try:
            started.append(slot.start(work))
            outcomes.append("started")
        except JobBusyError:
            outcomes.append("busy")

    threads = [threading.Thread(target=try_start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hold.set()
    started[0].join(10)
    assert sorted(outcomes) == ["busy"] * 7 + ["started"]


def test_a_job_trains_with_large_tensors_on_the_heap(monkeypatch):
    """The memory policy the training speed was measured with is the job's to set, around all its work."""
    calls = []

    class Policy:
        def __enter__(self):
            calls.append("enter")

        def __exit__(self, *exc):
            calls.append("exit")

    monkeypatch.setattr(jobs, "heap_for_large_tensors", Policy)

    def work(stop):
        calls.append("work")
        yield "x"

    job = TrainingJob(work).start()
    assert job.join(10) and calls == ["enter", "work", "exit"]
