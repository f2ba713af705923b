"""Checkpoints (book section 5.4): safetensors weights, JSON description, atomic writes, refusals."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

import core.gpt.checkpoint as ckpt
from core.gpt.checkpoint import (
    CheckpointError,
    delete_run,
    list_runs,
    load_model,
    load_optimizer,
    new_run_id,
    read_checkpoint,
    run_path,
    save_checkpoint,
)
from core.gpt.model import GPTModel

CFG = {"vocab_size": 300, "context_length": 16, "emb_dim": 32, "n_heads": 4, "n_layers": 2, "drop_rate": 0.0}
HISTORY = [{"type": "step", "step": 1, "train_loss": 5.5}]


def save(run_dir, model, optimizer=None, status="finished"):
    return save_checkpoint(
        run_dir, model, status=status, history=HISTORY, settings={"lr": 1e-3},
        progress={"step": 1, "epoch": 1, "tokens_seen": 32}, optimizer=optimizer,
    )


@pytest.fixture
def run_dir(tmp_path):
    return tmp_path / new_run_id()


def trained_step(model):
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randint(0, 300, (2, 8))).sum().backward()
    optimizer.step()
    return optimizer


@pytest.mark.parametrize("tie", [False, True])
def test_round_trip_keeps_weights_config_history_and_ties(run_dir, tie):
    torch.manual_seed(0)
    model = GPTModel({**CFG, "tie_weights": tie})
    save(run_dir, model)
    loaded, checkpoint = load_model(run_dir)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=False):
        assert torch.equal(a, b), name
    assert (loaded.out_head.weight is loaded.tok_emb.weight) == tie
    assert checkpoint.config == model.cfg and checkpoint.history == HISTORY
    assert checkpoint.meta["tokenizer"] == "gpt2" and checkpoint.status == "finished"
    idx = torch.randint(0, 300, (1, 10))
    assert torch.equal(model.eval()(idx), loaded(idx))


def test_optimizer_state_round_trip(run_dir):
    torch.manual_seed(0)
    model = GPTModel(CFG)
    optimizer = trained_step(model)
    save(run_dir, model, optimizer)
    loaded, checkpoint = load_model(run_dir)
    fresh = torch.optim.AdamW(loaded.parameters(), lr=5e-4)
    load_optimizer(checkpoint, loaded, fresh)
    before, after = optimizer.state_dict(), fresh.state_dict()
    assert after["param_groups"][0]["lr"] == 5e-4  # the new run's settings win
    for index, state in before["state"].items():
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(torch.as_tensor(state[key]), torch.as_tensor(after["state"][index][key]))


def test_loading_optimizer_state_from_a_weights_only_checkpoint_is_refused(run_dir):
    model = GPTModel(CFG)
    save(run_dir, model)
    checkpoint = read_checkpoint(run_dir)
    with pytest.raises(CheckpointError, match="without optimizer state"):
        load_optimizer(checkpoint, model, torch.optim.AdamW(model.parameters()))


def test_folders_that_are_not_checkpoints_are_refused(tmp_path):
    with pytest.raises(CheckpointError, match="not a folder"):
        load_model(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match="no checkpoint.json"):
        load_model(tmp_path)
    (tmp_path / "checkpoint.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_model(tmp_path)
    (tmp_path / "checkpoint.json").write_text(json.dumps({"config": CFG}))
    with pytest.raises(CheckpointError, match="not an llm-journal checkpoint"):
        load_model(tmp_path)
    (tmp_path / "checkpoint.json").write_bytes(b"\xff\xfe garbage")
    with pytest.raises(CheckpointError):
        load_model(tmp_path)


def test_truncated_weights_are_refused(run_dir):
    save(run_dir, GPTModel(CFG))
    weights = run_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    with pytest.raises(CheckpointError, match="truncated"):
        load_model(run_dir)


def test_truncated_weights_with_matching_record_are_still_refused(run_dir):
    save(run_dir, GPTModel(CFG))
    weights = run_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1000])
    rewrite_record(run_dir)  # as if checkpoint.json had been written for the damaged file
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_model(run_dir)


def rewrite_record(run_dir):
    meta_path = run_dir / "checkpoint.json"
    meta = json.loads(meta_path.read_text())
    meta["weights"] = ckpt._file_record(run_dir / "model.safetensors")
    meta_path.write_text(json.dumps(meta))


def test_a_pickle_posing_as_weights_is_refused_without_unpickling(run_dir, monkeypatch):
    save(run_dir, GPTModel(CFG))
    (run_dir / "model.safetensors").write_bytes(pickle.dumps({"tok_emb.weight": [1, 2, 3]}))
    rewrite_record(run_dir)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    with pytest.raises(CheckpointError, match="not a valid safetensors file"):
        load_model(run_dir)


def test_a_config_that_does_not_match_the_weights_is_refused(run_dir):
    save(run_dir, GPTModel(CFG))
    meta_path = run_dir / "checkpoint.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["emb_dim"] = 64
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="do not match its model config.*wrong shape"):
        load_model(run_dir)
    meta["config"].update(emb_dim=32, n_layers=3)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="missing trf_blocks.2"):
        load_model(run_dir)
    meta["config"].update(n_layers=2, n_heads=5)
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="invalid model config.*divisible"):
        load_model(run_dir)


def test_a_failed_save_leaves_no_partial_files_and_keeps_the_older_checkpoint(run_dir, monkeypatch):
    model = GPTModel(CFG)
    save(run_dir, model)
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ckpt, "save_file", full_disk)
    with pytest.raises(CheckpointError, match="No space left"):
        save(run_dir, GPTModel(CFG), status="stopped")
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    load_model(run_dir)


def test_history_with_nan_is_refused_before_writing(run_dir):
    with pytest.raises(ValueError):
        save_checkpoint(
            run_dir, GPTModel(CFG), status="finished", history=[{"loss": float("nan")}], settings={}, progress={}
        )
    assert not run_dir.exists() or not any(run_dir.iterdir())


def test_runs_are_listed_newest_first_and_broken_ones_skipped(tmp_path):
    first, second = tmp_path / "20240101-000000-aaaaaa", tmp_path / "20240102-000000-bbbbbb"
    save(first, GPTModel(CFG))
    save(second, GPTModel(CFG), status="stopped")
    broken = tmp_path / "20240103-000000-cccccc"
    broken.mkdir()
    (broken / "checkpoint.json").write_text("{")
    (tmp_path / "20240104-000000-dddddd").mkdir()  # weights still being written: no checkpoint.json yet
    (tmp_path / "notes").mkdir()
    runs = list_runs(tmp_path)
    assert [r.run_id for r in runs] == [second.name, first.name]
    assert runs[0].status == "stopped" and list_runs(tmp_path / "empty") == []
    delete_run(first.name, tmp_path)
    assert [r.run_id for r in list_runs(tmp_path)] == [second.name]


@pytest.mark.parametrize("name", ["../etc", "x", "20240101-000000-aaaaaa/..", "", "20240101-000000-AAAAAA"])
def test_run_names_from_outside_are_refused(tmp_path, name):
    with pytest.raises(CheckpointError, match="not a run name"):
        run_path(name, tmp_path)


def test_new_run_ids_are_valid_and_distinct():
    ids = {new_run_id() for _ in range(20)}
    assert len(ids) == 20
    for run_id in ids:
        run_path(run_id)
