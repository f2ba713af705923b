"""The run registry: every run folder listed with its state, the current model, the pin, deleting
and reclaiming what interrupted saves left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from core.app import runs
from core.app.jobs import JobSlot
from core.gpt.checkpoint import new_run_id, run_path, save_checkpoint
from core.gpt.model import GPTModel
from core.paths import PROJECT_ROOT

CFG = {"vocab_size": 300, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}
LATER = time.time() + 3600  # "now" for a listing made long after every write


def save(root, run_id, status="finished", step=5, **progress):
    return save_checkpoint(run_path(run_id, root), GPTModel(CFG), status=status, history=[], settings={},
                           progress={"step": step, "epoch": 1, "tokens_seen": 80, **progress})


A, B, C, D = (f"2024010{i}-000000-{c * 6}" for i, c in zip(range(1, 5), "abcd", strict=True))


def test_every_folder_is_listed_with_its_state(tmp_path):
    save(tmp_path, A)
    save(tmp_path, B, status="stopped", step=12, total_steps=100)
    (tmp_path / C).mkdir()
    (tmp_path / C / "model.safetensors").write_bytes(b"x" * 1000)  # a save killed before checkpoint.json
    (tmp_path / D).mkdir()
    (tmp_path / D / "checkpoint.json").write_text("[" * 100_000)
    (tmp_path / "classifiers").mkdir()  # not a run folder
    entries = {e.run_id: e for e in runs.list_entries(tmp_path, now=LATER)}
    assert set(entries) == {A, B, C, D}
    assert entries[A].status == "finished" and entries[A].describe() == "finished after 5 steps"
    assert entries[B].describe() == "stopped at step 12 of 100 (early)"
    assert entries[C].status == "incomplete" and entries[C].size_bytes == 1000 and entries[C].deletable
    assert entries[D].status == "damaged" and "not valid JSON" in entries[D].describe()
    assert all(e.size_bytes >= 0 for e in entries.values())
    assert runs.total_size(tmp_path) == sum(e.size_bytes for e in entries.values())


def test_a_folder_written_a_moment_ago_is_being_saved_and_cannot_be_deleted(tmp_path):
    (tmp_path / A).mkdir()
    (entry,) = runs.list_entries(tmp_path)
    assert entry.status == "saving" and not entry.deletable
    with pytest.raises(ValueError, match="being saved"):
        runs.delete_entry(entry, tmp_path)


def test_a_run_a_training_job_resumes_from_cannot_be_deleted(tmp_path):
    save(tmp_path, A)
    (entry,) = runs.list_entries(tmp_path, now=LATER)
    slot, release = JobSlot(), threading.Event()

    def resuming(stop):
        while not (stop.is_set() or release.wait(0.01)):
            yield "step"

    job = slot.submit(resuming, owner="a", uses=[A]).job
    try:
        with pytest.raises(ValueError, match="in use by a training run"):
            runs.delete_entry(entry, tmp_path)
        assert (tmp_path / A).is_dir()
    finally:
        release.set()
        assert job.join(timeout=10)
    runs.delete_entry(entry, tmp_path)
    assert not (tmp_path / A).exists()


def test_the_current_model_is_pinned_else_newest_finished_else_newest_stopped(tmp_path):
    assert runs.current_checkpoint(tmp_path) is None
    save(tmp_path, A, status="stopped")
    assert runs.current_checkpoint(tmp_path).run_id == A  # nothing finished yet
    save(tmp_path, B)
    save(tmp_path, C, status="stopped")  # stopped early: does not replace the finished run
    assert runs.current_checkpoint(tmp_path).run_id == B
    runs.pin_run(A, tmp_path)
    assert json.loads((tmp_path / "pinned.json").read_text()) == {"run_id": A}
    assert runs.current_checkpoint(tmp_path).run_id == A
    save(tmp_path, D)  # a newer finished run does not replace the pinned one
    assert runs.current_checkpoint(tmp_path).run_id == A
    runs.delete_entry(next(e for e in runs.list_entries(tmp_path) if e.run_id == A), tmp_path)
    assert runs.pinned_id(tmp_path) is None and runs.current_checkpoint(tmp_path).run_id == D
    runs.pin_run(B, tmp_path)
    runs.unpin(tmp_path)
    assert runs.current_checkpoint(tmp_path).run_id == D


@pytest.mark.parametrize("content", ["{", "[1]", '{"run_id": "../x"}', '{"run_id": 5}', "9" * 5000])
def test_a_damaged_pin_counts_as_none(tmp_path, content):
    save(tmp_path, A)
    (tmp_path / "pinned.json").write_text(content)
    assert runs.pinned_id(tmp_path) is None and runs.current_checkpoint(tmp_path).run_id == A


def test_a_far_future_run_does_not_stay_current(tmp_path):
    save(tmp_path, A)
    meta = tmp_path / A / "checkpoint.json"
    data = json.loads(meta.read_text())
    data["created"] = "2999-12-31T00:00:00+00:00"
    meta.write_text(json.dumps(data))
    time.sleep(0.01)
    save(tmp_path, B)
    assert runs.current_checkpoint(tmp_path).run_id == B


def test_damaged_and_incomplete_runs_can_be_deleted_and_leftovers_reclaimed(tmp_path):
    save(tmp_path, A)
    (tmp_path / B).mkdir()
    (tmp_path / B / ".model.safetensors.x1.tmp").write_bytes(b"x" * 500)
    (tmp_path / C).symlink_to(tmp_path / A)  # a link named like a run: removed, never followed
    (tmp_path / A / ".checkpoint.json.x2.tmp").write_bytes(b"y" * 300)
    (tmp_path / ".pinned.json.x3.tmp").write_bytes(b"z" * 10)
    assert sorted(p.name for p in runs.leftovers(tmp_path)) == [".checkpoint.json.x2.tmp", ".pinned.json.x3.tmp"]
    assert runs.reclaim_leftovers(tmp_path) == 310 and runs.leftovers(tmp_path) == []
    for entry in runs.list_entries(tmp_path, now=LATER):
        if not entry.complete:
            runs.delete_entry(entry, tmp_path, now=LATER)
    assert [e.run_id for e in runs.list_entries(tmp_path)] == [A]
    assert (tmp_path / A / "model.safetensors").is_file()


def test_the_optimizer_state_can_be_dropped_to_free_space(tmp_path):
    import torch

    model = GPTModel(CFG)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randint(0, 300, (1, 8))).sum().backward()
    optimizer.step()
    save_checkpoint(run_path(A, tmp_path), model, status="finished", history=[], settings={},
                    progress={"step": 1, "epoch": 1, "tokens_seen": 8}, optimizer=optimizer)
    (entry,) = runs.list_entries(tmp_path)
    before = entry.size_bytes
    runs.drop_optimizer(entry)
    (after,) = runs.list_entries(tmp_path)
    assert not after.checkpoint.has_optimizer and after.size_bytes < before / 2


SAVER = textwrap.dedent("""
    import sys, torch
    from pathlib import Path
    from core.gpt.checkpoint import new_run_id, save_checkpoint
    from core.gpt.model import GPTModel
    root = Path(sys.argv[1])
    model = GPTModel({"vocab_size": 20000, "context_length": 32, "emb_dim": 128, "n_heads": 4, "n_layers": 2})
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randint(0, 20000, (1, 8))).sum().backward()
    optimizer.step()
    print("ready", flush=True)
    while True:
        save_checkpoint(root / new_run_id(), model, status="finished", history=[], settings={},
                        progress={"step": 1, "epoch": 1, "tokens_seen": 8}, optimizer=optimizer)
""")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_saves_killed_at_random_moments_leave_nothing_broken_or_unlisted(tmp_path):
    root = tmp_path / "runs"
    root.mkdir()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    for delay in (0.05, 0.3, 0.7, 1.1, 1.6):
        saver = subprocess.Popen([sys.executable, "-c", SAVER, str(root)], env=env, stdout=subprocess.PIPE, text=True)
        assert saver.stdout.readline().strip() == "ready"
        time.sleep(delay)
        saver.send_signal(signal.SIGKILL)
        saver.wait(30)
        saver.stdout.close()
        entries = runs.list_entries(root, now=LATER)
        assert not [e for e in entries if e.status == "damaged"]
        listed = {e.path for e in entries}
        on_disk = {p for p in root.iterdir() if not p.name.startswith(".")}
        assert on_disk == listed  # nothing on disk is out of reach
        for leftover in runs.leftovers(root):
            assert leftover.parent == root or leftover.parent in listed
    for entry in runs.list_entries(root, now=LATER):
        if not entry.complete:
            runs.delete_entry(entry, root, now=LATER)
    runs.reclaim_leftovers(root)
    assert all(e.complete for e in runs.list_entries(root))
    assert not [p for p in root.rglob("*.tmp")]
    assert runs.total_size(root) == sum(e.size_bytes for e in runs.list_entries(root))


def test_new_run_ids_are_run_names():
    assert runs.ckpt.is_run_id(new_run_id())
