"""Background training jobs: events recorded, stop, one job at a time, failures reported."""

from __future__ import annotations

import threading

import pytest
import torch

from core.app import jobs
from core.app.jobs import JobBusyError, JobSlot, QueueFullError, TooLargeError, TrainingJob
from core.gpt.events import DoneEvent, EvalEvent, StepEvent
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

    first = slot.start(blocking).job
    with pytest.raises(JobBusyError, match="already in progress"):
        slot.start(blocking)
    first.stop()
    assert first.join(10) and first.snapshot().status == "stopped"
    second = slot.start(lambda stop: iter(["done"])).job
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
            started.append(slot.start(work).job)
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


def held(release: threading.Event, label: str = "tick"):
    """Work that yields until released or stopped."""
    def work(stop):
        while not (stop.is_set() or release.is_set()):
            release.wait(0.01)
            yield label
    return work


def test_a_second_run_waits_in_line_and_starts_when_the_first_ends():
    slot, release = JobSlot(), threading.Event()
    first = slot.submit(held(release), "pretraining", owner="a")
    version = slot.version
    second = slot.submit(lambda stop: iter(["second"]), "spam", owner="b", summary="b's run")
    assert first.job is not None and first.job.running
    assert second.job is None and second.waiting and slot.position(second) == 1 and slot.version > version
    assert slot.latest is first and slot.line() == (second,)
    release.set()
    assert first.job.join(10)
    wait_for(lambda: second.job is not None and second.job.join(0.01), timeout=10)
    assert slot.latest is second and second.job.snapshot().events == ("second",) and slot.line() == ()


def test_one_waiting_run_per_session_and_it_can_be_cancelled():
    slot, release = JobSlot(max_waiting_per_owner=1), threading.Event()
    running = slot.submit(held(release), owner="a")
    waiting = slot.submit(lambda stop: iter(["never"]), owner="b")
    with pytest.raises(QueueFullError, match="already have a run waiting"):
        slot.submit(lambda stop: iter(["again"]), owner="b")
    third = slot.submit(lambda stop: iter(["c"]), owner="c")
    assert slot.position(third) == 2
    assert slot.cancel(waiting) and waiting.cancelled and slot.position(third) == 1
    assert not slot.cancel(running)  # a started run is stopped, not cancelled
    release.set()
    wait_for(lambda: third.job is not None and third.job.join(0.01), timeout=10)
    assert waiting.job is None  # a cancelled run never starts


def test_a_run_too_large_for_the_memory_is_refused_before_it_starts():
    limit = [10_000]
    slot, release = JobSlot(memory_limit=lambda: limit[0]), threading.Event()
    with pytest.raises(TooLargeError, match="needs about"):
        slot.submit(lambda stop: iter(()), memory_bytes=20_000)
    slot.submit(held(release), owner="a", memory_bytes=1_000)
    queued = slot.submit(lambda stop: iter(["x"]), owner="b", memory_bytes=5_000)
    limit[0] = 4_000  # the memory shrank while it waited
    release.set()
    wait_for(lambda: queued.refused is not None, timeout=10)
    assert queued.job is None and slot.refused() == (queued,) and not slot.busy()


def test_the_runs_a_job_reads_are_in_use_until_it_ends():
    slot, release = JobSlot(), threading.Event()
    running = slot.submit(held(release), owner="a", uses=["run-1"])
    slot.submit(lambda stop: iter(()), owner="b", uses=["run-2"])
    assert slot.runs_in_use() == {"run-1", "run-2"} and {"run-1", "run-2"} <= jobs.runs_in_use()
    with pytest.raises(jobs.UserError, match="run-1 is in use"):
        jobs.check_not_in_use("run-1")
    release.set()
    assert running.job.join(10)
    wait_for(lambda: not slot.busy(), timeout=10)
    assert slot.runs_in_use() == frozenset()
    jobs.check_not_in_use("run-1")


def test_a_stop_records_who_asked_and_when():
    slot, release = JobSlot(), threading.Event()
    entry = slot.submit(held(release), owner="owner")
    version = slot.version
    slot.stop(by="visitor")
    slot.stop(by="owner")  # a second request does not overwrite the first
    assert entry.job.join(10) and slot.version > version
    snap = entry.job.snapshot()
    assert snap.status == "stopped" and snap.stop_request.by == "visitor"
    assert snap.started <= snap.stop_request.at <= snap.ended



def test_a_stop_during_a_step_skips_the_evaluation_due_after_it():
    """An evaluation can take many steps' time on a busy machine: a stop must not wait for it."""
    stop = threading.Event()
    torch.manual_seed(0)
    model = GPTModel(SMALL)
    train_loader, val_loader = make_loaders([i % 37 for i in range(400)], 16, 2)
    events = train(model, train_loader, pretraining_task(train_loader, val_loader),
                   TrainSettings(epochs=1, eval_freq=1, eval_iter=1), stop)
    assert isinstance(next(events), EvalEvent)  # the untrained model's, at step 0
    assert isinstance(next(events), StepEvent)
    stop.set()  # as the stop button does while the step runs
    rest = list(events)
    assert len(rest) == 1 and isinstance(rest[0], DoneEvent) and rest[0].reason == "stopped"
