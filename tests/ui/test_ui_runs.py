"""Saved runs across the app: one damaged, incomplete or hostile run folder never breaks a page; it is
listed as such, with a delete button; and no page names a deleted run as the current model."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from widget_helpers import fresh_training_slot, run_script

from core.app import runs
from core.gpt.checkpoint import run_path, save_checkpoint
from core.gpt.events import DoneEvent, StartEvent
from core.gpt.model import GPTModel
from core.paths import PROJECT_ROOT
from ui.training_job import shared_training

APP = str(PROJECT_ROOT / "streamlit_app.py")
PAGES = sorted(f"pages/{p.name}" for p in (PROJECT_ROOT / "pages").glob("*.py"))
SMALL = {"vocab_size": 50257, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0,
         "tie_weights": True}
GOOD = "20240101-000000-aaaaaa"
BAD = {  # run id -> what its checkpoint.json is made to hold
    "20240102-000000-bbbbbb": lambda text: "[" * 100_000 + "]" * 100_000,
    "20240103-000000-cccccc": lambda text: text.replace('"version": 2', '"version": ' + "7" * 100_000),
    "20240104-000000-dddddd": lambda text: _edit(text, lambda m: m["progress"].update(step="abc")),
    "20240105-000000-eeeeee": lambda text: _edit(text, lambda m: m["progress"].update(step=float("nan"))),
    "20240106-000000-ffffff": lambda text: _edit(text, lambda m: m.update(history=[1, "x", None, [2]])),
}
INCOMPLETE = "20240107-000000-a0a0a0"


def _edit(text, change):
    meta = json.loads(text)
    change(meta)
    return json.dumps(meta)  # NaN is written as the bare NaN Python's json reads back


def save(root, run_id, status="finished"):
    return save_checkpoint(run_path(run_id, root), GPTModel(SMALL), status=status, history=[],
                           settings={"preset": "custom"}, progress={"step": 4, "epoch": 1, "tokens_seen": 64})


@pytest.fixture
def bad_runs(tmp_path, monkeypatch, gpt2_encoding) -> Path:
    """A runs folder with one good run, each bad checkpoint.json, a half-written run and a bad classifier."""
    journal = tmp_path / "journal"
    shutil.copytree(PROJECT_ROOT / "journal", journal)
    monkeypatch.setenv("LLM_JOURNAL_DIR", str(journal))
    root = tmp_path / "runs"
    monkeypatch.setenv("LLM_JOURNAL_RUNS_DIR", str(root))
    monkeypatch.setenv("LLM_JOURNAL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    save(root, GOOD)
    for run_id, spoil in BAD.items():
        save(root, run_id)
        meta = root / run_id / "checkpoint.json"
        meta.write_text(spoil(meta.read_text()))
    (root / INCOMPLETE).mkdir()
    (root / INCOMPLETE / ".model.safetensors.abc.tmp").write_bytes(b"\0" * 2000)
    old = time.time() - 3600
    os.utime(root / INCOMPLETE / ".model.safetensors.abc.tmp", (old, old))
    os.utime(root / INCOMPLETE, (old, old))
    (root / "classifiers" / GOOD).mkdir(parents=True)
    (root / "classifiers" / GOOD / "checkpoint.json").write_text("[" * 100_000)
    slot = fresh_training_slot()
    next(slot)
    yield root
    next(slot, None)


def open_app(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180).run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_each_bad_file_is_read_as_damaged_not_raised(bad_runs):
    states = {e.run_id: e.status for e in runs.list_entries(bad_runs)}
    assert states == {GOOD: "finished", INCOMPLETE: "incomplete", **dict.fromkeys(BAD, "damaged")}
    assert runs.current_checkpoint(bad_runs).run_id == GOOD


@pytest.mark.parametrize("page", PAGES)
def test_no_page_breaks_on_damaged_runs(bad_runs, page):
    at = open_app(page)
    assert at.title
    if page == "pages/pretraining.py":
        table = next(df.value for df in at.dataframe if "size on disk (MB)" in df.value.columns)
        status = dict(zip(table["run"], table["status"], strict=True))
        assert all("damaged" in status[run_id] for run_id in BAD) and "incomplete" in status[INCOMPLETE]
        options = at.selectbox(key="pretraining_delete_run").options
        assert all(any(o.startswith(run_id) for o in options) for run_id in [*BAD, INCOMPLETE])
        assert "All saved runs take" in " ".join(c.value for c in at.caption)


def test_a_damaged_run_is_deleted_after_the_tick_and_leftovers_freed(bad_runs):
    at = open_app("pages/pretraining.py")
    target = "20240102-000000-bbbbbb"
    box = at.selectbox(key="pretraining_delete_run")
    box.select_index(next(i for i, option in enumerate(box.options) if option.startswith(target))).run()
    at.checkbox(key="pretraining_delete_sure").check().run()
    at.button(key="pretraining_delete").click().run()
    assert not at.exception and not (bad_runs / target).exists()
    assert f"Deleted run {target}." in " ".join(s.value for s in at.success)
    (bad_runs / ".pinned.json.x.tmp").write_text("{")
    at.run()
    at.button(key="pretraining_reclaim").click().run()
    assert not (bad_runs / ".pinned.json.x.tmp").exists()


def test_the_model_chooser_lists_every_run_and_pins_one(bad_runs):
    newer = "20240108-000000-b0b0b0"
    save(bad_runs, newer, status="stopped")  # stopped early: the finished run stays current
    at = open_app("pages/sampling.py")
    assert GOOD in at.radio(key="sampling_model").value
    assert [o.split(" · ")[0] for o in at.selectbox(key="sampling_run").options] == [newer, GOOD]
    at.selectbox(key="sampling_run").set_value(newer).run()
    assert "stopped at step 4" in " ".join(c.value for c in at.caption)
    at.button(key="sampling_pin").click().run()
    assert runs.pinned_id(bad_runs) == newer
    assert newer in at.radio(key="sampling_model").value
    assert newer in " ".join(c.value for c in at.sidebar.caption)


def test_no_page_names_a_deleted_run_as_the_current_model(bad_runs):
    finished = save(bad_runs, "20240109-000000-c0c0c0")

    def work(stop):
        yield StartEvent(finished.run_id, SMALL, 64, 16, 4, 4, None)
        yield DoneEvent("finished", 4, 1, 64, 1.0, checkpoint=str(finished.path))

    live = shared_training().start(work, "pretraining", summary="a test run")
    assert live.job.join(30)
    at = open_app("pages/pretraining.py")
    assert "it is now the current model" in " ".join(s.value for s in at.success)
    runs.delete_entry(runs.read_entry(finished.path), bad_runs)
    at.run()
    page = " ".join(s.value for s in at.success) + " ".join(m.value for m in at.markdown)
    assert "has since been deleted" in page and "it is now the current model" not in page
    assert not re.search(rf"{finished.run_id}\W+is\W+the current model", page)


@pytest.mark.parametrize("keep", [False, True])
def test_a_finished_run_keeps_its_optimizer_state_only_when_asked(bad_runs, monkeypatch, keep):
    import torch

    folder = run_path("20240110-000000-d0d0d0", bad_runs)

    def finished_run(*args, **kwargs):
        model = GPTModel(SMALL)
        optimizer = torch.optim.AdamW(model.parameters())
        model(torch.zeros(1, 4, dtype=torch.long)).sum().backward()
        optimizer.step()
        save_checkpoint(folder, model, status="finished", history=[], settings={}, optimizer=optimizer,
                        progress={"step": 1, "epoch": 1, "tokens_seen": 4})
        yield StartEvent(folder.name, SMALL, 64, 16, 1, 1, None)
        yield DoneEvent("finished", 1, 1, 4, 0.1, checkpoint=str(folder))

    monkeypatch.setattr("ui.pretraining.pretrain_run", finished_run)
    at = run_script(str(PROJECT_ROOT / "pages" / "pretraining.py"))
    assert not at.checkbox(key="pretraining_keep_optimizer").value  # off by default
    if keep:
        at.checkbox(key="pretraining_keep_optimizer").check().run()
    at.button(key="pretraining_start_button").click().run()
    assert shared_training().latest.job.join(30)
    assert runs.read_entry(folder).checkpoint.has_optimizer == keep
    assert (folder / "optimizer.safetensors").exists() == keep
