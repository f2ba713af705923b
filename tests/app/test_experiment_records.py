"""Experiment records made from widget results, a run's history behind them, and generations replayed exactly."""

from __future__ import annotations

import pytest
import torch

from core.app import experiment_records as xv
from core.app.model_sources import ModelSource
from core.errors import Unavailable
from core.gpt.checkpoint import delete_run, load_model, new_run_id, save_checkpoint
from core.gpt.config import get_preset
from core.gpt.generate import generate
from core.gpt.model import GPTModel
from core.gpt.tokenizers import decode, encode
from core.journal import experiments as exp

PROMPT = "Every effort moves you"
HISTORY = [{"type": "eval", "step": 1, "epoch": 1, "tokens_seen": 64, "train_loss": 10.9, "val_loss": 10.95},
           {"type": "eval", "step": 5, "epoch": 1, "tokens_seen": 320, "train_loss": 9.1, "val_loss": 9.4}]


@pytest.fixture
def saved_run(tmp_path, gpt2_encoding):
    torch.manual_seed(0)
    model = GPTModel({**get_preset("tiny"), "emb_dim": 32, "n_heads": 2, "n_layers": 2, "context_length": 32}).eval()
    run_id = new_run_id()
    save_checkpoint(tmp_path / run_id, model, status="finished", history=HISTORY,
                    settings={"preset": "tiny", "epochs": 1, "seed": 5}, progress={"step": 5, "tokens_seen": 320})
    return tmp_path, run_id


def generated(model, seed: int) -> str:
    ids = encode(PROMPT)
    out = generate(model, torch.tensor([ids]), 12, temperature=1.5, top_k=30, seed=seed)
    return PROMPT + decode(out[0, len(ids):].tolist())


def test_a_recorded_generation_replays_to_the_same_tokens(saved_run):
    root, run_id = saved_run
    model = load_model(root / run_id)[0]
    record = xv.generation_record(source=ModelSource("checkpoint", "yours", "", root / run_id), run_id=run_id,
                                  prompt=PROMPT, temperature=1.5, top_k=30, top_p=None, tokens=12, use_cache=True,
                                  seed=42, text=generated(model, 42))
    record = exp.from_front(exp.to_front(record))  # as read back from an entry
    again = xv.replay_generation(record, xv.load_replay_model(record, root))
    assert again == record.results["text"]
    other = exp.Experiment(**{**record.__dict__, "seed": 43})
    assert xv.replay_generation(other, model) != record.results["text"]  # the seed is what makes it repeat


def test_a_deleted_run_says_why_it_cannot_replay_and_has_no_curves(saved_run):
    root, run_id = saved_run
    record = xv.checkpoint_record("pretraining", root / run_id)
    assert record.results["val_loss"] == 9.4 and record.run == run_id and record.seed == 5
    assert [e["val_loss"] for e in xv.run_history(record, root)] == [10.95, 9.4]
    generation = exp.Experiment(kind="generation", title="g", run=run_id, seed=1,
                                settings={"model": "checkpoint", "prompt": PROMPT, "temperature": 0.0, "tokens": 3})
    delete_run(run_id, root)
    assert xv.run_history(record, root) is None
    with pytest.raises(Unavailable, match="deleted"):
        xv.replay_source(generation, root)


def test_a_record_naming_no_run_or_a_hostile_one_has_no_folder(tmp_path):
    for run in (None, "../../etc", "x" * 30):
        assert xv.run_folder(exp.Experiment(kind="pretraining", title="t", run=run), tmp_path) is None
